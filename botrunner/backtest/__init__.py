"""Backtests: a bot's own decision step over real history against the paper venue, at full speed (no actor, no
mailbox), and what a run writes (summary, CSVs, an HTML report). The R1/R2 benchmark workloads that drive it are in
``botrunner.bench.reference``.

A ``kind: funding_arb`` bot has its own two-venue replay (``arb``, its seeded execution model ``arb_fills`` and
its report ``arb_output``).

Deterministic: no clock, no unseeded randomness, so the same inputs give byte-identical outputs. ``botrunner
backtest`` and ``botrunner demo`` (``botrunner.cli``) drive it.
"""
