"""``botrunner optimize``: parameter search over a bot file with walk-forward validation, on Optuna.

``space`` (SPACE.yaml and candidate bot files), ``folds`` (walk-forward windows), ``evaluate`` (a backtest's
figures and the objective), ``sampler`` (TPE and median pruning independent of the number of workers),
``search`` (the checked inputs and the search's definition), ``storage`` (Optuna's RDB storage), ``worker`` (the
trial loop), ``launch`` (local worker processes), ``results`` (out-of-sample runs and the summary), ``report``
(report.html). Documented in docs/optimize.md.
"""
