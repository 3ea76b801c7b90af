"""DriftVenue end to end against a fake Solana node: a real HTTP server on 127.0.0.1 driven through the real
``AsyncClient``, serving the real bundled SOL-PERP and USDC market accounts and a synthetic User.

The fake node does not run the Drift program: a confirmed transaction changes no account. Where a test needs the
program's effect (an order resting after placement), it installs the resulting User bytes itself, as the program
would have written them, and refreshes. Every test ends by asserting that no transaction was sent twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from driftpy.addresses import get_perp_market_public_key, get_spot_market_public_key, get_user_account_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from structlog.testing import capture_logs

from botrunner.config import AccountRef, BotConfig, BotMode, load_bot
from botrunner.config.live import LiveSettings
from botrunner.connector.commands import CancelOrders, PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent
from botrunner.core.policy import PostOnlyMode
from botrunner.core.side import Side
from botrunner.live.retry import LinkState
from botrunner.live.transactions import TxPipeline
from botrunner.live.venue import DriftVenue, Transfer, VenueError
from botrunner.venue.port import (
    BalanceChanged,
    CancelReason,
    CommandRejected,
    Deposit,
    OrderAccepted,
    OrderRejected,
    RejectReason,
    Withdraw,
)
from tests.support.drift import bundled_market_bytes, bundled_markets, oracle_bytes, scaled_balance, user_bytes
from tests.support.fake_rpc import FakeRpc, Fault

ROOT = Path(__file__).resolve().parents[2]
KP = Keypair.from_seed(bytes(range(1, 33)))
AUTHORITY = KP.pubkey()
SYSTEM = "11111111111111111111111111111111"
USDC = 10**6
FAST = LiveSettings(
    confirm_timeout_s=1,
    status_timeout_s=1,
    rpc_retry_delays_s=(0, 0, 0),
    reconnect_every_s=1,
    breaker_failures=3,
    breaker_cool_down_s=60,
    rpc_timeout_s=2,
)


def live_config(
    mode: BotMode = BotMode.LIVE, settings: LiveSettings = FAST, authority: Pubkey = AUTHORITY
) -> BotConfig:
    base = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
    return msgspec.structs.replace(
        base, mode=mode, account=AccountRef(authority=str(authority), subaccount_id=1), live=settings
    )


def serve_chain(
    fake: FakeRpc,
    *,
    user: bytes | None,
    authority: Pubkey = AUTHORITY,
    wallet_lamports: int = 10**9,
    siblings: dict[int, bytes] | None = None,
    oracle: int = 150 * USDC,
) -> None:
    """The accounts one bot reads: SOL-PERP, USDC spot, their oracles, the User (if any) and the wallet; plus
    ``siblings``, other subaccounts of the same authority (id -> User bytes)."""
    perp_raw, spots_raw = bundled_market_bytes()
    perp, spots = bundled_markets()
    program = str(DRIFT_PROGRAM_ID)
    accounts = {
        str(get_perp_market_public_key(DRIFT_PROGRAM_ID, 0)): (perp_raw, program),
        str(get_spot_market_public_key(DRIFT_PROGRAM_ID, 0)): (spots_raw[0], program),
        str(perp.amm.oracle): (oracle_bytes(oracle, slot=1_000), program),
        str(spots[0].oracle): (oracle_bytes(USDC, slot=1_000), program),
        str(authority): (b"", SYSTEM),
    }
    if user is not None:
        accounts[str(get_user_account_public_key(DRIFT_PROGRAM_ID, authority, 1))] = (user, program)
    for sub, raw in (siblings or {}).items():
        accounts[str(get_user_account_public_key(DRIFT_PROGRAM_ID, authority, sub))] = (raw, program)
    fake.set_accounts(accounts)
    fake.set_balance(str(authority), wallet_lamports)


def funded_user(orders: list[dict[str, Any]] | None = None, *, authority: Pubkey = AUTHORITY) -> bytes:
    return user_bytes(
        authority=authority,
        sub_account_id=1,
        usdc_scaled_balance=scaled_balance(0, 1_000 * USDC),
        open_orders=orders or [],
    )


def order(uid: int, *, price: int = 140 * USDC, base: int = 10**8, side: Side = Side.BUY) -> OrderIntent:
    return OrderIntent(
        user_order_id=uid,
        side=side,
        price=price,
        base=base,
        post_only=PostOnlyMode.MUST_POST_ONLY,
        reduce_only=False,
        max_ts=0,
        placed_at=0,
        anchor_price=150 * USDC,
    )


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def run(fake: FakeRpc, body: Any, *, mode: BotMode = BotMode.LIVE, settings: LiveSettings = FAST) -> Any:
    """Build a venue on ``fake`` and run ``body(venue)`` on an event loop."""
    config = live_config(mode, settings)

    async def main() -> Any:
        async with AsyncClient(fake.url, timeout=2) as rpc:
            wallet = KP if mode is BotMode.LIVE else None
            pipeline = TxPipeline(rpc, KP, settings, poll_interval_s=0.02) if wallet is not None else None
            venue = DriftVenue(config, rpc, wallet=wallet, pipeline=pipeline, monotonic=clock)
            return await body(venue)

    clock = Clock()
    return anyio.run(main)


def test_venue_when_connected_then_one_read_gives_the_account_in_our_model(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        before = fake.count("getMultipleAccounts")
        await venue.refresh()
        return venue, fake.count("getMultipleAccounts") - before

    venue, reads = run(fake, body)
    assert reads == 1  # every account of a refresh in ONE call: one slot, one latency sample
    assert venue.oracle == 150 * USDC
    assert venue.position.base_asset_amount == 0
    assert venue.report().equity == 1_000 * USDC and venue.report().health == 100
    assert venue.wallet_lamports == 10**9 and venue.latency_ms is not None and venue.latency_ms < 2_000
    assert venue.tradeable() is None


def test_venue_when_signing_key_is_not_the_authority_then_refused(fake: FakeRpc) -> None:
    config = live_config(authority=Keypair().pubkey())
    with pytest.raises(VenueError, match="is not the signing key's public key"):
        DriftVenue(config, AsyncClient(fake.url), wallet=KP, pipeline=TxPipeline(AsyncClient(fake.url), KP, FAST))


def test_monitor_when_subaccount_missing_then_clear_error_and_nothing_sent(fake: FakeRpc) -> None:
    serve_chain(fake, user=None)

    async def body(venue: DriftVenue) -> None:
        await venue.connect()

    with pytest.raises(VenueError, match=r"subaccount 1 of .* does not exist"):
        run(fake, body, mode=BotMode.MONITOR)
    assert fake.count("sendTransaction") == 0 and fake.count("simulateTransaction") == 0


def test_monitor_when_asked_to_trade_then_refused_without_sending(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return await venue.execute(PlaceOrders((order(1),), PlanReason.LADDER_EMPTY))

    events = run(fake, body, mode=BotMode.MONITOR)
    assert [e.reason for e in events] == [RejectReason.VENUE_UNAVAILABLE]
    assert fake.count("sendTransaction") == 0


def test_live_when_subaccount_missing_then_created_in_order_and_rent_logged(fake: FakeRpc) -> None:
    serve_chain(fake, user=None)

    async def body(venue: DriftVenue) -> None:
        await venue.connect()

    # the fake node does not run the program, so the account never appears: the venue says so and stops
    with capture_logs() as logs, pytest.raises(VenueError, match="still missing after creation"):
        run(fake, body)
    created = [e for e in logs if e["event"] == "creating_subaccount"]
    assert [e["subaccount"] for e in created] == [0, 1]  # ids are sequential: 1 needs 0
    assert all(e["rent_lamports"] > 0 for e in created)
    assert fake.count("sendTransaction") == 2


def test_live_when_small_orders_then_one_transaction_and_the_chain_reports_them(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        # what the program will have written once the transaction lands: both orders resting
        serve_chain(
            fake,
            user=funded_user(
                [
                    {"user_order_id": 1, "base": 10**8, "price": 140 * USDC, "post_only": True, "order_id": 1},
                    {"user_order_id": 2, "base": 10**8, "price": 139 * USDC, "post_only": True, "order_id": 2},
                ]
            ),
        )
        return await venue.execute(PlaceOrders((order(1), order(2, price=139 * USDC)), PlanReason.LADDER_EMPTY))

    events = run(fake, body)
    assert not [e for e in events if isinstance(e, OrderRejected)]
    assert fake.count("sendTransaction") == 1 and fake.count("simulateTransaction") == 1
    assert fake.sent[0].compute_unit_limit == FAST.compute_unit_limit
    assert sorted(e.user_order_id for e in events if isinstance(e, OrderAccepted)) == [1, 2]


def test_live_when_a_confirmed_order_is_not_on_chain_then_it_is_reported_rejected(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())  # the program skipped the order (e.g. max_ts passed): no slot holds it

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return await venue.execute(PlaceOrders((order(1),), PlanReason.LADDER_EMPTY))

    events = run(fake, body)
    assert fake.count("sendTransaction") == 1
    assert [(e.user_order_id, e.detail) for e in events if isinstance(e, OrderRejected)] == [
        (1, "transaction confirmed, order not on chain")
    ]


def test_live_when_order_above_100_usd_then_it_needs_a_confirmation_of_its_terms(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())
    big = order(7, base=10 * 10**8)  # 1 SOL at $140 = $140

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        first = await venue.execute(PlaceOrders((big,), PlanReason.LADDER_EMPTY))
        sends_before = fake.count("sendTransaction")
        token = first[0].detail.rsplit("token ", 1)[1].rstrip(")")
        venue.approve(token, 300)
        second = await venue.execute(PlaceOrders((big,), PlanReason.LADDER_EMPTY))
        return first, sends_before, second

    first, sends_before, second = run(fake, body)
    assert isinstance(first[0], OrderRejected) and first[0].reason is RejectReason.SAFETY_GATE
    assert "needs_confirmation" in first[0].detail and "$140" in first[0].detail
    assert sends_before == 0
    assert not [e for e in second if isinstance(e, OrderRejected) and e.reason is RejectReason.SAFETY_GATE]
    assert fake.count("sendTransaction") == 1


def test_live_when_wallet_below_gas_reserve_then_every_order_blocked(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user(), wallet_lamports=16_999_999)

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        placed = await venue.execute(PlaceOrders((order(1),), PlanReason.LADDER_EMPTY))
        cancelled = await venue.execute(CancelOrders((1,), PlanReason.VERDICT_PAUSE))
        return placed, cancelled

    placed, cancelled = run(fake, body)
    assert placed[0].reason is RejectReason.SAFETY_GATE and "gas_reserve" in placed[0].detail
    assert not [e for e in cancelled if isinstance(e, OrderRejected | CommandRejected)]  # cancels are never gated
    assert fake.count("sendTransaction") == 1  # only the cancel


def test_live_when_simulation_fails_then_rejected_with_logs_and_nothing_sent(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())
    fake.fail_simulation({"InstructionError": [2, {"Custom": 6042}]}, ["Program log: PlacePostOnlyLimitFailure"])

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return await venue.execute(PlaceOrders((order(1),), PlanReason.LADDER_EMPTY))

    events = run(fake, body)
    assert events[0].reason is RejectReason.TRANSACTION_FAILED and "simulation_failed" in events[0].detail
    assert fake.count("sendTransaction") == 0


def test_live_when_outcome_unknown_then_no_trade_until_resync_and_never_resent(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())
    fake.never_confirm()

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        first = await venue.execute(PlaceOrders((order(1),), PlanReason.LADDER_EMPTY))
        why = venue.tradeable()
        blocked = await venue.execute(PlaceOrders((order(2),), PlanReason.LADDER_EMPTY))
        await venue.refresh()  # the resync: the whole account re-read
        return first, why, blocked, venue.tradeable()

    first, why, blocked, after = run(fake, body)
    assert first[0].reason is RejectReason.OUTCOME_UNKNOWN
    assert why is not None and "unknown" in why
    assert blocked[0].reason is RejectReason.VENUE_UNAVAILABLE
    assert after is None
    assert fake.count("sendTransaction") == 1


def test_live_when_rpc_down_then_recovering_every_10s_and_resync_before_trading(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        fake.inject("getMultipleAccounts", Fault.http(503), times=None)
        await venue.refresh()
        state_down = venue.link.state
        refused = await venue.execute(PlaceOrders((order(1),), PlanReason.LADDER_EMPTY))
        fake.clear_faults()
        reads = fake.count("getMultipleAccounts")
        await venue.refresh()  # too early: the next attempt is reconnect_every_s after the loss
        early = fake.count("getMultipleAccounts") - reads
        venue.monotonic.t += FAST.reconnect_every_s  # type: ignore[attr-defined]
        await venue.refresh()
        return state_down, refused, early, venue.link.state, venue.tradeable()

    state_down, refused, early, state_after, tradeable = run(fake, body)
    assert state_down is LinkState.RECOVERING
    assert refused[0].reason is RejectReason.VENUE_UNAVAILABLE
    assert early == 0
    assert state_after is LinkState.CONNECTED and tradeable is None
    assert fake.count("sendTransaction") == 0


def test_live_when_failures_repeat_then_the_circuit_breaker_opens(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())
    fake.land_with_error({"InstructionError": [2, {"Custom": 6010}]})

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        for uid in range(1, FAST.breaker_failures + 1):
            await venue.execute(PlaceOrders((order(uid),), PlanReason.LADDER_EMPTY))
        sent = fake.count("sendTransaction")
        refused = await venue.execute(PlaceOrders((order(9),), PlanReason.LADDER_EMPTY))
        return sent, refused, venue.tradeable()

    sent, refused, why = run(fake, body)
    assert sent == FAST.breaker_failures
    assert refused[0].reason is RejectReason.VENUE_UNAVAILABLE and why is not None and "circuit breaker" in why
    assert fake.count("sendTransaction") == FAST.breaker_failures


def test_live_when_withdrawal_exceeds_the_deposit_then_refused_before_building(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return await venue.execute(Withdraw(spot_market_index=0, amount=1_001 * USDC))

    events = run(fake, body)
    assert isinstance(events[0], CommandRejected) and events[0].reason is RejectReason.INSUFFICIENT_BALANCE
    assert fake.count("simulateTransaction") == 0 and fake.count("sendTransaction") == 0


def test_live_when_dry_run_then_simulated_and_never_sent(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())
    settings = msgspec.structs.replace(FAST, dry_run=True)

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return await venue.execute(PlaceOrders((order(1),), PlanReason.LADDER_EMPTY))

    events = run(fake, body, settings=settings)
    assert events[0].reason is RejectReason.DRY_RUN
    assert fake.count("simulateTransaction") == 1 and fake.count("sendTransaction") == 0


def test_live_when_the_bot_cancels_an_order_past_its_max_ts_then_cancelled_not_expired(fake: FakeRpc) -> None:
    resting = {"user_order_id": 3, "base": 10**8, "price": 140 * USDC, "post_only": True, "order_id": 1, "max_ts": 5}
    serve_chain(fake, user=funded_user([resting]))

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        serve_chain(fake, user=funded_user())  # the program removed it
        return await venue.execute(CancelOrders((3,), PlanReason.VERDICT_PAUSE))

    events = run(fake, body)
    assert [(type(e).__name__, getattr(e, "reason", None)) for e in events] == [
        ("OrderCancelled", CancelReason.REQUESTED)
    ]


def test_live_when_an_order_vanishes_past_its_max_ts_without_our_cancel_then_expired(fake: FakeRpc) -> None:
    resting = {"user_order_id": 3, "base": 10**8, "price": 140 * USDC, "post_only": True, "order_id": 1, "max_ts": 5}
    serve_chain(fake, user=funded_user([resting]))

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        serve_chain(fake, user=funded_user())
        return await venue.refresh()

    assert [type(e).__name__ for e in run(fake, body)] == ["OrderExpired"]


def test_live_when_transfer_to_a_sibling_subaccount_then_sent_once_naming_both_users(fake: FakeRpc) -> None:
    # The destination's User is on chain but not among the accounts a refresh reads: the venue must fetch it.
    serve_chain(fake, user=funded_user(), siblings={2: user_bytes(authority=AUTHORITY, sub_account_id=2)})

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        events = await venue.execute(Transfer(spot_market_index=0, amount=100 * USDC, to_sub_account_id=2))
        return events, sorted(venue.client.users)

    events, users = run(fake, body)
    (changed,) = events
    assert isinstance(changed, BalanceChanged) and (changed.spot_market_index, changed.amount) == (0, -100 * USDC)
    (sent,) = fake.sent
    drift = [i for i in sent.instructions if i.program_id == str(DRIFT_PROGRAM_ID)]
    assert len(drift) == 1
    from_user, to_user = drift[0].accounts[:2]  # IDL order: fromUser, toUser, ...
    assert (from_user, to_user) == tuple(
        str(get_user_account_public_key(DRIFT_PROGRAM_ID, AUTHORITY, sub)) for sub in (1, 2)
    )
    assert users == [1]  # the destination is not left on the client to go stale


def wallet_usdc_account(venue: DriftVenue) -> str:
    """The authority's associated USDC token account, the one a USDC deposit is paid from."""
    from spl.token.instructions import get_associated_token_address

    mint = Pubkey.from_string(str(venue.client.get_spot_market_account(0).mint))
    return str(get_associated_token_address(AUTHORITY, mint))


def test_live_when_usdc_deposit_within_the_wallet_balance_then_sent_once_from_the_wallet(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        ata = wallet_usdc_account(venue)
        fake.set_token_balance(ata, 250 * USDC, 6)
        return await venue.execute(Deposit(spot_market_index=0, amount=250 * USDC)), ata

    events, ata = run(fake, body)
    assert not [e for e in events if isinstance(e, CommandRejected)]
    (sent,) = fake.sent
    (deposit,) = [i for i in sent.instructions if i.program_id == str(DRIFT_PROGRAM_ID)]
    assert ata in deposit.accounts  # paid from the wallet's own USDC account
    assert fake.count("getTokenAccountBalance") == 1


def test_live_when_usdc_deposit_above_the_wallet_balance_then_refused_as_insufficient_balance(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        fake.set_token_balance(wallet_usdc_account(venue), 250 * USDC, 6)
        return await venue.execute(Deposit(spot_market_index=0, amount=250 * USDC + 1))

    (event,) = run(fake, body)
    assert isinstance(event, CommandRejected) and event.reason is RejectReason.INSUFFICIENT_BALANCE
    assert "exceeds the wallet balance 250.000000 USDC" in event.detail
    assert fake.count("simulateTransaction") == 0 and fake.count("sendTransaction") == 0


def test_live_when_the_wallet_balance_cannot_be_read_then_deposit_refused_as_venue_unavailable(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())  # no USDC token account: the node answers 'could not find account'

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return await venue.execute(Deposit(spot_market_index=0, amount=USDC))

    (event,) = run(fake, body)
    assert isinstance(event, CommandRejected) and event.reason is RejectReason.VENUE_UNAVAILABLE
    assert "cannot read the wallet's token balance" in event.detail
    assert fake.count("simulateTransaction") == 0 and fake.count("sendTransaction") == 0


def test_live_when_transfer_destination_missing_then_refused_and_nothing_sent(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return await venue.execute(Transfer(spot_market_index=0, amount=100 * USDC, to_sub_account_id=2))

    (event,) = run(fake, body)
    assert isinstance(event, CommandRejected) and event.reason is RejectReason.UNKNOWN_ACCOUNT
    assert "subaccount 2" in event.detail and "does not exist" in event.detail
    assert fake.count("simulateTransaction") == 0 and fake.count("sendTransaction") == 0


def test_live_when_transfer_above_the_deposit_then_refused_before_reading_the_destination(fake: FakeRpc) -> None:
    serve_chain(fake, user=funded_user(), siblings={2: user_bytes(authority=AUTHORITY, sub_account_id=2)})

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        reads = fake.count("getMultipleAccounts")
        events = await venue.execute(Transfer(spot_market_index=0, amount=1_001 * USDC, to_sub_account_id=2))
        return events, fake.count("getMultipleAccounts") - reads

    (event,), reads = run(fake, body)
    assert isinstance(event, CommandRejected) and event.reason is RejectReason.INSUFFICIENT_BALANCE
    assert "exceeds" in event.detail and reads == 0
    assert fake.count("sendTransaction") == 0
