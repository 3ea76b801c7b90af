"""``make bench`` (``python -m botrunner.cli.bench``): every benchmark in one place, out of the product packages.

Figures, not assertions: speed targets live here, never in timed unit tests. It reads the clock and prints, so it
sits with the CLI at the top of the import layers; nothing below imports it.

- ``main``: the command; runs every section and prints the figures with their units (the only printing here).
- ``strategy``: the grid strategy's rolling percentile windows, against a naive re-sort.
- ``margin``: the margin engine's hot paths (margin calculation, what-if projections).
- ``stand_in``: the decision pipeline over real bars against a venue that accepts everything and fills nothing
  (also what tests/golden/test_perf_equivalence.py digests).
- ``reference``: the reference workloads R1 and R2 of shared/bench through the backtest loop.
- ``r3``: R3, the actor runtime's event -> commands latency for a fleet.
"""
