"""strategies package: pure strategies that emit only exposure intent (``StrategyDecision``).

Modules (one concept each):

- ``base``: the ``Strategy[S]`` protocol (``initial_state``, ``on_price``, ``decide``) and ``MarketView``.
- ``config``: ``GridConfig`` and its enums ``CurveType``, ``Bias``, ``GridMode`` (validated, frozen).
- ``rolling``: ``RollingWindow``, an order-statistic time window (nearest-rank percentiles, no re-sorting).
- ``history``: ``PriceHistory``, one sample per bucket fed into every lookback window.
- ``price_range``: ``blended_range`` of the windows' percentile ranges; ``widen``; ``recentre``.
- ``curve``: ``Curve``, price -> target position (linear or stepwise).
- ``ladder``: ``build_levels``, mark-anchored %-spaced rungs (``botrunner.core.rungs``) sized to step and room.
- ``grid``: ``GridStrategy``/``GridState``, the Pionex-style grid/curve strategy (MVP spec §3).
- ``funding_arb``: ``kind: funding_arb`` settings and its entry rule (cross-venue funding arbitrage, issue 22).
- ``arb_exits``: the arbitrage's exit pipeline by priority, each exit with its ``ExitReason``.
- ``arb_portfolio``: the arbitrage's books (capital conservation, PnL = trades - leg-out losses).
"""
