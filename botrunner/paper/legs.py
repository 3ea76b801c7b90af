"""``PlaceLegs`` on the paper venue: a spot leg and a perp leg as one all-or-nothing trade.

Both legs are taker fills, priced first and booked only when the account after BOTH passes every check; otherwise
the whole command is refused with one ``CommandRejected(command="PlaceLegs")`` whose detail names the leg and the
numbers, and nothing changes. In order:

1. each leg on its own: the perp leg is a MARKET ``OrderIntent`` with its worst-price limit as ``price`` and passes
   Drift's placement checks (``admission.static_rejection``: id, open orders, step, minimum size, reduce-only); the
   spot leg is on the SOL spot market (index 1, valued on the perp's oracle), a step multiple, at least the
   minimum size, with a limit on the tick;
2. the fills: the perp leg at the touch plus the venue's perp taker slippage (``config.slippage_bps``; with an L2
   book it walks the book instead), Drift's perp taker fee; the spot leg at the oracle plus the spot slippage and
   Drift's spot taker fee (``botrunner.paper.spot``). A leg whose fill would be beyond its limit, a perp book too
   thin to fill it whole, or a reduce-only perp leg larger than the position is refused;
3. the balances: a spot sell of more SOL than held (the paper account never borrows SOL), a spot buy whose quote
   plus fee exceeds the USDC balance (never a USDC borrow);
4. the account after both legs, with its open orders: Drift's initial margin (``admission.initial_margin_rejection``)
   unless the trade raises the initial free collateral (a trade that reduces risk is never refused for margin),
   and the paper leverage cap (``admission.leverage_rejection``) when the perp leg grows the worst-case position.

Then both are booked, and the transaction's cost (``config.tx_cost_lamports``: base fee, priority fee, Jito tip)
charged to the USDC balance at the oracle (``PaperAccount.pay_tx_cost``; the spot buy's balance check counts it):
the perp fill through ``PaperAccount.apply_trade`` (Drift's position bookkeeping, the ledger's
realized PnL and fees), the spot fill by moving the SOL and USDC balances (``PaperAccount.book_spot``); one account
change. Events: ``Fill`` (the perp leg: its user order id, taker, complete) then ``SpotFill``.
"""

from __future__ import annotations

import msgspec

from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.fixed import ceil_div
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.precision import BASE_PRECISION, BPS_PRECISION, LAMPORTS_PER_SOL, SOL_SPOT_MARKET_INDEX
from botrunner.core.side import Side
from botrunner.margin.calculation import calculate_margin
from botrunner.margin.model import Account, MarginCategory
from botrunner.margin.what_if import apply_perp_fill, fill_quote_delta
from botrunner.paper import admission
from botrunner.paper.account import PaperAccount
from botrunner.paper.config import PaperConfig, slippage_bps
from botrunner.paper.fees import fill_fee
from botrunner.paper.orders import round_to_tick
from botrunner.paper.queue import BookView, walk_book
from botrunner.paper.spot import SpotLegFill, spot_fill
from botrunner.venue.port import (
    CommandRejected,
    Fill,
    Liquidity,
    PlaceLegs,
    RejectReason,
    SpotFill,
    SpotOrder,
    VenueEvent,
)


class PerpLegFill(msgspec.Struct, frozen=True):
    """The perp leg's fill, priced but not booked: ``base`` > 0 on the intent's side at ``price``, ``fee`` paid."""

    intent: OrderIntent
    price: int
    fee: int

    @property
    def delta(self) -> int:
        return self.intent.base * self.intent.side.sign


class _Refused(Exception):
    """A leg or the account after both refuses the command (a control-flow signal carrying the refusal)."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def place_legs(
    command: PlaceLegs,
    out: list[VenueEvent],
    *,
    account: PaperAccount,
    market: PerpMarketSpec,
    config: PaperConfig,
    book: BookView | None,
) -> bool:
    """Perform ``command`` (module docstring); True when both legs were booked, False when it was refused."""
    now = account.tape.now
    tx_cost = tx_cost_quote(config.tx_cost_lamports, account.tape.oracle)
    try:
        perp = None if command.perp is None else _price_perp(account, market, config, book, command.perp)
        spot = None if command.spot is None else _price_spot(account, config, command.spot, tx_cost)
        _check_account(account, config, perp, spot)
    except _Refused as refused:
        out.append(CommandRejected(ts=now, command="PlaceLegs", reason=refused.reason, detail=refused.detail))
        return False
    if perp is not None:
        intent = perp.intent
        account.apply_trade(perp.delta, perp.price, perp.fee)
        account.ledger.taker_fills += 1
        out.append(
            Fill(
                ts=now,
                user_order_id=intent.user_order_id,
                side=intent.side,
                price=perp.price,
                base=intent.base,
                quote=fill_quote_delta(perp.delta, perp.price),
                fee=perp.fee,
                liquidity=Liquidity.TAKER,
                reduce_only=intent.reduce_only,
                order_filled_base=intent.base,
                complete=True,
            )
        )
    if tx_cost:
        account.pay_tx_cost(tx_cost)  # the one transaction both legs went in (a refused command sent none)
    if spot is not None:
        account.book_spot(spot.base_delta, spot.usdc_delta, spot.fee)
        out.append(
            SpotFill(
                ts=now,
                spot_market_index=SOL_SPOT_MARKET_INDEX,
                side=spot.side,
                price=spot.price,
                base=spot.base,
                quote=spot.quote,
                fee=spot.fee,
            )
        )
    return True


def _price_perp(
    account: PaperAccount, market: PerpMarketSpec, config: PaperConfig, book: BookView | None, intent: OrderIntent
) -> PerpLegFill:
    tape = account.tape
    if intent.order_type is not OrderType.MARKET:
        raise _Refused(RejectReason.INVALID_ORDER, f"perp: a MARKET leg is needed, not {intent.order_type.value}")
    if intent.price <= 0:
        raise _Refused(RejectReason.INVALID_ORDER, "perp: the leg needs its worst-price limit as price, got 0")
    position = account.position.base_asset_amount
    why = admission.static_rejection(intent, market, account.orders, tape.now, position)
    if why is not None:
        raise _Refused(why.reason, f"perp: {why.detail}")
    if intent.reduce_only and intent.base > abs(position):
        raise _Refused(RejectReason.REDUCE_ONLY_INCREASES, f"perp: reduce-only {intent.base} > position {position}")
    side = intent.side
    if book is not None:
        walk = walk_book(book.levels(side.opposite), side, intent.base, intent.price, market.step_size)
        if walk.filled != intent.base:
            raise _Refused(
                RejectReason.INVALID_ORDER,
                f"perp: the book fills {walk.filled} of {intent.base} within the limit {intent.price}",
            )
        price = walk.avg_price
    else:
        # the candle model's taker price (botrunner.paper.candle_fills): the touch plus the size's slippage, rounded
        # against the taker, here without clipping to the limit: a leg beyond its limit is refused whole
        touch = tape.touch(side)
        slip = slippage_bps(config, intent.base * touch // BASE_PRECISION)
        scaled = touch * (BPS_PRECISION + slip * side.sign)
        raw = ceil_div(scaled, BPS_PRECISION) if side is Side.BUY else scaled // BPS_PRECISION
        price = round_to_tick(raw, side.opposite, market.tick_size)
    if (price > intent.price) if side is Side.BUY else (price < intent.price):
        raise _Refused(
            RejectReason.INVALID_ORDER, f"perp: fill price {price} beyond the limit {intent.price} ({side.value})"
        )
    fee = fill_fee(abs(fill_quote_delta(intent.base * side.sign, price)), account.fees.taker_ppm)
    return PerpLegFill(intent, price, fee)


def tx_cost_quote(lamports: int, oracle: int) -> int:
    """``lamports`` in USDC (1e6) at the SOL price ``oracle`` (1e6 per SOL), rounded up against the bot."""
    return ceil_div(lamports * oracle, LAMPORTS_PER_SOL)


def _price_spot(account: PaperAccount, config: PaperConfig, order: SpotOrder, tx_cost: int) -> SpotLegFill:
    spec = account.sol_market.spec
    if order.spot_market_index != SOL_SPOT_MARKET_INDEX or not account.sol_follows_perp:
        raise _Refused(
            RejectReason.INVALID_AMOUNT,
            f"spot: market {order.spot_market_index} is not traded here (the SOL market {SOL_SPOT_MARKET_INDEX}, "
            f"priced on the perp's oracle, is)",
        )
    if order.base <= 0 or order.base % spec.order_step_size:
        raise _Refused(RejectReason.SIZE_NOT_STEP_MULTIPLE, f"spot: base {order.base} vs step {spec.order_step_size}")
    if order.base < spec.min_order_size:
        raise _Refused(RejectReason.SIZE_BELOW_MINIMUM, f"spot: base {order.base} < minimum {spec.min_order_size}")
    if order.limit_price <= 0 or order.limit_price % spec.order_tick_size:
        raise _Refused(
            RejectReason.PRICE_NOT_TICK_MULTIPLE, f"spot: limit {order.limit_price} vs tick {spec.order_tick_size}"
        )
    fill = spot_fill(
        order.side,
        order.base,
        account.tape.oracle,
        spec,
        taker_ppm=config.spot_taker_ppm,
        half_spread_ppm=config.spot_half_spread_ppm,
        impact_ppm=config.spot_impact_ppm,
        impact_notional=config.spot_impact_notional,
    )
    buy = order.side is Side.BUY
    if (fill.price > order.limit_price) if buy else (fill.price < order.limit_price):
        raise _Refused(
            RejectReason.INVALID_ORDER,
            f"spot: fill price {fill.price} beyond the limit {order.limit_price} ({order.side.value})",
        )
    if not buy and order.base > account.sol:
        raise _Refused(
            RejectReason.INSUFFICIENT_BALANCE, f"spot: sell {order.base} SOL > held {account.sol} (no SOL borrow)"
        )
    if buy and -fill.usdc_delta + tx_cost > account.usdc:
        raise _Refused(
            RejectReason.INSUFFICIENT_BALANCE,
            f"spot: buy needs {-fill.usdc_delta + tx_cost} USDC (fee {fill.fee} and transaction cost {tx_cost} "
            f"included) > balance {account.usdc}",
        )
    return fill


def _check_account(
    account: PaperAccount, config: PaperConfig, perp: PerpLegFill | None, spot: SpotLegFill | None
) -> None:
    """Initial margin and the leverage cap on the account after both legs (module docstring, step 4)."""
    markets = account.markets()
    bids, asks, n = account.open_bids_asks()
    position = account.position
    if perp is not None:
        state = account.perp_state.with_oracle_price(account.tape.oracle)
        position = apply_perp_fill(position, state, perp.delta, perp.price, fee=perp.fee)
    sol, usdc = account.sol, account.usdc
    if spot is not None:
        sol, usdc = sol + spot.base_delta, usdc + spot.usdc_delta
    spot_after = account.spot_positions_for(usdc, sol)
    why = admission.initial_margin_rejection(
        position, spot_after, markets, open_bids=bids, open_asks=asks, open_orders=n
    )
    if why is not None:
        before = calculate_margin(account.current(), markets, MarginCategory.INITIAL)
        with_orders = msgspec.structs.replace(position, open_bids=bids, open_asks=asks, open_orders=n)
        after = calculate_margin(
            Account(spot_positions=spot_after, perp_positions=(with_orders,)), markets, MarginCategory.INITIAL
        )
        free_before = before.total_collateral - before.margin_requirement
        if after.total_collateral - after.margin_requirement <= free_before:
            raise _Refused(why.reason, f"after both legs: {why.detail}")
    if perp is None:
        return
    base = account.position.base_asset_amount
    worst_before = max(abs(base + bids), abs(base + asks))
    after_base = position.base_asset_amount
    worst_after = max(abs(after_base + bids), abs(after_base + asks))
    if worst_after > worst_before:
        equity_after = account.equity_for(position, usdc, sol)
        lev = admission.leverage_rejection(worst_after, account.tape.oracle, equity_after, config.max_leverage_x10000)
        if lev is not None:
            raise _Refused(lev.reason, f"after both legs: {lev.detail}")
