"""Live-mode safety gates: which of a batch of new orders may be sent right now. Pure: no I/O, no clock.

Issue 5 §5: "Any order above $100 notional needs an explicit operator confirmation (``botrunner ctl confirm ...``)
unless the bot's YAML sets a per-order cap that allows it; the SOL balance must stay above a gas reserve (default
0.017 SOL); a network latency above 500 ms blocks trading; every block is logged at WARNING with the numbers."

Rules, per order (limits from ``GateLimits``, which the bot's ``live:`` settings provide):

* Notional = base x price in quote 1e6 (``quote_value``). The price is the order's limit price; for an
  ORACLE_OFFSET order it is oracle + offset (floored at 0); for a MARKET order it is the larger of the oracle and
  its worst-price limit (when it has one), because a market order can fill anywhere up to that limit.
* ``max_order_notional_quote`` set (the YAML cap): orders up to the cap are pre-approved; orders above it are
  blocked (ABOVE_ORDER_CAP). A confirmation never lifts the cap: the cap is the operator's standing, written
  decision, and a one-off ``ctl confirm`` must not be able to override what the YAML forbids.
* No cap: orders above ``confirm_above_quote`` need an unexpired confirmation of their token
  (NEEDS_CONFIRMATION otherwise). The token hashes the order's terms, not its user_order_id, because the
  connector re-numbers orders on every requote while the operator approves what the order does.
* Reduce-only orders obey the same notional rules: the requirement says "any order", and the gate cannot tell a
  defence exit from a mis-sized one. A bot that must be able to exit a large position unattended should set
  ``max_order_notional_usd`` at least as large as that position.

Rules, for the whole bot (every order blocked, ``GateResult.trading_blocked`` set; the first that applies wins):

1. GAS_RESERVE: the wallet holds fewer lamports than ``gas_reserve_lamports``. Every transaction costs gas, a
   reduce-only exit included: one that cannot pay its fee cannot land, and spending the reserve on new exposure
   would leave nothing to pay for the exits.
2. NO_LATENCY_SAMPLE / LATENCY: no latency measured yet, or the last sample above ``max_latency_ms``. Reduce-only
   orders are blocked too: at that latency the bot's view of the book and its own orders is stale, and an exit
   priced from a stale view can fill far from where it was meant to (the Risk Governor's liquidation defence is
   the remedy for a dying position, and it needs a fresh view as much as any order).

Cancels are never gated (``gate_command`` keeps every cancel): cancelling only removes exposure, and the moments
the gates fire (no gas margin, a slow network) are exactly when a resting order should be able to disappear.

The shell logs every ``Blocked`` at WARNING with ``describe(blocked)``; this module only decides.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Sequence
from typing import Protocol, assert_never

import msgspec

from botrunner.connector.commands import CancelAndPlace, CancelOrders, Command, PlaceOrders
from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.precision import LAMPORTS_PER_SOL, QUOTE_PRECISION, quote_value, to_decimal
from botrunner.core.side import Side
from botrunner.venue.port import PlaceLegs

TOKEN_LENGTH = 12  # hex digits of sha256: 48 bits, ample to tell a bot's orders apart, short enough to type
_TOKEN_RE = re.compile(rf"[0-9a-f]{{{TOKEN_LENGTH}}}")


class GateLimits(Protocol):
    """The limits the gates read. ``botrunner.config.live.LiveSettings`` (a bot's ``live:`` section) has them; the
    governor names only what it needs, so it does not import the config layer above it."""

    @property
    def confirm_above_quote(self) -> int: ...  # quote 1e6
    @property
    def max_order_notional_quote(self) -> int | None: ...  # quote 1e6; None: no per-order cap
    @property
    def gas_reserve_lamports(self) -> int: ...
    @property
    def max_latency_ms(self) -> int: ...


class GateBlock(enum.Enum):
    """Why an order was not sent."""

    NEEDS_CONFIRMATION = "needs_confirmation"  # above confirm_above_quote, no live confirmation of its token
    ABOVE_ORDER_CAP = "above_order_cap"  # above the YAML per-order cap (a confirmation cannot lift it)
    GAS_RESERVE = "gas_reserve"  # wallet SOL below the gas reserve (whole bot)
    LATENCY = "latency"  # network latency above max_latency_ms (whole bot)
    NO_LATENCY_SAMPLE = "no_latency_sample"  # no latency measured yet (whole bot)


class GateInputs(msgspec.Struct, frozen=True, kw_only=True):
    """What the gates look at besides the orders: the wallet's SOL, the last latency sample, the time."""

    sol_lamports: int  # the signer wallet's SOL balance (pays fees), lamports
    latency_ms: int | None  # last measured RPC round trip; None until the first sample
    now: int  # unix seconds


class OrderCheck(msgspec.Struct, frozen=True, kw_only=True):
    """One order as the gates see it: its id, notional and confirmation token."""

    user_order_id: int
    notional_quote: int  # quote 1e6
    token: str  # confirmation_token of its terms


class Blocked(msgspec.Struct, frozen=True, kw_only=True):
    """An order the gates held back, why, and the numbers (``detail``) for the WARNING log."""

    user_order_id: int
    reason: GateBlock
    detail: str
    token: str  # the order's confirmation token (what `botrunner ctl confirm` takes)


class GateResult(msgspec.Struct, frozen=True, kw_only=True):
    """The gates' answer for one batch: every input id is in exactly one of ``allowed`` and ``blocked``."""

    allowed: tuple[int, ...]  # user_order_ids, in input order
    blocked: tuple[Blocked, ...]  # in input order
    trading_blocked: GateBlock | None  # a whole-bot block (gas, latency), or None

    @property
    def pending_tokens(self) -> tuple[str, ...]:
        """Tokens waiting for ``botrunner ctl confirm`` (distinct, in input order)."""
        return tuple(dict.fromkeys(b.token for b in self.blocked if b.reason is GateBlock.NEEDS_CONFIRMATION))


def confirmation_token(
    side: Side, price: int, base: int, order_type: OrderType, oracle_price_offset: int, *, reduce_only: bool
) -> str:
    """A short stable hash (sha256 hex, first 12 digits) of an order's terms.

    The user_order_id, ``max_ts`` and ``placed_at`` are left out: they change on every requote while the order
    stays the same. ``reduce_only`` is in: approving a reduce-only exit must not approve an order of the same size
    that opens exposure.
    """
    terms = f"v1|{side.value}|{price}|{base}|{order_type.value}|{oracle_price_offset}|{int(reduce_only)}"
    return hashlib.sha256(terms.encode()).hexdigest()[:TOKEN_LENGTH]


def order_token(order: OrderIntent) -> str:
    """``confirmation_token`` of an order's terms."""
    return confirmation_token(
        order.side,
        order.price,
        order.base,
        order.order_type,
        order.oracle_price_offset,
        reduce_only=order.reduce_only,
    )


class Confirmations(msgspec.Struct, frozen=True):
    """Operator confirmations: ``(token, valid_until)`` pairs, a token valid while ``now < valid_until``.

    A confirmation approves the terms for its whole window (the connector may re-place the same order after a
    requote or a TTL expiry without asking again); a short window bounds how often that can happen.
    """

    approved: tuple[tuple[str, int], ...] = ()

    def approve(self, token: str, until: int) -> Confirmations:
        """These confirmations plus ``token`` valid until ``until`` (replacing an earlier window for it: the
        operator's latest word wins). Raises ``ValueError`` for a malformed token."""
        if not _TOKEN_RE.fullmatch(token):
            raise ValueError(f"confirmation token must be {TOKEN_LENGTH} lowercase hex digits, got {token!r}")
        return Confirmations((*((t, u) for t, u in self.approved if t != token), (token, until)))

    def is_confirmed(self, token: str, now: int) -> bool:
        """Whether ``token`` has a confirmation that has not expired at ``now``."""
        return any(t == token and now < until for t, until in self.approved)

    def prune(self, now: int) -> Confirmations:
        """Without the confirmations expired at ``now``."""
        return Confirmations(tuple((t, u) for t, u in self.approved if now < u))


def order_price(order: OrderIntent, oracle_price: int) -> int:
    """The price (1e6) an order's notional is measured at (see the module docstring)."""
    match order.order_type:
        case OrderType.LIMIT:
            return order.price
        case OrderType.ORACLE_OFFSET:
            return max(0, oracle_price + order.oracle_price_offset)
        case OrderType.MARKET:
            return max(oracle_price, order.price)
        case _ as unreachable:
            assert_never(unreachable)


def check_order(order: OrderIntent, oracle_price: int) -> OrderCheck:
    """The gates' view of one order."""
    return OrderCheck(
        user_order_id=order.user_order_id,
        notional_quote=quote_value(order.base, order_price(order, oracle_price)),
        token=order_token(order),
    )


def _usd(quote: int) -> str:
    return f"${to_decimal(quote, QUOTE_PRECISION):f}"


def _bot_block(settings: GateLimits, inputs: GateInputs) -> tuple[GateBlock, str] | None:
    if inputs.sol_lamports < settings.gas_reserve_lamports:
        return GateBlock.GAS_RESERVE, (
            f"wallet {to_decimal(inputs.sol_lamports, LAMPORTS_PER_SOL):f} SOL < gas reserve "
            f"{to_decimal(settings.gas_reserve_lamports, LAMPORTS_PER_SOL):f} SOL"
        )
    if inputs.latency_ms is None:
        return GateBlock.NO_LATENCY_SAMPLE, f"no latency sample yet (max {settings.max_latency_ms} ms)"
    if inputs.latency_ms > settings.max_latency_ms:
        return GateBlock.LATENCY, f"latency {inputs.latency_ms} ms > max {settings.max_latency_ms} ms"
    return None


def _order_block(
    check: OrderCheck, settings: GateLimits, now: int, confirmations: Confirmations
) -> tuple[GateBlock, str] | None:
    notional = check.notional_quote
    cap = settings.max_order_notional_quote
    if cap is not None:
        if notional > cap:
            return GateBlock.ABOVE_ORDER_CAP, f"notional {_usd(notional)} > max_order_notional {_usd(cap)}"
        return None
    threshold = settings.confirm_above_quote
    if notional > threshold and not confirmations.is_confirmed(check.token, now):
        return GateBlock.NEEDS_CONFIRMATION, (
            f"notional {_usd(notional)} > confirm_above {_usd(threshold)}; run `botrunner ctl confirm {check.token}`"
        )
    return None


def check_orders(
    orders: Sequence[OrderIntent],
    oracle_price: int,
    settings: GateLimits,
    inputs: GateInputs,
    confirmations: Confirmations,
) -> GateResult:
    """Split ``orders`` into the ids that may be sent now and the ones held back (with reasons).

    A whole-bot block (gas, latency) takes precedence over an order's own reason: no confirmation can help
    until it clears. Raises ``ValueError`` for an oracle price <= 0 or duplicate user_order_ids.
    """
    if oracle_price <= 0:
        raise ValueError(f"check_orders: oracle_price must be > 0, got {oracle_price}")
    ids = [o.user_order_id for o in orders]
    if len(set(ids)) != len(ids):
        raise ValueError(f"check_orders: duplicate user_order_id in {ids}")
    bot = _bot_block(settings, inputs)
    allowed: list[int] = []
    blocked: list[Blocked] = []
    for order in orders:
        check = check_order(order, oracle_price)
        block = bot or _order_block(check, settings, inputs.now, confirmations)
        if block is None:
            allowed.append(order.user_order_id)
        else:
            reason, why = block
            detail = f"{why} (order notional {_usd(check.notional_quote)})" if block is bot else why
            blocked.append(Blocked(user_order_id=order.user_order_id, reason=reason, detail=detail, token=check.token))
    return GateResult(allowed=tuple(allowed), blocked=tuple(blocked), trading_blocked=bot[0] if bot else None)


def describe(blocked: Blocked) -> str:
    """One line for the WARNING log: which order, why, and the numbers."""
    return f"order {blocked.user_order_id} blocked ({blocked.reason.value}): {blocked.detail}"


def gate_command(command: Command, result: GateResult) -> Command | None:
    """``command`` keeping only the orders ``result`` allows, and every cancel; ``None`` if nothing is left.

    A CancelAndPlace whose orders are all blocked becomes a CancelOrders: cancels are never gated.
    """
    allowed = set(result.allowed)
    match command:
        case CancelOrders():
            return command
        case PlaceOrders(orders=orders, reason=reason):
            kept = tuple(o for o in orders if o.user_order_id in allowed)
            return PlaceOrders(kept, reason) if kept else None
        case CancelAndPlace(cancel_ids=cancel_ids, orders=orders, reason=reason):
            kept = tuple(o for o in orders if o.user_order_id in allowed)
            return CancelAndPlace(cancel_ids, kept, reason) if kept else CancelOrders(cancel_ids, reason)
        case _ as unreachable:
            assert_never(unreachable)


# --- two legs (the delta-neutral engine's PlaceLegs) ---------------------------------------------------------------
#
# A PlaceLegs is ONE all-or-nothing trade, so it is gated whole: either both legs pass or the command is blocked
# (never one leg sent alone, which would be the unhedged exposure the command exists to avoid).
#
# Its notional is the SUM of the legs, not the larger one. The spot leg moves real USDC out of (or into) the
# account and the perp leg adds (or removes) exposure of its own; an operator's "$100 needs a confirmation" is about
# how much one action puts at stake, and a $90 buy + $90 short puts $180 of orders on the chain. The sum is never
# below the larger leg, so it can only ask for a confirmation more often: the conservative choice.
#
# Each leg is priced as a MARKET order is: at the larger of the oracle and its worst-price limit (the spot leg's
# ``limit_price``), because it can fill anywhere up to that limit.


def legs_token(command: PlaceLegs) -> str:
    """``confirmation_token`` of a PlaceLegs: sha256 of both legs' terms (spot market, side, base, limit; the perp
    order's terms as ``order_token`` hashes them), first 12 hex digits. The reason and the perp user_order_id are
    left out, as for orders: they change on a retry while the trade stays the same."""
    spot = command.spot
    spot_terms = "-" if spot is None else f"{spot.spot_market_index}|{spot.side.value}|{spot.base}|{spot.limit_price}"
    perp_terms = "-" if command.perp is None else order_token(command.perp)
    return hashlib.sha256(f"legs-v1|{spot_terms}|{perp_terms}".encode()).hexdigest()[:TOKEN_LENGTH]


def legs_notional(command: PlaceLegs, oracle_price: int, spot_oracle_price: int) -> int:
    """Quote 1e6 the gates measure a PlaceLegs at: the sum of its legs (see above). ``spot_oracle_price`` is the
    spot market's oracle (1e6 per token); the spot ``base`` is taken in 1e9 (SOL's decimals, as ``SpotOrder``
    documents for the engine's spot leg)."""
    total = 0
    if command.spot is not None:
        total += quote_value(command.spot.base, max(spot_oracle_price, command.spot.limit_price))
    if command.perp is not None:
        total += quote_value(command.perp.base, order_price(command.perp, oracle_price))
    return total


def check_legs(
    command: PlaceLegs,
    settings: GateLimits,
    inputs: GateInputs,
    confirmations: Confirmations,
    *,
    oracle_price: int,
    spot_oracle_price: int,
) -> Blocked | None:
    """None when ``command`` may be sent now, else why it is held back (whole). The same rules as
    ``check_orders`` (whole-bot blocks first, then the YAML cap or the confirmation threshold) on the legs' summed
    notional and ``legs_token``. ``Blocked.user_order_id`` is the perp leg's id (0 without a perp leg). Raises
    ``ValueError`` for an oracle price <= 0."""
    if oracle_price <= 0 or spot_oracle_price <= 0:
        raise ValueError(f"check_legs: oracle prices must be > 0, got {oracle_price} and {spot_oracle_price}")
    check = OrderCheck(
        user_order_id=0 if command.perp is None else command.perp.user_order_id,
        notional_quote=legs_notional(command, oracle_price, spot_oracle_price),
        token=legs_token(command),
    )
    bot = _bot_block(settings, inputs)
    block = bot or _order_block(check, settings, inputs.now, confirmations)
    if block is None:
        return None
    reason, why = block
    detail = f"{why} (legs notional {_usd(check.notional_quote)})" if block is bot else f"{why} (both legs)"
    return Blocked(user_order_id=check.user_order_id, reason=reason, detail=detail, token=check.token)
