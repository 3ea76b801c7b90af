"""Venue commands -> Drift instructions, grouped into transactions that fit Solana's 1,232-byte limit.

Every builder here returns :class:`TxPlan` s: the Drift instructions of ONE transaction (without the two
compute-budget instructions, which the transaction pipeline prepends), what the plan is for, and which
``user_order_id`` s it places and cancels. Plans of one command must be sent **in order**, each confirmed before the
next, and the rest abandoned when one fails: that order is what makes a split safe (see
:func:`order_transactions`).

The instructions come from driftpy's synchronous ``get_*_ix`` builders on a client prepared with
``botrunner.live.client.install`` (they read the installed User and the cached markets to list the remaining
accounts; no RPC call). Sizes are measured by compiling the real v0 message (:func:`transaction_size`) with no
address lookup table, exactly as the transaction pipeline builds it. Every builder takes the byte budget ``limit``
from its caller (``TxPipeline.instruction_budget``: 1,232 bytes, less room for a Jito tip when bundles are on) and
raises :class:`InstructionError` rather than return a plan over it.

Amounts in Drift precisions: price 1e6, base 1e9, spot tokens in their mint's decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final, assert_never

import structlog
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from botrunner.connector.commands import CancelAndPlace, CancelOrders, PlaceOrders
from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.policy import PostOnlyMode
from botrunner.core.side import Side
from botrunner.venue.port import ModifyOrder, PlaceLegs, SpotOrder

if TYPE_CHECKING:  # driftpy is imported where it is used (a paper fleet never loads it)
    from driftpy.drift_client import DriftClient
    from driftpy.types import (
        OrderParams,
        PhoenixV1FulfillmentConfigAccount,
        PositionDirection,
        PostOnlyParams,
        UserAccount,
    )

_log = structlog.get_logger()

# Drift ModifyOrderPolicy bit (protocol-v2 `ModifyOrderPolicy::MustModify`): fail the transaction when the order is
# gone, so a modify of a filled/cancelled order surfaces as a simulation error instead of silently doing nothing.
# (The IDL types `policy` as a u8 bitmask; driftpy's ModifyOrderPolicy enum does not encode.)
MODIFY_POLICY_MUST_MODIFY: Final = 1
MAX_USER_NAME_BYTES: Final = 32


class InstructionError(ValueError):
    """A command that cannot be turned into Drift instructions (a post-only market order, an instruction too big
    for one transaction, a subaccount whose User is not installed on the client)."""


@dataclass(frozen=True)
class TxPlan:
    """One transaction's Drift instructions, without compute-budget instructions (the pipeline adds them).

    ``places``/``cancels``/``modifies`` list the ``user_order_id`` s this transaction places, cancels and
    modifies, in instruction order."""

    what: str
    instructions: tuple[Instruction, ...]
    places: tuple[int, ...] = ()
    cancels: tuple[int, ...] = ()
    modifies: tuple[int, ...] = ()


# --- sizes ------------------------------------------------------------------------------------------------------


def transaction_size(payer: Pubkey, instructions: Sequence[Instruction]) -> int:
    """Bytes of the signed v0 transaction paying from ``payer`` and holding the two compute-budget instructions
    (limit + price: fixed-size data, so their values do not matter) followed by ``instructions``, with no address
    lookup table: the message serialized with as many (placeholder) signatures as it requires."""
    budget = [set_compute_unit_limit(0), set_compute_unit_price(0)]
    message = MessageV0.try_compile(payer, [*budget, *instructions], [], Hash.default())
    signatures = [Signature.default()] * message.header.num_required_signatures
    return len(bytes(VersionedTransaction.populate(message, signatures)))


def _fits(payer: Pubkey, instructions: Sequence[Instruction], limit: int) -> bool:
    return transaction_size(payer, instructions) <= limit


def _largest(hi: int, fits: Callable[[int], bool]) -> int:
    """The largest n in 0..hi with ``fits(n)``, for ``fits`` monotone (true up to some n, false after);
    ``fits(0)`` is taken as true."""
    if hi == 0 or fits(hi):
        return hi  # the usual case (everything fits one transaction): one compile, no search
    hi -= 1
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


# --- orders -----------------------------------------------------------------------------------------------------


def _post_only(mode: PostOnlyMode) -> PostOnlyParams:
    from driftpy.types import PostOnlyParams

    params: PostOnlyParams  # driftpy's enum constructors are untyped: the variable says what they make
    match mode:
        case PostOnlyMode.NONE:
            params = PostOnlyParams.NONE()
        case PostOnlyMode.MUST_POST_ONLY:
            params = PostOnlyParams.MustPostOnly()
        case PostOnlyMode.TRY_POST_ONLY:
            params = PostOnlyParams.TryPostOnly()
        case PostOnlyMode.SLIDE:
            params = PostOnlyParams.Slide()
        case _ as unreachable:
            assert_never(unreachable)
    return params


def _direction(side: Side) -> PositionDirection:
    from driftpy.types import PositionDirection

    direction: PositionDirection  # driftpy's enum constructors are untyped: the variable says what they make
    match side:
        case Side.BUY:
            direction = PositionDirection.Long()
        case Side.SELL:
            direction = PositionDirection.Short()
        case _ as unreachable:
            assert_never(unreachable)
    return direction


def order_params(intent: OrderIntent, market_index: int) -> OrderParams:
    """driftpy ``OrderParams`` for ``intent`` on perp market ``market_index``.

    LIMIT -> ``OrderType.Limit()`` at ``price``; ORACLE_OFFSET -> ``OrderType.Limit()`` with price 0 and
    ``oracle_price_offset`` (Drift's resting oracle-pegged order); MARKET -> ``OrderType.Market()`` with the auction
    fields left ``None`` so the program derives its own auction (``price`` > 0 is the worst fill price). A MARKET
    order cannot be post-only (Drift refuses it): raises :class:`InstructionError`. ``max_ts`` 0 (no expiry) ->
    ``None``."""
    from driftpy.types import MarketType, OrderParams
    from driftpy.types import OrderType as DriftOrderType

    where = f"order {intent.user_order_id}"
    offset: int | None = None
    match intent.order_type:
        case OrderType.LIMIT:
            kind = DriftOrderType.Limit()
        case OrderType.ORACLE_OFFSET:
            kind = DriftOrderType.Limit()
            offset = intent.oracle_price_offset
        case OrderType.MARKET:
            if intent.post_only is not PostOnlyMode.NONE:
                raise InstructionError(f"{where}: a MARKET order cannot be post-only ({intent.post_only.value})")
            kind = DriftOrderType.Market()
        case _ as unreachable:
            assert_never(unreachable)
    return OrderParams(
        order_type=kind,
        market_type=MarketType.Perp(),
        market_index=market_index,
        direction=_direction(intent.side),
        base_asset_amount=intent.base,
        price=intent.price,
        user_order_id=intent.user_order_id,
        reduce_only=intent.reduce_only,
        post_only=_post_only(intent.post_only),
        max_ts=intent.max_ts or None,
        oracle_price_offset=offset,
        auction_duration=None,
        auction_start_price=None,
        auction_end_price=None,
    )


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _describe(cancels: int, places: int) -> str:
    if cancels and places:
        return f"cancel {cancels} + place {places}"
    if cancels:
        return f"cancel {_counted(cancels, 'order')}"
    return f"place {_counted(places, 'order')}"


def order_transactions(
    client: DriftClient,
    command: PlaceOrders | CancelOrders | CancelAndPlace | ModifyOrder,
    *,
    market_index: int,
    sub_account_id: int,
    payer: Pubkey,
    limit: int,
) -> tuple[TxPlan, ...]:
    """The transactions that perform ``command``, to be sent in the returned order.

    Every transaction's :func:`transaction_size` is at most ``limit`` bytes (pass the pipeline's
    ``instruction_budget``, which keeps room for the Jito tip it may append).

    * ``PlaceOrders`` -> one ``place_orders`` instruction (<= 32 orders); when the orders do not fit one
      transaction they are split into several ``place_orders`` transactions, keeping their order.
    * ``CancelOrders`` -> one ``cancel_order_by_user_id`` instruction per id, as many per transaction as fit.
    * ``CancelAndPlace`` -> ONE transaction holding the cancels then the ``place_orders``, so the replacement is
      atomic. If that cannot fit, it is split: the first transaction(s) carry the cancels, the later ones the
      places (the last cancel transaction takes the first places if they fit after its cancels). A place never
      precedes one of its cancels, so between two transactions the exposure the orders add can only have dropped:
      if a later transaction fails, the account is left with fewer orders, never more, and never with an id still
      in use when it is placed again.
    * ``ModifyOrder`` -> one ``modify_order_by_user_id`` with ``policy = MustModify`` (a modify of an order that is
      gone fails instead of silently doing nothing).

    Raises :class:`InstructionError` if a single instruction cannot fit at all (e.g. a tiny ``limit``).
    """
    match command:
        case PlaceOrders(orders=orders):
            return _cancel_then_place(
                client, (), orders, market_index=market_index, sub_account_id=sub_account_id, payer=payer, limit=limit
            )
        case CancelOrders(user_order_ids=ids):
            return _cancel_then_place(
                client, ids, (), market_index=market_index, sub_account_id=sub_account_id, payer=payer, limit=limit
            )
        case CancelAndPlace(cancel_ids=ids, orders=orders):
            plans = _cancel_then_place(
                client, ids, orders, market_index=market_index, sub_account_id=sub_account_id, payer=payer, limit=limit
            )
            if len(plans) == 1:
                return (replace(plans[0], what=f"{plans[0].what} (atomic)"),)
            _log.info(
                "cancel_and_place_split",
                cancels=len(ids),
                places=len(orders),
                transactions=len(plans),
                limit_bytes=limit,
            )
            return plans
        case ModifyOrder():
            return (_modify(client, command, sub_account_id, payer, limit),)
        case _ as unreachable:
            assert_never(unreachable)


def _cancel_then_place(
    client: DriftClient,
    cancel_ids: tuple[int, ...],
    orders: tuple[OrderIntent, ...],
    *,
    market_index: int,
    sub_account_id: int,
    payer: Pubkey,
    limit: int,
) -> tuple[TxPlan, ...]:
    """Greedy packing of the cancels, then the places, into as few transactions as fit, in order."""
    cancel_ixs = [client.get_cancel_order_by_user_id_ix(uid, sub_account_id) for uid in cancel_ids]
    params = [order_params(o, market_index) for o in orders]

    def place_ix(lo: int, hi: int) -> list[Instruction]:
        return [client.get_place_orders_ix(params[lo:hi], sub_account_id)] if hi > lo else []

    def next_batch(c0: int, p0: int) -> tuple[int, int]:
        """The ends (exclusive) of the cancels and places the transaction starting at ``c0``/``p0`` holds."""
        c1 = c0 + _largest(len(cancel_ixs) - c0, lambda k: _fits(payer, cancel_ixs[c0 : c0 + k], limit))
        if c1 < len(cancel_ixs):  # places only once every cancel is in (this one or an earlier transaction)
            return c1, p0
        # Every place_orders stays within Drift's 32 orders: PlaceOrders and CancelAndPlace refuse more on creation.
        head = cancel_ixs[c0:c1]
        return c1, p0 + _largest(len(params) - p0, lambda m: _fits(payer, [*head, *place_ix(p0, p0 + m)], limit))

    batches: list[tuple[int, int, int, int]] = []  # (cancel lo, cancel hi, place lo, place hi)
    c = p = 0
    while c < len(cancel_ixs) or p < len(params):
        c1, p1 = next_batch(c, p)
        if (c1, p1) == (c, p):
            raise InstructionError(f"one Drift order instruction does not fit {limit} bytes")
        batches.append((c, c1, p, p1))
        c, p = c1, p1
    total = len(batches)
    whole = _describe(len(cancel_ids), len(orders))
    plans = []
    for i, (c0, c1, p0, p1) in enumerate(batches, 1):
        what = _describe(c1 - c0, p1 - p0)
        if total > 1:
            what = f"{what} (tx {i}/{total} of {whole})"
        plans.append(
            TxPlan(
                what=what,
                instructions=(*cancel_ixs[c0:c1], *place_ix(p0, p1)),
                places=tuple(o.user_order_id for o in orders[p0:p1]),
                cancels=cancel_ids[c0:c1],
            )
        )
    return tuple(plans)


def _modify(client: DriftClient, command: ModifyOrder, sub_account_id: int, payer: Pubkey, limit: int) -> TxPlan:
    from driftpy.types import ModifyOrderParams

    if command.price is None and command.base is None and command.max_ts is None:
        raise InstructionError(f"modify of order {command.user_order_id} changes nothing")
    params = ModifyOrderParams(
        base_asset_amount=command.base,
        price=command.price,
        max_ts=command.max_ts,  # 0 = no expiry, as in the order itself; None = unchanged
        policy=MODIFY_POLICY_MUST_MODIFY,  # type: ignore[arg-type]  # the IDL's u8; driftpy's enum does not encode
    )
    ix = client.get_modify_order_by_user_id_ix(command.user_order_id, params, sub_account_id)
    return _single(f"modify order {command.user_order_id}", [ix], payer, limit, modifies=(command.user_order_id,))


def _single(
    what: str, instructions: Sequence[Instruction], payer: Pubkey, limit: int, *, modifies: tuple[int, ...] = ()
) -> TxPlan:
    size = transaction_size(payer, instructions)
    if size > limit:
        raise InstructionError(f"{what}: {size} bytes, over the {limit}-byte limit")
    return TxPlan(what=what, instructions=tuple(instructions), modifies=modifies)


# --- account operations -----------------------------------------------------------------------------------------
#
# One transaction each, checked against the caller's ``limit`` (InstructionError when over). Measured sizes for a
# User holding USDC, SOL and a SOL-PERP position: settle_pnl 531 bytes, deposit 639 (USDC) / 880 (SOL: create +
# init a wrapped-SOL account, deposit, close), withdraw 811 (USDC with create-ATA) / 913 (SOL), transfer 605,
# initialize subaccount + stats 449. Each further market the User holds adds ~66 bytes (market + oracle keys and
# their indexes), so a User spread over many markets can exceed the 1,151 bytes left beside a Jito tip.


def _user_account(client: DriftClient, sub_account_id: int) -> UserAccount:
    user = client.users.get(sub_account_id)
    account: UserAccount | None = None if user is None else user.get_user_account()  # driftpy: untyped
    if account is None:
        raise InstructionError(f"subaccount {sub_account_id}: its User is not installed on the client")
    return account


def _wallet(client: DriftClient) -> Pubkey:
    return client.wallet.public_key


def _positive(amount: int, what: str) -> None:
    if amount <= 0:
        raise InstructionError(f"{what}: amount must be > 0, got {amount}")


def _is_wrapped_sol(client: DriftClient, spot_market_index: int) -> bool:
    from driftpy.constants.spot_markets import WRAPPED_SOL_MINT

    market = client.get_spot_market_account(spot_market_index)
    if market is None:
        raise InstructionError(f"spot market {spot_market_index} is not installed on the client")
    return market.mint == WRAPPED_SOL_MINT  # type: ignore[no-any-return]


def _token_account(client: DriftClient, spot_market_index: int) -> Pubkey:
    """Where tokens come from / go to: the wallet's associated token account, except for wrapped SOL where the
    wallet itself is passed, which makes driftpy wrap native SOL in a temporary account and close it after."""
    if _is_wrapped_sol(client, spot_market_index):
        return _wallet(client)
    return client.get_associated_token_account_public_key(spot_market_index)


def settle_pnl_transaction(client: DriftClient, *, sub_account_id: int, market_index: int, limit: int) -> TxPlan:
    """``settle_pnl`` of perp market ``market_index`` for subaccount ``sub_account_id`` (moves its unsettled PnL
    into or out of the USDC balance, positive PnL up to the market's PnL pool)."""
    ix = client.get_settle_pnl_ix(
        client.get_user_account_public_key(sub_account_id), _user_account(client, sub_account_id), market_index
    )
    return _single(f"settle pnl of perp {market_index}", [ix], _wallet(client), limit)


async def deposit_transaction(
    client: DriftClient, *, amount: int, spot_market_index: int, sub_account_id: int, limit: int
) -> TxPlan:
    """Deposit ``amount`` tokens (mint decimals) into spot market ``spot_market_index`` of ``sub_account_id``.

    USDC comes from the wallet's associated token account. SOL comes from the wallet's native balance: driftpy
    creates a temporary wrapped-SOL account (seeded from the wallet, so no extra signer), deposits and closes it.
    driftpy's builder is async but makes no RPC call for a deposit."""
    _positive(amount, "deposit")
    _user_account(client, sub_account_id)
    ixs = await client.get_deposit_collateral_ix(
        amount, spot_market_index, _token_account(client, spot_market_index), sub_account_id, False, True
    )
    return _single(f"deposit {amount} to spot {spot_market_index}", ixs, _wallet(client), limit)


async def withdraw_transaction(
    client: DriftClient, *, amount: int, spot_market_index: int, sub_account_id: int, limit: int
) -> TxPlan:
    """Withdraw ``amount`` tokens (mint decimals) from spot market ``spot_market_index`` of ``sub_account_id``,
    ALWAYS ``reduce_only`` so a withdrawal can never open a borrow.

    USDC goes to the wallet's associated token account. driftpy checks that account with ``get_account_info`` on
    ``client.connection`` (the one RPC call here) and prepends an idempotent create-ATA instruction when it is
    missing. SOL goes to a temporary wrapped-SOL account closed into the wallet (no RPC call)."""
    _positive(amount, "withdraw")
    _user_account(client, sub_account_id)
    ixs = await client.get_withdraw_collateral_ix(
        amount, spot_market_index, _token_account(client, spot_market_index), True, sub_account_id
    )
    return _single(f"withdraw {amount} from spot {spot_market_index}", ixs, _wallet(client), limit)


def transfer_transaction(
    client: DriftClient, *, amount: int, spot_market_index: int, from_sub: int, to_sub: int, limit: int
) -> TxPlan:
    """``transfer_deposit``: move ``amount`` tokens of spot market ``spot_market_index`` from subaccount
    ``from_sub`` to ``to_sub`` of the same authority.

    Built from the IDL on ``client.program`` with the same accounts as driftpy's builder, because that builder is
    async and fetches a User it does not hold over RPC; here both Users must be installed on the client
    (``install_user(client, sub, user, slot=...)`` for the destination, as ``DriftVenue`` does before building), so
    the call stays synchronous and pure."""
    from anchorpy.program.context import Context

    _positive(amount, "transfer")
    if from_sub == to_sub:
        raise InstructionError(f"transfer: from and to are both subaccount {from_sub}")
    from_user, to_user = _user_account(client, from_sub), _user_account(client, to_sub)
    market = client.get_spot_market_account(spot_market_index)
    if market is None:
        raise InstructionError(f"spot market {spot_market_index} is not installed on the client")
    remaining = client.get_remaining_accounts(
        writable_spot_market_indexes=[spot_market_index], user_accounts=[from_user, to_user]
    )
    ix = client.program.instruction["transfer_deposit"](
        spot_market_index,
        amount,
        ctx=Context(
            accounts={
                "state": client.get_state_public_key(),  # type: ignore[no-untyped-call]  # driftpy: unannotated
                "user_stats": client.get_user_stats_public_key(),  # type: ignore[no-untyped-call]  # driftpy: unannotated
                "from_user": client.get_user_account_public_key(from_sub),
                "to_user": client.get_user_account_public_key(to_sub),
                "authority": _wallet(client),
                "spot_market_vault": market.vault,
            },
            remaining_accounts=remaining,
        ),
    )
    return _single(
        f"transfer {amount} of spot {spot_market_index} from sub {from_sub} to sub {to_sub}",
        [ix],
        _wallet(client),
        limit,
    )


def initialize_subaccount_transaction(
    client: DriftClient, *, sub_account_id: int, name: str, stats_exist: bool, limit: int
) -> TxPlan:
    """Create User ``sub_account_id`` (rent paid by the wallet), preceded by ``initialize_user_stats`` when the
    authority has no UserStats yet. Drift requires ids in sequence (``sub_account_id`` equal to the number already
    created), so without stats only subaccount 0 can be created. ``name`` is at most 32 ASCII characters."""
    if not stats_exist and sub_account_id != 0:
        raise InstructionError(f"subaccount {sub_account_id}: without UserStats only subaccount 0 can be created")
    # ASCII only: driftpy's encode_name pads by character count, which corrupts multi-byte UTF-8.
    if not name.isascii() or len(name) > MAX_USER_NAME_BYTES:
        raise InstructionError(f"subaccount name {name!r} must be at most {MAX_USER_NAME_BYTES} ASCII characters")
    # driftpy leaves get_initialize_user_stats unannotated
    ixs = [] if stats_exist else [client.get_initialize_user_stats()]  # type: ignore[no-untyped-call]
    ixs.append(client.get_initialize_user_instructions(sub_account_id, name))
    return _single(f"initialize subaccount {sub_account_id}", ixs, _wallet(client), limit)


# --- two legs (delta-neutral) ------------------------------------------------------------------------------------
#
# Atomicity (protocol-v2 programs/drift/src/instructions/user.rs): a transaction's instructions land together or
# not at all, so both legs go in ONE transaction and the question is only what makes a leg's *partial* fill fail the
# transaction. ``handle_place_and_take_perp_order(params, optional_params)`` ends with
# ``validate!(base_asset_amount_filled > 0 && !order_unfilled, PlaceAndTakeOrderSuccessConditionFailed)`` when the
# low byte of ``optional_params`` is ``PlaceAndTakeOrderSuccessCondition::FullFill`` (2): a perp leg that does not
# fill in full within its worst-price limit errors, and the error reverts the spot instruction before it too. The
# spot handler ``handle_place_and_take_spot_order(params, fulfillment_type, maker_order_id)`` has no success
# condition: an immediate-or-cancel spot order that fills partly is cancelled for the rest and the instruction
# succeeds. The spot leg therefore goes FIRST and the perp leg LAST, so the perp's FullFill check is the last word;
# the residual risk (a partial spot fill beside a full perp fill) shows up in the fills read back after
# confirmation and is bounded by the strategy's leg-mismatch halt.

# PlaceAndTakeOrderSuccessCondition::FullFill in the low byte; bits 8..15 are the auction-duration percentage the
# fill may walk through (100 = the whole auction, i.e. up to the order's worst-price limit).
PERP_FULL_FILL: Final = 2 | (100 << 8)


def spot_order_params(order: SpotOrder) -> OrderParams:
    """driftpy ``OrderParams`` for an immediate-or-cancel LIMIT order on spot market ``order.spot_market_index``:
    ``limit_price`` is the worst price (1e6), ``base`` the token amount (mint decimals).

    A SELL is reduce-only: on Drift a spot sell beyond the tokens held BORROWS the rest, which only a reversed
    carry would want (``allow_reverse``, refused for a two-leg bot by ``strategies.carry_settings``'s
    ``CarrySettings.validate``); the paper venue refuses such a sell, and reduce-only makes the chain never borrow."""
    from driftpy.types import MarketType, OrderParams, OrderParamsBitFlag
    from driftpy.types import OrderType as DriftOrderType

    if order.base <= 0 or order.limit_price <= 0:
        raise InstructionError(
            f"spot leg on market {order.spot_market_index}: base and limit_price must be > 0 "
            f"(got {order.base}, {order.limit_price})"
        )
    return OrderParams(
        order_type=DriftOrderType.Limit(),
        market_type=MarketType.Spot(),
        market_index=order.spot_market_index,
        direction=_direction(order.side),
        base_asset_amount=order.base,
        price=order.limit_price,
        bit_flags=OrderParamsBitFlag.IMMEDIATE_OR_CANCEL,
        post_only=_post_only(PostOnlyMode.NONE),
        reduce_only=order.side is Side.SELL,
    )


def _spot_leg_ix(
    client: DriftClient, order: SpotOrder, sub_account_id: int, fulfillment: PhoenixV1FulfillmentConfigAccount | None
) -> Instruction:
    """``place_and_take_spot_order``: an IOC limit order that Drift fills at once on the external book of
    ``fulfillment`` (Phoenix: ``SpotFulfillmentType::PhoenixV1`` and its ten accounts after the user's, in the
    order protocol-v2 ``PhoenixFulfillmentParams::new`` reads them, as driftpy's ``add_phoenix_remaining_accounts``
    lists them), or, with ``fulfillment`` None, Match against the makers passed: none, so it fills nothing (a
    bot never sends that: config validation requires a venue for a live two-leg bot; it is what tests of the
    envelope build). Built from the IDL because driftpy's own builder passes its fulfillment *config* where the IDL
    expects the ``SpotFulfillmentType`` enum (it cannot encode a config)."""
    from anchorpy.program.context import Context
    from driftpy.constants.numeric_constants import QUOTE_SPOT_MARKET_INDEX
    from driftpy.types import SpotFulfillmentType

    params = spot_order_params(order)
    market = client.get_spot_market_account(order.spot_market_index)
    if market is None or client.get_spot_market_account(QUOTE_SPOT_MARKET_INDEX) is None:
        raise InstructionError(f"spot market {order.spot_market_index} (or USDC) is not installed on the client")
    remaining = client.get_remaining_accounts(
        user_accounts=[_user_account(client, sub_account_id)],
        writable_spot_market_indexes=[order.spot_market_index, QUOTE_SPOT_MARKET_INDEX],
    )
    if fulfillment is None:
        kind = SpotFulfillmentType.MATCH()
    else:
        if int(fulfillment.market_index) != order.spot_market_index:
            raise InstructionError(
                f"spot leg on market {order.spot_market_index}: the fulfilment config {fulfillment.pubkey} is for "
                f"market {fulfillment.market_index}"
            )
        kind = SpotFulfillmentType.PHOENIX_V1()
        client.add_phoenix_remaining_accounts(order.spot_market_index, remaining, fulfillment)
    return client.program.instruction["place_and_take_spot_order"](
        params,
        kind,
        None,
        ctx=Context(
            accounts={
                "state": client.get_state_public_key(),  # type: ignore[no-untyped-call]  # driftpy: unannotated
                "user": client.get_user_account_public_key(sub_account_id),
                "user_stats": client.get_user_stats_public_key(),  # type: ignore[no-untyped-call]  # driftpy: unannotated
                "authority": _wallet(client),
            },
            remaining_accounts=remaining,
        ),
    )


def _perp_leg_ix(client: DriftClient, intent: OrderIntent, market_index: int, sub_account_id: int) -> Instruction:
    """``place_and_take_perp_order`` with success condition FullFill (see above), accounts as driftpy lists them."""
    from anchorpy.program.context import Context

    if intent.order_type is not OrderType.MARKET:
        raise InstructionError(
            f"perp leg {intent.user_order_id}: must be a MARKET order, got {intent.order_type.value}"
        )
    if intent.price <= 0:
        raise InstructionError(f"perp leg {intent.user_order_id}: its worst-price limit must be > 0")
    from driftpy.types import OrderParamsBitFlag

    # IOC as well: whatever does not fill is cancelled rather than left resting (FullFill then reverts it all).
    params = replace(order_params(intent, market_index), bit_flags=OrderParamsBitFlag.IMMEDIATE_OR_CANCEL)
    remaining = client.get_remaining_accounts(
        writable_perp_market_indexes=[market_index], user_accounts=[_user_account(client, sub_account_id)]
    )
    return client.program.instruction["place_and_take_perp_order"](
        params,
        PERP_FULL_FILL,
        ctx=Context(
            accounts={
                "state": client.get_state_public_key(),  # type: ignore[no-untyped-call]  # driftpy: unannotated
                "user": client.get_user_account_public_key(sub_account_id),
                "user_stats": client.get_user_stats_public_key(),  # type: ignore[no-untyped-call]  # driftpy: unannotated
                "authority": _wallet(client),
            },
            remaining_accounts=remaining,
        ),
    )


def legs_transaction(
    client: DriftClient,
    command: PlaceLegs,
    *,
    market_index: int,
    sub_account_id: int,
    limit: int,
    fulfillment: PhoenixV1FulfillmentConfigAccount | None = None,
) -> TxPlan:
    """ONE transaction for both legs of ``command``: the spot ``place_and_take_spot_order`` (IOC, filled on the
    ``fulfillment`` venue) first, then the perp ``place_and_take_perp_order`` with FullFill (either may be absent).
    Never split: over ``limit`` bytes raises :class:`InstructionError`, which refuses the whole command.

    A partial spot fill does not revert the transaction (spot place-and-take has no success condition): the perp
    leg is filled in full, and what the spot leg missed is delta drift the next reading measures (see
    docs/delta-neutral.md, "Live")."""
    ixs: list[Instruction] = []
    parts: list[str] = []
    if command.spot is not None:
        ixs.append(_spot_leg_ix(client, command.spot, sub_account_id, fulfillment))
        parts.append(f"spot {command.spot.side.value} {command.spot.base} on {command.spot.spot_market_index}")
    if command.perp is not None:
        ixs.append(_perp_leg_ix(client, command.perp, market_index, sub_account_id))
        parts.append(f"perp {command.perp.side.value} {command.perp.base} (full fill)")
    what = f"legs {command.reason}: " + " + ".join(parts)
    places = () if command.perp is None else (command.perp.user_order_id,)
    plan = _single(what, ixs, _wallet(client), limit)
    return replace(plan, places=places)
