"""The paper subaccount as Drift keeps it: balances, the perp position, the open orders, the ledger, and the margin
engine's view of them.

:class:`PaperAccount` holds the USDC (and optionally SOL) spot balances, the perp position with Drift's own
bookkeeping (base, quote, entry and break-even amounts, funding checkpoint; ``botrunner.margin.what_if``), the open
orders (their worst case counts in the margin requirement, as on Drift) and the :class:`Ledger`. Margin, health,
leverage and the liquidation price come from the Drift-exact margin engine.

Every change to any of them goes through a method here that bumps ``version``, because the margin account and the
liquidation bounds are cached per version: keeping all the writes in one class is what keeps those caches right.
The fill models decide what fills at what price; this class books it (:meth:`PaperAccount.fill`).

Funding: :meth:`PaperAccount.apply_funding` moves the cumulative rates and settles the position's payment into its
quote amount at once (Drift settles lazily; the margin engine counts unsettled funding either way, so the figures
are the same). PnL: the perp quote amount is unsettled PnL until :meth:`PaperAccount.settle` moves it into USDC.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from botrunner.core.catalogue import load_catalogue
from botrunner.core.fixed import ceil_div
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.precision import PRICE_PRECISION, QUOTE_SPOT_MARKET_INDEX, SOL_SPOT_MARKET_INDEX
from botrunner.core.side import Side
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.liquidation import (
    ANY_ORACLE,
    account_pricer,
    liquidation_bounds,
    oracles_keeping_above,
    safe_range,
    search_above_again,
)
from botrunner.margin.model import (
    Account,
    BalanceType,
    MarginCategory,
    Markets,
    PerpMarketState,
    PerpPosition,
    SpotMarketState,
    SpotPosition,
)
from botrunner.margin.perp_position import base_asset_value_and_pnl
from botrunner.margin.scenario import OracleScenario, PositionPricer
from botrunner.margin.spot_balance import scaled_balance_for, token_amount, token_value
from botrunner.margin.view import AccountMarginView
from botrunner.margin.what_if import apply_perp_fill, fill_quote_delta, settle_funding
from botrunner.paper.fees import FeeSchedule, fill_fee
from botrunner.paper.orders import RestingOrder
from botrunner.paper.tape import Tape
from botrunner.venue.port import (
    BalanceChanged,
    CancelReason,
    CommandRejected,
    Fill,
    FundingPaid,
    InterestAccrued,
    Liquidity,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    PnlSettled,
    RejectReason,
    VenueEvent,
)

_SPOT_INDICES = (QUOTE_SPOT_MARKET_INDEX, SOL_SPOT_MARKET_INDEX)
# The liquidation watch evaluates the maintenance function at this many points of a margin key before it derives the
# key's safe range (``PaperAccount.liquidation_watch``): a bar's four path points. Either way is exact; this is cost.
_POINTS_BEFORE_RANGE = 4


def drift_scaled_balance(amount: int, market: SpotMarketState, balance_type: BalanceType) -> int:
    """protocol-v2 ``get_spot_balance``: the scaled balance Drift books for ``amount`` tokens (>= 0), rounded
    against the user (a deposit down, a borrow up)."""
    precision_increase: int = 10 ** (19 - market.spec.decimals)
    if balance_type is BalanceType.DEPOSIT:
        return amount * precision_increase // market.cumulative_deposit_interest
    return ceil_div(amount * precision_increase, market.cumulative_borrow_interest)


class Ledger(msgspec.Struct, kw_only=True):
    """Cumulative money flows (quote 1e6), kept so every figure of a report adds up to the unit:
    equity == deposits - withdrawals + realized + unrealized + funding - fees (USDC-only collateral; with SOL the
    spot fills, their fees and the SOL's value move it too, and a two-leg bot's transaction costs)."""

    deposits: int = 0
    withdrawals: int = 0
    realized: int = 0  # trading PnL of the reduced parts, before fees
    fees: int = 0  # trading fees paid (rebates negative) plus liquidation fees
    funding: int = 0  # funding received (paid negative)
    settled: int = 0  # PnL moved from the perp into the USDC balance
    liquidation_fees: int = 0
    maker_fills: int = 0
    taker_fills: int = 0
    liquidations: int = 0
    spot_fees: int = 0  # spot taker fees paid (USDC), not in ``fees`` (the perp's, in its quote amount)
    spot_fills: int = 0
    interest_usdc: int = 0  # USDC interest earned on the deposit (paid on a borrow: negative), token 1e6
    interest_sol: int = 0  # SOL interest earned on the deposit, token 1e9
    tx_costs: int = 0  # transaction costs of two-leg trades (base + priority fee + Jito tip at the oracle), USDC


class PaperAccount:
    """One Drift subaccount on one perp market, valued at the tape's oracle. Mutable, single-threaded."""

    __slots__ = (
        "_cache_version",
        "_cached_account",
        "_cached_markets",
        "_key",
        "_key_version",
        "_liq_bounds",
        "_liq_free",
        "_liq_highest",
        "_liq_key",
        "_liq_lowest",
        "_liq_pricer",
        "_liq_version",
        "_safe_high",
        "_safe_low",
        "_scenario",
        "_scenario_key",
        "_watch_evaluated",
        "_watch_free",
        "_watch_key",
        "_watch_parts",
        "_watch_version",
        "fees",
        "ledger",
        "market",
        "orders",
        "perp_state",
        "position",
        "sol",
        "sol_follows_perp",
        "sol_market",
        "tape",
        "usdc",
        "usdc_market",
        "version",
        "view_version",
    )

    def __init__(self, market: PerpMarketSpec, fees: FeeSchedule, tape: Tape, *, deposit_quote: int) -> None:
        self.market = market
        self.fees = fees
        self.tape = tape
        catalogue = load_catalogue()
        self.usdc_market = SpotMarketState(spec=catalogue.spot(QUOTE_SPOT_MARKET_INDEX), oracle_price=PRICE_PRECISION)
        self.sol_market = SpotMarketState(spec=catalogue.spot(SOL_SPOT_MARKET_INDEX), oracle_price=tape.oracle)
        # SOL spot is priced on the perp's oracle when it reads the same oracle account or is the perp's underlying
        # (SOL for SOL-PERP: the catalogue's snapshots straddle an oracle migration; ``Markets.moves_with_perp_oracle``)
        self.sol_follows_perp = self.sol_market.spec.oracle == market.oracle or (
            market.symbol.upper().removesuffix("-PERP") == self.sol_market.spec.symbol.upper()
        )
        self.perp_state = PerpMarketState(spec=market, oracle_price=tape.oracle)
        self.usdc = 0  # token amount 1e6, negative = borrow
        self.sol = 0  # token amount 1e9 (deposits only)
        self.position = PerpPosition(market_index=market.market_index)
        self.orders: dict[int, RestingOrder] = {}  # insertion order = placement order
        self.ledger = Ledger()
        self.version = 0  # bumps on every account change (caches key on it)
        # bumps on every account change and whenever the market's funding state or the held liquidation bounds change:
        # everything a margin view built now starts from besides the oracle (what a bot's decision validity keys on)
        self.view_version = 0
        self._cache_version = -1
        self._cached_account: Account | None = None
        self._cached_markets: Markets | None = None
        self._liq_version = -1
        self._liq_bounds: tuple[int | None, int | None] = (None, None)
        # the oracle prices from which a search finds _liq_bounds again (``liquidation_bounds``)
        self._liq_lowest = 0
        self._liq_highest = ANY_ORACLE
        self._liq_free: Callable[[int], int] | None = None  # what the bounds of _liq_version were searched on
        self._liq_pricer: PositionPricer | None = None  # whose free_maintenance _liq_free is (None: none, or restored)
        # the margin key (``margin_key``) of the version the bounds were searched for: a later version with the
        # same key has the same function, so it keeps them (None: no search yet, or restored)
        self._liq_key: tuple[object, ...] | None = None
        self._key_version = -1
        self._key: tuple[object, ...] = ()
        # the liquidation watch (``liquidation_watch``): the margin key it was derived for, the function and parts
        # it checks, and the oracle range [_safe_low, _safe_high] in which no check is needed (empty: low > high)
        self._watch_version = -1
        self._watch_key: tuple[object, ...] | None = None
        self._watch_free: Callable[[int], int] | None = None
        self._watch_parts: tuple[Callable[[int], int], Callable[[int], int], Callable[[int], int]] | None = None
        self._watch_evaluated = 0  # points of this key checked by evaluating the function (see liquidation_watch)
        self._safe_low = 1
        self._safe_high = 0
        # the margin engine's scenario of everything but the perp position (``_pricer``) and what it was built from
        self._scenario: OracleScenario | None = None
        self._scenario_key: tuple[object, ...] | None = None
        self._credit(QUOTE_SPOT_MARKET_INDEX, deposit_quote)

    # ------------------------------------------------------------------ caches

    def changed(self) -> None:
        """Record that the account changed: every cache keyed on the version is stale from now."""
        self.version += 1
        self.view_version += 1

    def forget_caches(self, liquidation_bounds: tuple[int | None, int | None] | None) -> None:
        """Drop every cache (the state was replaced wholesale, as by a restore), then hold ``liquidation_bounds``
        as current if given (the bounds a checkpoint carried, so the watch triggers where it did)."""
        self._cached_markets = None
        self._cached_account = None
        self._cache_version = -1
        self.changed()
        self._liq_free = None  # rebuilt from the restored state when a search needs it
        self._liq_pricer = None
        self._liq_key = None
        self._key_version = -1
        self._watch_version = -1
        self._watch_key = None
        self._scenario_key = None
        if liquidation_bounds is None:
            self._liq_version = -1
            self._liq_bounds = (None, None)
        else:
            # bounds that were current are what a search from this oracle (the one they were current at) finds
            self._liq_bounds = liquidation_bounds
            self._liq_lowest, self._liq_highest = oracles_keeping_above(liquidation_bounds[1], self.tape.oracle)
            self._liq_version = self.version

    def known_liquidation_bounds(self) -> tuple[int | None, int | None] | None:
        """The cached liquidation bounds if they are current (of this account, and what a search from this oracle
        would find: see ``liquidation_bounds``), else None."""
        if self._liq_version == self.version and self._liq_lowest <= self.tape.oracle <= self._liq_highest:
            return self._liq_bounds
        return None

    def margin_key(self) -> tuple[object, ...]:
        """Everything the margin engine reads of this account, the oracle aside (what ``current`` and ``markets``
        are built from: the position, the balances, the perp and spot market states, the open orders' totals and
        count). Two versions with equal keys have the same maintenance function of the oracle, so what was derived
        from it (the liquidation bounds, the watch's safe range) holds for both: a requote that cancels and places
        the same ladder changes the version, not the key. Computed once per version."""
        if self._key_version != self.version:
            self._key = (
                self.position,
                self.usdc,
                self.sol,
                self.perp_state,
                self.usdc_market,
                self.sol_market,
                self.open_bids_asks(),
            )
            self._key_version = self.version
        return self._key

    def _pricer(self) -> PositionPricer | None:
        """The margin engine's pricer of this version's position (``account_pricer``; None: no bounds from any
        oracle)."""
        # the account of this version carries the position and its open orders' totals (open_bids_asks)
        account = self.current()
        markets = self.markets()
        # The scenario prices everything of the account but its position in this market (``OracleScenario``: the
        # spot balances, and the market states they and the position are valued with); the oracle it is built at
        # does not enter what its pricers compute. So it is rebuilt only when one of those inputs changed, and a
        # fill or an order change (the position, its open orders) costs a new pricer only.
        key = (self.usdc, self.sol, self.usdc_market, self.sol_market, self.perp_state)
        scenario = self._scenario
        if scenario is None or key != self._scenario_key:
            scenario = self._scenario = OracleScenario(account, markets, self.market.market_index)
            self._scenario_key = key
        return account_pricer(
            account, markets, self.market.market_index, scenario=scenario, position=account.perp_positions[0]
        )

    def _free_maintenance(self) -> Callable[[int], int] | None:
        """What ``account_bounds`` searches for this version (None: no bounds from any oracle)."""
        pricer = self._liq_pricer = self._pricer()
        return None if pricer is None else pricer.free_maintenance

    def _hold_bounds(self, bounds: tuple[int | None, int | None], searched_at: int) -> None:
        """Cache ``bounds``, found by searching ``_liq_free`` from ``searched_at`` (none without a function: no
        bounds from any oracle), with the oracle prices from which a search would find them again."""
        self._liq_bounds = bounds
        self.view_version += 1  # a margin view seeds its liquidation search with these
        if self._liq_free is None:
            self._liq_lowest, self._liq_highest = 0, ANY_ORACLE
        else:
            self._liq_lowest, self._liq_highest = oracles_keeping_above(bounds[1], searched_at)

    # ------------------------------------------------------------------ the margin engine's view

    def open_bids_asks(self) -> tuple[int, int, int]:
        """The open orders' remaining bids (base, >= 0), asks (base, <= 0) and their number."""
        bids = asks = 0
        for o in self.orders.values():
            remaining = o.base - o.filled
            if o.side is Side.BUY:
                bids += remaining
            else:
                asks -= remaining
        return bids, asks, len(self.orders)

    def spot_positions(self) -> tuple[SpotPosition, ...]:
        return self.spot_positions_for(self.usdc, self.sol)

    def spot_positions_for(self, usdc: int, sol: int) -> tuple[SpotPosition, ...]:
        """The spot positions of USDC and SOL token amounts ``usdc`` and ``sol`` (the account's, or a what-if's)."""
        out = [
            SpotPosition(
                market_index=QUOTE_SPOT_MARKET_INDEX,
                scaled_balance=scaled_balance_for(
                    abs(usdc),
                    self.usdc_market,
                    BalanceType.DEPOSIT if usdc >= 0 else BalanceType.BORROW,
                ),
                balance_type=BalanceType.DEPOSIT if usdc >= 0 else BalanceType.BORROW,
            )
        ]
        if sol:
            out.append(
                SpotPosition(
                    market_index=SOL_SPOT_MARKET_INDEX,
                    scaled_balance=scaled_balance_for(sol, self.sol_market, BalanceType.DEPOSIT),
                )
            )
        return tuple(out)

    def account(self, *, extra_bids: int = 0, extra_asks: int = 0, extra_orders: int = 0) -> Account:
        """The Drift account (margin-engine model) as it is, optionally with hypothetical extra open orders."""
        bids, asks, n = self.open_bids_asks()
        return self.account_with(bids + extra_bids, asks + extra_asks, n + extra_orders)

    def account_with(self, open_bids: int, open_asks: int, open_orders: int) -> Account:
        """The Drift account with the perp position's open-order totals set to these."""
        position = msgspec.structs.replace(
            self.position, open_bids=open_bids, open_asks=open_asks, open_orders=open_orders
        )
        return Account(spot_positions=self.spot_positions(), perp_positions=(position,))

    def markets(self) -> Markets:
        """The markets the account needs, at the current oracle."""
        oracle = self.tape.oracle
        cached = self._cached_markets
        if cached is None or cached.perp[self.market.market_index].oracle_price != oracle:
            perp = self.perp_state.with_oracle_price(oracle)
            spot = {QUOTE_SPOT_MARKET_INDEX: self.usdc_market}
            if self.sol_follows_perp:
                spot[SOL_SPOT_MARKET_INDEX] = self.sol_market.with_oracle_price(oracle)
            self._cached_markets = cached = Markets(perp={self.market.market_index: perp}, spot=spot)
        return cached

    def current(self) -> Account:
        """:meth:`account` as it is now, cached per version."""
        if self._cached_account is None or self._cache_version != self.version:
            self._cached_account = self.account()
            self._cache_version = self.version
        return self._cached_account

    def margin_view(self) -> AccountMarginView:
        """The margin engine's what-if view of the account now (the Risk Governor's projection), given the watch's
        bounds when they are of this account: its liquidation price then costs a confirmation, not two searches."""
        return AccountMarginView(
            self.current(), self.markets(), self.market.market_index, known=self.known_liquidation_bounds()
        )

    def liquidation_bounds(self) -> tuple[int | None, int | None]:
        """The nearest oracle prices below and above the current one where maintenance is reached (None: no such
        price), open orders' worst case included: what ``margin.liquidation.account_bounds`` finds from the
        current oracle. Cached per margin key (``margin_key``: a change of the account that leaves every margin
        input as it was keeps them); within one, only the bound above is searched again, when the
        oracle leaves the range from which a search finds what the cache holds (``oracles_keeping_above``: the
        search above looks up to a multiple of the oracle it starts from, so "none above" found from one oracle
        may not be none from a higher one). The bound below is searched down to a price of 1 from any oracle.

        Both sides (``margin.liquidation.liquidation_bounds``), because open orders can make the worst case the
        other side of the position (a small long with a large resting ask is a short in the worst case, liquidated
        by a RISE). For one perp against quote collateral, free collateral is concave in the oracle (a linear
        requirement minus a PnL whose weight only falls as gains grow), so it crosses zero once on each side up to
        integer rounding: within a few units of price of a boundary it can cross more than once, and a search
        started from another oracle may land on another of those crossings. The watch checks maintenance exactly
        when the oracle reaches a bound, so that only moves the trigger by those few units."""
        oracle = self.tape.oracle
        if self._liq_version != self.version:
            key = self.margin_key()
            self._liq_version = self.version
            if key != self._liq_key:
                # account_bounds, keeping the function it searches for a later search above
                free = self._liq_free = self._free_maintenance()
                self._hold_bounds((None, None) if free is None else liquidation_bounds(free, oracle), oracle)
                self._liq_key = key
                return self._liq_bounds
            # the same margin key: the same function, so the bounds stand as they would within one version (the
            # range check below searches above again if this oracle is out of their range)
        if not self._liq_lowest <= oracle <= self._liq_highest:
            free = self._liq_free
            if free is None:  # restored from a checkpoint: the function is rebuilt once
                free = self._liq_free = self._free_maintenance()
            if free is None:
                self._hold_bounds((None, None), oracle)
            else:
                below, above = self._liq_bounds
                # with none above the range ends at the oracle it was searched from (oracles_keeping_above)
                above = search_above_again(free, oracle, above, self._liq_highest)
                self._hold_bounds((below, above), oracle)
        return self._liq_bounds

    def liquidation_watch(self) -> bool:
        """Whether the account may be below maintenance at the current oracle: False is a proof that it is not
        (the caller skips the exact check), True says the maintenance function is at or below zero here and the
        caller must run the exact check (``liquidation.liquidate``). The watch of every path point.

        Exactness: False only (a) when the oracle is inside ``[_safe_low, _safe_high]``, a range derived from the
        margin engine's pricer of this margin key in which maintenance free collateral is proved positive at every
        price (``liquidation.safe_range`` gives the argument), or (b) when that function is positive at this
        oracle, evaluated exactly (``PositionPricer.free_maintenance`` equals ``calculate_margin``'s collateral
        minus requirement), or (c) when the margin engine gives no function at all (``account_pricer`` None: no
        position and no orders, or a settled market: nothing of the account is valued at the moving oracle, as the
        bounds have always taken it). So the watch asks for the exact check at every price point where Drift's test
        (collateral < requirement) could hold, and the exact check decides: the same points as checking every
        point (tests/property/test_paper_liquidation_watch.py). Everything is derived once per margin key
        (``margin_key``), not per account version; outside the range the function is evaluated at each point, and a
        positive value re-derives the range around this oracle.

        The cached bounds other readers take (``liquidation_bounds``: the Risk Governor's view, a checkpoint) are
        kept current here as before, so what they read is what it was."""
        self.liquidation_bounds()
        if self._watch_version != self.version:
            key = self.margin_key()
            self._watch_version = self.version
            if key != self._watch_key:
                self._watch_key = key
                # liquidation_bounds has just searched this key's function when the key is its own
                pricer = self._liq_pricer if key == self._liq_key and self._liq_pricer is not None else self._pricer()
                if pricer is None:
                    self._watch_free = self._watch_parts = None
                    self._safe_low, self._safe_high = 1, ANY_ORACLE  # (c): no function of the oracle
                else:
                    self._watch_free = pricer.free_maintenance
                    self._watch_parts = pricer.maintenance_parts()
                    self._safe_low, self._safe_high = 1, 0  # empty: derived once the key has lived a while
                    # a cheap function waits a bar's worth of points before the range is derived; the general
                    # one costs about as much per point as a step of the range's searches, so it gets the range at once
                    self._watch_evaluated = 0 if pricer.cheap_free else _POINTS_BEFORE_RANGE
        oracle = self.tape.oracle
        if self._safe_low <= oracle <= self._safe_high:
            return False
        free = self._watch_free
        assert free is not None  # an empty range is only ever held with a function
        if free(oracle) <= 0:
            return True
        # Deriving the range costs a few searches, evaluating the function one call: most keys of a requoting grid
        # live for a bar or two (the next fill or order change makes a new one), so the range is derived only for a
        # key that has already been evaluated at a bar's worth of points.
        parts = self._watch_parts
        self._watch_evaluated += 1
        if parts is not None and self._watch_evaluated >= _POINTS_BEFORE_RANGE:
            self._safe_low, self._safe_high = safe_range(parts, oracle)
        return False

    def maintenance(self) -> tuple[int, int]:
        """(total collateral, maintenance requirement), open orders included."""
        mnt = calculate_margin(self.current(), self.markets(), MarginCategory.MAINTENANCE)
        return mnt.total_collateral, mnt.margin_requirement

    def is_liquidatable(self) -> bool:
        """Drift's test: total collateral below the maintenance requirement (open orders included)."""
        collateral, requirement = self.maintenance()
        return collateral < requirement

    def unsettled_pnl(self) -> int:
        """Drift's unrealized PnL of the perp at the oracle (position value + quote amount; funding is always
        settled into the quote here), quote 1e6: what ``settle`` would move into USDC."""
        return base_asset_value_and_pnl(self.position, self.tape.oracle)[1]

    def equity(self) -> int:
        """USDC balance + unsettled perp PnL + SOL at the oracle (quote 1e6): what the account is worth."""
        sol_value = token_value(self.sol, self.sol_market.spec.decimals, self.tape.oracle) if self.sol else 0
        return self.usdc + self.unsettled_pnl() + sol_value

    def equity_for(self, position: PerpPosition, usdc: int, sol: int) -> int:
        """:meth:`equity` of a what-if account holding ``position`` and these USDC and SOL token amounts."""
        oracle = self.tape.oracle
        sol_value = token_value(sol, self.sol_market.spec.decimals, oracle) if sol else 0
        return usdc + base_asset_value_and_pnl(position, oracle)[1] + sol_value

    def unrealized(self) -> int:
        """Position value at the oracle minus its entry cost (quote 1e6)."""
        return self.unsettled_pnl() - self.position.quote_asset_amount + self.position.quote_entry_amount

    def reduces(self, side: Side) -> bool:
        """Whether an order on ``side`` reduces the position."""
        base = self.position.base_asset_amount
        return (base > 0 and side is Side.SELL) or (base < 0 and side is Side.BUY)

    # ------------------------------------------------------------------ cash: deposits, withdrawals, PnL, funding

    def _credit(self, index: int, amount: int) -> None:
        if index == QUOTE_SPOT_MARKET_INDEX:
            self.usdc += amount
            self.ledger.deposits += amount
        else:
            self.sol += amount
        self.changed()

    def deposit(self, index: int, amount: int, out: list[VenueEvent]) -> None:
        """Drift ``deposit`` of ``amount`` (token units) into spot market ``index`` (USDC or SOL)."""
        if amount <= 0 or index not in _SPOT_INDICES:
            out.append(
                CommandRejected(
                    ts=self.tape.now,
                    command="deposit",
                    reason=RejectReason.INVALID_AMOUNT,
                    detail=f"amount {amount} in spot market {index}",
                )
            )
            return
        self._credit(index, amount)
        out.append(BalanceChanged(ts=self.tape.now, spot_market_index=index, amount=amount))

    def withdraw(self, index: int, amount: int, out: list[VenueEvent]) -> None:
        """Drift ``withdraw``: refused beyond the deposit, and when the account after it breaks initial margin."""
        now = self.tape.now
        held = self.usdc if index == QUOTE_SPOT_MARKET_INDEX else self.sol if index == SOL_SPOT_MARKET_INDEX else 0
        if amount <= 0 or index not in _SPOT_INDICES:
            out.append(
                CommandRejected(ts=now, command="withdraw", reason=RejectReason.INVALID_AMOUNT, detail=str(amount))
            )
            return
        if amount > held:
            out.append(
                CommandRejected(
                    ts=now,
                    command="withdraw",
                    reason=RejectReason.INSUFFICIENT_BALANCE,
                    detail=f"{amount} > deposit {held}",
                )
            )
            return
        before = (self.usdc, self.sol)
        if index == QUOTE_SPOT_MARKET_INDEX:
            self.usdc -= amount
        else:
            self.sol -= amount
        self.changed()
        if not calculate_margin(self.current(), self.markets(), MarginCategory.INITIAL).meets_margin_requirement:
            self.usdc, self.sol = before
            self.changed()
            out.append(
                CommandRejected(
                    ts=now,
                    command="withdraw",
                    reason=RejectReason.INSUFFICIENT_COLLATERAL,
                    detail="the withdrawal would breach initial margin",
                )
            )
            return
        if index == QUOTE_SPOT_MARKET_INDEX:
            self.ledger.withdrawals += amount
        out.append(BalanceChanged(ts=now, spot_market_index=index, amount=-amount))

    def settle(self, out: list[VenueEvent]) -> None:
        """Drift ``settle_pnl``: the whole unsettled PnL at the oracle moves into USDC (the PnL pool is taken as
        deep enough; a loss is always settleable)."""
        pnl = self.unsettled_pnl()
        if pnl == 0:
            out.append(PnlSettled(ts=self.tape.now, amount=0))
            return
        self.position = msgspec.structs.replace(
            self.position, quote_asset_amount=self.position.quote_asset_amount - pnl
        )
        self.usdc += pnl
        self.ledger.settled += pnl
        self.changed()
        out.append(PnlSettled(ts=self.tape.now, amount=pnl))

    def apply_funding(self, rate_long: int, rate_short: int, out: list[VenueEvent]) -> None:
        """A funding update (rates 1e9 quote per base for the period, + = longs pay): the cumulative rates move
        and the position's payment is settled into its quote amount. Emits one ``FundingPaid`` (payment 0 when
        flat) so reports have one row per settlement."""
        state = self.perp_state
        self.perp_state = msgspec.structs.replace(
            state,
            cumulative_funding_rate_long=state.cumulative_funding_rate_long + rate_long,
            cumulative_funding_rate_short=state.cumulative_funding_rate_short + rate_short,
        )
        self._cached_markets = None
        base = self.position.base_asset_amount
        before = self.position.quote_asset_amount
        self.position = settle_funding(self.position, self.perp_state)
        payment = self.position.quote_asset_amount - before
        self.ledger.funding += payment
        # always a new account: even a payment that rounds to 0 moves the position's funding checkpoint, and the
        # cached account and liquidation bounds would otherwise count the funding again as still owed
        self.changed()
        out.append(
            FundingPaid(
                ts=self.tape.now, position_base=base, rate=rate_long if base >= 0 else rate_short, payment=payment
            )
        )

    # ------------------------------------------------------------------ orders, fills and trades

    def cancel_requested(self, ids: tuple[int, ...], out: list[VenueEvent]) -> None:
        """Drift ``cancel_orders`` by user order id: each open one is cancelled, each unknown one rejected."""
        now = self.tape.now
        for uid in ids:
            order = self.orders.pop(uid, None)
            if order is None:
                out.append(OrderRejected(ts=now, user_order_id=uid, reason=RejectReason.UNKNOWN_ORDER, detail="cancel"))
                continue
            self.changed()
            out.append(
                OrderCancelled(ts=now, user_order_id=uid, reason=CancelReason.REQUESTED, filled_base=order.filled)
            )

    def cancel(self, order: RestingOrder, reason: CancelReason, out: list[VenueEvent]) -> None:
        """Take ``order`` off the book and say why."""
        del self.orders[order.uid]
        self.changed()
        out.append(OrderCancelled(ts=self.tape.now, user_order_id=order.uid, reason=reason, filled_base=order.filled))

    def cancel_all(self, reason: CancelReason, out: list[VenueEvent]) -> None:
        """Take every open order off the book, in placement order (one account change for all of them)."""
        now = self.tape.now
        orders = self.orders
        for uid in list(orders):
            order = orders.pop(uid)
            out.append(OrderCancelled(ts=now, user_order_id=uid, reason=reason, filled_base=order.filled))
        self.changed()

    def expire(self, out: list[VenueEvent]) -> None:
        """Take off the book every order whose ``max_ts`` has passed (``max_ts < now``): expired orders never fill."""
        now = self.tape.now
        expired = [o for o in self.orders.values() if o.max_ts and o.max_ts < now]
        if expired:
            self.remove_expired(expired, out)

    def remove_expired(self, expired: list[RestingOrder], out: list[VenueEvent]) -> None:
        """Take ``expired`` (orders past their ``max_ts`` at ``now``, in book order) off the book."""
        now = self.tape.now
        orders = self.orders
        for order in expired:
            del orders[order.uid]
            out.append(OrderExpired(ts=now, user_order_id=order.uid, filled_base=order.filled))
        self.changed()

    def fill(self, order: RestingOrder, base: int, price: int, liquidity: Liquidity, out: list[VenueEvent]) -> int:
        """Fill up to ``base`` of ``order`` at ``price``; returns the base filled. Reduce-only fills are clipped to
        the position, and a reduce-only order with nothing to reduce is cancelled."""
        if order.reduce_only:
            if not self.reduces(order.side):
                self.cancel(order, CancelReason.REDUCE_ONLY_FLAT, out)
                return 0
            base = min(base, abs(self.position.base_asset_amount))
        if base <= 0:
            return 0
        rate = self.fees.maker_ppm if liquidity is Liquidity.MAKER else self.fees.taker_ppm
        delta = base * order.side.sign
        quote = fill_quote_delta(delta, price)
        fee = fill_fee(abs(quote), rate)
        self.apply_trade(delta, price, fee)
        if liquidity is Liquidity.MAKER:
            self.ledger.maker_fills += 1
        else:
            self.ledger.taker_fills += 1
        order.filled += base
        complete = order.filled >= order.base
        if complete:
            del self.orders[order.uid]
        out.append(
            Fill(
                ts=self.tape.now,
                user_order_id=order.uid,
                side=order.side,
                price=price,
                base=base,
                quote=quote,
                fee=fee,
                liquidity=liquidity,
                reduce_only=order.reduce_only,
                order_filled_base=order.filled,
                complete=complete,
            )
        )
        if order.reduce_only and not complete and self.position.base_asset_amount == 0:
            self.cancel(order, CancelReason.REDUCE_ONLY_FLAT, out)
        return base

    def accrue_interest(self, usdc_market: SpotMarketState, sol_market: SpotMarketState, out: list[VenueEvent]) -> None:
        """A Drift interest update: the USDC and SOL markets' cumulative deposit and borrow interest move to those
        of ``usdc_market`` and ``sol_market`` (the same markets, later), and each balance gains (a deposit) or owes
        (a borrow) what its scaled balance is worth more: ``token_amount(scaled, new) - token_amount(scaled, old)``
        (``margin.spot_balance``), the scaled balance taken as Drift holds it (deposits rounded down, borrows up,
        ``get_spot_balance``). One ``InterestAccrued`` per non-zero balance, USDC first."""
        now = self.tape.now
        for index, new in ((QUOTE_SPOT_MARKET_INDEX, usdc_market), (SOL_SPOT_MARKET_INDEX, sol_market)):
            old = self.usdc_market if index == QUOTE_SPOT_MARKET_INDEX else self.sol_market
            held = self.usdc if index == QUOTE_SPOT_MARKET_INDEX else self.sol
            amount = 0
            if held:
                kind = BalanceType.DEPOSIT if held > 0 else BalanceType.BORROW
                scaled = drift_scaled_balance(abs(held), old, kind)
                grown = token_amount(scaled, new, kind) - token_amount(scaled, old, kind)
                amount = grown if held > 0 else -grown
            if index == QUOTE_SPOT_MARKET_INDEX:
                self.usdc_market = new
                self.usdc += amount
                self.ledger.interest_usdc += amount
            else:
                self.sol_market = new
                self.sol += amount
                self.ledger.interest_sol += amount
            if held:
                out.append(InterestAccrued(ts=now, spot_market_index=index, amount=amount))
        self._cached_markets = None  # the markets' cumulative interest moved
        self.changed()

    def book_spot(self, sol_delta: int, usdc_delta: int, fee: int) -> None:
        """Book a spot fill on the SOL market: ``sol_delta`` tokens in (out if negative) against ``usdc_delta`` USDC
        (fee included; ``fee`` is recorded in the ledger). The caller has checked the balances."""
        self.sol += sol_delta
        self.usdc += usdc_delta
        self.ledger.spot_fees += fee
        self.ledger.spot_fills += 1
        self.changed()

    def pay_tx_cost(self, quote: int) -> None:
        """Charge a transaction's cost (USDC 1e6, its SOL at the oracle) to the USDC balance. On chain the wallet
        pays it in SOL; charging the subaccount keeps it in the bot's PnL, where the carry has to earn it."""
        self.usdc -= quote
        self.ledger.tx_costs += quote
        self.changed()

    def apply_trade(self, delta: int, price: int, fee: int) -> None:
        """Book a position change of ``delta`` at ``price`` paying ``fee`` (Drift's position bookkeeping)."""
        market = self.perp_state.with_oracle_price(self.tape.oracle)
        before = self.position
        after = apply_perp_fill(before, market, delta, price, fee=fee)
        quote = fill_quote_delta(delta, price)
        # realized = the quote of the fill not absorbed into the entry cost (0 for opens, exact for any split)
        self.ledger.realized += quote - (after.quote_entry_amount - before.quote_entry_amount)
        self.ledger.fees += fee
        self.position = after
        self.changed()
