"""The candle fill model: a replayed price path, without an order book.

Makers: a resting order fills at its own price when the path trades ``trade_through_ticks`` ticks through it (a
bid: the path at or below its price minus that; an ask: at or above its price plus it), best price first then
oldest first, all of it unless the bar's volume window runs out (``volume_share_bps`` of the bar's volume, spent
in that order and rounded down to the step; partial fills beyond). An order past its ``max_ts`` expires before
any fill at that instant. Takers fill at the touch plus a slippage that grows with their notional
(``botrunner.paper.config.slippage_bps``), rounded against them, never beyond their limit price; a limit better
than the touch finds no liquidity. A trade print fills as the queue model's print rule with every queue empty
(:func:`botrunner.paper.queue_fills.fill_from_print`).
"""

from __future__ import annotations

from botrunner.connector.orders import OrderType
from botrunner.core.fixed import ceil_div
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.precision import BASE_PRECISION, BPS_PRECISION
from botrunner.core.side import Side
from botrunner.marketdata.l2 import Trade
from botrunner.paper.account import PaperAccount
from botrunner.paper.config import PaperConfig, slippage_bps
from botrunner.paper.orders import RestingOrder, resting_price, round_to_tick
from botrunner.paper.queue import BookView
from botrunner.paper.queue_fills import fill_from_print
from botrunner.venue.port import CancelReason, Liquidity, VenueEvent

_BUY = Side.BUY  # (a Side is BUY or SELL)
_ORACLE_OFFSET = OrderType.ORACLE_OFFSET
_MAKER = Liquidity.MAKER


class CandleFillModel:
    """Fills from the price path on the tape (module docstring). Implements ``FillModel``."""

    __slots__ = ("_account", "_config", "_spec", "_through")

    def __init__(self, account: PaperAccount, spec: PerpMarketSpec, config: PaperConfig) -> None:
        self._account = account
        self._spec = spec
        self._config = config
        self._through = config.trade_through_ticks * spec.tick_size

    @property
    def book(self) -> BookView | None:
        return None

    def on_price(self, out: list[VenueEvent]) -> None:
        # This runs at every path point of every bar: the hot loop of a backtest, so it binds what it reads once.
        account = self._account
        tape = account.tape
        ts, price, oracle = tape.now, tape.last_price, tape.oracle
        tick = self._spec.tick_size
        through = self._through
        # One pass over the book: the orders past their max_ts (expired first, as ``PaperAccount.expire`` does, so
        # they never fill) and, among the others, those the path trades through (``resting_price`` inlined for
        # plain limits). Both lists are made only when needed: at most points nothing expires or fills.
        expired: list[RestingOrder] | None = None
        candidates: list[RestingOrder] | None = None
        for o in account.orders.values():
            if o.max_ts and o.max_ts < ts:
                if expired is None:
                    expired = []
                expired.append(o)
                continue
            resting = o.price if o.order_type is not _ORACLE_OFFSET else resting_price(o, oracle, tick)
            if (price <= resting - through) if o.side is _BUY else (price >= resting + through):
                if candidates is None:
                    candidates = []
                candidates.append(o)
        if expired:
            account.remove_expired(expired, out)
        if candidates:
            # price priority (best bid first, best ask first), then time priority
            candidates.sort(key=lambda o: (-o.side.sign * resting_price(o, oracle, tick), o.placed_at))
            orders = account.orders
            step = self._spec.step_size
            for order in candidates:
                if order.uid not in orders:
                    continue
                want = order.base - order.filled
                if tape.bar_budget is not None:
                    want = min(want, tape.bar_budget // step * step)
                if want <= 0:
                    break
                filled = account.fill(order, want, resting_price(order, oracle, tick), _MAKER, out)
                if tape.bar_budget is not None:
                    tape.bar_budget -= filled

    def on_trade(self, trade: Trade, out: list[VenueEvent]) -> None:
        self._account.expire(out)
        fill_from_print(self._account, self._spec, trade, out, book=None, share_bps=self._config.queue_depth_share_bps)

    def take(self, order: RestingOrder, out: list[VenueEvent]) -> None:
        """At the touch plus size-dependent slippage, never beyond its limit price (a market order's limit is its
        price when given; 0 means none)."""
        account = self._account
        touch = account.tape.touch(order.side)
        remaining = order.base - order.filled
        limit_ok = not order.price or (order.price >= touch if order.side is Side.BUY else order.price <= touch)
        notional = remaining * touch // BASE_PRECISION
        slip = slippage_bps(self._config, notional)
        scaled = touch * (BPS_PRECISION + slip * order.side.sign)
        # against the taker twice: the exact slipped price rounded up for a buy (down for a sell), then to the tick
        raw = ceil_div(scaled, BPS_PRECISION) if order.side is Side.BUY else scaled // BPS_PRECISION
        fill_price = round_to_tick(raw, order.side.opposite, self._spec.tick_size)
        if order.price:
            fill_price = min(fill_price, order.price) if order.side is Side.BUY else max(fill_price, order.price)
        if limit_ok:  # a limit better than the touch finds no liquidity: nothing fills
            account.fill(order, remaining, fill_price, Liquidity.TAKER, out)
        if order.uid in account.orders and order.order_type is OrderType.MARKET:
            account.cancel(order, CancelReason.MARKET_REMAINDER, out)

    def rest(self, order: RestingOrder) -> None:
        """Nothing to do: without a book an order has no queue (it is at the front)."""
