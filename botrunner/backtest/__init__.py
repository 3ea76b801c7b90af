"""Backtests: a bot's own decision step over real history against the paper venue, at full speed (no actor, no
mailbox), and what a run writes (summary, CSVs, an HTML report). The R1/R2 benchmark workloads that drive it are in
``botrunner.bench.reference``.

Deterministic: no clock, no randomness, so the same inputs give byte-identical outputs. ``botrunner backtest`` and
``botrunner demo`` (``botrunner.cli``) drive it.
"""
