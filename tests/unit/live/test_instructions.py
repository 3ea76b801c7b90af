"""Venue commands -> Drift instructions and transaction plans (botrunner.live.instructions), offline.

The client is driftpy's, built with ``botrunner.live.client.drift_client`` against an unreachable RPC URL and fed
the bundled real SOL-PERP / USDC / SOL market accounts plus a synthetic User through ``install``. Every instruction
is decoded back through the IDL and compared with what was asked, and its accounts with driftpy's PDA helpers.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from collections.abc import Callable
from importlib import resources
from types import SimpleNamespace
from typing import Any

import pytest
from driftpy.addresses import (
    get_drift_client_signer_public_key,
    get_perp_market_public_key,
    get_spot_market_vault_public_key,
    get_state_public_key,
    get_user_account_public_key,
    get_user_stats_account_public_key,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solana.rpc.async_api import AsyncClient
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from botrunner.connector.commands import (
    CancelAndPlace,
    CancelOrders,
    PlaceOrders,
    PlanReason,
    cancelled_ids,
    placed_orders,
)
from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import MAX_ORDERS_PER_PLACE_ORDERS, MAX_TRANSACTION_BYTES
from botrunner.core.side import Side
from botrunner.drift.codec import decode_account
from botrunner.live.client import ChainState, drift_client, install
from botrunner.live.instructions import (
    MODIFY_POLICY_MUST_MODIFY,
    InstructionError,
    TxPlan,
    _largest,
    deposit_transaction,
    initialize_subaccount_transaction,
    order_params,
    order_transactions,
    settle_pnl_transaction,
    transaction_size,
    transfer_transaction,
    withdraw_transaction,
)
from botrunner.live.jito import TIP_TRANSFER_BYTES
from botrunner.venue.port import ModifyOrder
from tests.support.drift import user_bytes

SUB = 1
PERP = 0
USDC = 0
SOL = 1
NOW = 1_700_000_000
LIMIT = MAX_TRANSACTION_BYTES - TIP_TRANSFER_BYTES
KEYPAIR = Keypair.from_seed(bytes(range(32)))
PAYER = KEYPAIR.pubkey()


# --- fixtures ---------------------------------------------------------------------------------------------------


@functools.cache
def _markets() -> tuple[Any, Any, Any]:
    raw = json.loads(resources.files("botrunner.data").joinpath("accounts/drift_markets.json").read_text())
    perp = decode_account(base64.b64decode(raw["perp_markets"][0]["b64"]), expect="PerpMarket", what="SOL-PERP")
    usdc, sol = (
        decode_account(base64.b64decode(e["b64"]), expect="SpotMarket", what=e["what"]) for e in raw["spot_markets"]
    )
    assert (perp.market_index, usdc.market_index, sol.market_index) == (PERP, USDC, SOL)
    return perp, usdc, sol


def _user(sub_account_id: int, *, busy: bool) -> Any:
    """A synthetic User of ``KEYPAIR``; ``busy`` adds a USDC and a SOL deposit and a SOL-PERP position, which
    lengthen every instruction's remaining accounts (spot 1 and its oracle)."""
    raw = user_bytes(
        authority=PAYER,
        sub_account_id=sub_account_id,
        usdc_scaled_balance=10**12 if busy else 0,
        sol_scaled_balance=10**9 if busy else 0,
        perp_market_index=PERP,
        perp_base=10**9 if busy else 0,  # 1 SOL long
    )
    return decode_account(raw, expect="User", what="synthetic user")


def _client(*, busy: bool = False, subs: tuple[int, ...] = (SUB,)) -> Any:
    perp, usdc, sol = _markets()
    client = drift_client(
        AsyncClient("http://127.0.0.1:1"), KEYPAIR, authority=PAYER, sub_account_id=SUB, perp_market_index=PERP
    )
    for sub in subs:
        state = ChainState(slot=7, user=_user(sub, busy=busy), perp_market=perp, spot_markets={USDC: usdc, SOL: sol})
        install(client, state, sub_account_id=sub)
    return client


def test_install_when_the_user_is_gone_then_the_client_no_longer_holds_it() -> None:
    client = _client()
    perp, usdc, sol = _markets()
    install(
        client, ChainState(slot=8, user=None, perp_market=perp, spot_markets={USDC: usdc, SOL: sol}), sub_account_id=SUB
    )
    assert SUB not in client.users
    with pytest.raises(InstructionError, match="not installed"):
        asyncio.run(withdraw_transaction(client, amount=1, spot_market_index=USDC, sub_account_id=SUB, limit=LIMIT))


@functools.cache
def _shared_client(busy: bool) -> Any:
    """Read-only clients for the property tests (building instructions does not mutate the client)."""
    return _client(busy=busy)


def _intent(uid: int, **kw: Any) -> OrderIntent:
    fields: dict[str, Any] = dict(
        user_order_id=uid,
        side=Side.BUY,
        price=149_250_000,
        base=100_000_000,
        post_only=PostOnlyMode.MUST_POST_ONLY,
        reduce_only=False,
        max_ts=NOW + 60,
        placed_at=NOW,
        anchor_price=150_000_000,
    )
    fields.update(kw)
    return OrderIntent(**fields)


def _parse(client: Any, ix: Instruction) -> Any:
    return client.program.coder.instruction.parse(bytes(ix.data))


def _variant(value: Any) -> str:
    return type(value).__name__


def _keys(ix: Instruction) -> list[Pubkey]:
    return [a.pubkey for a in ix.accounts]


def _program_id(client: Any) -> Pubkey:
    return client.program_id  # type: ignore[no-any-return]


def _assert_trading_accounts(client: Any, ix: Instruction) -> None:
    """state, user (writable), authority (the signer), in the IDL order, for order instructions."""
    pid = _program_id(client)
    state, user, authority = ix.accounts[:3]
    assert state.pubkey == get_state_public_key(pid) == client.get_state_public_key()
    assert user.pubkey == get_user_account_public_key(pid, PAYER, SUB) == client.get_user_account_public_key(SUB)
    assert user.is_writable and not user.is_signer
    assert authority.pubkey == PAYER and authority.is_signer
    assert ix.program_id == pid


def _signed_size(payer_kp: Keypair, ixs: list[Instruction]) -> int:
    budget = [set_compute_unit_limit(300_000), set_compute_unit_price(12_345)]
    message = MessageV0.try_compile(payer_kp.pubkey(), [*budget, *ixs], [], Hash.default())
    return len(bytes(VersionedTransaction(message, [payer_kp])))


def _flat(plans: tuple[TxPlan, ...]) -> list[Instruction]:
    return [ix for plan in plans for ix in plan.instructions]


# --- order params -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "variant"),
    [
        (PostOnlyMode.NONE, "NONE"),
        (PostOnlyMode.MUST_POST_ONLY, "MustPostOnly"),
        (PostOnlyMode.TRY_POST_ONLY, "TryPostOnly"),
        (PostOnlyMode.SLIDE, "Slide"),
    ],
)
def test_order_params_when_post_only_mode_then_matching_driftpy_variant(mode: PostOnlyMode, variant: str) -> None:
    assert _variant(order_params(_intent(3, post_only=mode), PERP).post_only) == variant


def test_order_params_when_max_ts_zero_then_no_expiry() -> None:
    assert order_params(_intent(3, max_ts=0), PERP).max_ts is None


def test_order_params_when_market_post_only_then_error() -> None:
    with pytest.raises(InstructionError, match="MARKET order cannot be post-only"):
        order_params(_intent(3, order_type=OrderType.MARKET, post_only=PostOnlyMode.MUST_POST_ONLY), PERP)


def test_order_params_when_market_then_market_type_and_no_auction_fields() -> None:
    p = order_params(_intent(3, order_type=OrderType.MARKET, post_only=PostOnlyMode.NONE, price=0), PERP)
    assert _variant(p.order_type) == "Market"
    assert (p.auction_duration, p.auction_start_price, p.auction_end_price, p.oracle_price_offset) == (None,) * 4


# --- each command, decoded ----------------------------------------------------------------------------------------


def test_place_orders_when_ladder_then_one_place_orders_ix_decoding_to_the_intents() -> None:
    client = _client()
    perp, usdc, _ = _markets()
    orders = (
        _intent(1, side=Side.BUY, price=149_000_000, base=50_000_000, post_only=PostOnlyMode.MUST_POST_ONLY),
        _intent(2, side=Side.SELL, price=151_000_000, base=70_000_000, post_only=PostOnlyMode.TRY_POST_ONLY),
        _intent(
            3,
            side=Side.SELL,
            price=0,
            order_type=OrderType.ORACLE_OFFSET,
            oracle_price_offset=-250_000,
            reduce_only=True,
            post_only=PostOnlyMode.SLIDE,
            max_ts=0,
        ),
        _intent(4, order_type=OrderType.MARKET, post_only=PostOnlyMode.NONE, price=155_000_000, reduce_only=True),
    )
    plans = order_transactions(
        client,
        PlaceOrders(orders, PlanReason.LADDER_EMPTY),
        market_index=PERP,
        sub_account_id=SUB,
        payer=PAYER,
        limit=LIMIT,
    )
    assert len(plans) == 1
    (plan,) = plans
    assert plan.what == "place 4 orders" and plan.places == (1, 2, 3, 4) and plan.cancels == ()
    (ix,) = plan.instructions
    decoded = _parse(client, ix)
    assert decoded.name == "place_orders"
    got = decoded.data.params
    assert [p.user_order_id for p in got] == [1, 2, 3, 4]
    assert all(p.market_index == PERP and _variant(p.market_type) == "Perp" for p in got)
    assert [_variant(p.direction) for p in got] == ["Long", "Short", "Short", "Long"]
    assert [p.base_asset_amount for p in got] == [50_000_000, 70_000_000, 100_000_000, 100_000_000]
    assert [p.price for p in got] == [149_000_000, 151_000_000, 0, 155_000_000]
    assert [_variant(p.post_only) for p in got] == ["MustPostOnly", "TryPostOnly", "Slide", "None"]
    assert [p.reduce_only for p in got] == [False, False, True, True]
    assert [p.max_ts for p in got] == [NOW + 60, NOW + 60, None, NOW + 60]
    assert [p.oracle_price_offset for p in got] == [None, None, -250_000, None]
    assert [_variant(p.order_type) for p in got] == ["Limit", "Limit", "Limit", "Market"]
    assert [(p.auction_duration, p.auction_start_price, p.auction_end_price) for p in got] == [(None,) * 3] * 4
    assert all(p.bit_flags == 0 and p.trigger_price is None for p in got)
    _assert_trading_accounts(client, ix)
    remaining = _keys(ix)[3:]
    assert perp.pubkey == get_perp_market_public_key(_program_id(client), PERP)
    assert {perp.pubkey, perp.amm.oracle, usdc.pubkey, usdc.oracle} == set(remaining)
    assert not any(a.is_writable for a in ix.accounts[3:])  # placing only reads markets and oracles


def test_cancel_orders_when_ids_then_cancel_by_user_id_ixs_in_order_in_one_tx() -> None:
    client = _client(busy=True)
    perp, usdc, sol = _markets()
    plans = order_transactions(
        client,
        CancelOrders((9, 4, 200), PlanReason.VERDICT_PAUSE),
        market_index=PERP,
        sub_account_id=SUB,
        payer=PAYER,
        limit=LIMIT,
    )
    assert len(plans) == 1 and plans[0].cancels == (9, 4, 200) and plans[0].places == ()
    assert plans[0].what == "cancel 3 orders"
    for ix, uid in zip(plans[0].instructions, (9, 4, 200), strict=True):
        decoded = _parse(client, ix)
        assert decoded.name == "cancel_order_by_user_id" and decoded.data.user_order_id == uid
        _assert_trading_accounts(client, ix)
        # the busy user's positions: SOL-PERP with its oracle, USDC and SOL spot with theirs
        assert {perp.pubkey, perp.amm.oracle, usdc.pubkey, usdc.oracle, sol.pubkey, sol.oracle} == set(_keys(ix)[3:])


def test_cancel_and_place_when_it_fits_then_one_atomic_tx_cancels_first() -> None:
    client = _client()
    command = CancelAndPlace(
        (5, 6), (_intent(7), _intent(8, side=Side.SELL, price=151_000_000)), PlanReason.TTL_EXPIRED
    )
    plans = order_transactions(client, command, market_index=PERP, sub_account_id=SUB, payer=PAYER, limit=LIMIT)
    assert len(plans) == 1
    (plan,) = plans
    assert plan.what == "cancel 2 + place 2 (atomic)"
    assert (plan.cancels, plan.places) == ((5, 6), (7, 8))
    names = [_parse(client, ix).name for ix in plan.instructions]
    assert names == ["cancel_order_by_user_id", "cancel_order_by_user_id", "place_orders"]
    assert [_parse(client, ix).data.user_order_id for ix in plan.instructions[:2]] == [5, 6]
    assert [p.user_order_id for p in _parse(client, plan.instructions[2]).data.params] == [7, 8]


def test_cancel_and_place_when_ten_orders_then_one_tx_and_size_measured() -> None:
    """A requote of a 10-order ladder (cancel 10 + place 10) is one atomic transaction with room for a tip."""
    client = _client()
    ids = tuple(range(1, 11))
    command = CancelAndPlace(ids, tuple(_intent(100 + i) for i in ids), PlanReason.REQUOTE_PRICE_MOVED)
    plans = order_transactions(client, command, market_index=PERP, sub_account_id=SUB, payer=PAYER, limit=LIMIT)
    assert len(plans) == 1
    size = transaction_size(PAYER, plans[0].instructions)
    assert size == _signed_size(KEYPAIR, list(plans[0].instructions))
    assert size + TIP_TRANSFER_BYTES <= MAX_TRANSACTION_BYTES
    assert size == 985  # measured: 10 orders x 40 bytes + 10 cancels x 14 bytes + accounts, budget ixs, signature


def test_place_orders_when_max_ladder_then_max_orders_per_tx_measured() -> None:
    """How many 40-byte orders (a limit order with max_ts) one transaction carries, with a tip reserved or not."""

    def per_tx(limit: int) -> int:
        orders = tuple(_intent(i) for i in range(1, 33))
        plans = order_transactions(
            _shared_client(False),
            PlaceOrders(orders, PlanReason.LADDER_EMPTY),
            market_index=PERP,
            sub_account_id=SUB,
            payer=PAYER,
            limit=limit,
        )
        return len(plans[0].places)

    assert (per_tx(LIMIT), per_tx(MAX_TRANSACTION_BYTES)) == (17, 19)


def test_place_orders_when_32_orders_then_split_in_order_into_fitting_txs() -> None:
    client = _shared_client(True)
    orders = tuple(_intent(i, max_ts=NOW + i) for i in range(1, 33))
    plans = order_transactions(
        client,
        PlaceOrders(orders, PlanReason.LADDER_EMPTY),
        market_index=PERP,
        sub_account_id=SUB,
        payer=PAYER,
        limit=LIMIT,
    )
    assert len(plans) == 2
    assert plans[0].what.startswith("place ") and "(tx 1/2 of place 32 orders)" in plans[0].what
    assert sum((p.places for p in plans), ()) == tuple(range(1, 33))
    assert all(transaction_size(PAYER, p.instructions) <= LIMIT for p in plans)


def test_cancel_and_place_when_too_big_then_cancels_in_earlier_txs_than_places() -> None:
    client = _shared_client(True)
    command = CancelAndPlace(
        tuple(range(1, 33)), tuple(_intent(100 + i) for i in range(32)), PlanReason.REQUOTE_PRICE_MOVED
    )
    plans = order_transactions(client, command, market_index=PERP, sub_account_id=SUB, payer=PAYER, limit=LIMIT)
    assert len(plans) > 1
    assert not any("atomic" in p.what for p in plans)
    names = [_parse(client, ix).name for ix in _flat(plans)]
    last_cancel = max(i for i, n in enumerate(names) if n == "cancel_order_by_user_id")
    assert names.index("place_orders") > last_cancel


def test_modify_when_price_and_size_then_modify_by_user_id_with_must_modify_policy() -> None:
    client = _client()
    (plan,) = order_transactions(
        client,
        ModifyOrder(user_order_id=12, price=148_500_000, base=20_000_000),
        market_index=PERP,
        sub_account_id=SUB,
        payer=PAYER,
        limit=LIMIT,
    )
    assert plan.modifies == (12,) and plan.places == plan.cancels == ()
    (ix,) = plan.instructions
    decoded = _parse(client, ix)
    assert decoded.name == "modify_order_by_user_id" and decoded.data.user_order_id == 12
    params = decoded.data.modify_order_params
    assert (params.price, params.base_asset_amount, params.max_ts) == (148_500_000, 20_000_000, None)
    assert params.policy == MODIFY_POLICY_MUST_MODIFY
    assert (params.direction, params.post_only, params.reduce_only, params.oracle_price_offset) == (None,) * 4
    _assert_trading_accounts(client, ix)


def test_modify_when_only_max_ts_then_only_max_ts_set() -> None:
    client = _client()
    (plan,) = order_transactions(
        client,
        ModifyOrder(user_order_id=3, max_ts=NOW + 30),
        market_index=PERP,
        sub_account_id=SUB,
        payer=PAYER,
        limit=LIMIT,
    )
    params = _parse(client, plan.instructions[0]).data.modify_order_params
    assert (params.price, params.base_asset_amount, params.max_ts) == (None, None, NOW + 30)


def test_modify_when_nothing_changes_then_error() -> None:
    with pytest.raises(InstructionError, match="changes nothing"):
        order_transactions(
            _client(), ModifyOrder(user_order_id=3), market_index=PERP, sub_account_id=SUB, payer=PAYER, limit=LIMIT
        )


def test_order_transactions_when_limit_leaves_no_room_then_error() -> None:
    with pytest.raises(InstructionError, match="does not fit"):
        order_transactions(
            _client(),
            CancelOrders((1,), PlanReason.VERDICT_PAUSE),
            market_index=PERP,
            sub_account_id=SUB,
            payer=PAYER,
            limit=100,
        )


# --- account operations -----------------------------------------------------------------------------------------


def test_settle_pnl_when_built_then_settle_ix_for_the_user_and_market() -> None:
    client = _client(busy=True)
    perp, usdc, _ = _markets()
    plan = settle_pnl_transaction(client, sub_account_id=SUB, market_index=PERP, limit=LIMIT)
    (ix,) = plan.instructions
    decoded = _parse(client, ix)
    assert decoded.name == "settle_pnl" and decoded.data.market_index == PERP
    pid = _program_id(client)
    state, user, authority, vault = ix.accounts[:4]
    assert state.pubkey == get_state_public_key(pid)
    assert user.pubkey == get_user_account_public_key(pid, PAYER, SUB) and user.is_writable
    assert authority.pubkey == PAYER and authority.is_signer
    assert vault.pubkey == get_spot_market_vault_public_key(pid, USDC) == usdc.vault
    writable = {a.pubkey for a in ix.accounts[4:] if a.is_writable}
    assert writable == {perp.pubkey, usdc.pubkey}  # settling moves pnl between the perp pool and USDC


def test_settle_pnl_when_user_not_installed_then_error() -> None:
    with pytest.raises(InstructionError, match="subaccount 3"):
        settle_pnl_transaction(_client(), sub_account_id=3, market_index=PERP, limit=LIMIT)


def test_deposit_when_usdc_then_deposit_from_the_wallet_ata() -> None:
    client = _client()
    _, usdc, _ = _markets()
    plan = asyncio.run(
        deposit_transaction(client, amount=25_000_000, spot_market_index=USDC, sub_account_id=SUB, limit=LIMIT)
    )
    (ix,) = plan.instructions
    decoded = _parse(client, ix)
    assert decoded.name == "deposit"
    assert (decoded.data.market_index, decoded.data.amount, decoded.data.reduce_only) == (USDC, 25_000_000, False)
    pid = _program_id(client)
    keys = _keys(ix)
    # IDL order: state, user, userStats, authority, spotMarketVault, userTokenAccount, tokenProgram
    assert keys[0] == get_state_public_key(pid)
    assert keys[1] == get_user_account_public_key(pid, PAYER, SUB)
    assert keys[2] == get_user_stats_account_public_key(pid, PAYER)
    assert keys[3] == PAYER and ix.accounts[3].is_signer
    assert keys[4] == get_spot_market_vault_public_key(pid, USDC) == usdc.vault
    assert keys[5] == client.get_associated_token_account_public_key(USDC)


def test_deposit_when_sol_then_wraps_native_sol_and_closes_the_temporary_account() -> None:
    client = _client()
    plan = asyncio.run(
        deposit_transaction(client, amount=10**9, spot_market_index=SOL, sub_account_id=SUB, limit=LIMIT)
    )
    deposits = [ix for ix in plan.instructions if ix.program_id == _program_id(client)]
    assert len(plan.instructions) == 4 and len(deposits) == 1  # create + init wSOL, deposit, close
    decoded = _parse(client, deposits[0])
    assert (decoded.data.market_index, decoded.data.amount) == (SOL, 10**9)


def test_deposit_when_amount_not_positive_then_error() -> None:
    with pytest.raises(InstructionError, match="amount must be > 0"):
        asyncio.run(deposit_transaction(_client(), amount=0, spot_market_index=USDC, sub_account_id=SUB, limit=LIMIT))


def _withdraw(
    client: Any, *, amount: int, market: int, ata_exists: bool, limit: int = LIMIT
) -> tuple[TxPlan, list[Pubkey]]:
    asked: list[Pubkey] = []

    async def get_account_info(pubkey: Pubkey, *args: Any, **kwargs: Any) -> Any:
        asked.append(pubkey)
        return SimpleNamespace(value=object() if ata_exists else None)

    client.connection.get_account_info = get_account_info  # the one RPC call driftpy makes here
    plan = asyncio.run(
        withdraw_transaction(client, amount=amount, spot_market_index=market, sub_account_id=SUB, limit=limit)
    )
    return plan, asked


def test_withdraw_when_usdc_ata_exists_then_reduce_only_withdraw_to_it() -> None:
    client = _client()
    _, usdc, _ = _markets()
    plan, asked = _withdraw(client, amount=5_000_000, market=USDC, ata_exists=True)
    ata = client.get_associated_token_account_public_key(USDC)
    assert asked == [ata]
    (ix,) = plan.instructions
    decoded = _parse(client, ix)
    assert decoded.name == "withdraw"
    assert (decoded.data.market_index, decoded.data.amount, decoded.data.reduce_only) == (USDC, 5_000_000, True)
    pid = _program_id(client)
    # IDL order: state, user, userStats, authority, spotMarketVault, driftSigner, userTokenAccount, tokenProgram
    keys = _keys(ix)
    assert keys[:6] == [
        get_state_public_key(pid),
        get_user_account_public_key(pid, PAYER, SUB),
        get_user_stats_account_public_key(pid, PAYER),
        PAYER,
        usdc.vault,
        get_drift_client_signer_public_key(pid),
    ]
    assert keys[6] == ata


def test_withdraw_when_ata_missing_then_creates_it_first() -> None:
    plan, _ = _withdraw(_client(), amount=5_000_000, market=USDC, ata_exists=False)
    assert len(plan.instructions) == 2 and plan.instructions[0].program_id != _program_id(_shared_client(False))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    amount=st.integers(min_value=1, max_value=2**64 - 1),
    market=st.sampled_from([USDC, SOL]),
    ata_exists=st.booleans(),
)
def test_withdraw_when_any_amount_or_market_then_always_reduce_only(amount: int, market: int, ata_exists: bool) -> None:
    """Capital rule: a withdrawal never opens a borrow."""
    client = _shared_client(False)
    plan, _ = _withdraw(client, amount=amount, market=market, ata_exists=ata_exists)
    drift = [_parse(client, ix) for ix in plan.instructions if ix.program_id == _program_id(client)]
    assert [d.name for d in drift] == ["withdraw"]
    assert drift[0].data.reduce_only is True
    assert (drift[0].data.amount, drift[0].data.market_index) == (amount, market)


def test_transfer_when_both_subaccounts_installed_then_transfer_deposit_ix() -> None:
    client = _client(subs=(SUB, 2))
    _, usdc, _ = _markets()
    plan = transfer_transaction(client, amount=3_000_000, spot_market_index=USDC, from_sub=SUB, to_sub=2, limit=LIMIT)
    (ix,) = plan.instructions
    decoded = _parse(client, ix)
    assert decoded.name == "transfer_deposit" and (decoded.data.market_index, decoded.data.amount) == (USDC, 3_000_000)
    pid = _program_id(client)
    # IDL order: fromUser, toUser, userStats, authority, state, spotMarketVault
    assert _keys(ix)[:6] == [
        get_user_account_public_key(pid, PAYER, SUB),
        get_user_account_public_key(pid, PAYER, 2),
        get_user_stats_account_public_key(pid, PAYER),
        PAYER,
        get_state_public_key(pid),
        usdc.vault,
    ]
    assert ix.accounts[3].is_signer and ix.accounts[0].is_writable and ix.accounts[1].is_writable
    assert any(a.pubkey == usdc.pubkey and a.is_writable for a in ix.accounts[6:])


def test_transfer_when_destination_not_installed_then_error() -> None:
    with pytest.raises(InstructionError, match="subaccount 2"):
        transfer_transaction(_client(), amount=1, spot_market_index=USDC, from_sub=SUB, to_sub=2, limit=LIMIT)


@pytest.mark.parametrize(
    ("stats_exist", "names"), [(False, ["initialize_user_stats", "initialize_user"]), (True, ["initialize_user"])]
)
def test_initialize_subaccount_when_stats_exist_or_not_then_stats_ix_only_when_missing(
    stats_exist: bool, names: list[str]
) -> None:
    client = _client()
    sub = 1 if stats_exist else 0
    plan = initialize_subaccount_transaction(
        client, sub_account_id=sub, name="bot-1", stats_exist=stats_exist, limit=LIMIT
    )
    decoded = [_parse(client, ix) for ix in plan.instructions]
    assert [d.name for d in decoded] == names
    init = decoded[-1].data
    assert init.sub_account_id == sub and bytes(init.name) == b"bot-1".ljust(32)
    pid = _program_id(client)
    keys = _keys(plan.instructions[-1])
    # IDL order: user, userStats, state, authority, payer, ...
    assert keys[:5] == [
        get_user_account_public_key(pid, PAYER, sub),
        get_user_stats_account_public_key(pid, PAYER),
        get_state_public_key(pid),
        PAYER,
        PAYER,
    ]


def test_initialize_subaccount_when_no_stats_and_not_first_then_error() -> None:
    with pytest.raises(InstructionError, match="only subaccount 0"):
        initialize_subaccount_transaction(_client(), sub_account_id=2, name="x", stats_exist=False, limit=LIMIT)


# --- sizes --------------------------------------------------------------------------------------------------------


def test_transaction_size_when_compared_with_signed_tx_then_equal() -> None:
    client = _client(busy=True)
    ixs = [client.get_cancel_order_by_user_id_ix(i, SUB) for i in range(1, 6)]
    assert transaction_size(PAYER, ixs) == _signed_size(KEYPAIR, ixs)
    assert transaction_size(PAYER, []) == _signed_size(KEYPAIR, [])


def _account_operations() -> dict[str, Callable[[int], TxPlan]]:
    """Every single-transaction builder, given its ``limit``, for a User holding USDC, SOL and a SOL-PERP position."""
    client = _client(busy=True, subs=(SUB, 2))

    def deposit(market: int) -> Callable[[int], TxPlan]:
        return lambda limit: asyncio.run(
            deposit_transaction(client, amount=5, spot_market_index=market, sub_account_id=SUB, limit=limit)
        )

    def withdraw(market: int) -> Callable[[int], TxPlan]:
        return lambda limit: _withdraw(client, amount=5, market=market, ata_exists=False, limit=limit)[0]

    return {
        "settle": lambda limit: settle_pnl_transaction(client, sub_account_id=SUB, market_index=PERP, limit=limit),
        "deposit usdc": deposit(USDC),
        "deposit sol": deposit(SOL),
        "withdraw usdc": withdraw(USDC),
        "withdraw sol": withdraw(SOL),
        "transfer": lambda limit: transfer_transaction(
            client, amount=5, spot_market_index=USDC, from_sub=SUB, to_sub=2, limit=limit
        ),
        "initialize": lambda limit: initialize_subaccount_transaction(
            client, sub_account_id=0, name="x" * 32, stats_exist=False, limit=limit
        ),
    }


def test_account_operations_when_user_holds_three_markets_then_sizes_as_documented() -> None:
    """The sizes quoted in botrunner/live/instructions.py: all well inside the budget left beside a Jito tip."""
    sizes = {what: transaction_size(PAYER, build(LIMIT).instructions) for what, build in _account_operations().items()}
    assert sizes == {
        "settle": 531,
        "deposit usdc": 639,
        "deposit sol": 880,
        "withdraw usdc": 811,
        "withdraw sol": 913,
        "transfer": 605,
        "initialize": 449,
    }


@pytest.mark.parametrize(
    "what", ["settle", "deposit usdc", "deposit sol", "withdraw usdc", "withdraw sol", "transfer", "initialize"]
)
def test_account_operation_when_over_the_limit_then_instruction_error(what: str) -> None:
    build = _account_operations()[what]
    size = transaction_size(PAYER, build(MAX_TRANSACTION_BYTES).instructions)
    # exactly at the limit: accepted, and the transaction really signed is that size
    assert _signed_size(KEYPAIR, list(build(size).instructions)) == size
    with pytest.raises(InstructionError, match=f"{size} bytes, over the {size - 1}-byte limit"):
        build(size - 1)


# --- properties ---------------------------------------------------------------------------------------------------


def test_largest_when_everything_fits_then_a_single_check() -> None:
    asked: list[int] = []

    def fits(n: int) -> bool:
        asked.append(n)
        return True

    assert _largest(32, fits) == 32
    assert asked == [32]  # the common case compiles one transaction, not log2(32) of them


@given(hi=st.integers(0, 64), cut=st.integers(0, 80))
def test_largest_when_fits_up_to_a_cut_then_returns_the_cut_capped_at_hi(hi: int, cut: int) -> None:
    assert _largest(hi, lambda n: n <= cut) == min(hi, cut)


@st.composite
def _intents(draw: st.DrawFn, uids: list[int]) -> tuple[OrderIntent, ...]:
    out = []
    for uid in uids:
        kind = draw(st.sampled_from(list(OrderType)))
        post_only = PostOnlyMode.NONE if kind is OrderType.MARKET else draw(st.sampled_from(list(PostOnlyMode)))
        price = {
            OrderType.LIMIT: draw(st.integers(1, 10**12)),
            OrderType.MARKET: draw(st.integers(0, 10**12)),
            OrderType.ORACLE_OFFSET: 0,
        }[kind]
        offset = draw(st.integers(-(2**31), 2**31 - 1)) if kind is OrderType.ORACLE_OFFSET else 0
        out.append(
            _intent(
                uid,
                side=draw(st.sampled_from(list(Side))),
                price=price,
                base=draw(st.integers(1, 10**15)),
                post_only=post_only,
                reduce_only=draw(st.booleans()),
                max_ts=draw(st.sampled_from([0, NOW, NOW + 3600])),
                order_type=kind,
                oracle_price_offset=offset,
            )
        )
    return tuple(out)


@st.composite
def _commands(draw: st.DrawFn) -> PlaceOrders | CancelOrders | CancelAndPlace:
    kind = draw(st.sampled_from(["place", "cancel", "cancel_and_place"]))
    ids = st.lists(st.integers(1, 255), min_size=1, max_size=MAX_ORDERS_PER_PLACE_ORDERS, unique=True)
    if kind == "cancel":
        return CancelOrders(tuple(draw(ids)), PlanReason.VERDICT_PAUSE)
    orders = draw(_intents(draw(ids)))
    if kind == "place":
        return PlaceOrders(orders, PlanReason.LADDER_EMPTY)
    return CancelAndPlace(tuple(draw(ids)), orders, PlanReason.REQUOTE_PRICE_MOVED)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    command=_commands(),
    busy=st.booleans(),
    limit=st.sampled_from([MAX_TRANSACTION_BYTES, LIMIT, MAX_TRANSACTION_BYTES - 300, MAX_TRANSACTION_BYTES - 600]),
)
def test_order_transactions_when_any_ladder_then_plans_fit_keep_order_and_cancel_first(
    command: PlaceOrders | CancelOrders | CancelAndPlace, busy: bool, limit: int
) -> None:
    """Capital rules of the splitter: every transaction fits; each order is placed exactly once, in the requested
    order, and each id cancelled exactly once; no place precedes a cancel; a replacement that fits one transaction
    is never split (so it stays atomic)."""
    client = _shared_client(busy)
    plans = order_transactions(client, command, market_index=PERP, sub_account_id=SUB, payer=PAYER, limit=limit)
    orders = placed_orders(command)
    want_places = tuple(o.user_order_id for o in orders)
    want_cancels = cancelled_ids(command)

    decoded_places: list[int] = []
    decoded_cancels: list[int] = []
    kinds: list[str] = []
    for plan in plans:
        assert transaction_size(PAYER, plan.instructions) <= limit
        plan_places: list[int] = []
        plan_cancels: list[int] = []
        for ix in plan.instructions:
            decoded = _parse(client, ix)
            kinds.append(decoded.name)
            if decoded.name == "place_orders":
                params = decoded.data.params
                assert 1 <= len(params) <= MAX_ORDERS_PER_PLACE_ORDERS
                plan_places += [p.user_order_id for p in params]
            else:
                assert decoded.name == "cancel_order_by_user_id"
                plan_cancels.append(decoded.data.user_order_id)
        assert (tuple(plan_places), tuple(plan_cancels)) == (plan.places, plan.cancels)
        decoded_places += plan_places
        decoded_cancels += plan_cancels

    assert tuple(decoded_places) == want_places
    assert tuple(decoded_cancels) == want_cancels
    if "place_orders" in kinds and "cancel_order_by_user_id" in kinds:
        assert kinds.index("place_orders") > max(i for i, k in enumerate(kinds) if k == "cancel_order_by_user_id")

    # one transaction exactly when the whole command fits one
    cancel_ixs = [client.get_cancel_order_by_user_id_ix(uid, SUB) for uid in want_cancels]
    place_ixs = [client.get_place_orders_ix([order_params(o, PERP) for o in orders], SUB)] if orders else []
    one_fits = transaction_size(PAYER, [*cancel_ixs, *place_ixs]) <= limit
    assert (len(plans) == 1) == one_fits
    assert ("(atomic)" in plans[0].what) == (isinstance(command, CancelAndPlace) and one_fits)
