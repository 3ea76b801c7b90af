"""PaperVenue: one Drift subaccount trading one perp market, simulated from a replayed price path.

What it keeps, per subaccount: the USDC (and optionally SOL) spot balances, the perp position with Drift's own
bookkeeping (base, quote, entry and break-even amounts, funding checkpoint; ``botrunner.margin.what_if``), and the
open orders. Margin, health, leverage and the liquidation price come from the Drift-exact margin engine.

Order semantics (protocol-v2 ``place_perp_order`` / ``fill_perp_order``), checked in this order:
  no price yet -> MARKET_PAUSED; user_order_id already open; 32 open orders; size a step multiple and >= the
  minimum; a limit price a tick multiple; ``max_ts`` in the past; reduce-only that cannot reduce; post-only
  crossing (MustPostOnly rejects, TryPostOnly skips, Slide reprices one tick behind the touch); then, for an order
  that increases the worst-case position, initial margin with all open orders and the paper leverage cap.
  An accepted order that crosses (market, or a limit without post-only) takes liquidity at once.
Fills: a resting order is a maker and fills at its own price (see ``PaperConfig`` for the trade-through and
volume-share rules); a taker pays slippage (or walks a given book). Reduce-only fills are clipped to the position;
one that has nothing left to reduce is cancelled. An order whose ``max_ts`` has passed (``ts > max_ts``) expires
before any fill at that instant: expired orders never fill.
L2 mode: once ``on_book`` has given the venue an order book (and from then on), the touch is the book's best bid
and ask, a resting order queues behind the depth displayed at its price, makers fill only from the trade prints
passed to ``on_trade`` (the candle rule of ``on_price`` stops: ``on_price`` then only moves the prices, expires and
checks liquidation), and a taker walks the book instead of paying modelled slippage. The queue model is in
``botrunner.paper.queue``. Without a book every path is the candle model, unchanged.
Funding: ``apply_funding`` moves the cumulative rates and settles the position's payment into its quote amount at
once (Drift settles lazily; the margin engine counts unsettled funding either way, so the figures are the same).
PnL: the perp quote amount is unsettled PnL until ``SettlePnl`` moves it into the USDC balance.
Liquidation: when the oracle reaches the cached liquidation price, maintenance is checked exactly; if collateral
is below the requirement the venue cancels every order, re-checks, then transfers the smallest step multiple of
the position (at the oracle, charged the market's liquidator + insurance-fund fees) that restores maintenance plus
``liquidation_buffer_ratio`` (all of it if nothing less does).

Determinism: no clock and no randomness; the caller passes every time. The same calls give the same events.
This is the imperative shell's simulator: mutable, single-threaded, one instance per bot.
"""

from __future__ import annotations

from typing import assert_never

import msgspec

from botrunner.connector.commands import CancelAndPlace, CancelOrders, PlaceOrders
from botrunner.connector.orders import OrderIntent, OrderState, OrderType, WorkingOrder
from botrunner.core.catalogue import load_catalogue
from botrunner.core.fixed import ceil_div
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import (
    BASE_PRECISION,
    BPS_PRECISION,
    LIQUIDATION_FEE_PRECISION,
    MAX_OPEN_ORDERS_PER_USER,
    PRICE_PRECISION,
    QUOTE_SPOT_MARKET_INDEX,
    SOL_SPOT_MARKET_INDEX,
    USER_ORDER_ID_MAX,
    USER_ORDER_ID_MIN,
)
from botrunner.core.side import Side
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.liquidation import account_bounds
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
from botrunner.margin.spot_balance import scaled_balance_for, token_value
from botrunner.margin.view import AccountMarginView
from botrunner.margin.what_if import apply_perp_fill, fill_quote_delta, settle_funding
from botrunner.marketdata.l2 import Trade
from botrunner.paper.config import PaperConfig, slippage_bps
from botrunner.paper.fees import fill_fee
from botrunner.paper.queue import BookView, after_depth, after_print, join_queue, walk_book
from botrunner.venue.port import (
    AccountReport,
    BalanceChanged,
    CancelReason,
    CommandRejected,
    Deposit,
    Fill,
    FundingPaid,
    Liquidated,
    Liquidity,
    ModifyOrder,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    PnlSettled,
    RejectReason,
    SettlePnl,
    VenueCommand,
    VenueEvent,
    Withdraw,
    order_rejected,
)
from botrunner.venue.report import account_report

_BUY = Side.BUY  # (a Side is BUY or SELL)
_ORACLE_OFFSET = OrderType.ORACLE_OFFSET


class Ledger(msgspec.Struct, kw_only=True):
    """Cumulative money flows (quote 1e6), kept so every figure of a report adds up to the unit:
    equity == deposits - withdrawals + realized + unrealized + funding - fees (USDC-only collateral)."""

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


class _Order:
    """One resting order (mutable, venue-internal)."""

    __slots__ = (
        "base",
        "filled",
        "max_ts",
        "oracle_offset",
        "order_type",
        "placed_at",
        "post_only",
        "price",
        "queue_ahead",
        "queue_price",
        "queue_unprinted",
        "reduce_only",
        "side",
        "uid",
    )

    def __init__(self, intent: OrderIntent, price: int, placed_at: int) -> None:
        self.uid = intent.user_order_id
        self.side = intent.side
        self.price = price
        self.base = intent.base
        self.filled = 0
        self.post_only = intent.post_only
        self.reduce_only = intent.reduce_only
        self.max_ts = intent.max_ts
        self.placed_at = placed_at
        self.order_type = intent.order_type
        self.oracle_offset = intent.oracle_price_offset
        self.queue_ahead = 0  # base ahead of us at our price (L2 queue model)
        self.queue_price = 0  # the price whose queue we joined; 0 = not joined (no book known yet)
        self.queue_unprinted = 0  # queue advance from depth drops that a later print may only be reporting

    def working(self) -> WorkingOrder:
        state = OrderState.PARTIALLY_FILLED if self.filled else OrderState.OPEN
        return WorkingOrder(
            user_order_id=self.uid,
            side=self.side,
            price=self.price if self.order_type is not OrderType.ORACLE_OFFSET else 0,
            base=self.base,
            post_only=self.post_only,
            reduce_only=self.reduce_only,
            max_ts=self.max_ts,
            placed_at=self.placed_at,
            anchor_price=self.price,
            state=state,
            filled_base=self.filled,
            order_type=self.order_type,
            oracle_price_offset=self.oracle_offset,
        )


class PaperVenue:
    """A Drift subaccount on one perp market, simulated. Implements ``botrunner.venue.port.Venue``."""

    def __init__(
        self,
        market: PerpMarketSpec,
        config: PaperConfig,
        *,
        deposit_quote: int,
        oracle_price: int,
        now: int,
    ) -> None:
        if deposit_quote <= 0:
            raise ValueError(f"PaperVenue: deposit must be > 0 USDC (1e6), got {deposit_quote}")
        if oracle_price <= 0:
            raise ValueError(f"PaperVenue: oracle price must be > 0, got {oracle_price}")
        self.market = market
        self.config = config.validate()
        catalogue = load_catalogue()
        self._usdc_market = SpotMarketState(spec=catalogue.spot(QUOTE_SPOT_MARKET_INDEX), oracle_price=PRICE_PRECISION)
        self._sol_market = SpotMarketState(spec=catalogue.spot(SOL_SPOT_MARKET_INDEX), oracle_price=oracle_price)
        self._sol_follows_perp = self._sol_market.spec.oracle == market.oracle
        self._perp_state = PerpMarketState(spec=market, oracle_price=oracle_price)
        self.usdc = 0  # token amount 1e6, negative = borrow
        self.sol = 0  # token amount 1e9 (deposits only)
        self.position = PerpPosition(market_index=market.market_index)
        self.orders: dict[int, _Order] = {}  # insertion order = placement order
        self.ledger = Ledger()
        self.now = now
        self.last_price = oracle_price  # last traded price on the replayed path
        self.oracle = oracle_price
        self.best_bid: int | None = None
        self.best_ask: int | None = None
        self._bar_ts: int | None = None
        self._bar_budget: int | None = None  # maker base still fillable this bar; None = unlimited
        self._book: BookView | None = None  # the L2 book of the last on_book (read, never changed); None = candles
        self._version = 0  # bumps on every account change (caches key on it)
        self._cache_version = -1
        self._cached_account: Account | None = None
        self._cached_markets: Markets | None = None
        self._liq_version = -1
        self._liq_bounds: tuple[int | None, int | None] = (None, None)
        self._apply_deposit(QUOTE_SPOT_MARKET_INDEX, deposit_quote)

    # ------------------------------------------------------------------ account views

    def _changed(self) -> None:
        self._version += 1

    def _open_bids_asks(self) -> tuple[int, int, int]:
        bids = asks = 0
        for o in self.orders.values():
            remaining = o.base - o.filled
            if o.side is Side.BUY:
                bids += remaining
            else:
                asks -= remaining
        return bids, asks, len(self.orders)

    def _spot_positions(self) -> tuple[SpotPosition, ...]:
        out = [
            SpotPosition(
                market_index=QUOTE_SPOT_MARKET_INDEX,
                scaled_balance=scaled_balance_for(
                    abs(self.usdc),
                    self._usdc_market,
                    BalanceType.DEPOSIT if self.usdc >= 0 else BalanceType.BORROW,
                ),
                balance_type=BalanceType.DEPOSIT if self.usdc >= 0 else BalanceType.BORROW,
            )
        ]
        if self.sol:
            out.append(
                SpotPosition(
                    market_index=SOL_SPOT_MARKET_INDEX,
                    scaled_balance=scaled_balance_for(self.sol, self._sol_market, BalanceType.DEPOSIT),
                )
            )
        return tuple(out)

    def account(self, *, extra_bids: int = 0, extra_asks: int = 0, extra_orders: int = 0) -> Account:
        """The Drift account (margin-engine model) as it is, optionally with hypothetical extra open orders."""
        bids, asks, n = self._open_bids_asks()
        return self._account_with(bids + extra_bids, asks + extra_asks, n + extra_orders)

    def _account_with(self, open_bids: int, open_asks: int, open_orders: int) -> Account:
        """The Drift account with the perp position's open-order totals set to these."""
        position = msgspec.structs.replace(
            self.position, open_bids=open_bids, open_asks=open_asks, open_orders=open_orders
        )
        return Account(spot_positions=self._spot_positions(), perp_positions=(position,))

    def markets(self) -> Markets:
        """The markets the account needs, at the current oracle."""
        if self._cached_markets is None or self._cached_markets.perp[self.market.market_index].oracle_price != (
            self.oracle
        ):
            perp = self._perp_state.with_oracle_price(self.oracle)
            spot = {QUOTE_SPOT_MARKET_INDEX: self._usdc_market}
            if self._sol_follows_perp:
                spot[SOL_SPOT_MARKET_INDEX] = self._sol_market.with_oracle_price(self.oracle)
            self._cached_markets = Markets(perp={self.market.market_index: perp}, spot=spot)
        return self._cached_markets

    def _current_account(self) -> Account:
        if self._cached_account is None or self._cache_version != self._version:
            self._cached_account = self.account()
            self._cache_version = self._version
        return self._cached_account

    def margin_view(self) -> AccountMarginView:
        """The margin engine's what-if view of the account now (the Risk Governor's projection), given the watch's
        bounds when they are of this account: its liquidation price then costs a confirmation, not two searches."""
        known = self._liq_bounds if self._liq_version == self._version else None
        return AccountMarginView(self._current_account(), self.markets(), self.market.market_index, known=known)

    def liquidation_bounds(self) -> tuple[int | None, int | None]:
        """The nearest oracle prices below and above the current one where maintenance is reached (None: no such
        price), open orders' worst case included; cached per account change.

        Both sides (``margin.liquidation.liquidation_bounds``), because open orders can make the worst case the
        other side of the position (a small long with a large resting ask is a short in the worst case, liquidated
        by a RISE). For one perp against quote collateral, free collateral is concave in the oracle (a linear
        requirement minus a PnL whose weight only falls as gains grow), so it crosses zero once on each side up to
        integer rounding: within a few units of price of a boundary it can cross more than once, and a search
        started from another oracle may land on another of those crossings. The watch checks maintenance exactly
        when the oracle reaches a bound, so that only moves the trigger by those few units."""
        if self._liq_version != self._version:
            # the account of this version carries the position and its open orders' totals (_open_bids_asks)
            account = self._current_account()
            self._liq_bounds = account_bounds(
                account, self.markets(), self.market.market_index, position=account.perp_positions[0]
            )
            self._liq_version = self._version
        return self._liq_bounds

    def unsettled_pnl(self) -> int:
        """Drift's unrealized PnL of the perp at the oracle (position value + quote amount; funding is always
        settled into the quote here), quote 1e6: what ``SettlePnl`` would move into USDC."""
        return base_asset_value_and_pnl(self.position, self.oracle)[1]

    def equity(self) -> int:
        """USDC balance + unsettled perp PnL + SOL at the oracle (quote 1e6): what the account is worth."""
        sol_value = token_value(self.sol, self._sol_market.spec.decimals, self.oracle) if self.sol else 0
        return self.usdc + self.unsettled_pnl() + sol_value

    def unrealized(self) -> int:
        """Position value at the oracle minus its entry cost (quote 1e6)."""
        return self.unsettled_pnl() - self.position.quote_asset_amount + self.position.quote_entry_amount

    def report(self) -> AccountReport:
        return account_report(
            self.margin_view(),
            self.position,
            ts=self.now,
            usdc_balance=self.usdc,
            unsettled_pnl=self.unsettled_pnl(),
            unrealized_pnl=self.unrealized(),
            equity=self.equity(),
            open_orders=len(self.orders),
        )

    def open_orders(self) -> tuple[WorkingOrder, ...]:
        return tuple(o.working() for o in self.orders.values())

    # ------------------------------------------------------------------ commands

    def submit(self, command: VenueCommand, now: int) -> tuple[VenueEvent, ...]:
        """Perform ``command`` at ``now`` (which may not go back in time)."""
        if now < self.now:
            raise ValueError(f"PaperVenue.submit: time went backwards ({now} < {self.now})")
        self.now = now
        out: list[VenueEvent] = []
        self._expire(out)  # an order past its max_ts is gone before anything else can touch it
        match command:
            case PlaceOrders(orders=orders):
                self._place_batch(orders, out)
            case CancelOrders(user_order_ids=ids):
                self._cancel_ids(ids, out)
            case CancelAndPlace(cancel_ids=ids, orders=orders):
                self._cancel_ids(ids, out)
                self._place_batch(orders, out)
            case ModifyOrder():
                self._modify(command, out)
            case SettlePnl():
                self._settle(out)
            case Deposit(spot_market_index=index, amount=amount):
                if amount <= 0 or index not in (QUOTE_SPOT_MARKET_INDEX, SOL_SPOT_MARKET_INDEX):
                    out.append(
                        CommandRejected(
                            ts=now,
                            command="deposit",
                            reason=RejectReason.INVALID_AMOUNT,
                            detail=f"amount {amount} in spot market {index}",
                        )
                    )
                else:
                    self._apply_deposit(index, amount)
                    out.append(BalanceChanged(ts=now, spot_market_index=index, amount=amount))
            case Withdraw():
                self._withdraw(command, out)
            case _ as unreachable:
                assert_never(unreachable)
        return tuple(out)

    def _apply_deposit(self, index: int, amount: int) -> None:
        if index == QUOTE_SPOT_MARKET_INDEX:
            self.usdc += amount
            self.ledger.deposits += amount
        else:
            self.sol += amount
        self._changed()

    def _withdraw(self, command: Withdraw, out: list[VenueEvent]) -> None:
        index, amount = command.spot_market_index, command.amount
        held = self.usdc if index == QUOTE_SPOT_MARKET_INDEX else self.sol if index == SOL_SPOT_MARKET_INDEX else 0
        if amount <= 0 or index not in (QUOTE_SPOT_MARKET_INDEX, SOL_SPOT_MARKET_INDEX):
            out.append(
                CommandRejected(ts=self.now, command="withdraw", reason=RejectReason.INVALID_AMOUNT, detail=str(amount))
            )
            return
        if amount > held:
            out.append(
                CommandRejected(
                    ts=self.now,
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
        self._changed()
        if not calculate_margin(
            self._current_account(), self.markets(), MarginCategory.INITIAL
        ).meets_margin_requirement:
            self.usdc, self.sol = before
            self._changed()
            out.append(
                CommandRejected(
                    ts=self.now,
                    command="withdraw",
                    reason=RejectReason.INSUFFICIENT_COLLATERAL,
                    detail="the withdrawal would breach initial margin",
                )
            )
            return
        if index == QUOTE_SPOT_MARKET_INDEX:
            self.ledger.withdrawals += amount
        out.append(BalanceChanged(ts=self.now, spot_market_index=index, amount=-amount))

    def _settle(self, out: list[VenueEvent]) -> None:
        """Drift ``settle_pnl``: the whole unsettled PnL at the oracle moves into USDC (the PnL pool is taken as
        deep enough; a loss is always settleable)."""
        pnl = self.unsettled_pnl()
        if pnl == 0:
            out.append(PnlSettled(ts=self.now, amount=0))
            return
        self.position = msgspec.structs.replace(
            self.position, quote_asset_amount=self.position.quote_asset_amount - pnl
        )
        self.usdc += pnl
        self.ledger.settled += pnl
        self._changed()
        out.append(PnlSettled(ts=self.now, amount=pnl))

    def _cancel_ids(self, ids: tuple[int, ...], out: list[VenueEvent]) -> None:
        for uid in ids:
            order = self.orders.pop(uid, None)
            if order is None:
                out.append(
                    OrderRejected(ts=self.now, user_order_id=uid, reason=RejectReason.UNKNOWN_ORDER, detail="cancel")
                )
                continue
            self._changed()
            out.append(
                OrderCancelled(ts=self.now, user_order_id=uid, reason=CancelReason.REQUESTED, filled_base=order.filled)
            )

    def _modify(self, command: ModifyOrder, out: list[VenueEvent]) -> None:
        order = self.orders.get(command.user_order_id)
        if order is None:
            out.append(
                OrderRejected(
                    ts=self.now, user_order_id=command.user_order_id, reason=RejectReason.UNKNOWN_ORDER, detail="modify"
                )
            )
            return
        base = command.base if command.base is not None else order.base
        intent = OrderIntent(
            user_order_id=order.uid,
            side=order.side,
            price=command.price if command.price is not None else order.price,
            base=max(base - order.filled, 1),
            post_only=order.post_only,
            reduce_only=order.reduce_only,
            max_ts=command.max_ts if command.max_ts is not None else order.max_ts,
            placed_at=self.now,
            anchor_price=order.price,
            order_type=order.order_type if order.order_type is not OrderType.ORACLE_OFFSET else OrderType.LIMIT,
        )
        del self.orders[order.uid]
        self._changed()
        out.append(
            OrderCancelled(
                ts=self.now, user_order_id=order.uid, reason=CancelReason.REQUESTED, filled_base=order.filled
            )
        )
        if base <= order.filled:
            return
        self._place_batch((intent,), out)

    # ------------------------------------------------------------------ placement

    def _static_reject(self, intent: OrderIntent) -> tuple[RejectReason, str] | None:
        spec = self.market
        if intent.user_order_id in self.orders:
            return RejectReason.USER_ORDER_ID_IN_USE, f"{intent.user_order_id} is open"
        if len(self.orders) >= MAX_OPEN_ORDERS_PER_USER:
            return RejectReason.TOO_MANY_OPEN_ORDERS, f"{MAX_OPEN_ORDERS_PER_USER} orders already open"
        if not USER_ORDER_ID_MIN <= intent.user_order_id <= USER_ORDER_ID_MAX:
            return RejectReason.UNKNOWN_ORDER, f"user_order_id {intent.user_order_id} outside 1..255"
        if intent.base % spec.step_size:
            return RejectReason.SIZE_NOT_STEP_MULTIPLE, f"base {intent.base} vs step {spec.step_size}"
        if intent.base < spec.min_order_size:
            return RejectReason.SIZE_BELOW_MINIMUM, f"base {intent.base} < minimum {spec.min_order_size}"
        if intent.order_type is OrderType.LIMIT and intent.price % spec.tick_size:
            return RejectReason.PRICE_NOT_TICK_MULTIPLE, f"price {intent.price} vs tick {spec.tick_size}"
        if intent.order_type is OrderType.ORACLE_OFFSET and intent.oracle_price_offset % spec.tick_size:
            return RejectReason.PRICE_NOT_TICK_MULTIPLE, f"offset {intent.oracle_price_offset} vs tick"
        if intent.order_type is OrderType.MARKET and intent.post_only is not PostOnlyMode.NONE:
            return RejectReason.INVALID_ORDER, "a market order cannot be post-only"
        if intent.max_ts and intent.max_ts < self.now:
            return RejectReason.EXPIRED_ON_ARRIVAL, f"max_ts {intent.max_ts} < now {self.now}"
        if intent.reduce_only and not self._reduces(intent.side):
            return RejectReason.REDUCE_ONLY_INCREASES, f"position {self.position.base_asset_amount}"
        return None

    def _reduces(self, side: Side) -> bool:
        base = self.position.base_asset_amount
        return (base > 0 and side is Side.SELL) or (base < 0 and side is Side.BUY)

    def _touch(self, side: Side) -> int:
        """The price an order on ``side`` would trade against: the best ask for a buy, the best bid for a sell;
        without a book, the last traded price."""
        if side is Side.BUY:
            return self.best_ask if self.best_ask is not None else self.last_price
        return self.best_bid if self.best_bid is not None else self.last_price

    def _limit_price(self, intent: OrderIntent) -> int:
        if intent.order_type is OrderType.ORACLE_OFFSET:
            return self._round_to_tick(self.oracle + intent.oracle_price_offset, intent.side)
        return intent.price

    def _round_to_tick(self, price: int, side: Side) -> int:
        tick = self.market.tick_size
        rounded = price // tick * tick if side is Side.BUY else ceil_div(price, tick) * tick
        return max(tick, rounded)

    def _crosses(self, side: Side, price: int) -> bool:
        touch = self._touch(side)
        return price >= touch if side is Side.BUY else price <= touch

    def _place_batch(self, intents: tuple[OrderIntent, ...], out: list[VenueEvent]) -> None:
        """Drift ``place_orders``: each order is validated and margin-checked in turn. The margin check of the
        whole batch is done once when it passes (requirement only grows as orders are added, so every prefix
        passes too); otherwise order by order."""
        staged: list[tuple[OrderIntent, int]] = []
        staged_ids: set[int] = set()  # the ids in ``staged``
        for intent in intents:
            rejected = self._static_reject(intent)
            if rejected is not None:
                out.append(self._rejected(intent, reason=rejected[0], detail=rejected[1]))
                continue
            price = self._limit_price(intent)
            if (
                intent.order_type is not OrderType.MARKET
                and intent.post_only is not PostOnlyMode.NONE
                and self._crosses(intent.side, price)
            ):
                match intent.post_only:
                    case PostOnlyMode.MUST_POST_ONLY:
                        out.append(
                            self._rejected(
                                intent,
                                reason=RejectReason.POST_ONLY_WOULD_CROSS,
                                detail=f"{intent.side.value} {price} vs touch {self._touch(intent.side)}",
                            )
                        )
                        continue
                    case PostOnlyMode.TRY_POST_ONLY:
                        out.append(
                            self._rejected(
                                intent,
                                reason=RejectReason.POST_ONLY_SKIPPED,
                                detail=f"{intent.side.value} {price} vs touch {self._touch(intent.side)}",
                            )
                        )
                        continue
                    case PostOnlyMode.SLIDE:
                        touch = self._touch(intent.side)
                        tick = self.market.tick_size
                        price = self._round_to_tick(
                            touch - tick if intent.side is Side.BUY else touch + tick, intent.side
                        )
                    case PostOnlyMode.NONE:  # pragma: no cover - excluded above
                        pass
                    case _ as unreachable:
                        assert_never(unreachable)
            if len(self.orders) + len(staged) >= MAX_OPEN_ORDERS_PER_USER:
                out.append(
                    self._rejected(
                        intent,
                        reason=RejectReason.TOO_MANY_OPEN_ORDERS,
                        detail=f"{MAX_OPEN_ORDERS_PER_USER} orders already open",
                    )
                )
                continue
            if intent.user_order_id in staged_ids:
                out.append(
                    self._rejected(
                        intent,
                        reason=RejectReason.USER_ORDER_ID_IN_USE,
                        detail="twice in one batch",
                    )
                )
                continue
            staged.append((intent, price))
            staged_ids.add(intent.user_order_id)
        if not staged:
            return
        batch_ok = self._margin_rejection(staged) is None
        for i, (intent, price) in enumerate(staged):
            if not batch_ok:
                why = self._margin_rejection(staged[i : i + 1])
                if why is not None:
                    out.append(self._rejected(intent, reason=why[0], detail=why[1]))
                    continue
            self._accept(intent, price, out)

    def _rejected(self, intent: OrderIntent, *, reason: RejectReason, detail: str = "") -> OrderRejected:
        return order_rejected(intent, self.now, reason, detail)

    def _margin_rejection(self, staged: list[tuple[OrderIntent, int]]) -> tuple[RejectReason, str] | None:
        """Why adding ``staged`` to the open orders breaks initial margin or the paper leverage cap (None: fine).
        Only orders that increase the worst-case position are checked, as Drift's ``risk_increasing`` rule."""
        bids, asks, n = self._open_bids_asks()
        add_bids = sum(i.base for i, _ in staged if i.side is Side.BUY)
        add_asks = -sum(i.base for i, _ in staged if i.side is Side.SELL)
        base = self.position.base_asset_amount
        worst_before = max(abs(base + bids), abs(base + asks))
        worst_after = max(abs(base + bids + add_bids), abs(base + asks + add_asks))
        if worst_after <= worst_before:
            return None
        # self.account(extra_bids=add_bids, ...), without summing the open orders a second time
        account = self._account_with(bids + add_bids, asks + add_asks, n + len(staged))
        markets = self.markets()
        initial = calculate_margin(account, markets, MarginCategory.INITIAL)
        if not initial.meets_margin_requirement:
            return (
                RejectReason.INSUFFICIENT_COLLATERAL,
                f"initial requirement {initial.margin_requirement} > collateral {initial.total_collateral}",
            )
        equity = self.equity()
        notional = worst_after * self.oracle // BASE_PRECISION
        if equity <= 0 or notional * 10_000 > self.config.max_leverage_x10000 * equity:
            return (
                RejectReason.MAX_LEVERAGE,
                f"worst-case notional {notional} over equity {equity} exceeds "
                f"{self.config.max_leverage_x10000 / 10_000:g}x",
            )
        return None

    def _accept(self, intent: OrderIntent, price: int, out: list[VenueEvent]) -> None:
        order = _Order(intent, price, self.now)
        self.orders[order.uid] = order
        self._changed()
        out.append(
            OrderAccepted(
                ts=self.now,
                user_order_id=order.uid,
                side=order.side,
                price=price,
                base=order.base,
                post_only=intent.post_only is not PostOnlyMode.NONE,
                reduce_only=order.reduce_only,
                max_ts=order.max_ts,
            )
        )
        if intent.order_type is OrderType.MARKET or (
            intent.post_only is PostOnlyMode.NONE and self._crosses(order.side, price)
        ):
            self._take(order, out)
        if self._book is not None and order.uid in self.orders:
            self._join_queue(order, self._book)

    # ------------------------------------------------------------------ fills

    def _take(self, order: _Order, out: list[VenueEvent]) -> None:
        """Fill ``order`` as a taker: at the touch plus size-dependent slippage, never beyond its limit price (a
        market order's limit is its price when given; 0 means none). With a book, it walks the book instead."""
        if self._book is not None:
            self._take_from_book(order, self._book, out)
            return
        touch = self._touch(order.side)
        remaining = order.base - order.filled
        limit_ok = not order.price or (order.price >= touch if order.side is Side.BUY else order.price <= touch)
        notional = remaining * touch // BASE_PRECISION
        slip = slippage_bps(self.config, notional)
        scaled = touch * (BPS_PRECISION + slip * order.side.sign)
        # against the taker twice: the exact slipped price rounded up for a buy (down for a sell), then to the tick
        raw = ceil_div(scaled, BPS_PRECISION) if order.side is Side.BUY else scaled // BPS_PRECISION
        fill_price = self._round_to_tick(raw, order.side.opposite)
        if order.price:
            fill_price = min(fill_price, order.price) if order.side is Side.BUY else max(fill_price, order.price)
        if limit_ok:  # a limit better than the touch finds no liquidity: nothing fills
            self._fill(order, remaining, fill_price, Liquidity.TAKER, out)
        if order.uid in self.orders and order.order_type is OrderType.MARKET:
            self._cancel(order, CancelReason.MARKET_REMAINDER, out)

    def _cancel(self, order: _Order, reason: CancelReason, out: list[VenueEvent]) -> None:
        """Take ``order`` off the book on the venue's own initiative and say why."""
        del self.orders[order.uid]
        self._changed()
        out.append(OrderCancelled(ts=self.now, user_order_id=order.uid, reason=reason, filled_base=order.filled))

    def _fill(self, order: _Order, base: int, price: int, liquidity: Liquidity, out: list[VenueEvent]) -> int:
        """Fill up to ``base`` of ``order`` at ``price``; returns the base filled. Reduce-only fills are clipped to
        the position, and a reduce-only order with nothing to reduce is cancelled."""
        if order.reduce_only:
            if not self._reduces(order.side):
                self._cancel(order, CancelReason.REDUCE_ONLY_FLAT, out)
                return 0
            base = min(base, abs(self.position.base_asset_amount))
        if base <= 0:
            return 0
        rate = self.config.fees.maker_ppm if liquidity is Liquidity.MAKER else self.config.fees.taker_ppm
        delta = base * order.side.sign
        quote = fill_quote_delta(delta, price)
        fee = fill_fee(abs(quote), rate)
        self._apply_trade(delta, price, fee)
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
                ts=self.now,
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
            self._cancel(order, CancelReason.REDUCE_ONLY_FLAT, out)
        return base

    def _apply_trade(self, delta: int, price: int, fee: int) -> None:
        """Book a position change of ``delta`` at ``price`` paying ``fee`` (Drift's position bookkeeping)."""
        market = self._perp_state.with_oracle_price(self.oracle)
        before = self.position
        after = apply_perp_fill(before, market, delta, price, fee=fee)
        quote = fill_quote_delta(delta, price)
        # realized = the quote of the fill not absorbed into the entry cost (0 for opens, exact for any split)
        self.ledger.realized += quote - (after.quote_entry_amount - before.quote_entry_amount)
        self.ledger.fees += fee
        self.position = after
        self._changed()

    def on_price(
        self,
        ts: int,
        price: int,
        oracle: int,
        *,
        bar_ts: int | None = None,
        bar_volume: int | None = None,
    ) -> list[VenueEvent]:
        """Advance to ``ts`` with the path at ``price`` and the oracle at ``oracle``: expire orders, fill the
        makers the path trades through, then check liquidation. ``bar_ts``/``bar_volume`` (base 1e9) bound maker
        fills per bar by ``volume_share_bps`` of the bar's volume; without them fills are unbounded. Once a book
        is known (``on_book``), the path fills nothing: makers fill from ``on_trade``."""
        if ts < self.now:
            raise ValueError(f"PaperVenue.on_price: time went backwards ({ts} < {self.now})")
        if price <= 0 or oracle <= 0:
            raise ValueError(f"PaperVenue.on_price: prices must be > 0, got price {price}, oracle {oracle} at {ts}")
        self.now = ts
        self.last_price = price
        self.oracle = oracle
        if bar_ts is None or bar_ts != self._bar_ts:  # no bar identity: each call is its own volume window
            self._bar_ts = bar_ts
            self._bar_budget = (
                None if bar_volume is None else bar_volume * self.config.volume_share_bps // BPS_PRECISION
            )
        out: list[VenueEvent] = []
        if not self.orders:
            self._check_liquidation(out)
            return out
        if self._book is not None:  # L2 mode: makers fill from trade prints only (on_trade)
            self._expire(out)
            self._check_liquidation(out)
            return out
        through = self.config.trade_through_ticks * self.market.tick_size
        # One pass over the book: the orders past their max_ts (expired first, as ``_expire`` does, so they never
        # fill) and, among the others, those the path trades through (``_resting_price`` inlined for plain limits).
        expired: list[_Order] = []
        candidates: list[_Order] = []
        for o in self.orders.values():
            if o.max_ts and o.max_ts < ts:
                expired.append(o)
                continue
            resting = o.price if o.order_type is not _ORACLE_OFFSET else self._resting_price(o)
            if (price <= resting - through) if o.side is _BUY else (price >= resting + through):
                candidates.append(o)
        if expired:
            self._remove_expired(expired, out)
        if candidates:
            # price priority (best bid first, best ask first), then time priority
            candidates.sort(key=lambda o: (-o.side.sign * self._resting_price(o), o.placed_at))
            for order in candidates:
                if order.uid not in self.orders:
                    continue
                want = order.base - order.filled
                if self._bar_budget is not None:
                    want = min(want, self._bar_budget // self.market.step_size * self.market.step_size)
                if want <= 0:
                    break
                filled = self._fill(order, want, self._resting_price(order), Liquidity.MAKER, out)
                if self._bar_budget is not None:
                    self._bar_budget -= filled
        self._check_liquidation(out)
        return out

    def _resting_price(self, order: _Order) -> int:
        if order.order_type is OrderType.ORACLE_OFFSET:
            return self._round_to_tick(self.oracle + order.oracle_offset, order.side)
        return order.price

    def _expire(self, out: list[VenueEvent]) -> None:
        now = self.now
        expired = [o for o in self.orders.values() if o.max_ts and o.max_ts < now]
        if expired:
            self._remove_expired(expired, out)

    def _remove_expired(self, expired: list[_Order], out: list[VenueEvent]) -> None:
        """Take ``expired`` (orders past their ``max_ts`` at ``now``, in book order) off the book."""
        now = self.now
        for order in expired:
            del self.orders[order.uid]
            out.append(OrderExpired(ts=now, user_order_id=order.uid, filled_base=order.filled))
        self._changed()

    def expire(self, ts: int) -> list[VenueEvent]:
        """Advance the clock to ``ts`` and expire what has passed its ``max_ts`` (no price needed)."""
        if ts < self.now:
            raise ValueError(f"PaperVenue.expire: time went backwards ({ts} < {self.now})")
        self.now = ts
        out: list[VenueEvent] = []
        self._expire(out)
        return out

    # ------------------------------------------------------------------ L2 book and trade prints

    def on_book(self, ts: int, book: BookView) -> list[VenueEvent]:
        """The L2 book as of ``ts`` (venue clock). From now on the venue is in L2 mode (module docstring).

        The venue keeps a reference to ``book`` and only reads it: call this after every change applied to it,
        per delta or per batch (a batch only hides intermediate depths, which can only delay fills). Expires what
        has passed its ``max_ts``, sets the touch to the book's best bid and ask (an empty side: the last price),
        and updates the queue of each resting order from the depth now displayed at its price — joining it first
        if it has none yet (accepted before any book, or an oracle order whose price moved). Fills nothing."""
        if ts < self.now:
            raise ValueError(f"PaperVenue.on_book: time went backwards ({ts} < {self.now})")
        self.now = ts
        out: list[VenueEvent] = []
        self._expire(out)
        self._book = book
        bids, asks = book.levels(Side.BUY, 1), book.levels(Side.SELL, 1)
        self.best_bid = bids[0][0] if bids else None
        self.best_ask = asks[0][0] if asks else None
        for order in self.orders.values():
            price = self._resting_price(order)
            if order.queue_price != price:
                self._join_queue(order, book)
            else:
                order.queue_ahead, order.queue_unprinted = after_depth(
                    order.queue_ahead, order.queue_unprinted, book.depth_at(order.side, price)
                )
        return out

    def on_trade(self, ts: int, trade: Trade) -> list[VenueEvent]:
        """A trade print at ``ts`` (venue clock; ``trade.ts_ns`` is not read). The last price moves to the print
        and orders past their ``max_ts`` expire; then the resting orders on the side the aggressor hit fill as
        makers at their own price: in full when the print is strictly through that price (the level was
        consumed), best price first; at the print's price, oldest first, each with the print volume beyond its
        queue (``botrunner.paper.queue.after_print``, rounded down to the step) of what the orders before it left.
        Liquidation is checked after any fill. Without a book every queue is empty (an order is at the front)."""
        if ts < self.now:
            raise ValueError(f"PaperVenue.on_trade: time went backwards ({ts} < {self.now})")
        if trade.price <= 0 or trade.qty < 0:
            raise ValueError(f"PaperVenue.on_trade: impossible print {trade.qty} at {trade.price} at {ts}")
        self.now = ts
        self.last_price = trade.price
        out: list[VenueEvent] = []
        if not self.orders:
            return out
        self._expire(out)
        hit = trade.aggressor.opposite
        book = self._book
        through: list[_Order] = []
        at_price: list[_Order] = []
        for order in self.orders.values():
            if order.side is not hit:
                continue
            price = self._resting_price(order)
            if book is not None and order.queue_price != price:
                self._join_queue(order, book)
            gap = (price - trade.price) * hit.sign  # > 0: the print went through our price
            if gap > 0:
                through.append(order)
            elif gap == 0:
                at_price.append(order)
        fills_before = self.ledger.maker_fills
        through.sort(key=lambda o: (-o.side.sign * self._resting_price(o), o.placed_at))
        for order in through:
            if order.uid in self.orders:
                self._fill(order, order.base - order.filled, self._resting_price(order), Liquidity.MAKER, out)
        volume = trade.qty
        step = self.market.step_size
        at_price.sort(key=lambda o: o.placed_at)  # stable: placement order breaks ties
        for order in at_price:
            if order.uid not in self.orders:
                continue
            order.queue_ahead, order.queue_unprinted, beyond = after_print(
                order.queue_ahead, order.queue_unprinted, volume
            )
            want = min(order.base - order.filled, beyond - beyond % step)
            if want > 0:
                volume -= self._fill(order, want, trade.price, Liquidity.MAKER, out)
        if self.ledger.maker_fills != fills_before:
            self._check_liquidation(out)
        return out

    def _join_queue(self, order: _Order, book: BookView) -> None:
        """Put ``order`` at the back of ``queue_depth_share_bps`` of the depth displayed at its price."""
        price = self._resting_price(order)
        order.queue_price = price
        order.queue_ahead = join_queue(book.depth_at(order.side, price), self.config.queue_depth_share_bps)
        order.queue_unprinted = 0

    def _take_from_book(self, order: _Order, book: BookView, out: list[VenueEvent]) -> None:
        """Fill ``order`` as a taker against ``book``: walk the opposite side up to its limit (0 = none) for its
        remaining size (a reduce-only one: at most the position), at the average price rounded against it. A
        market order's unfilled rest is cancelled (as ``_take``); a limit's rests."""
        want = order.base - order.filled
        if order.reduce_only and self._reduces(order.side):
            want = min(want, abs(self.position.base_asset_amount))
        walk = walk_book(book.levels(order.side.opposite), order.side, want, order.price, self.market.step_size)
        if walk.filled:
            self._fill(order, walk.filled, walk.avg_price, Liquidity.TAKER, out)
        if order.uid in self.orders and order.order_type is OrderType.MARKET:
            self._cancel(order, CancelReason.MARKET_REMAINDER, out)

    # ------------------------------------------------------------------ funding

    def apply_funding(self, ts: int, rate_long: int, rate_short: int) -> list[VenueEvent]:
        """A funding update (rates 1e9 quote per base for the period, + = longs pay): the cumulative rates move
        and the position's payment is settled into its quote amount. Emits one ``FundingPaid`` (payment 0 when
        flat) so reports have one row per settlement."""
        if ts < self.now:
            raise ValueError(f"PaperVenue.apply_funding: time went backwards ({ts} < {self.now})")
        self.now = ts
        state = self._perp_state
        self._perp_state = msgspec.structs.replace(
            state,
            cumulative_funding_rate_long=state.cumulative_funding_rate_long + rate_long,
            cumulative_funding_rate_short=state.cumulative_funding_rate_short + rate_short,
        )
        self._cached_markets = None
        base = self.position.base_asset_amount
        before = self.position.quote_asset_amount
        self.position = settle_funding(self.position, self._perp_state)
        payment = self.position.quote_asset_amount - before
        self.ledger.funding += payment
        # always a new account: even a payment that rounds to 0 moves the position's funding checkpoint, and the
        # cached account and liquidation bounds would otherwise count the funding again as still owed
        self._changed()
        out: list[VenueEvent] = [
            FundingPaid(ts=ts, position_base=base, rate=rate_long if base >= 0 else rate_short, payment=payment)
        ]
        self._check_liquidation(out)
        return out

    # ------------------------------------------------------------------ liquidation

    def is_liquidatable(self) -> bool:
        """Drift's test: total collateral below the maintenance requirement (open orders included)."""
        mnt = calculate_margin(self._current_account(), self.markets(), MarginCategory.MAINTENANCE)
        return mnt.total_collateral < mnt.margin_requirement

    def _check_liquidation(self, out: list[VenueEvent]) -> None:
        """Liquidate when the oracle has reached a maintenance boundary and the exact check confirms it: cancel
        every open order first (Drift does), and stop there if that restores maintenance (always the case for a
        flat account held under only by its orders); otherwise transfer the smallest sufficient size."""
        lower, upper = self.liquidation_bounds()
        if not ((lower is not None and self.oracle <= lower) or (upper is not None and self.oracle >= upper)):
            return
        if not self.is_liquidatable():
            return
        mnt = calculate_margin(self._current_account(), self.markets(), MarginCategory.MAINTENANCE)
        for uid in list(self.orders):
            order = self.orders.pop(uid)
            out.append(
                OrderCancelled(
                    ts=self.now, user_order_id=uid, reason=CancelReason.LIQUIDATION, filled_base=order.filled
                )
            )
        self._changed()
        base = self.position.base_asset_amount
        # flat, or the cancels were enough: the liquidation stops at the cancels (recorded, nothing transferred)
        size = 0 if base == 0 or not self.is_liquidatable() else self._liquidation_size()
        delta = -size if base > 0 else size
        fee = self._liquidation_fee(size)
        if size:
            self._apply_trade(delta, self.oracle, fee)
            self.ledger.liquidation_fees += fee
        self.ledger.liquidations += 1
        out.append(
            Liquidated(
                ts=self.now,
                base=delta,
                price=self.oracle,
                fee=fee,
                total_collateral=mnt.total_collateral,
                maintenance_requirement=mnt.margin_requirement,
            )
        )

    def _liquidation_fee(self, size: int) -> int:
        """The market's liquidator plus insurance-fund fee on ``size`` (base 1e9) at the oracle, rounded up."""
        notional = size * self.oracle // BASE_PRECISION
        rate = self.market.liquidator_fee + self.market.if_liquidation_fee
        return ceil_div(notional * rate, LIQUIDATION_FEE_PRECISION)

    def _liquidation_size(self) -> int:
        """The smallest step multiple of |position| whose transfer restores maintenance plus the buffer."""
        base = self.position.base_asset_amount
        step = self.market.step_size
        total = abs(base)
        top = ceil_div(total, step)

        def restores(k: int) -> bool:
            size = min(total, k * step)
            fee = self._liquidation_fee(size)
            market = self._perp_state.with_oracle_price(self.oracle)
            pos = apply_perp_fill(self.position, market, -size if base > 0 else size, self.oracle, fee=fee)
            account = Account(spot_positions=self._spot_positions(), perp_positions=(pos,))
            calc = calculate_margin(
                account, self.markets(), MarginCategory.MAINTENANCE, margin_buffer=self.config.liquidation_buffer_ratio
            )
            return calc.meets_margin_requirement_with_buffer

        if not restores(top):
            return total
        lo, hi = 0, top  # restores(hi) holds; restores(lo) does not (lo = 0 is the liquidatable account)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if restores(mid):
                hi = mid
            else:
                lo = mid
        return min(total, hi * step)
