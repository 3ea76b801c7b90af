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
from botrunner.margin.scenario import OracleScenario, PositionPricer

# Upper search bound for a short's liquidation price, as a multiple of the oracle: beyond this the position is
# treated as having none (a fully hedged short).
#
# "No boundary above" therefore means "none up to MAX_PRICE_MULTIPLE x the oracle the search started from": the
# same account can have none seen from one oracle and one seen from a higher one (a flat account whose open bids
# require just under 1/10,000 of its collateral has its boundary just past 10,000 x the oracle). Below, the search
# goes down to a price of 1 whatever the oracle, so that side does not depend on where it starts. The rule is kept
# relative, and whatever keeps a search's answer while the oracle moves must search again once the oracle leaves
# ``oracles_keeping_above`` (the paper venue's liquidation watch does), so that the watch, its cache and a report
# searched afresh give the same answer:
# * An absolute ceiling instead (say the largest price an i64 of 1e6 holds) would make "none" independent of the
#   oracle, but it changes answers the verified digests pin: of the 15,983 searches above that find none in
#   tests/golden/test_perf_equivalence.py and tests/golden/test_backtest.py, 370 would find a boundary below that
#   ceiling (351 in the risk sweep, 19 in the golden replay: large deposits with small open orders). Any
#   absolute ceiling disagrees with the relative one at some oracle.
# * No limit or report can tell such a far boundary from none: a boundary above at 10,000 x the oracle is more
#   than 99,990,000 bp away, and every distance limit (``RiskLimits.validate``: limit plus hysteresis < 100 %)
#   and alert reads anything beyond 100 % like no liquidation price at all. Only the reported figure differs.
#   That is also why ``AccountMarginView`` may keep reusing, within one view, a boundary it found for a position
#   at one price when it projects the same position to a price whose horizon falls short of it (4 projections of
#   the risk sweep do): the Risk Governor's verdicts cannot tell.
MAX_PRICE_MULTIPLE = 10_000
# Above any oracle price Drift can publish (an i64): the top of a range of oracle prices that has no top.
ANY_ORACLE = 1 << 64
_SECANT_STEPS = 6


def find_boundary(  # noqa: PLR0912  <why: hot path, the liquidation search of every decision; one loop, state in locals>
    free: Callable[[int], int], oracle_price: int, *, long: bool, free_here: int | None = None
) -> int | None:
    """The liquidation price for maintenance ``free(price)`` (collateral minus requirement).

    Returns ``oracle_price`` if the account is already at or below maintenance, ``None`` if no positive price
    (long) or no price up to ``MAX_PRICE_MULTIPLE`` x oracle (short) reaches it, else the price closest to the
    oracle at which ``free(price) <= 0``. ``free_here``: ``free(oracle_price)`` if the caller has it already.
    """
    healthy = oracle_price
    f_healthy = free(healthy) if free_here is None else free_here
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


def oracles_keeping_above(above: int | None, searched_at: int) -> tuple[int, int]:
    """The oracle prices from which ``find_boundary(free, oracle, long=False)`` on the same account (the same
    ``free``) gives ``above`` again, given that a search from ``searched_at`` gave it: ``(lowest, highest)``.

    Only where the search looks depends on its start (``MAX_PRICE_MULTIPLE``); free collateral is concave in the
    oracle for one perp against quote (and spot on the same oracle) collateral, so it is positive between two
    prices where it is positive, and it stays at or below zero past the boundary. Hence:

    * none above, found from ``searched_at``: free collateral is positive from there up to its horizon. A search
      from a lower oracle looks at part of that range and finds none too; one from a higher oracle looks further
      and may find a boundary, so the answer holds only up to ``searched_at``.
    * a boundary ``above``: a search from any oracle below it whose horizon reaches it finds it (it is the first
      crossing above every such oracle); one from an oracle whose horizon falls short of it finds none.

    (Up to the crossings within a few units of a boundary that integer rounding can add, as for any search.)"""
    if above is None:
        return 0, searched_at
    return -(-above // MAX_PRICE_MULTIPLE), ANY_ORACLE


def liquidation_bounds(free: Callable[[int], int], oracle_price: int) -> tuple[int | None, int | None]:
    """The maintenance boundaries below and above ``oracle_price`` (``find_boundary`` on each side).

    Both sides, always: open orders' worst case can be a position of the other sign (a small long with a large
    resting ask is liquidated by a rise), and without orders the side that does not hurt costs two evaluations
    (solvent at its far end: no boundary there)."""
    here = free(oracle_price)  # where both searches start
    return (
        find_boundary(free, oracle_price, long=True, free_here=here),
        find_boundary(free, oracle_price, long=False, free_here=here),
    )


def search_above_again(
    free: Callable[[int], int], oracle_price: int, above: int | None, searched_at: int
) -> int | None:
    """``find_boundary(free, oracle_price, long=False)``, for a caller that holds ``above`` from that search of the
    same ``free`` from ``searched_at`` and whose oracle has left ``oracles_keeping_above(above, searched_at)``.

    When that search found none and this oracle is within its horizon, free collateral is positive here (it is
    between two prices where the search found it positive, and concave), so the search from here finds none
    exactly when free collateral is still positive at this oracle's horizon: one evaluation instead of two."""
    if above is None and oracle_price <= searched_at * MAX_PRICE_MULTIPLE:
        here_far = free(oracle_price * MAX_PRICE_MULTIPLE)
        if here_far > 0:
            return None
    return find_boundary(free, oracle_price, long=False)


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
    free = account_free(account, markets, market_index, scenario=sc, position=position)
    return (None, None) if free is None else liquidation_bounds(free, sc.market().oracle_price)


def account_free(
    account: Account,
    markets: Markets,
    market_index: int,
    *,
    scenario: OracleScenario | None = None,
    position: PerpPosition | None = None,
) -> Callable[[int], int] | None:
    """What ``account_bounds`` searches: ``price -> `` maintenance free collateral of ``account`` with perp market
    ``market_index``'s oracle at ``price`` (``PositionPricer.free_maintenance``, the same function from whatever
    oracle it was prepared at); None when the account has no bounds at any oracle (no position in that market,
    flat without orders, or a settled market). ``position`` and ``scenario`` as for ``account_bounds``."""
    pricer = account_pricer(account, markets, market_index, scenario=scenario, position=position)
    return None if pricer is None else pricer.free_maintenance


def account_pricer(
    account: Account,
    markets: Markets,
    market_index: int,
    *,
    scenario: OracleScenario | None = None,
    position: PerpPosition | None = None,
) -> PositionPricer | None:
    """The ``PositionPricer`` whose ``free_maintenance`` ``account_free`` returns (None exactly when it returns
    None), for a caller that also needs its other views of the same function (``maintenance_parts``)."""
    sc = scenario or OracleScenario(account, markets, market_index)
    pos = position if position is not None else account.perp_position(market_index)
    if pos is None or sc.market().status is PerpMarketStatus.SETTLEMENT:
        return None
    if pos.base_asset_amount == 0 and pos.open_bids == 0 and pos.open_asks == 0:
        return None
    return sc.pricer(pos)


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


def safe_range(
    parts: tuple[Callable[[int], int], Callable[[int], int], Callable[[int], int]], oracle_price: int
) -> tuple[int, int]:
    """An oracle range ``(low, high)`` around ``oracle_price`` in which maintenance free collateral is positive at
    every price, for the maintenance function split as ``PositionPricer.maintenance_parts`` gives it:
    ``free(p) >= rising(p) + falling(p) - requirement(p)``, ``rising`` and ``requirement`` non-decreasing,
    ``falling`` non-increasing. Empty (``low > high``) when the split is not positive at ``oracle_price`` itself.
    The range is a proof, not an estimate: a liquidation watch may skip the exact check inside it.

    The argument, for a price ``p`` in the range (``o`` for ``oracle_price``; each search is ``find_boundary`` on a
    MONOTONE function, whose positive side is then exactly the prices between the oracle and the crossing it
    returns, so no rounding can hide a second crossing):

    * below the oracle, ``p <= o``: ``falling(p) >= falling(o)`` and ``requirement(p) <= requirement(o)``, so
      ``free(p) >= rising(p) + falling(o) - requirement(o)``, non-decreasing in ``p``; ``low`` is the first price
      where that is positive.
    * above it, ``p >= o``: ``rising(p) >= rising(o)``, so ``free(p) >= rising(o) + falling(p) - requirement(p)``,
      non-increasing in ``p``; ``high`` is the last price where that is positive.

    A side on which the search finds no crossing ends where it looked: at 1 below, at ``MAX_PRICE_MULTIPLE`` x the
    oracle above. Positive free collateral is total collateral above the requirement: not liquidatable."""
    rising, falling, requirement = parts
    up_here, down_here, required_here = rising(oracle_price), falling(oracle_price), requirement(oracle_price)
    here = up_here + down_here - required_here
    if here <= 0:
        return 1, 0
    rest_below = down_here - required_here
    rest_above = up_here
    below = find_boundary(lambda p: rising(p) + rest_below, oracle_price, long=True, free_here=here)
    above = find_boundary(lambda p: rest_above + falling(p) - requirement(p), oracle_price, long=False, free_here=here)
    low = 1 if below is None else below + 1
    high = oracle_price * MAX_PRICE_MULTIPLE if above is None else above - 1
    return low, high
