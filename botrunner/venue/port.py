"""The venue port: the one interface the paper venue and the live Drift venue both implement.

A bot's shell sends :data:`VenueCommand` s and receives :data:`VenueEvent` s; the bot's core never learns which
venue answered. Commands are the connector's own (place / cancel / cancel-and-place, see
``botrunner.connector.commands``) plus the account operations a bot needs (modify, settle PnL, deposit, withdraw).

Every event is an immutable record stamped with the venue time ``ts`` (unix s). Amounts in Drift precisions:
price 1e6, base 1e9, quote 1e6, funding rate 1e9 quote per base.
"""

from __future__ import annotations

import enum
from typing import Generic, Protocol, TypeVar

import msgspec

from botrunner.connector.commands import CancelAndPlace, CancelOrders, PlaceOrders
from botrunner.connector.orders import OrderIntent, WorkingOrder
from botrunner.core.margin_view import MarginProjection
from botrunner.core.policy import PostOnlyMode
from botrunner.core.side import Side
from botrunner.margin.interest import RatePoint
from botrunner.margin.model import PerpPosition


class ModifyOrder(msgspec.Struct, frozen=True, kw_only=True):
    """Drift ``modify_order_by_user_id``: change price, size or expiry of a resting order in place. The venue
    cancels and re-places it under the same ``user_order_id`` (so it loses its queue position, as on Drift)."""

    user_order_id: int
    price: int | None = None
    base: int | None = None
    max_ts: int | None = None


class SettlePnl(msgspec.Struct, frozen=True):
    """Drift ``settle_pnl``: move the perp position's unsettled PnL into (or out of) the USDC balance."""


class Deposit(msgspec.Struct, frozen=True, kw_only=True):
    """Deposit ``amount`` tokens (spot market precision) into spot market ``spot_market_index``."""

    spot_market_index: int
    amount: int


class Withdraw(msgspec.Struct, frozen=True, kw_only=True):
    """Withdraw ``amount`` tokens from spot market ``spot_market_index`` (never into a borrow)."""

    spot_market_index: int
    amount: int


class SpotOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An immediate-or-cancel order on a Drift spot market (the delta-neutral engine's spot leg): buy or sell
    ``base`` tokens (the spot market's decimals: SOL 1e9) at no worse than ``limit_price`` (1e6, quote per token)."""

    spot_market_index: int
    side: Side
    base: int
    limit_price: int


class PlaceLegs(msgspec.Struct, frozen=True, kw_only=True):
    """Both legs of a delta-neutral trade as ONE venue command: either both take effect in full or neither does
    (live: one transaction holding the spot and the perp instruction; paper: checked together, booked together).

    ``perp`` is a MARKET ``OrderIntent`` whose ``price`` is its worst-price limit (mark +- the slippage tolerance);
    either leg may be None (a rebalance that moves one leg only). ``reason`` is machine-readable (``enter``,
    ``rebalance_expand_short``, ``rebalance_reduce_short``, ``exit``, ``operator_open``, ``operator_close``). A
    refusal comes back as ``CommandRejected(command="PlaceLegs")``; success as the legs' fills."""

    spot: SpotOrder | None
    perp: OrderIntent | None
    reason: str

    def __post_init__(self) -> None:
        if self.spot is None and self.perp is None:
            raise ValueError("PlaceLegs: at least one leg (spot or perp) is required")


VenueCommand = PlaceOrders | CancelOrders | CancelAndPlace | ModifyOrder | SettlePnl | Deposit | Withdraw | PlaceLegs


class RejectReason(enum.Enum):
    """Why a venue refused an order or an account operation (Drift's ErrorCode where one exists)."""

    POST_ONLY_WOULD_CROSS = "post_only_would_cross"  # MustPostOnly and the order crosses the book
    POST_ONLY_SKIPPED = "post_only_skipped"  # TryPostOnly and the order crosses: silently not placed
    PRICE_NOT_TICK_MULTIPLE = "price_not_tick_multiple"
    SIZE_NOT_STEP_MULTIPLE = "size_not_step_multiple"
    SIZE_BELOW_MINIMUM = "size_below_minimum"
    TOO_MANY_OPEN_ORDERS = "too_many_open_orders"  # 32 per user
    USER_ORDER_ID_IN_USE = "user_order_id_in_use"
    EXPIRED_ON_ARRIVAL = "expired_on_arrival"  # max_ts already in the past
    REDUCE_ONLY_INCREASES = "reduce_only_increases"  # a reduce-only order that could only grow the position
    INSUFFICIENT_COLLATERAL = "insufficient_collateral"  # initial margin with open orders would be breached
    MAX_LEVERAGE = "max_leverage"  # the venue's (paper) leverage cap on increases
    UNKNOWN_ORDER = "unknown_order"  # cancel/modify of an id the venue does not hold
    INSUFFICIENT_BALANCE = "insufficient_balance"  # more than the deposit (withdraw) or the wallet (live deposit)
    INVALID_AMOUNT = "invalid_amount"  # zero/negative amount, unknown spot market
    UNKNOWN_ACCOUNT = "unknown_account"  # live: a transfer to a subaccount that does not exist (or is not a User)
    MARKET_PAUSED = "market_paused"  # no price yet: the venue cannot check the order
    INVALID_ORDER = "invalid_order"  # a combination Drift refuses, e.g. a post-only market order
    SAFETY_GATE = "safety_gate"  # live: needs an operator confirmation, above the YAML cap, gas reserve, latency
    VENUE_UNAVAILABLE = "venue_unavailable"  # live: RPC down, recovering, resync pending or circuit breaker open
    TRANSACTION_FAILED = "transaction_failed"  # live: simulation, sending or on-chain execution failed
    OUTCOME_UNKNOWN = "outcome_unknown"  # live: sent, never confirmed nor expired; the account is resynced
    DRY_RUN = "dry_run"  # live --dry-run: built and simulated, deliberately not sent


class CancelReason(enum.Enum):
    """Why an order left the book without filling completely."""

    REQUESTED = "requested"  # the bot asked
    REDUCE_ONLY_FLAT = "reduce_only_flat"  # a reduce-only order with nothing left to reduce
    LIQUIDATION = "liquidation"  # liquidation cancels every open order first
    MARKET_REMAINDER = "market_remainder"  # the unfilled part of a market order


class Liquidity(enum.Enum):
    MAKER = "maker"
    TAKER = "taker"


class OrderAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """The venue holds the order (Drift: it is in the user's order slots). ``price`` may differ from the request
    for a Slide post-only order the venue repriced."""

    ts: int
    user_order_id: int
    side: Side
    price: int
    base: int
    post_only: bool
    reduce_only: bool
    max_ts: int


class OrderRejected(msgspec.Struct, frozen=True, kw_only=True):
    """The venue refused an order; what was asked is echoed (``side`` None when the venue never saw an order,
    e.g. a cancel of an unknown id)."""

    ts: int
    user_order_id: int
    reason: RejectReason
    detail: str = ""
    side: Side | None = None
    price: int = 0
    base: int = 0
    post_only: bool = False
    reduce_only: bool = False


def order_rejected(intent: OrderIntent, ts: int, reason: RejectReason, detail: str = "") -> OrderRejected:
    """The rejection of order ``intent`` at ``ts``, echoing what was asked."""
    return OrderRejected(
        ts=ts,
        user_order_id=intent.user_order_id,
        reason=reason,
        detail=detail,
        side=intent.side,
        price=intent.price,
        base=intent.base,
        post_only=intent.post_only is not PostOnlyMode.NONE,
        reduce_only=intent.reduce_only,
    )


class OrderCancelled(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    user_order_id: int
    reason: CancelReason
    filled_base: int  # cumulative base filled before the cancel


class OrderExpired(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    user_order_id: int
    filled_base: int


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """One fill of one order. ``quote`` is the signed quote change of the fill (buys negative), ``fee`` positive
    = paid, negative = rebate. ``order_filled_base`` is the order's cumulative fill after this one; ``complete``
    says the order is done. ``user_order_id`` 0 is the venue's own liquidation transfer."""

    ts: int
    user_order_id: int
    side: Side
    price: int
    base: int
    quote: int
    fee: int
    liquidity: Liquidity
    reduce_only: bool
    order_filled_base: int
    complete: bool


class FundingPaid(msgspec.Struct, frozen=True, kw_only=True):
    """A funding settlement: ``rate`` 1e9 quote per base for the period (+ = longs pay); ``payment`` quote 1e6,
    positive = received."""

    ts: int
    position_base: int
    rate: int
    payment: int


class Liquidated(msgspec.Struct, frozen=True, kw_only=True):
    """The venue liquidated ``base`` (signed, the position change) at ``price``, charging ``fee`` (liquidator fee
    plus insurance-fund fee, quote 1e6). Health and collateral are those seen when maintenance was breached."""

    ts: int
    base: int
    price: int
    fee: int
    total_collateral: int
    maintenance_requirement: int


class PnlSettled(msgspec.Struct, frozen=True, kw_only=True):
    """``amount`` quote moved from the perp position into the USDC balance (negative: from USDC to the perp)."""

    ts: int
    amount: int


class BalanceChanged(msgspec.Struct, frozen=True, kw_only=True):
    """A deposit (positive) or withdrawal (negative) of ``amount`` tokens in ``spot_market_index``."""

    ts: int
    spot_market_index: int
    amount: int


class SpotFill(msgspec.Struct, frozen=True, kw_only=True):
    """A fill of a ``SpotOrder``: ``base`` tokens (> 0) at ``price`` (1e6); ``quote`` is the signed USDC change
    (buys negative), ``fee`` positive = paid (quote 1e6)."""

    ts: int
    spot_market_index: int
    side: Side
    price: int
    base: int
    quote: int
    fee: int


class InterestAccrued(msgspec.Struct, frozen=True, kw_only=True):
    """Interest the venue accrued on a spot balance since the last accrual: ``amount`` tokens (the market's
    decimals), positive = earned on a deposit, negative = paid on a borrow."""

    ts: int
    spot_market_index: int
    amount: int


class CommandRejected(msgspec.Struct, frozen=True, kw_only=True):
    """An account operation the venue refused (orders have ``OrderRejected``)."""

    ts: int
    command: str
    reason: RejectReason
    detail: str = ""


VenueEvent = (
    OrderAccepted
    | OrderRejected
    | OrderCancelled
    | OrderExpired
    | Fill
    | FundingPaid
    | Liquidated
    | PnlSettled
    | BalanceChanged
    | SpotFill
    | InterestAccrued
    | CommandRejected
)


class AccountReport(msgspec.Struct, frozen=True, kw_only=True):
    """The venue's account as a bot (and a report) sees it. Quote 1e6, base 1e9, price 1e6, health 0..100,
    leverage 1e4 = 1x."""

    ts: int
    oracle: int
    position_base: int
    entry_price: int
    break_even_price: int
    usdc_balance: int  # settled quote in the USDC spot balance (negative = borrow)
    unsettled_pnl: int  # perp position value at the oracle + its quote amount (Drift's unrealized PnL)
    unrealized_pnl: int  # position value at the oracle minus its entry cost
    equity: int  # usdc_balance + unsettled_pnl (+ any other spot at the oracle)
    total_collateral: int  # maintenance-weighted, Drift's margin engine
    maintenance_requirement: int
    free_collateral: int  # initial
    health: int
    leverage: int
    liquidation_price: int | None
    open_orders: int


class VenueAccount(Protocol):
    """The read half of a venue: the account as the venue last reported it. The bot's step reads it (only what it
    needs, when it needs it), never writes it."""

    @property
    def oracle(self) -> int:
        """The oracle price the account is valued at (price 1e6)."""
        ...

    @property
    def position(self) -> PerpPosition:
        """The perp position in the bot's market, with Drift's bookkeeping."""
        ...

    def equity(self) -> int:
        """What the account is worth (quote 1e6): USDC + unsettled perp PnL + other spot at the oracle."""
        ...

    def unsettled_pnl(self) -> int:
        """The perp's unsettled PnL at the oracle: what ``SettlePnl`` would move into USDC (quote 1e6)."""
        ...

    def spot_balance(self, spot_market_index: int) -> int:
        """The signed token amount held in spot market ``spot_market_index`` (its decimals; negative = borrow)."""
        ...

    def margin_view(self) -> MarginProjection:
        """The margin engine's what-if view of the account now (what the Risk Governor sizes with)."""
        ...

    def spot_rates(self, spot_market_index: int) -> RatePoint | None:
        """The deposit and borrow APR the venue itself applies to spot market ``spot_market_index`` now (the live
        venue: the chain's SpotMarket on Drift's curve), or None when the venue has none of its own (the paper venue:
        the bot's configured interest source stands in)."""
        ...


class VenueReads(VenueAccount, Protocol):
    """Every read a driver makes of a venue: the account, a full report, and the open orders."""

    def report(self) -> AccountReport:
        """The account as it is now."""
        ...

    def open_orders(self) -> tuple[WorkingOrder, ...]:
        """Every order the venue holds, in placement order (the connector resyncs from this)."""
        ...


class Venue(VenueReads, Protocol):
    """What a bot's driver needs from a venue, paper or live: the account, its open orders, and commands."""

    def submit(self, command: VenueCommand, now: int) -> tuple[VenueEvent, ...]:
        """Perform ``command`` at venue time ``now``; return what happened, in order. (A live venue may later
        answer at once with the order pending and report the outcome as a later event: see
        ``botrunner.bot.step.VenueReport``.)"""
        ...


V = TypeVar("V", bound=VenueReads)


class ReadThrough(Generic[V]):
    """The read half of a venue that something else stands in front of (the paper latency model, the live actor's
    loop): every read goes to the wrapped ``venue`` as it is now; a subclass decides what ``submit`` does."""

    __slots__ = ("venue",)

    def __init__(self, venue: V) -> None:
        self.venue = venue

    @property
    def oracle(self) -> int:
        return self.venue.oracle

    @property
    def position(self) -> PerpPosition:
        return self.venue.position

    @property
    def account_version(self) -> int | None:
        """The wrapped venue's account version, if it keeps one (``botrunner.bot.validity.account_version``)."""
        version = getattr(self.venue, "account_version", None)
        return version if isinstance(version, int) else None

    def equity(self) -> int:
        return self.venue.equity()

    def unsettled_pnl(self) -> int:
        return self.venue.unsettled_pnl()

    def spot_balance(self, spot_market_index: int) -> int:
        return self.venue.spot_balance(spot_market_index)

    def margin_view(self) -> MarginProjection:
        return self.venue.margin_view()

    def spot_rates(self, spot_market_index: int) -> RatePoint | None:
        return self.venue.spot_rates(spot_market_index)

    def report(self) -> AccountReport:
        return self.venue.report()

    def open_orders(self) -> tuple[WorkingOrder, ...]:
        return self.venue.open_orders()
