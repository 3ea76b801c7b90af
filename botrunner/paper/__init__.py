"""The paper venue: a Drift-faithful simulator of one subaccount trading one perp market on replayed market data.

It implements the venue port (``botrunner.venue.port.Venue``) for paper bots and backtests. One module per
concept:

- ``venue``: ``PaperVenue``, the façade its callers hold: checks each input, advances the tape, routes it to the
  part that owns the rule, and watches for liquidation;
- ``tape``: what the venue knows of the market at this instant (clock, last price, oracle, touch, bar volume);
- ``account``: the subaccount (balances, perp position, open orders, ledger), settlement, deposits, withdrawals,
  funding, the booking of fills, and the margin engine's view of it;
- ``orders``: a resting order and the price it rests at;
- ``admission``: Drift's order placement checks, as pure functions;
- ``fill_model``: the fill-model protocol; ``candle_fills`` (fills from a price path) and ``queue_fills`` (fills
  from an L2 book and trade prints) implement it; ``queue`` is the queue-position and book-walk maths;
- ``liquidation``: the liquidation of an account below maintenance;
- ``legs``: ``PlaceLegs``, a spot leg and a perp leg booked together or refused whole; ``spot``: the SOL/USDC spot
  market's fee and size-dependent slippage (docs/paper-spot.md);
- ``accrual``: when the venue performs Drift interest updates of its spot markets, and with which rates;
- ``fees``: Drift's perp fee tiers and the fee of a fill; ``config``: ``PaperConfig``, the simulator's knobs;
- ``persist``: exact checkpoint and restore of a venue.

The split follows NautilusTrader's simulated exchange: a venue façade over an account and a pluggable fill model.
"""
