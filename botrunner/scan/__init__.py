"""``botrunner scan``: rank cross-venue funding-arbitrage opportunities (issue 22, item 2).

- :mod:`botrunner.scan.snapshot`: what a scan reads, one quote per venue and coin (:class:`VenueQuote`), and the
  :class:`SnapshotSource` protocol a live source implements (through ccxt for the external venues);
- :mod:`botrunner.scan.offline`: the snapshot from a ``--data`` directory at a past time;
- :mod:`botrunner.scan.rank`: per pair of venues and coin, the funding delta, spread and confluence score
  (``strategies.arb_score``), ranked.
"""
