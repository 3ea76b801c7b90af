"""The paper venue: ``PaperVenue``, a Drift-faithful simulator of one subaccount trading one perp market on a
replayed price path, behind the same venue port as the live Drift venue.

Drift's order semantics, maker fills (by the bar's path, or by queue position on L2 data), taker slippage, fee
tiers, funding, PnL settlement and liquidation, with its knobs (``PaperConfig``) and an exact checkpoint that a
paper bot restores after a crash. Deterministic: no clock, no randomness.
"""
