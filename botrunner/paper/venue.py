"""PaperVenue: one Drift subaccount trading one perp market, simulated from a replayed market — the façade.

The venue is the one object its callers hold (the venue port, the paper bot, backtests, the checkpoint). It checks
each input, advances the tape (``botrunner.paper.tape``: clock, last price, oracle, touch, bar volume window),
routes the input to the part that owns the rule, and watches for liquidation after every price, fill and funding.
The parts, one module each, all in ``botrunner.paper``:

- ``account``: balances, the perp position, the open orders, the ledger, settlement, deposits and withdrawals,
  funding, and the margin engine's view (margin, health, liquidation bounds); it books every fill;
- ``admission``: Drift's placement checks as pure functions, in protocol-v2 ``place_perp_order``'s order (id,
  open-order count, step, minimum size, tick, ``max_ts``, reduce-only, post-only crossing; then, for an order that
  increases the worst-case position, initial margin with all open orders and the paper leverage cap). An accepted
  order that crosses (market, or a limit without post-only) takes liquidity at once;
- ``fill_model``: the fill-model protocol, with ``candle_fills`` (the price path: makers fill when the path trades
  through their price within a share of each bar's volume, takers pay modelled slippage) and ``queue_fills``
  (L2: once ``on_book`` has given the venue a book, and from then on, makers queue behind the displayed depth and
  fill only from the prints passed to ``on_trade``; ``on_price`` then only moves the prices, expires and checks
  liquidation; takers walk the book);
- ``legs``: ``PlaceLegs`` (the delta-neutral engine's spot and perp legs), all or nothing; ``accrual``: the
  interest clock (Drift interest updates of the USDC and SOL markets), when one is given;
- ``liquidation``: when the oracle reaches the cached liquidation price, the exact maintenance check, the cancels,
  and the smallest transfer that restores maintenance plus ``liquidation_buffer_ratio``.

Fills: a resting order is a maker and fills at its own price; a taker pays slippage (or walks a given book).
Reduce-only fills are clipped to the position; one that has nothing left to reduce is cancelled. An order whose
``max_ts`` has passed (``ts > max_ts``) expires before any fill at that instant: expired orders never fill.

Determinism: no clock and no randomness; the caller passes every time. The same calls give the same events.
This is the imperative shell's simulator: mutable, single-threaded, one instance per bot.
"""

from __future__ import annotations

from typing import assert_never

from botrunner.connector.commands import CancelAndPlace, CancelOrders, PlaceOrders
from botrunner.connector.orders import OrderIntent, OrderType, WorkingOrder
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import BPS_PRECISION, QUOTE_SPOT_MARKET_INDEX, SOL_SPOT_MARKET_INDEX
from botrunner.core.side import Side
from botrunner.margin.interest import RatePoint
from botrunner.margin.model import Account, Markets, PerpPosition
from botrunner.margin.view import AccountMarginView
from botrunner.marketdata.l2 import Trade
from botrunner.paper import admission
from botrunner.paper.account import Ledger, PaperAccount
from botrunner.paper.accrual import Accrual, accrual_from_settings
from botrunner.paper.candle_queue_fills import candle_fill_model
from botrunner.paper.config import FillModelKind, PaperConfig
from botrunner.paper.fill_model import FillModel
from botrunner.paper.legs import place_legs
from botrunner.paper.liquidation import liquidate
from botrunner.paper.orders import RestingOrder
from botrunner.paper.queue import BookView
from botrunner.paper.queue_fills import QueueFillModel
from botrunner.paper.tape import Tape
from botrunner.venue.port import (
    AccountReport,
    CancelReason,
    Deposit,
    ModifyOrder,
    OrderAccepted,
    OrderRejected,
    PlaceLegs,
    RejectReason,
    SettlePnl,
    VenueCommand,
    VenueEvent,
    Withdraw,
    order_rejected,
)
from botrunner.venue.report import account_report


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
        accrual: Accrual | None = None,
    ) -> None:
        """``accrual``: the interest clock (``botrunner.paper.accrual``); None: the one ``config.interest`` describes,
        or no interest when that is None too."""
        if deposit_quote <= 0:
            raise ValueError(f"PaperVenue: deposit must be > 0 USDC (1e6), got {deposit_quote}")
        if oracle_price <= 0:
            raise ValueError(f"PaperVenue: oracle price must be > 0, got {oracle_price}")
        self.market = market
        self.config = config.validate()
        self._tape = Tape(now=now, price=oracle_price)
        self._account = PaperAccount(market, config.fees, self._tape, deposit_quote=deposit_quote)
        self._fills: FillModel = candle_fill_model(self._account, market, config)
        self._every_point = config.fill_model is FillModelKind.CANDLE_QUEUE  # it tracks bars even with no order
        if accrual is None and config.interest is not None:
            accrual = accrual_from_settings(config.interest, now)
        self._accrual = accrual

    # ------------------------------------------------------------------ state (the parts own it)

    @property
    def now(self) -> int:
        """The venue clock (s): the time of the last input."""
        return self._tape.now

    @property
    def last_price(self) -> int:
        """The last traded price on the replayed path (price 1e6)."""
        return self._tape.last_price

    @property
    def oracle(self) -> int:
        """The oracle price the account is valued at (price 1e6)."""
        return self._tape.oracle

    @property
    def account_version(self) -> int:
        """Bumps on every change of the account (balances, position, open orders, ledger) and of what a margin view
        built now starts from besides the oracle (the market's funding state, the liquidation bounds the watch
        holds), never on a price move alone: what a bot's decision validity keys on (``botrunner.bot.validity``)."""
        return self._account.view_version

    @property
    def best_bid(self) -> int | None:
        """The best bid of the L2 book, or one set by the caller (a quote feed); None: the touch is the last
        price."""
        return self._tape.best_bid

    @best_bid.setter
    def best_bid(self, price: int | None) -> None:
        self._tape.best_bid = price

    @property
    def best_ask(self) -> int | None:
        """The best ask, as :attr:`best_bid`."""
        return self._tape.best_ask

    @best_ask.setter
    def best_ask(self, price: int | None) -> None:
        self._tape.best_ask = price

    @property
    def usdc(self) -> int:
        """The USDC balance (token amount 1e6, negative = borrow)."""
        return self._account.usdc

    @property
    def sol(self) -> int:
        """The SOL deposit (token amount 1e9)."""
        return self._account.sol

    @property
    def position(self) -> PerpPosition:
        """The perp position with Drift's bookkeeping (open-order totals not filled in: see :meth:`account`)."""
        return self._account.position

    @property
    def orders(self) -> dict[int, RestingOrder]:
        """The open orders by user order id, in placement order (the venue's own records: read, do not edit)."""
        return self._account.orders

    @property
    def ledger(self) -> Ledger:
        """The cumulative money flows."""
        return self._account.ledger

    # ------------------------------------------------------------------ account views

    def account(self, *, extra_bids: int = 0, extra_asks: int = 0, extra_orders: int = 0) -> Account:
        """The Drift account (margin-engine model) as it is, optionally with hypothetical extra open orders."""
        return self._account.account(extra_bids=extra_bids, extra_asks=extra_asks, extra_orders=extra_orders)

    def markets(self) -> Markets:
        """The markets the account needs, at the current oracle."""
        return self._account.markets()

    def margin_view(self) -> AccountMarginView:
        """The margin engine's what-if view of the account now (``PaperAccount.margin_view``)."""
        return self._account.margin_view()

    def liquidation_bounds(self) -> tuple[int | None, int | None]:
        """The oracle prices either side where maintenance is reached (``PaperAccount.liquidation_bounds``)."""
        return self._account.liquidation_bounds()

    def is_liquidatable(self) -> bool:
        """Drift's test: total collateral below the maintenance requirement (open orders included)."""
        return self._account.is_liquidatable()

    def unsettled_pnl(self) -> int:
        """The perp's unrealized PnL at the oracle: what ``SettlePnl`` would move into USDC (quote 1e6)."""
        return self._account.unsettled_pnl()

    def spot_balance(self, spot_market_index: int) -> int:
        """The signed token amount in a spot market this account holds (0 for any other market)."""
        account = self._account
        if spot_market_index == QUOTE_SPOT_MARKET_INDEX:
            return account.usdc
        return account.sol if spot_market_index == SOL_SPOT_MARKET_INDEX else 0

    def spot_rates(self, spot_market_index: int) -> RatePoint | None:
        """None: a simulated venue's rates are the bot's configured interest source (``paper.interest``), which the
        two-leg step reads from its definition, exactly as the accrual here applies them."""
        del spot_market_index
        return None

    def equity(self) -> int:
        """USDC balance + unsettled perp PnL + SOL at the oracle (quote 1e6): what the account is worth."""
        return self._account.equity()

    def unrealized(self) -> int:
        """Position value at the oracle minus its entry cost (quote 1e6)."""
        return self._account.unrealized()

    def report(self) -> AccountReport:
        account = self._account
        return account_report(
            account.margin_view(),
            account.position,
            ts=self._tape.now,
            usdc_balance=account.usdc,
            unsettled_pnl=account.unsettled_pnl(),
            unrealized_pnl=account.unrealized(),
            equity=account.equity(),
            open_orders=len(account.orders),
        )

    def open_orders(self) -> tuple[WorkingOrder, ...]:
        return tuple(o.working() for o in self._account.orders.values())

    # ------------------------------------------------------------------ commands

    def submit(self, command: VenueCommand, now: int) -> tuple[VenueEvent, ...]:
        """Perform ``command`` at ``now`` (which may not go back in time)."""
        tape = self._tape
        if now < tape.now:
            raise ValueError(f"PaperVenue.submit: time went backwards ({now} < {tape.now})")
        tape.now = now
        account = self._account
        out: list[VenueEvent] = []
        if self._accrual is not None:  # Drift updates the markets' interest on every interaction with them
            self._accrual.update(account, out)
        account.expire(out)  # an order past its max_ts is gone before anything else can touch it
        match command:
            case PlaceOrders(orders=orders):
                self._place_batch(orders, out)
            case CancelOrders(user_order_ids=ids):
                account.cancel_requested(ids, out)
            case CancelAndPlace(cancel_ids=ids, orders=orders):
                account.cancel_requested(ids, out)
                self._place_batch(orders, out)
            case ModifyOrder():
                self._modify(command, out)
            case SettlePnl():
                account.settle(out)
            case Deposit(spot_market_index=index, amount=amount):
                account.deposit(index, amount, out)
            case Withdraw(spot_market_index=index, amount=amount):
                account.withdraw(index, amount, out)
            case PlaceLegs():
                book = self._fills.book
                if place_legs(command, out, account=account, market=self.market, config=self.config, book=book):
                    self._check_liquidation(out)
            case _ as unreachable:
                assert_never(unreachable)
        return tuple(out)

    def _interest_due(self, out: list[VenueEvent]) -> None:
        """A Drift interest update when the interest clock says one is due at the venue's time."""
        accrual = self._accrual
        if accrual is not None and accrual.due(self._tape.now):
            accrual.update(self._account, out)

    def _advance(self, ts: int, what: str) -> None:
        """Move the clock to ``ts``; refuse to go back in time."""
        tape = self._tape
        if ts < tape.now:
            raise ValueError(f"PaperVenue.{what}: time went backwards ({ts} < {tape.now})")
        tape.now = ts

    def _modify(self, command: ModifyOrder, out: list[VenueEvent]) -> None:
        """Drift ``modify_order``: cancel, then place the modified order as a new one (it loses its queue)."""
        account = self._account
        now = self._tape.now
        order = account.orders.get(command.user_order_id)
        if order is None:
            out.append(
                OrderRejected(
                    ts=now, user_order_id=command.user_order_id, reason=RejectReason.UNKNOWN_ORDER, detail="modify"
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
            placed_at=now,
            anchor_price=order.price,
            order_type=order.order_type if order.order_type is not OrderType.ORACLE_OFFSET else OrderType.LIMIT,
        )
        account.cancel(order, CancelReason.REQUESTED, out)
        if base <= order.filled:
            return
        self._place_batch((intent,), out)

    # ------------------------------------------------------------------ placement

    def _place_batch(self, intents: tuple[OrderIntent, ...], out: list[VenueEvent]) -> None:
        """Drift ``place_orders``: each order is validated (``admission.stage``) and margin-checked in turn. The
        margin check of the whole batch is done once when it passes (requirement only grows as orders are added,
        so every prefix passes too); otherwise order by order, each against the account its predecessors left."""
        account = self._account
        tape = self._tape
        refused, staged = admission.stage(
            intents,
            self.market,
            open_ids=account.orders,
            now=tape.now,
            position_base=account.position.base_asset_amount,
            oracle=tape.oracle,
            buy_touch=tape.touch(Side.BUY),
            sell_touch=tape.touch(Side.SELL),
        )
        for intent, rejection in refused:
            out.append(order_rejected(intent, tape.now, *rejection))
        if not staged:
            return
        batch_ok = self._margin_rejection(staged) is None
        for i, (intent, price) in enumerate(staged):
            if not batch_ok:
                why = self._margin_rejection(staged[i : i + 1])
                if why is not None:
                    out.append(order_rejected(intent, tape.now, *why))
                    continue
            self._accept(intent, price, out)

    def _margin_rejection(self, adding: list[admission.Staged]) -> admission.Rejection | None:
        """Why adding ``adding`` to the open orders breaks initial margin or the paper leverage cap (None: fine).
        Only orders that increase the worst-case position are checked, as Drift's ``risk_increasing`` rule."""
        account = self._account
        bids, asks, n = account.open_bids_asks()
        worst = admission.worst_case_after(
            adding, position_base=account.position.base_asset_amount, open_bids=bids, open_asks=asks
        )
        if worst is None:
            return None
        add_bids, add_asks, worst_base = worst
        why = admission.initial_margin_rejection(
            account.position,
            account.spot_positions(),
            account.markets(),
            open_bids=bids + add_bids,
            open_asks=asks + add_asks,
            open_orders=n + len(adding),
        )
        if why is not None:
            return why
        return admission.leverage_rejection(
            worst_base, self._tape.oracle, account.equity(), self.config.max_leverage_x10000
        )

    def _accept(self, intent: OrderIntent, price: int, out: list[VenueEvent]) -> None:
        """Put the order on the book; one that crosses (market, or a limit without post-only) takes at once."""
        account = self._account
        tape = self._tape
        order = RestingOrder(intent, price, tape.now)
        account.orders[order.uid] = order
        account.changed()
        out.append(
            OrderAccepted(
                ts=tape.now,
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
            intent.post_only is PostOnlyMode.NONE and admission.crosses(order.side, price, tape.touch(order.side))
        ):
            self._fills.take(order, out)
        self._fills.rest(order)

    # ------------------------------------------------------------------ market data

    def on_price(
        self,
        ts: int,
        price: int,
        oracle: int,
        *,
        bar_ts: int | None = None,
        bar_volume: int | None = None,
        bar_close: bool = False,
    ) -> list[VenueEvent]:
        """Advance to ``ts`` with the path at ``price`` and the oracle at ``oracle``: expire orders, fill the
        makers the path trades through, then check liquidation. ``bar_ts``/``bar_volume`` (base 1e9) bound maker
        fills per bar by ``volume_share_bps`` of the bar's volume; without them fills are unbounded (``bar_close``: this
        point is the bar's close; the candle queue model settles the bar's touches there). Once a book
        is known (``on_book``), the path fills nothing: makers fill from ``on_trade``."""
        tape = self._tape
        if ts < tape.now:
            raise ValueError(f"PaperVenue.on_price: time went backwards ({ts} < {tape.now})")
        if price <= 0 or oracle <= 0:
            raise ValueError(f"PaperVenue.on_price: prices must be > 0, got price {price}, oracle {oracle} at {ts}")
        tape.now = ts
        tape.last_price = price
        tape.oracle = oracle
        if bar_ts is None or bar_ts != tape.bar_ts:  # no bar identity: each call is its own volume window
            tape.bar_ts = bar_ts
            tape.bar_budget = None if bar_volume is None else bar_volume * self.config.volume_share_bps // BPS_PRECISION
        tape.bar_volume, tape.bar_close = bar_volume, bar_close
        out: list[VenueEvent] = []
        accrual = self._accrual
        if accrual is not None and accrual.due(ts):
            accrual.update(self._account, out)
        if self._account.orders or self._every_point:
            self._fills.on_price(out)
        self._check_liquidation(out)
        return out

    def expire(self, ts: int) -> list[VenueEvent]:
        """Advance the clock to ``ts`` and expire what has passed its ``max_ts`` (no price needed)."""
        self._advance(ts, "expire")
        out: list[VenueEvent] = []
        self._interest_due(out)
        self._account.expire(out)
        if out and self._accrual is not None:  # interest on a borrow can breach maintenance
            self._check_liquidation(out)
        return out

    def on_book(self, ts: int, book: BookView) -> list[VenueEvent]:
        """The L2 book as of ``ts`` (venue clock). From now on the venue is in L2 mode (``queue_fills``).

        The venue keeps a reference to ``book`` and only reads it: call this after every change applied to it,
        per delta or per batch (a batch only hides intermediate depths, which can only delay fills). Expires what
        has passed its ``max_ts``, sets the touch to the book's best bid and ask (an empty side: the last price),
        and updates the queue of each resting order from the depth now displayed at its price — joining it first
        if it has none yet (accepted before any book, or an oracle order whose price moved). Fills nothing."""
        self._advance(ts, "on_book")
        out: list[VenueEvent] = []
        self._account.expire(out)
        model = self._fills
        if not isinstance(model, QueueFillModel):  # the first book: the queue model fills from now on, for good
            model = self._fills = QueueFillModel(self._account, self.market, self.config, book)
        model.on_book(book)
        return out

    def on_trade(self, ts: int, trade: Trade) -> list[VenueEvent]:
        """A trade print at ``ts`` (venue clock; ``trade.ts_ns`` is not read). The last price moves to the print
        and orders past their ``max_ts`` expire; then the resting orders on the side the aggressor hit fill as
        makers at their own price: in full when the print is strictly through that price (the level was
        consumed), best price first; at the print's price, oldest first, each with the print volume beyond its
        queue (``botrunner.paper.queue.after_print``, rounded down to the step) of what the orders before it left.
        Liquidation is checked after any fill. Without a book every queue is empty (an order is at the front)."""
        tape = self._tape
        if ts < tape.now:
            raise ValueError(f"PaperVenue.on_trade: time went backwards ({ts} < {tape.now})")
        if trade.price <= 0 or trade.qty < 0:
            raise ValueError(f"PaperVenue.on_trade: impossible print {trade.qty} at {trade.price} at {ts}")
        tape.now = ts
        tape.last_price = trade.price
        out: list[VenueEvent] = []
        if not self._account.orders:
            return out
        ledger = self._account.ledger
        fills_before = ledger.maker_fills
        self._fills.on_trade(trade, out)
        if ledger.maker_fills != fills_before:
            self._check_liquidation(out)
        return out

    def apply_funding(self, ts: int, rate_long: int, rate_short: int) -> list[VenueEvent]:
        """A funding update (rates 1e9 quote per base for the period, + = longs pay), settled into the position's
        quote amount at once (``PaperAccount.apply_funding``); one ``FundingPaid`` per update."""
        self._advance(ts, "apply_funding")
        out: list[VenueEvent] = []
        self._interest_due(out)
        self._account.apply_funding(rate_long, rate_short, out)
        self._check_liquidation(out)
        return out

    # ------------------------------------------------------------------ liquidation

    def _check_liquidation(self, out: list[VenueEvent]) -> None:
        """The liquidation watch (``PaperAccount.liquidation_watch``: a range comparison while the oracle stays
        where the margin engine proves the account above maintenance), then, where it cannot prove it, the exact
        check (``liquidation``). It runs after every path point of every bar."""
        account = self._account
        if account.liquidation_watch():
            liquidate(account, self.config.liquidation_buffer_ratio, out)
