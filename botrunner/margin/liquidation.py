"""Liquidation price of a perp position: the oracle price at which maintenance collateral meets the maintenance
requirement, with every position on that oracle (a spot SOL hedge of a SOL-PERP short included) repriced.

Drift's SDK (``User.liquidationPrice``) extrapolates linearly from today's free collateral; here the full margin
calculation is re-run at candidate prices, so open orders, size premiums, unrealized-pnl weights and rounding are
all accounted for. The search is regula falsi on an integer bracket: the function is piecewise linear, so it
converges in a handful of evaluations.
"""

from __future__ import annotations

from collections.abc import Callable

from botrunner.margin.model import Account, Markets, PerpMarketStatus, PerpPosition
from botrunner.margin.scenario import OracleScenario

# Upper search bound for a short's liquidation price, as a multiple of the oracle: beyond this the position is
# treated as having none (a fully hedged short).
MAX_PRICE_MULTIPLE = 10_000
_SECANT_STEPS = 6


def find_boundary(  # noqa: PLR0912  <why: hot path, the liquidation search of every decision; one loop, state in locals>
    free: Callable[[int], int], oracle_price: int, *, long: bool
) -> int | None:
    """The liquidation price for maintenance ``free(price)`` (collateral minus requirement).

    Returns ``oracle_price`` if the account is already at or below maintenance, ``None`` if no positive price
    (long) or no price up to ``MAX_PRICE_MULTIPLE`` x oracle (short) reaches it, else the price closest to the
    oracle at which ``free(price) <= 0``.
    """
    healthy = oracle_price
    f_healthy = free(healthy)
    if f_healthy <= 0:
        return oracle_price
    far = 1 if long else oracle_price * MAX_PRICE_MULTIPLE
    f_far = free(far)
    if f_far > 0:
        return None
    bad, f_bad = far, f_far
    # invariant: free(healthy) > 0 >= free(bad); the answer is the bad price next to a healthy one
    for iteration in range(64):
        if abs(healthy - bad) <= 1:
            break
        lo, hi = min(healthy, bad), max(healthy, bad)
        if iteration < _SECANT_STEPS:
            p = healthy + (bad - healthy) * f_healthy // (f_healthy - f_bad)
            p = min(max(p, lo + 1), hi - 1)
        else:
            p = (lo + hi) // 2
        fp = free(p)
        if fp > 0:
            healthy, f_healthy = p, fp
        else:
            bad, f_bad = p, fp
        # probe the neighbour toward the other end: on a linear piece the boundary is right there
        if abs(healthy - bad) > 1:
            q = p + (1 if bad > healthy else -1) if fp > 0 else p - (1 if bad > healthy else -1)
            fq = free(q)
            if fq > 0:
                healthy, f_healthy = q, fq
            else:
                bad, f_bad = q, fq
    while abs(healthy - bad) > 1:  # pragma: no cover - 64 halvings always suffice for 64-bit prices
        mid = (healthy + bad) // 2
        if free(mid) > 0:
            healthy = mid
        else:
            bad = mid
    return bad


def liquidation_bounds(free: Callable[[int], int], oracle_price: int) -> tuple[int | None, int | None]:
    """The maintenance boundaries below and above ``oracle_price`` (``find_boundary`` on each side).

    Both sides, always: open orders' worst case can be a position of the other sign (a small long with a large
    resting ask is liquidated by a rise), and without orders the side that does not hurt costs two evaluations
    (solvent at its far end: no boundary there)."""
    return find_boundary(free, oracle_price, long=True), find_boundary(free, oracle_price, long=False)


def nearest(oracle_price: int, below: int | None, above: int | None) -> int | None:
    """The boundary nearer to the oracle of the one below it and the one above it (None: neither); a tie goes
    below."""
    if below is None or above is None:
        return above if below is None else below
    return below if oracle_price - below <= above - oracle_price else above


def account_bounds(
    account: Account,
    markets: Markets,
    market_index: int,
    *,
    scenario: OracleScenario | None = None,
    position: PerpPosition | None = None,
) -> tuple[int | None, int | None]:
    """``liquidation_bounds`` of ``account`` through perp market ``market_index``: (None, None) when the position
    is flat without orders (nothing of it moves with the oracle) or the market is settled (valued at its fixed
    expiry price). ``position`` overrides the account's position in that market (what-if); ``scenario`` reuses a
    prepared ``OracleScenario``."""
    sc = scenario or OracleScenario(account, markets, market_index)
    pos = position if position is not None else account.perp_position(market_index)
    if pos is None or sc.market().status is PerpMarketStatus.SETTLEMENT:
        return None, None
    if pos.base_asset_amount == 0 and pos.open_bids == 0 and pos.open_asks == 0:
        return None, None
    return liquidation_bounds(sc.pricer(pos).free_maintenance, sc.market().oracle_price)


def liquidation_price(
    account: Account,
    markets: Markets,
    market_index: int,
    *,
    scenario: OracleScenario | None = None,
    position: PerpPosition | None = None,
) -> int | None:
    """The nearest oracle price (1e6) at which ``account`` reaches maintenance through perp market ``market_index``:
    the nearer of ``account_bounds`` (on the side that hurts the position, unless open orders' worst case reaches
    maintenance first on the other). ``None`` when there is none."""
    sc = scenario or OracleScenario(account, markets, market_index)
    return nearest(
        sc.market().oracle_price, *account_bounds(account, markets, market_index, scenario=sc, position=position)
    )
