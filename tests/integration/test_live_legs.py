"""PlaceLegs end to end against the fake Solana node (see test_live_venue for the fake's limits: it does not run
the Drift program, so each test installs the User the program would have written once the transaction lands).

Both legs go in one transaction, simulated first and sent once; the fills come back read from the account; a
simulation failure sends nothing and rejects the whole command; an unknown outcome is never re-sent and the next
read is the resync; the safety gates hold the whole command.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from driftpy.addresses import get_spot_market_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.types import OracleSource
from structlog.testing import capture_logs

from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.policy import PostOnlyMode
from botrunner.core.side import Side
from botrunner.drift.convert import spot_interest_market
from botrunner.live.venue import DriftVenue
from botrunner.margin.interest import current_rates
from botrunner.venue.port import CommandRejected, Fill, InterestAccrued, PlaceLegs, RejectReason, SpotFill, SpotOrder
from tests.integration.test_live_venue import AUTHORITY, FAST, USDC, run, serve_chain
from tests.support.drift import _build, bundled_markets, scaled_balance, user_bytes
from tests.support.fake_rpc import FakeRpc, Fault

pytestmark = pytest.mark.integration

SOL = 10**9
PROGRAM = str(DRIFT_PROGRAM_ID)
PLACE_AND_TAKE_SPOT = "place_and_take_spot_order"
PLACE_AND_TAKE_PERP = "place_and_take_perp_order"


def _serve(fake: FakeRpc, user: bytes) -> None:
    serve_chain(fake, user=user)
    perp, spots = bundled_markets()
    # The bundled SOL spot market reads an older PythPull oracle the support code cannot synthesize; pointing it at
    # SOL-PERP's PythLazer oracle (the same SOL price) keeps it a real market with a readable price.
    sol = dataclasses.replace(spots[1], oracle=perp.amm.oracle, oracle_source=OracleSource.PythLazer())
    accounts = dict(fake._state.accounts)  # extend what serve_chain served with the SOL spot market
    accounts[str(get_spot_market_public_key(DRIFT_PROGRAM_ID, 1))] = (_build("SpotMarket", sol), PROGRAM)
    fake.set_accounts(accounts)


def _user(usdc: int = 1_000 * USDC, **kw: Any) -> bytes:
    return user_bytes(authority=AUTHORITY, sub_account_id=1, usdc_scaled_balance=scaled_balance(0, usdc), **kw)


def _perp(side: Side, base: int, price: int) -> OrderIntent:
    return OrderIntent(
        user_order_id=5,
        side=side,
        price=price,
        base=base,
        post_only=PostOnlyMode.NONE,
        reduce_only=False,
        max_ts=0,
        placed_at=0,
        anchor_price=150 * USDC,
        order_type=OrderType.MARKET,
    )


SMALL = 3 * 10**8  # 0.3 SOL a leg: $45 + $45 = $90, under the $100 confirmation threshold
ENTRY = PlaceLegs(
    spot=SpotOrder(spot_market_index=1, side=Side.BUY, base=SMALL, limit_price=150 * USDC),
    perp=_perp(Side.SELL, SMALL, 150 * USDC),
    reason="enter",
)


def _names(venue: DriftVenue, fake: FakeRpc) -> list[str]:
    coder = venue.client.program.coder.instruction
    return [coder.parse(ix.data).name for ix in fake.sent[0].instructions if ix.program_id == PROGRAM]


def test_legs_when_entry_then_one_transaction_simulated_sent_once_and_both_fills_read_back(fake: FakeRpc) -> None:
    _serve(fake, _user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        # what the program writes once the transaction lands: 0.3 SOL bought at $150 (the spot order done in its
        # slot, $45 out of USDC plus a $0.03 fee), the perp short of 0.3 SOL filled in full
        _serve(
            fake,
            _user(
                usdc=1_000 * USDC - 45 * USDC - 30_000,
                sol_scaled_balance=scaled_balance(1, SMALL),
                perp_base=-SMALL,
                perp_quote=45 * USDC,
                open_orders=[
                    {
                        "status": "Filled",
                        "market_type": "Spot",
                        "market_index": 1,
                        "direction": "long",
                        "base": SMALL,
                        "price": 150 * USDC,
                        "base_filled": SMALL,
                        "quote_filled": 45 * USDC,
                        "order_id": 1,
                    },
                    {
                        "status": "Filled",
                        "order_type": "Market",
                        "direction": "short",
                        "base": SMALL,
                        "price": 150 * USDC,
                        "base_filled": SMALL,
                        "quote_filled": 45 * USDC,
                        "user_order_id": 5,
                        "order_id": 2,
                    },
                ],
            ),
        )
        events = await venue.execute(ENTRY)
        return events, _names(venue, fake)

    events, names = run(fake, body)
    assert fake.count("simulateTransaction") == 1 and fake.count("sendTransaction") == 1
    assert names == [PLACE_AND_TAKE_SPOT, PLACE_AND_TAKE_PERP]  # both legs, one transaction, spot first
    assert not [e for e in events if isinstance(e, CommandRejected)]
    perp_fills = [e for e in events if isinstance(e, Fill)]
    assert [(f.side, f.base) for f in perp_fills] == [(Side.SELL, SMALL)]
    spot_fills = [e for e in events if isinstance(e, SpotFill)]
    assert [(f.spot_market_index, f.side, f.base, f.price, f.quote, f.fee) for f in spot_fills] == [
        (1, Side.BUY, SMALL, 150 * USDC, -45 * USDC, 30_000)
    ]
    fake.assert_no_double_send()


def test_legs_when_simulation_fails_then_nothing_sent_and_the_whole_command_rejected(fake: FakeRpc) -> None:
    _serve(fake, _user())
    fake.fail_simulation({"InstructionError": [3, {"Custom": 6287}]}, ["Program log: no full fill"])

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return await venue.execute(ENTRY)

    events = run(fake, body)
    assert fake.count("sendTransaction") == 0
    assert [(type(e), e.command, e.reason) for e in events if isinstance(e, CommandRejected)] == [
        (CommandRejected, "PlaceLegs", RejectReason.TRANSACTION_FAILED)
    ]
    assert not [e for e in events if isinstance(e, Fill | SpotFill)]


def test_legs_when_outcome_unknown_then_never_resent_and_the_next_read_is_the_resync(fake: FakeRpc) -> None:
    _serve(fake, _user())
    fake.never_confirm()

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        first = await venue.execute(ENTRY)
        blocked = await venue.execute(ENTRY)
        await venue.refresh()
        return first, blocked, venue.tradeable()

    first, blocked, after = run(fake, body)
    assert [e.reason for e in first if isinstance(e, CommandRejected)] == [RejectReason.OUTCOME_UNKNOWN]
    assert [e.reason for e in blocked if isinstance(e, CommandRejected)] == [RejectReason.VENUE_UNAVAILABLE]
    assert after is None
    assert fake.count("sendTransaction") == 1


def test_legs_when_above_100_usd_then_held_whole_until_confirmed(fake: FakeRpc) -> None:
    _serve(fake, _user())
    big = PlaceLegs(
        spot=SpotOrder(spot_market_index=1, side=Side.BUY, base=SOL, limit_price=150 * USDC),
        perp=_perp(Side.SELL, SOL, 150 * USDC),
        reason="enter",
    )

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        first = await venue.execute(big)
        sent_before = fake.count("sendTransaction")
        assert isinstance(first[0], CommandRejected)
        venue.approve(first[0].detail.rsplit("token ", 1)[1].rstrip(")"), 300)
        second = await venue.execute(big)
        return first, sent_before, second

    first, sent_before, second = run(fake, body)
    assert len(first) == 1 and isinstance(first[0], CommandRejected)
    assert first[0].command == "PlaceLegs" and first[0].reason is RejectReason.SAFETY_GATE
    assert "needs_confirmation" in first[0].detail and "$300" in first[0].detail
    assert sent_before == 0
    assert not [e for e in second if isinstance(e, CommandRejected) and e.reason is RejectReason.SAFETY_GATE]
    assert fake.count("sendTransaction") == 1


# --- the engine vault's sync (botrunner.live.vault_sync, DriftVenue.sync) -----------------------------------------


def test_vault_when_the_read_fails_4_times_then_trading_disabled_and_a_good_read_enables_it(fake: FakeRpc) -> None:
    _serve(fake, _user())
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        fake.inject("getMultipleAccounts", Fault.http(503), times=None)
        with capture_logs() as logs:
            await venue.sync(sleep)
        down = (venue.vault.disabled, venue.tradeable(), [e["event"] for e in logs if e["log_level"] == "error"])
        refused = await venue.execute(ENTRY)
        fake.clear_faults("getMultipleAccounts")
        clock: Any = venue.monotonic
        clock.t += FAST.reconnect_every_s  # the link's next reconnect attempt is due
        await venue.sync(sleep)
        return down, refused, venue.vault.disabled, venue.tradeable()

    (disabled, why, errors), refused, after_disabled, after_why = run(fake, body)
    assert waits == [1.0, 2.0, 4.0]
    assert disabled and why is not None and "vault sync failed" in why
    assert errors == ["vault_sync_failed"]
    assert [e.reason for e in refused if isinstance(e, CommandRejected)] == [RejectReason.VENUE_UNAVAILABLE]
    assert not after_disabled and after_why is None
    assert fake.count("sendTransaction") == 0


def test_vault_when_the_read_recovers_within_the_retries_then_trading_stays_enabled(fake: FakeRpc) -> None:
    _serve(fake, _user())
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        fake.inject("getMultipleAccounts", Fault.http(503), times=2)
        await venue.sync(sleep)
        return venue.vault.disabled, venue.tradeable()

    disabled, why = run(fake, body)
    assert waits == [1.0, 2.0] and not disabled and why is None


def test_vault_when_the_sol_deposit_index_grows_then_interest_accrued_event(fake: FakeRpc) -> None:
    _serve(fake, _user(sol_scaled_balance=scaled_balance(1, 2 * SOL)))

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        before = venue.spot_balance(1)
        # the venue accrued interest: SOL's cumulative deposit index 0.1 % higher
        perp, spots = bundled_markets()
        sol = dataclasses.replace(
            spots[1],
            oracle=perp.amm.oracle,
            oracle_source=OracleSource.PythLazer(),
            cumulative_deposit_interest=spots[1].cumulative_deposit_interest * 1001 // 1000,
        )
        accounts = dict(fake._state.accounts)
        accounts[str(get_spot_market_public_key(DRIFT_PROGRAM_ID, 1))] = (_build("SpotMarket", sol), PROGRAM)
        fake.set_accounts(accounts)
        events = await venue.sync()
        return before, venue.spot_balance(1), events

    before, after, events = run(fake, body)
    accrued = [e for e in events if isinstance(e, InterestAccrued)]
    assert after > before
    assert [(e.spot_market_index, e.amount) for e in accrued] == [(1, after - before)]


class _FastClock:
    """Monotonic seconds running ``rate`` times faster than the real ones: a fake node's 0.3 s delay is 15 s."""

    def __init__(self, rate: float) -> None:
        self.rate, self.t0 = rate, time.monotonic()

    def __call__(self) -> float:
        return 1_000.0 + (time.monotonic() - self.t0) * self.rate


def test_vault_when_the_node_answers_slower_than_10s_then_trading_disabled_until_a_fresh_read(
    fake: FakeRpc,
) -> None:
    _serve(fake, _user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        venue.monotonic = _FastClock(50.0)  # the node's 0.3 s answer below takes 15 "seconds"
        await venue.sync()
        fresh = venue.tradeable()
        fake.inject("getMultipleAccounts", Fault.hang(0.3), times=1)
        with capture_logs() as logs:
            await venue.sync()
        errors = [(e["event"], e["why"]) for e in logs if e["log_level"] == "error"]
        slow = (venue.vault.disabled, venue.tradeable(), errors)
        refused = await venue.execute(ENTRY)
        await venue.sync()  # answered at once: fresh again
        return fresh, slow, refused, venue.vault.disabled, venue.tradeable()

    fresh, (disabled, why, errors), refused, after_disabled, after_why = run(fake, body)
    assert fresh is None
    assert disabled and why is not None and "> 10 s" in why
    assert [event for event, _ in errors] == ["vault_sync_failed"] and "> 10 s" in errors[0][1]
    assert [e.reason for e in refused if isinstance(e, CommandRejected)] == [RejectReason.VENUE_UNAVAILABLE]
    assert not after_disabled and after_why is None
    assert fake.count("sendTransaction") == 0 and fake.count("simulateTransaction") == 0


def test_vault_when_no_read_for_over_10s_then_commands_refused_before_the_next_sync(fake: FakeRpc) -> None:
    _serve(fake, _user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        clock: Any = venue.monotonic
        clock.t += 10  # exactly the freshness window: still fine
        at_10 = venue.tradeable()
        clock.t += 1
        refused = await venue.execute(ENTRY)
        with capture_logs() as logs:
            await venue.sync()  # a good read now: trading back on (it was never reported disabled: no event)
        return at_10, refused, [e["event"] for e in logs if e["log_level"] == "error"], venue.tradeable()

    at_10, refused, errors, after = run(fake, body)
    assert at_10 is None
    rejected = [e for e in refused if isinstance(e, CommandRejected)]
    assert [e.reason for e in rejected] == [RejectReason.VENUE_UNAVAILABLE] and "> 10 s" in rejected[0].detail
    assert errors == [] and after is None
    assert fake.count("sendTransaction") == 0


def test_rates_when_connected_then_the_sol_deposit_apr_is_the_chain_spot_markets_on_the_curve(fake: FakeRpc) -> None:
    _serve(fake, _user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return venue.spot_rates(0), venue.spot_rates(1), venue.spot_rates(7)

    usdc, sol, other = run(fake, body)
    _perp, spots = bundled_markets()
    assert usdc == current_rates(spot_interest_market(spots[0]))
    assert sol == current_rates(spot_interest_market(spots[1]))
    assert sol is not None and sol.utilization > 0 and 0 < sol.deposit_rate < sol.borrow_rate
    assert other is None  # a market the bot does not read
