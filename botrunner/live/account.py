"""A reading of the chain -> our account model, and two readings -> the venue events between them (pure).

``snapshot_from_chain`` turns one ``ChainState`` (decoded driftpy User, PerpMarket, SpotMarkets and oracle readings,
all from one slot) into a ``LiveSnapshot``: the margin engine's ``Account`` and ``Markets``, the same
``AccountReport`` the paper venue gives (so the Risk Governor, ``ctl`` and reports see live and paper alike), the
bot market's position and open orders as the connector tracks them, and the counters ``diff_events`` needs.
Margin parameters come from the chain's own market accounts, not the catalogue: the venue is the truth.

``diff_events`` infers what happened between two readings, as the paper venue would have reported it. What a
reading shows and what it cannot (the rules, in the order they are applied):

* **Order slots.** Drift keeps a finished order in its slot (status ``Filled`` or ``Canceled``, with its filled
  amounts) until a later placement reuses the slot, so an order seen open before is usually still readable after it
  filled or was cancelled. ``base_asset_amount_filled`` / ``quote_asset_amount_filled`` are cumulative: their growth
  is a ``Fill`` at the average price of the growth (``price = delta quote / delta base``, half to even; it can differ
  from the limit price by the venue's quote rounding, at most ``1e9 / delta base`` price units).
  ``liquidity`` is MAKER for a post-only order (it can only rest) and TAKER otherwise (a crossing limit order may
  also have rested: the slot does not say).
* **Finished orders.** ``Filled`` -> the last ``Fill`` carries ``complete``. ``Canceled`` -> ``OrderCancelled`` or
  ``OrderExpired`` (see below). Drift has no expired status: a keeper cancels an order after its ``max_ts``.
* **New orders** (an order id neither reading showed before) -> ``OrderAccepted``, then its fills (and its end, if
  it already finished: placed and filled between readings is still visible in its slot).
* **Vanished orders** (open before, slot since reused by another order): their end is not visible. The position is:
  after every visible fill, the unexplained base change ``U`` is what the vanished orders (and anything else that
  moves a position, e.g. a liquidation transfer or an order without a user_order_id) did. In order-id (placement)
  order, a vanished order whose whole remainder fits in ``U`` on its side is taken as filled (``Fill`` of the
  remainder, ``complete``); any other vanished order ended without a fill we can see (cancelled / expired). What is
  left of ``U`` becomes one ``Fill`` with ``user_order_id`` 0 (the port's "not a bot order": liquidation or
  external), liquidity TAKER. Only the net change is visible: a vanished bid and a vanished ask that both filled
  net out and are reported as ended without fills.
* **Prices and fees of inferred fills; fees of visible fills.** The User account has no fee counter (fees are kept
  per authority in UserStats), but every quote movement of the position is accounted for: ``delta quote_asset_amount
  = sum of fill quotes - fees + settled funding - settled PnL``, and the User's ``cumulative_perp_funding`` and
  ``settled_perp_pnl`` counters give the last two exactly. So:

  - when every base change is explained by visible fills, the interval's fees are exactly
    ``visible quotes - (delta quote - funding + settled)``; they are split across the fills in proportion to their
    notional (the remainder to the last fill). Exact for one fill; for several, exact in total and approximate per
    fill (maker rebates and taker fees of one interval are not separable);
  - when some base change is inferred, fees and the inferred fills' quote cannot be separated: the inferred fills
    get the whole unexplained quote (an all-in price, fees included, split by base), and every fill of the interval
    reports fee 0.

  Either way ``sum(fill.quote - fill.fee)`` over the interval equals the position's quote change net of funding and
  settlements: the cash is always right, only its split may be approximate.
* **Cancel reasons** of an order that ended without filling completely: ``OrderCancelled(REQUESTED)`` when the
  caller had asked to cancel it (``cancel_requested``); else ``OrderExpired`` when ``new.ts > max_ts``; else
  LIQUIDATION when the account is being liquidated; else REDUCE_ONLY_FLAT for a reduce-only order with nothing
  left to reduce; else REQUESTED (someone holding the key cancelled it).
* **Funding**: the position's funding checkpoint (``last_cumulative_funding_rate``) moved while it held a position
  -> ``FundingPaid`` with ``payment`` = the program's own settled amount (delta of the User's
  ``cumulative_perp_funding``, which is exactly what the margin engine's ``unsettled_funding`` gives for one
  settlement, and stays exact over several) and ``rate`` = the checkpoint delta. If the position closed or flipped
  in between, the checkpoint was reset, and the rate is taken against the market's current cumulative rate for the
  old side (exact unless the rate moved again after the close).

Every event carries ``ts = new.ts``. Events come funding first (Drift settles funding before any fill), then per
order in order-id order, then the unexplained ``Fill``.

Orders without a ``user_order_id`` (0: not placed by a bot) are not in ``open_orders`` (the connector cannot address
them); they still count in the margin through the position's open bids/asks. The model assumes one bot = one
subaccount = one perp market: a position in another perp market is an error (its market is not in the reading).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import msgspec

from botrunner.connector.orders import OrderError, OrderState, OrderType, WorkingOrder
from botrunner.core.fixed import tdiv
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import (
    BASE_PRICE_TO_QUOTE,
    QUOTE_SPOT_MARKET_INDEX,
    USER_ORDER_ID_MAX,
    USER_ORDER_ID_MIN,
    quote_value,
)
from botrunner.core.side import Side
from botrunner.drift.codec import variant_name
from botrunner.drift.convert import account_from_user, markets_of
from botrunner.live.client import ChainState
from botrunner.live.rates import RatesError, chain_rates
from botrunner.margin.interest import RatePoint
from botrunner.margin.model import Account, Markets, PerpPosition
from botrunner.margin.perp_position import unrealized_pnl, valuation_price
from botrunner.margin.spot_balance import signed_token_amount, token_value
from botrunner.margin.view import AccountMarginView
from botrunner.venue.port import (
    AccountReport,
    CancelReason,
    Fill,
    FundingPaid,
    Liquidity,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    VenueEvent,
)
from botrunner.venue.report import account_report

if TYPE_CHECKING:  # driftpy's decoded accounts; the module itself is loaded by the live venue only
    from driftpy.types import Order, UserAccount


class LiveAccountError(ValueError):
    """A chain reading that cannot become a snapshot (no User yet, a missing market or oracle, ...)."""


class ClosedOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A finished order still readable in its slot (Drift keeps it until a placement reuses the slot).
    ``order.state`` is FILLED or CANCELLED (Drift's ``Filled`` / ``Canceled``)."""

    order_id: int
    order: WorkingOrder
    quote_filled: int  # cumulative quote_asset_amount_filled, 1e6 (unsigned)


class LiveSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One reading of a bot's subaccount in our model. Integers in Drift precisions."""

    ts: int
    slot: int
    account: Account  # for the margin engine
    markets: Markets
    report: AccountReport  # the same report the paper venue gives
    view: AccountMarginView  # the margin engine on this reading: what the report and the Risk Governor both read
    position: PerpPosition  # this bot's market (zero position when none)
    open_orders: tuple[WorkingOrder, ...]  # this bot's market, OPEN / PARTIALLY_FILLED, filled_base set
    order_fills: tuple[tuple[int, int, int], ...]  # per open order: (order_id, base_filled, quote_filled)
    closed_orders: tuple[ClosedOrder, ...]  # this bot's market, finished orders still in their slots
    settled_perp_pnl: int  # User cumulative PnL moved from perp positions into USDC (quote 1e6)
    cumulative_perp_funding: int  # User cumulative funding settled into perp positions (+ = received)
    oracle: int
    # the perp market's last hourly funding rate, as read at ``slot`` (AMM ``last_funding_rate``: quote per base,
    # 1e9, + = longs pay): what the Risk Governor's funding guardrail reads
    funding_rate: int
    # each read spot market's deposit/borrow APR on Drift's curve at its utilisation (botrunner.live.rates): what a
    # live two-leg bot's carry engine counts as the SOL deposit APR
    spot_rates: dict[int, RatePoint] = msgspec.field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ snapshot


def _markets(state: ChainState) -> Markets:
    def read(key: str, source: str, what: str) -> int:
        reading = state.oracle_prices.get(key)
        if reading is None:
            raise LiveAccountError(f"slot {state.slot}: no reading of oracle {key} ({source}) of {what}")
        return reading.price

    return markets_of((state.perp_market,), state.spot_markets.values(), read)


def _check_covered(account: Account, markets: Markets, slot: int) -> None:
    for pp in account.perp_positions:
        if pp.market_index not in markets.perp:
            raise LiveAccountError(
                f"slot {slot}: the subaccount holds a position in perp market {pp.market_index}, which this bot "
                f"does not read (one bot = one subaccount = one perp market)"
            )
    for sp in account.spot_positions:
        if sp.market_index not in markets.spot:
            raise LiveAccountError(
                f"slot {slot}: the subaccount holds a balance in spot market {sp.market_index}, which this bot "
                f"does not read"
            )


def _order_type(drift_type: str, price: int, offset: int) -> OrderType:
    """Our order type for a Drift order: an oracle offset makes it ORACLE_OFFSET whatever Drift called it (a
    resting oracle-pegged order is a Drift Limit with price 0), a Drift Oracle order is pegged too."""
    if offset != 0 or drift_type == "Oracle":
        return OrderType.ORACLE_OFFSET
    if drift_type in ("Market", "TriggerMarket"):
        return OrderType.MARKET
    return OrderType.LIMIT if price > 0 else OrderType.ORACLE_OFFSET


def _working(o: Order, state: OrderState, oracle: int) -> WorkingOrder:
    price = int(o.price)
    offset = int(o.oracle_price_offset)
    order_type = _order_type(variant_name(o.order_type), price, offset)
    pegged = order_type is OrderType.ORACLE_OFFSET
    base = int(o.base_asset_amount)
    try:
        return WorkingOrder(
            user_order_id=int(o.user_order_id),
            side=Side.BUY if variant_name(o.direction) == "Long" else Side.SELL,
            price=0 if pegged else price,
            base=base,
            # Drift stores post-only as a bool; Must/Try/Slide only differ at placement
            post_only=PostOnlyMode.MUST_POST_ONLY if bool(o.post_only) else PostOnlyMode.NONE,
            reduce_only=bool(o.reduce_only),
            max_ts=max(0, int(o.max_ts)),
            # the chain records the placement slot, not a time: 0 = unknown (keeps max_ts >= placed_at valid)
            placed_at=0,
            anchor_price=max(1, oracle + offset) if pegged else (price or oracle),
            state=state,
            filled_base=min(int(o.base_asset_amount_filled), base),
            order_type=order_type,
            oracle_price_offset=offset if pegged else 0,
        )
    except OrderError as exc:
        raise LiveAccountError(f"order {o.order_id}: cannot be tracked ({exc})") from exc


def _orders(
    user: UserAccount, market_index: int, oracle: int
) -> tuple[tuple[WorkingOrder, ...], tuple[tuple[int, int, int], ...], tuple[ClosedOrder, ...]]:
    """The bot market's orders with a user_order_id: open ones (with their fill counters) and finished ones."""
    open_orders: list[tuple[int, WorkingOrder, int, int]] = []
    closed: list[ClosedOrder] = []
    for o in user.orders:
        status = variant_name(o.status)
        if status == "Init" or variant_name(o.market_type) != "Perp" or int(o.market_index) != market_index:
            continue
        if not USER_ORDER_ID_MIN <= int(o.user_order_id) <= USER_ORDER_ID_MAX:
            continue  # not a bot order: the connector cannot address it (see the module doc)
        order_id, filled, quote = int(o.order_id), int(o.base_asset_amount_filled), int(o.quote_asset_amount_filled)
        if status == "Open":
            state = OrderState.PARTIALLY_FILLED if filled else OrderState.OPEN
            open_orders.append((order_id, _working(o, state, oracle), filled, quote))
        elif status in ("Filled", "Canceled"):
            state = OrderState.FILLED if status == "Filled" else OrderState.CANCELLED
            closed.append(ClosedOrder(order_id=order_id, order=_working(o, state, oracle), quote_filled=quote))
        else:
            raise LiveAccountError(f"order {order_id}: unknown Drift order status {status!r}")
    open_orders.sort(key=lambda t: t[0])  # placement order (order ids increase), not slot order
    closed.sort(key=lambda c: c.order_id)
    return (
        tuple(w for _, w, _, _ in open_orders),
        tuple((oid, filled, quote) for oid, _, filled, quote in open_orders),
        tuple(closed),
    )


def _report(
    view: AccountMarginView,
    account: Account,
    markets: Markets,
    position: PerpPosition,
    *,
    ts: int,
    usdc: int,
    open_orders: int,
) -> AccountReport:
    """The paper venue's report, from the margin engine on the chain's account (``venue.report.account_report``);
    the PnL split and equity are Drift's own definitions, computed here from the position."""
    market = markets.perp_market(position.market_index)
    # what SettlePnl would move into USDC: position value + quote amount + unsettled funding (paper settles funding
    # at once, so its figure is the same quantity)
    unsettled = unrealized_pnl(position, market)
    value = quote_value(position.base_asset_amount, valuation_price(market))
    other_spot = 0
    for sp in account.spot_positions:
        if sp.market_index == QUOTE_SPOT_MARKET_INDEX or sp.is_available:
            continue
        sm = markets.spot_market(sp.market_index)
        other_spot += token_value(signed_token_amount(sp, sm), sm.spec.decimals, sm.oracle_price)
    return account_report(
        view,
        position,
        ts=ts,
        usdc_balance=usdc,
        unsettled_pnl=unsettled,
        unrealized_pnl=value + position.quote_entry_amount,
        equity=usdc + unsettled + other_spot,
        open_orders=open_orders,
    )


def _token_balance(account: Account, markets: Markets, index: int) -> int:
    sp = account.spot_position(index)
    if sp is None or index not in markets.spot:
        return 0
    return signed_token_amount(sp, markets.spot_market(index))


def snapshot_from_chain(state: ChainState, spec: PerpMarketSpec, *, ts: int) -> LiveSnapshot:
    """Our model of one chain reading for the bot trading ``spec``'s market, stamped ``ts`` (unix s).

    Raises ``LiveAccountError`` when the User does not exist yet (the subaccount was never created), the reading
    holds another perp market or lacks an oracle reading, or the user holds positions the reading does not cover.
    """
    user = state.user
    if user is None:
        raise LiveAccountError(
            f"slot {state.slot}: the User account does not exist: the subaccount has not been created yet"
        )
    index = spec.market_index
    if int(state.perp_market.market_index) != index:
        raise LiveAccountError(
            f"slot {state.slot}: the reading holds perp market {state.perp_market.market_index}, the bot trades "
            f"{spec.symbol} (market {index})"
        )
    markets = _markets(state)
    try:
        account = account_from_user(user)
    except ValueError as exc:
        raise LiveAccountError(f"slot {state.slot}: {exc}") from exc
    _check_covered(account, markets, state.slot)
    oracle = markets.perp_market(index).oracle_price
    position = account.perp_position(index) or PerpPosition(market_index=index)
    open_orders, fills, closed = _orders(user, index, oracle)
    usdc = _token_balance(account, markets, QUOTE_SPOT_MARKET_INDEX)
    view = AccountMarginView(account, markets, index)
    report = _report(
        view,
        account,
        markets,
        position,
        ts=ts,
        usdc=usdc,
        # every order the venue holds for this user counts (a bot subaccount has only its own market's)
        open_orders=sum(1 for o in user.orders if variant_name(o.status) == "Open"),
    )
    try:
        rates = chain_rates(state.spot_markets)
    except RatesError as exc:
        raise LiveAccountError(f"slot {state.slot}: {exc}") from exc
    return LiveSnapshot(
        ts=ts,
        slot=state.slot,
        account=account,
        markets=markets,
        report=report,
        view=view,
        position=position,
        open_orders=open_orders,
        order_fills=fills,
        closed_orders=closed,
        settled_perp_pnl=int(user.settled_perp_pnl),
        cumulative_perp_funding=int(user.cumulative_perp_funding),
        oracle=oracle,
        funding_rate=int(state.perp_market.amm.last_funding_rate),
        spot_rates=rates,
    )


# ------------------------------------------------------------------------------------------------ diff


class _Draft(msgspec.Struct, kw_only=True):
    """A fill whose fee (and, when inferred, quote) is only known once the whole interval is reconciled."""

    order_id: int
    order: WorkingOrder | None  # None: the unexplained position change
    side: Side
    base: int  # > 0
    quote: int  # signed, buys negative
    order_filled_base: int
    complete: bool
    fee: int = 0


class _Gone(msgspec.Struct, frozen=True, kw_only=True):
    """An order that ended without filling completely (its end event is decided once fills are known)."""

    order: WorkingOrder
    filled_base: int


def _rounded_price(quote: int, base: int) -> int:
    """|quote| / |base| as a price (1e6), half to even; 0 for no base."""
    if base == 0:
        return 0
    q, r = divmod(abs(quote) * BASE_PRICE_TO_QUOTE, abs(base))
    if 2 * r > abs(base) or (2 * r == abs(base) and q % 2 == 1):
        q += 1
    return q


def _split(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (each share truncated toward zero), the remainder to the last
    share, so the shares always add up to ``total``. ``weights`` is non-empty."""
    whole = sum(weights)
    if whole == 0:
        return [0] * (len(weights) - 1) + [total]
    shares = [tdiv(total * w, whole) for w in weights]
    shares[-1] += total - sum(shares)
    return shares


def _funding(prev: LiveSnapshot, new: LiveSnapshot) -> FundingPaid | None:
    base = prev.position.base_asset_amount
    payment = new.cumulative_perp_funding - prev.cumulative_perp_funding
    rate = 0
    if base != 0:
        new_base = new.position.base_asset_amount
        if new_base != 0 and (new_base > 0) == (base > 0):
            checkpoint = new.position.last_cumulative_funding_rate
        else:  # closed or flipped: the checkpoint was reset; the market's rate for the old side bounds it
            market = new.markets.perp_market(new.position.market_index)
            checkpoint = market.cumulative_funding_rate_long if base > 0 else market.cumulative_funding_rate_short
        rate = checkpoint - prev.position.last_cumulative_funding_rate
    if payment == 0 and rate == 0:
        return None
    return FundingPaid(ts=new.ts, position_base=base, rate=rate, payment=payment)


def _reduces(side: Side, position_base: int) -> bool:
    return position_base != 0 and (position_base > 0) != (side is Side.BUY)


def _end(gone: _Gone, new: LiveSnapshot, cancel_requested: Collection[int]) -> OrderCancelled | OrderExpired:
    order = gone.order
    uid = order.user_order_id
    if uid in cancel_requested:
        reason = CancelReason.REQUESTED
    elif order.max_ts and new.ts > order.max_ts:
        return OrderExpired(ts=new.ts, user_order_id=uid, filled_base=gone.filled_base)
    elif new.account.being_liquidated:
        reason = CancelReason.LIQUIDATION
    elif order.reduce_only and not _reduces(order.side, new.position.base_asset_amount):
        reason = CancelReason.REDUCE_ONLY_FLAT
    else:
        reason = CancelReason.REQUESTED
    return OrderCancelled(ts=new.ts, user_order_id=uid, reason=reason, filled_base=gone.filled_base)


def _accepted(order: WorkingOrder, ts: int) -> OrderAccepted:
    return OrderAccepted(
        ts=ts,
        user_order_id=order.user_order_id,
        side=order.side,
        price=order.price,
        base=order.base,
        post_only=order.post_only is not PostOnlyMode.NONE,
        reduce_only=order.reduce_only,
        max_ts=order.max_ts,
    )


def _visible(order_id: int, order: WorkingOrder, base: int, quote: int, filled: int, *, complete: bool) -> _Draft:
    return _Draft(
        order_id=order_id,
        order=order,
        side=order.side,
        base=base,
        quote=-quote if order.side is Side.BUY else quote,
        order_filled_base=filled,
        complete=complete,
    )


_Entry = OrderAccepted | _Draft | _Gone  # what happened to one order between two readings, in order


def diff_events(
    prev: LiveSnapshot, new: LiveSnapshot, *, cancel_requested: Collection[int] = ()
) -> tuple[VenueEvent, ...]:
    """What happened between ``prev`` and ``new`` (see the module doc for every rule and its limits).

    ``cancel_requested``: the user_order_ids the caller asked to cancel; one that ended is reported as a requested
    cancel, even past its max_ts. Raises ``LiveAccountError`` when the readings contradict each other (another
    market, or an order whose filled amount went backwards).
    """
    index = new.position.market_index
    if prev.position.market_index != index:
        raise LiveAccountError(f"readings of different perp markets ({prev.position.market_index} and {index})")
    per_order, vanished = _order_changes(prev, new)
    drafts = [e for entries in per_order.values() for e in entries if isinstance(e, _Draft)]
    explained = sum(d.side.sign * d.base for d in drafts)
    unexplained = new.position.base_asset_amount - prev.position.base_asset_amount - explained
    inferred, residual = _infer_vanished(vanished, unexplained, per_order)
    _reconcile_quote(prev, new, drafts, inferred)
    return _events(prev, new, per_order, residual, cancel_requested)


def _order_changes(
    prev: LiveSnapshot, new: LiveSnapshot
) -> tuple[dict[int, list[_Entry]], list[tuple[int, WorkingOrder, int]]]:
    """Per order id, what the readings show happened to it (acceptance, visible fills, its end); and the orders
    that vanished without a trace (order id, order, filled base before), whose fate the position must tell."""
    ts = new.ts
    before = {oid: (o, f, q) for o, (oid, f, q) in zip(prev.open_orders, prev.order_fills, strict=True)}
    seen = set(before) | {c.order_id for c in prev.closed_orders}
    now_open = {oid: (o, f, q) for o, (oid, f, q) in zip(new.open_orders, new.order_fills, strict=True)}
    now_closed = {c.order_id: c for c in new.closed_orders}

    per_order: dict[int, list[_Entry]] = {}
    vanished: list[tuple[int, WorkingOrder, int]] = []

    def grew(oid: int, was: tuple[int, int], now: tuple[int, int], order: WorkingOrder, *, finished: bool) -> None:
        d_base, d_quote = now[0] - was[0], now[1] - was[1]
        if d_base < 0 or d_quote < 0:
            raise LiveAccountError(f"order {oid}: filled amounts went backwards ({was} -> {now})")
        if d_base > 0:
            complete = finished and now[0] >= order.base
            per_order.setdefault(oid, []).append(_visible(oid, order, d_base, d_quote, now[0], complete=complete))

    for oid, (order, filled, quote) in before.items():
        if oid in now_open:
            _, n_filled, n_quote = now_open[oid]
            grew(oid, (filled, quote), (n_filled, n_quote), order, finished=False)
        elif oid in now_closed:
            c = now_closed[oid]
            done = c.order.state is OrderState.FILLED
            grew(oid, (filled, quote), (c.order.filled_base, c.quote_filled), order, finished=done)
            if not done:
                per_order.setdefault(oid, []).append(_Gone(order=order, filled_base=c.order.filled_base))
        else:
            vanished.append((oid, order, filled))

    fresh = [(oid, o, f, q, False) for oid, (o, f, q) in now_open.items() if oid not in seen]
    fresh += [
        (oid, c.order, c.order.filled_base, c.quote_filled, True) for oid, c in now_closed.items() if oid not in seen
    ]
    for oid, order, filled, quote, finished in fresh:
        entries = per_order.setdefault(oid, [])
        entries.append(_accepted(order, ts))
        done = finished and order.state is OrderState.FILLED
        grew(oid, (0, 0), (filled, quote), order, finished=done)
        if finished and not done:
            entries.append(_Gone(order=order, filled_base=filled))
    return per_order, vanished


def _infer_vanished(
    vanished: list[tuple[int, WorkingOrder, int]], unexplained: int, per_order: dict[int, list[_Entry]]
) -> tuple[list[_Draft], _Draft | None]:
    """Vanished orders the ``unexplained`` position change covers filled completely (by order id, each added to
    ``per_order``), the others ended unfilled; what remains unexplained is a residual transfer (order id 0).
    Returns (the inferred fills, residual included; the residual, if any)."""
    inferred: list[_Draft] = []
    for oid, order, filled in sorted(vanished, key=lambda t: t[0]):
        remaining = order.base - filled
        if remaining > 0 and unexplained * order.side.sign >= remaining:
            unexplained -= order.side.sign * remaining
            draft = _Draft(
                order_id=oid,
                order=order,
                side=order.side,
                base=remaining,
                quote=0,
                order_filled_base=order.base,
                complete=True,
            )
            inferred.append(draft)
            per_order.setdefault(oid, []).append(draft)
        else:
            per_order.setdefault(oid, []).append(_Gone(order=order, filled_base=filled))
    residual: _Draft | None = None
    if unexplained != 0:
        residual = _Draft(
            order_id=0,
            order=None,
            side=Side.BUY if unexplained > 0 else Side.SELL,
            base=abs(unexplained),
            quote=0,
            order_filled_base=0,
            complete=True,
        )
        inferred.append(residual)
    return inferred, residual


def _reconcile_quote(prev: LiveSnapshot, new: LiveSnapshot, drafts: list[_Draft], inferred: list[_Draft]) -> None:
    """Quote reconciliation (module doc): the cash the fills moved = delta quote - settled funding + settled PnL.
    Inferred fills share what the visible ones do not explain; without inferred fills, the difference is the
    visible fills' fees."""
    cash = (
        new.position.quote_asset_amount
        - prev.position.quote_asset_amount
        - (new.cumulative_perp_funding - prev.cumulative_perp_funding)
        + (new.settled_perp_pnl - prev.settled_perp_pnl)
    )
    visible_quote = sum(d.quote for d in drafts)
    if inferred:
        for draft, share in zip(inferred, _split(cash - visible_quote, [d.base for d in inferred]), strict=True):
            draft.quote = share
    elif drafts:
        fees = visible_quote - cash
        for draft, fee in zip(drafts, _split(fees, [abs(d.quote) for d in drafts]), strict=True):
            draft.fee = fee


def _events(
    prev: LiveSnapshot,
    new: LiveSnapshot,
    per_order: dict[int, list[_Entry]],
    residual: _Draft | None,
    cancel_requested: Collection[int],
) -> tuple[VenueEvent, ...]:
    """The venue events: funding first, then each order's entries by order id, then the residual transfer."""
    ts = new.ts
    events: list[VenueEvent] = []
    funding = _funding(prev, new)
    if funding is not None:
        events.append(funding)
    for oid in sorted(per_order):
        for entry in per_order[oid]:
            if isinstance(entry, OrderAccepted):
                events.append(entry)
            elif isinstance(entry, _Gone):
                events.append(_end(entry, new, cancel_requested))
            else:
                events.append(_fill(entry, ts))
    if residual is not None:
        events.append(_fill(residual, ts))
    return tuple(events)


def _fill(draft: _Draft, ts: int) -> Fill:
    order = draft.order
    if order is None:  # the unexplained position change: a transfer we cannot attribute to an order
        return Fill(
            ts=ts,
            user_order_id=0,
            side=draft.side,
            price=_rounded_price(draft.quote, draft.base),
            base=draft.base,
            quote=draft.quote,
            fee=draft.fee,
            liquidity=Liquidity.TAKER,
            reduce_only=False,
            order_filled_base=draft.base,
            complete=True,
        )
    return Fill(
        ts=ts,
        user_order_id=order.user_order_id,
        side=order.side,
        price=_rounded_price(draft.quote, draft.base),
        base=draft.base,
        quote=draft.quote,
        fee=draft.fee,
        liquidity=Liquidity.MAKER if order.post_only is not PostOnlyMode.NONE else Liquidity.TAKER,
        reduce_only=order.reduce_only,
        order_filled_base=draft.order_filled_base,
        complete=draft.complete,
    )
