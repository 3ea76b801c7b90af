"""A live bot's spot interest rates, read from the chain (issue 19: the carry engine's deposit APR of a live bot).

Each reading decodes the bot's SpotMarket accounts (USDC and SOL). A market's deposit and borrow APR are Drift's
curve (``botrunner.margin.interest``, the one curve of the code base: protocol-v2 ``calculate_borrow_rate`` and the
deposit rate net of the insurance share) at the market's utilisation as the account holds it: total borrows over
total deposits at its cumulative interests. That is the rate the program applies at the market's next interest
update, i.e. the rate the bot's SOL deposit earns from now on. A paper bot gets the same figures from its configured
``paper.interest`` source (``botrunner.bot.pipeline.DepositRates``); a live bot from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from botrunner.drift.convert import spot_interest_market
from botrunner.margin.interest import RatePoint, current_rates

if TYPE_CHECKING:
    from driftpy.types import SpotMarketAccount


class RatesError(ValueError):
    """A SpotMarket whose rate parameters Drift's curve cannot evaluate (a kink above the first rate segment with
    utilisation past it: protocol-v2 errors there too)."""


def chain_rates(spot_markets: Mapping[int, SpotMarketAccount]) -> dict[int, RatePoint]:
    """Deposit and borrow APR (SPOT_RATE_PRECISION 1e6 a year) of each decoded SpotMarket, by market index."""
    out: dict[int, RatePoint] = {}
    for index, market in spot_markets.items():
        try:
            out[index] = current_rates(spot_interest_market(market))
        except ValueError as exc:
            raise RatesError(f"spot market {index}: {exc}") from exc
    return out
