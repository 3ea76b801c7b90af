"""PlaceLegs end to end against the fake Solana node (see test_live_venue for the fake's limits: it does not run
the Drift program, so each test installs the User the program would have written once the transaction lands).

Both legs go in one transaction, simulated first and sent once; the fills come back read from the account; a
simulation failure sends nothing and rejects the whole command; an unknown outcome is never re-sent and the next
read is the resync; the safety gates hold the whole command.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest
from driftpy.addresses import (
    get_perp_market_public_key,
    get_phoenix_fulfillment_config_public_key,
    get_spot_market_public_key,
)
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.types import (
    OracleSource,
    PhoenixV1FulfillmentConfigAccount,
    SpotFulfillmentConfigStatus,
    SpotFulfillmentType,
)
from solders.pubkey import Pubkey
from structlog.testing import capture_logs

from botrunner.bot.legs import legs_step
from botrunner.bot.pipeline import BotDefinition, BotState, LegsState
from botrunner.bot.step import VenueReport
from botrunner.config import BotMode, load_bot
from botrunner.config.live import SpotFulfillment
from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.catalogue import load_catalogue
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import MAX_TRANSACTION_BYTES
from botrunner.core.side import Side
from botrunner.drift.convert import spot_interest_market
from botrunner.live import instructions as ix
from botrunner.live.jito import TIP_TRANSFER_BYTES
from botrunner.live.venue import DriftVenue, VenueError
from botrunner.margin.interest import current_rates
from botrunner.venue.port import CommandRejected, Fill, InterestAccrued, PlaceLegs, RejectReason, SpotFill, SpotOrder
from botrunner.yamlconf import ConfigError
from strategies.delta_neutral import CarryInput, DeltaNeutralState, LegsNote, LegsView, decide_legs
from tests.integration.test_live_venue import AUTHORITY, FAST, KP, USDC, run, serve_chain
from tests.support.drift import _build, bundled_markets, scaled_balance, user_bytes
from tests.support.fake_rpc import FakeRpc, Fault

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

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


def test_legs_when_spot_leg_only_then_its_fill_is_read_back(fake: FakeRpc) -> None:
    # a PlaceLegs that moves the spot leg alone (an operator's target re-worked after a partial spot fill, an exit
    # with the perp already flat): the transaction places no perp order, and its spot fill must still come back,
    # or the bot never learns the trade's outcome (its PlaceLegs stays in flight, its spot books miss the fill)
    _serve(fake, _user())
    spot_only = PlaceLegs(
        spot=SpotOrder(spot_market_index=1, side=Side.BUY, base=SMALL, limit_price=150 * USDC),
        perp=None,
        reason="enter",
    )

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        _serve(
            fake,
            _user(
                usdc=1_000 * USDC - 45 * USDC - 30_000,
                sol_scaled_balance=scaled_balance(1, SMALL),
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
                ],
            ),
        )
        return await venue.execute(spot_only)

    events = run(fake, body)
    assert fake.count("sendTransaction") == 1
    assert not [e for e in events if isinstance(e, CommandRejected)]
    spot_fills = [e for e in events if isinstance(e, SpotFill)]
    assert [(f.side, f.base, f.quote, f.fee) for f in spot_fills] == [(Side.BUY, SMALL, -45 * USDC, 30_000)]


def _concluded(events: Any) -> tuple[str, int | None]:
    """The two-leg step fed ``events`` with a PlaceLegs in flight: (its in-flight marker after, the cooldown's
    start). An empty marker: the PlaceLegs concluded and the next decision may trade."""
    bot = BotDefinition.from_config(load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml"))
    state: BotState = bot.initial_state(0)
    strategy: LegsState = state.strategy
    strategy.pending = "rebalance_reduce_short"
    state, _ = legs_step(bot, state, VenueReport(1, tuple(events)), cast(Any, None))  # the report reads no account
    return strategy.pending, state.last_rebalance_ts


def test_legs_when_spot_leg_only_fills_nothing_then_the_place_legs_concludes(fake: FakeRpc) -> None:
    # a spot-only PlaceLegs whose IOC spot order lands but finds no liquidity within its limit: no fill, no perp
    # order; the venue must still conclude the command, or the bot keeps it in flight and blocks every later trade
    # as legs_in_flight (the paper venue refuses such a leg whole)
    _serve(fake, _user())
    spot_only = PlaceLegs(
        spot=SpotOrder(spot_market_index=1, side=Side.BUY, base=SMALL, limit_price=150 * USDC),
        perp=None,
        reason="rebalance_reduce_short",
    )

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        _serve(
            fake,
            _user(
                open_orders=[
                    {
                        "status": "Canceled",
                        "market_type": "Spot",
                        "market_index": 1,
                        "direction": "long",
                        "base": SMALL,
                        "price": 150 * USDC,
                        "base_filled": 0,
                        "quote_filled": 0,
                        "order_id": 1,
                    },
                ],
            ),
        )
        return await venue.execute(spot_only)

    events = run(fake, body)
    assert fake.count("sendTransaction") == 1
    assert not [e for e in events if isinstance(e, Fill | SpotFill)]
    assert [(e.command, e.reason) for e in events if isinstance(e, CommandRejected)] == [
        ("PlaceLegs", RejectReason.INVALID_ORDER)
    ]
    assert _concluded(events) == ("", None)  # the marker cleared, and nothing filled: no cooldown


def test_legs_when_a_perp_leg_landed_but_the_read_shows_no_fill_then_not_called_nothing_filled(fake: FakeRpc) -> None:
    # a PlaceLegs with a perp leg is FullFill: if it landed, the perp filled. A read showing no fill is stale, and
    # reporting "nothing filled" would free the bot to send the same trade again, so no rejection is reported and
    # the command stays in flight until a read shows the fill
    _serve(fake, _user())
    both = PlaceLegs(
        spot=SpotOrder(spot_market_index=1, side=Side.BUY, base=SMALL, limit_price=150 * USDC),
        perp=_perp(Side.SELL, SMALL, 150 * USDC),
        reason="enter",
    )

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return await venue.execute(both)

    events = run(fake, body)
    assert fake.count("sendTransaction") == 1
    assert not [e for e in events if isinstance(e, Fill | SpotFill | CommandRejected)]
    assert _concluded(events) == ("rebalance_reduce_short", None)  # still in flight


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
    assert _concluded(events) == ("", None)  # the reverted legs leave nothing in flight


def test_legs_when_landed_with_an_error_then_the_whole_command_rejected_and_nothing_stays_in_flight(
    fake: FakeRpc,
) -> None:
    # the perp leg's FullFill reverted the whole transaction on chain (simulation passed, execution failed)
    _serve(fake, _user())
    fake.land_with_error({"InstructionError": [3, {"Custom": 6287}]})

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        return await venue.execute(ENTRY)

    events = run(fake, body)
    assert fake.count("sendTransaction") == 1
    assert [(e.command, e.reason) for e in events if isinstance(e, CommandRejected)] == [
        ("PlaceLegs", RejectReason.TRANSACTION_FAILED)
    ]
    assert not [e for e in events if isinstance(e, Fill | SpotFill)]
    assert _concluded(events) == ("", None)


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


def test_vault_when_a_command_reads_the_aged_chain_again_then_what_that_read_saw_is_reported(fake: FakeRpc) -> None:
    # The command's own re-read (the reading aged past 10 s between two ticks) is a whole reading like the tick's:
    # what changed since the last one (here SOL interest) must reach the bot, or the next reading's diff never
    # shows it again (the snapshot it diffs against is the re-read's).
    _serve(fake, _user(sol_scaled_balance=scaled_balance(1, 2 * SOL)))

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        before = venue.spot_balance(1)
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
        clock: Any = venue.monotonic
        clock.t += 11  # aged: the command reads the chain again before trading
        events = await venue.execute(ENTRY)
        return before, venue.spot_balance(1), events

    before, after, events = run(fake, body)
    accrued = [e for e in events if isinstance(e, InterestAccrued)]
    assert after > before
    assert [(e.spot_market_index, e.amount) for e in accrued] == [(1, after - before)]


class _FastClock:
    """Monotonic seconds running ``rate`` times faster than the real ones: at 20x a fake node's 1 s delay is 20 s,
    while a read answered within 0.5 s (even on a loaded machine) stays under the 10 s freshness window."""

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
        venue.monotonic = _FastClock(20.0)  # the node's 1 s answer below takes 20 "seconds"; a normal one < 10
        await venue.sync()
        fresh = venue.tradeable()
        fake.inject("getMultipleAccounts", Fault.hang(1.0), times=2)  # the sync's read and the command's re-read
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


def test_vault_when_the_reading_aged_past_10s_then_a_command_reads_again_first_and_is_refused_if_it_cannot(
    fake: FakeRpc,
) -> None:
    _serve(fake, _user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        clock: Any = venue.monotonic
        clock.t += 10  # exactly the freshness window: still fine
        at_10 = venue.tradeable()
        clock.t += 1  # aged: the command reads the chain again before trading, and the node does not answer
        fake.inject("getMultipleAccounts", Fault.http(503), times=None)
        reads = fake.count("getMultipleAccounts")
        refused = await venue.execute(ENTRY)
        retried = fake.count("getMultipleAccounts") - reads
        fake.clear_faults("getMultipleAccounts")
        clock.t += 11 + FAST.reconnect_every_s  # aged again; the node answers now (the link's reconnect is due)
        accepted = await venue.execute(ENTRY)
        return at_10, refused, retried, accepted

    at_10, refused, retried, accepted = run(fake, body)
    assert at_10 is None
    rejected = [e for e in refused if isinstance(e, CommandRejected)]
    assert [e.reason for e in rejected] == [RejectReason.VENUE_UNAVAILABLE] and "> 10 s" in rejected[0].detail
    assert retried >= 1  # it tried to read before refusing
    # the fresh read let the second command through: one simulation, one send, not refused (it has a perp leg, so
    # a landed transaction is never read as "nothing filled": the fake's User shows no fill yet, and the trade
    # stays in flight until a read shows it)
    assert not [e for e in accepted if isinstance(e, CommandRejected)]
    assert fake.count("simulateTransaction") == 1 and fake.count("sendTransaction") == 1


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


# --- the spot leg filled on Phoenix (live.spot_fulfillment) ---------------------------------------------------------
# The fake node runs no program: the Phoenix accounts below are placeholders (unique keys, not mainnet's); what is
# checked is what the transaction carries and what the venue makes of the account the program would have written.

PHOENIX_MARKET = Pubkey.new_unique()
PHOENIX = PhoenixV1FulfillmentConfigAccount(
    pubkey=get_phoenix_fulfillment_config_public_key(DRIFT_PROGRAM_ID, PHOENIX_MARKET),
    phoenix_program_id=Pubkey.new_unique(),
    phoenix_log_authority=Pubkey.new_unique(),
    phoenix_market=PHOENIX_MARKET,
    phoenix_base_vault=Pubkey.new_unique(),
    phoenix_quote_vault=Pubkey.new_unique(),
    market_index=1,
    fulfillment_type=SpotFulfillmentType.PHOENIX_V1(),
    status=SpotFulfillmentConfigStatus.ENABLED(),
)
ON_PHOENIX = msgspec.structs.replace(FAST, spot_fulfillment=SpotFulfillment(config_account=str(PHOENIX.pubkey)))
TX_LIMIT = 1_232


def _serve_phoenix(fake: FakeRpc, user: bytes, config: PhoenixV1FulfillmentConfigAccount = PHOENIX) -> None:
    _serve(fake, user)
    accounts = dict(fake._state.accounts)
    accounts[str(PHOENIX.pubkey)] = (_build("PhoenixV1FulfillmentConfig", config), PROGRAM)
    fake.set_accounts(accounts)


def _landed(spot_filled: int, perp_base: int, *, usdc: int = 1_000 * USDC, price: int = 150 * USDC) -> bytes:
    """The User after a legs transaction: the IOC spot order filled ``spot_filled`` of its size at ``price`` (the
    rest cancelled), the perp short of ``perp_base`` filled in full."""
    quote = spot_filled * price // SOL
    return _user(
        usdc=usdc - quote - quote // 1_000,  # 10 bps fee
        sol_scaled_balance=scaled_balance(1, spot_filled) if spot_filled else 0,
        perp_base=-perp_base,
        perp_quote=perp_base * price // SOL,
        open_orders=[
            {
                "status": "Canceled" if spot_filled < perp_base else "Filled",
                "market_type": "Spot",
                "market_index": 1,
                "direction": "long",
                "base": perp_base,
                "price": price,
                "base_filled": spot_filled,
                "quote_filled": quote,
                "order_id": 1,
            },
            {
                "status": "Filled",
                "order_type": "Market",
                "direction": "short",
                "base": perp_base,
                "price": price,
                "base_filled": perp_base,
                "quote_filled": perp_base * price // SOL,
                "user_order_id": 5,
                "order_id": 2,
            },
        ],
    )


def _entry(base: int) -> PlaceLegs:
    return PlaceLegs(
        spot=SpotOrder(spot_market_index=1, side=Side.BUY, base=base, limit_price=150 * USDC),
        perp=_perp(Side.SELL, base, 150 * USDC),
        reason="enter",
    )


def test_legs_on_phoenix_when_entry_then_both_instructions_decode_with_the_phoenix_accounts_in_one_tx(
    fake: FakeRpc,
) -> None:
    _serve_phoenix(fake, _user())

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        _serve_phoenix(fake, _landed(SMALL, SMALL))
        events = await venue.execute(ENTRY)
        return events, venue.client.program.coder.instruction

    events, coder = run(fake, body, settings=ON_PHOENIX)
    assert fake.count("simulateTransaction") == 1 and fake.count("sendTransaction") == 1
    fake.assert_no_double_send()
    sent = fake.sent[0]
    assert len(sent.raw) <= TX_LIMIT  # measured: the signed v0 transaction as sent
    drift = [ix for ix in sent.instructions if ix.program_id == PROGRAM]
    spot, perp = (coder.parse(ix.data) for ix in drift)
    assert (spot.name, perp.name) == (PLACE_AND_TAKE_SPOT, PLACE_AND_TAKE_PERP)
    # the spot leg: an IOC limit buy of 0.3 SOL at $150 worst, filled on Phoenix
    sp = spot.data["params"]
    assert type(spot.data["fulfillment_type"]).__name__ == "PhoenixV1"
    assert (type(sp.market_type).__name__, sp.market_index, type(sp.direction).__name__) == ("Spot", 1, "Long")
    assert (sp.base_asset_amount, sp.price, sp.bit_flags & 1) == (SMALL, 150 * USDC, 1)
    # the ten Phoenix accounts close the spot instruction, in protocol-v2 PhoenixFulfillmentParams::new's order
    tail = drift[0].accounts[-10:]
    assert tail[:4] == (
        str(PHOENIX.pubkey),
        str(PHOENIX.phoenix_program_id),
        str(PHOENIX.phoenix_log_authority),
        str(PHOENIX.phoenix_market),
    )
    assert tail[5:7] == (str(PHOENIX.phoenix_base_vault), str(PHOENIX.phoenix_quote_vault))
    assert tail[9] == "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
    # the perp leg: an IOC market short of the same size, FullFill (either it fills in full or the tx reverts)
    pp = perp.data["params"]
    assert (type(pp.direction).__name__, pp.base_asset_amount, pp.bit_flags & 1) == ("Short", SMALL, 1)
    assert perp.data["success_condition"] & 0xFF == 2  # PlaceAndTakeOrderSuccessCondition::FullFill
    spot_fills = [e for e in events if isinstance(e, SpotFill)]
    assert [(f.side, f.base) for f in spot_fills] == [(Side.BUY, SMALL)]
    assert [(f.side, f.base) for f in events if isinstance(f, Fill)] == [(Side.SELL, SMALL)]


def test_legs_on_phoenix_tx_size_stays_within_1232_bytes_with_room_for_a_jito_tip(fake: FakeRpc) -> None:
    _serve_phoenix(fake, _user(sol_scaled_balance=scaled_balance(1, SOL), perp_base=-SOL, perp_quote=150 * USDC))

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        plan = ix.legs_transaction(
            venue.client,
            _entry(SOL),
            market_index=0,
            sub_account_id=1,
            limit=MAX_TRANSACTION_BYTES - TIP_TRANSFER_BYTES,  # the pipeline's budget with Jito bundles on
            fulfillment=venue.fulfillment,
        )
        return ix.transaction_size(KP.pubkey(), plan.instructions)

    size = run(fake, body, settings=ON_PHOENIX)
    # measured on this account (SOL and USDC spot, a SOL-PERP short; docs/delta-neutral.md quotes it): 918 bytes,
    # 999 with the tip transfer; the bound is what matters, the figure pins the account list's length
    assert size + TIP_TRANSFER_BYTES <= TX_LIMIT
    assert size == 918


def test_legs_spot_sell_is_reduce_only_and_a_spot_buy_is_not(fake: FakeRpc) -> None:
    # a spot sell beyond the SOL held would BORROW SOL on Drift (the paper venue refuses it): with no reversed carry
    # for a two-leg bot, the spot sell is reduce-only on chain, read back from the instruction through Drift's IDL
    _serve_phoenix(fake, _user(sol_scaled_balance=scaled_balance(1, SOL), perp_base=-SOL, perp_quote=150 * USDC))
    sell = PlaceLegs(
        spot=SpotOrder(spot_market_index=1, side=Side.SELL, base=SMALL, limit_price=149 * USDC),
        perp=_perp(Side.BUY, SMALL, 151 * USDC),
        reason="exit",
    )

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        coder = venue.client.program.coder.instruction
        flags = []
        for legs in (sell, _entry(SMALL)):
            plan = ix.legs_transaction(
                venue.client, legs, market_index=0, sub_account_id=1, limit=TX_LIMIT, fulfillment=venue.fulfillment
            )
            spot = coder.parse(next(i for i in plan.instructions if i.program_id == DRIFT_PROGRAM_ID).data)
            assert spot.name == PLACE_AND_TAKE_SPOT
            flags.append((type(spot.data["params"].direction).__name__, spot.data["params"].reduce_only))
        return flags

    assert run(fake, body, settings=ON_PHOENIX) == [("Short", True), ("Long", False)]


def test_legs_on_phoenix_when_the_config_is_not_for_sol_or_disabled_then_connect_refuses(fake: FakeRpc) -> None:
    for bad in (
        dataclasses.replace(PHOENIX, market_index=2),
        dataclasses.replace(PHOENIX, status=SpotFulfillmentConfigStatus.DISABLED()),
    ):
        _serve_phoenix(fake, _user(), bad)

        async def body(venue: DriftVenue) -> Any:
            await venue.connect()

        with pytest.raises(VenueError, match=r"spot_fulfillment\.config_account"):
            run(fake, body, settings=ON_PHOENIX)


def _rules_view(venue: DriftVenue, now: int, last_rebalance_ts: int | None) -> LegsView:
    bot = load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml")
    return LegsView(
        spot_base=venue.spot_balance(1),
        perp_base=venue.position.base_asset_amount,
        oracle=venue.oracle,
        mark=venue.oracle,
        now=now,
        last_rebalance_ts=last_rebalance_ts,
        equity_quote=venue.equity(),
        market=bot.market_spec,
        spot_market=load_catalogue().spot(1),
        carry=CarryInput(in_market=True),
    )


def test_legs_on_phoenix_when_the_spot_leg_fills_partially_then_the_residual_is_drift_the_rebalance_corrects(
    fake: FakeRpc,
) -> None:
    # Phoenix's book held 0.2 SOL under the $150 limit: the IOC spot leg buys 0.2 of 0.3 SOL, the perp short fills
    # 0.3 in full. The transaction succeeds (spot place-and-take has no success condition); the legs are unequal.
    _serve_phoenix(fake, _user())
    partial = 2 * 10**8
    rules = load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml").strategy.delta_neutral

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        _serve_phoenix(fake, _landed(partial, SMALL))
        events = await venue.execute(ENTRY)
        t = venue.reading().ts
        inside = decide_legs(rules, DeltaNeutralState(), _rules_view(venue, t + 60, last_rebalance_ts=t))
        after = decide_legs(
            rules, DeltaNeutralState(), _rules_view(venue, t + rules.cooldown_s + 1, last_rebalance_ts=t)
        )
        return events, inside, after

    events, (_, _, inside), (state, decision, after) = run(fake, body, settings=ON_PHOENIX)
    assert fake.count("sendTransaction") == 1
    assert [(f.side, f.base) for f in events if isinstance(f, SpotFill)] == [(Side.BUY, partial)]
    assert [(f.side, f.base) for f in events if isinstance(f, Fill)] == [(Side.SELL, SMALL)]
    assert not [e for e in events if isinstance(e, CommandRejected)]
    # the post-trade read measures the real legs: 0.1 SOL net short, 50 % drift, well inside the $500 bound
    assert after.net_delta_base == partial - SMALL and after.drift_bps == -5_000
    assert inside.note is LegsNote.COOLDOWN  # the entry's fills started the cooldown
    # after the cooldown: the ordinary rebalance, reduce the short by exactly the residual
    assert after.note is LegsNote.REBALANCE_REDUCE_SHORT and after.correction_base == SMALL - partial
    assert decision.band.preferred_base == -partial and not state.halted


def test_legs_on_phoenix_when_the_spot_leg_fills_far_short_then_the_mismatch_bound_halts(fake: FakeRpc) -> None:
    # a 5 SOL entry whose spot leg finds only 1 SOL on Phoenix: 4 SOL ($600) of unhedged short, beyond the $500
    # bound: the rules halt and hold both legs (no trade into a broken hedge) until an operator clears it
    _serve_phoenix(fake, _user(usdc=2_000 * USDC))
    no_confirm = msgspec.structs.replace(ON_PHOENIX, confirm_above_quote=10_000 * USDC)
    rules = load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml").strategy.delta_neutral

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        _serve_phoenix(fake, _landed(SOL, 5 * SOL, usdc=2_000 * USDC))
        events = await venue.execute(_entry(5 * SOL))
        t = venue.reading().ts
        return events, decide_legs(rules, DeltaNeutralState(), _rules_view(venue, t + 10**6, last_rebalance_ts=t))

    events, (state, decision, numbers) = run(fake, body, settings=no_confirm)
    assert [(f.side, f.base) for f in events if isinstance(f, SpotFill)] == [(Side.BUY, SOL)]
    assert numbers.note is LegsNote.HALTED_LEG_MISMATCH and state.halted
    assert numbers.net_delta_base == -4 * SOL and abs(numbers.net_delta_base) > numbers.mismatch_bound_base
    assert decision.band.preferred_base == -5 * SOL and decision.spot_band.preferred_base == SOL  # hold: no trade


def test_config_when_live_delta_neutral_then_a_spot_fulfillment_is_required(tmp_path: Path) -> None:
    text = (ROOT / "config" / "bots" / "sol-delta-neutral.yaml").read_text()
    live = text.replace("mode: paper", "mode: live").replace("authority: paper-wallet", f"authority: {AUTHORITY}")
    path = tmp_path / "bot.yaml"
    path.write_text(live)
    with pytest.raises(ConfigError, match="spot_fulfillment"):
        load_bot(path)
    path.write_text(live + "live:\n  spot_fulfillment:\n    venue: phoenix\n    config_account: not-a-key\n")
    with pytest.raises(ConfigError, match="config_account"):
        load_bot(path)
    path.write_text(live + f"live:\n  spot_fulfillment:\n    venue: phoenix\n    config_account: {PHOENIX.pubkey}\n")
    bot = load_bot(path)
    assert bot.live.spot_fulfillment == SpotFulfillment(config_account=str(PHOENIX.pubkey))


def _instruction_coder() -> Any:
    """Drift's IDL instruction coder, on an offline client (no RPC call is made)."""
    from driftpy.account_subscription_config import AccountSubscriptionConfig
    from driftpy.drift_client import DriftClient
    from solana.rpc.async_api import AsyncClient

    client = DriftClient(
        AsyncClient("http://127.0.0.1:1"), KP, "mainnet", account_subscription=AccountSubscriptionConfig("cached")
    )
    return client.program.coder.instruction


def test_live_delta_neutral_bot_end_to_end_enters_with_both_legs_in_one_transaction(
    fake: FakeRpc, tmp_path: Path
) -> None:
    # The example bot, live: its actor reads the chain, the carry engine (forced in) decides the entry, the Risk
    # Governor and the safety gates pass it, and the venue sends ONE transaction holding both legs on Phoenix.
    from tests.integration.test_live_actor import TIMEOUT_S, live_actor

    example = load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml")
    strategy = example.strategy
    free = msgspec.structs.replace(
        strategy.cost_gate, perp_fee_ppm=0, spot_fee_ppm=0, slippage_ppm=0, base_fee_lamports=0,
        priority_fee_lamports=0, jito_tip_lamports=0,
    )  # fmt: skip
    config = msgspec.structs.replace(
        example,
        mode=BotMode.LIVE,
        account=msgspec.structs.replace(example.account, authority=str(AUTHORITY), subaccount_id=1),
        live=ON_PHOENIX,
        strategy=msgspec.structs.replace(
            strategy,
            carry=msgspec.structs.replace(strategy.carry, always_in=True),
            delta_neutral=msgspec.structs.replace(strategy.delta_neutral, target_base=SMALL),
            cost_gate=free,
        ),
    )
    _serve_phoenix(fake, _user())
    # longs pay the short $0.02 per SOL an hour: the cost gate sees revenue (the bundled market's funding is
    # negative, and the gate rightly refuses to enter a short that pays)
    perp, _spots = bundled_markets()
    paying = dataclasses.replace(perp, amm=dataclasses.replace(perp.amm, last_funding_rate=20_000_000))
    accounts = dict(fake._state.accounts)
    accounts[str(get_perp_market_public_key(DRIFT_PROGRAM_ID, 0))] = (_build("PerpMarket", paying), PROGRAM)
    fake.set_accounts(accounts)
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, config=config) as bot:
        bot.wait_started()
        bot.tick()
        deadline = time.monotonic() + TIMEOUT_S
        while fake.count("sendTransaction") == 0 or bot.actor().in_flight():
            if time.monotonic() > deadline:
                drv = bot.actor().driver
                assert drv is not None
                raise AssertionError(f"never sent: {drv.state.strategy.last} {drv.state.strategy.cost} {bot.failures}")
            time.sleep(0.01)
        assert bot.failures == []
    assert fake.count("simulateTransaction") == 1 and fake.count("sendTransaction") == 1
    coder = _instruction_coder()
    names = [coder.parse(i.data).name for i in fake.sent[0].instructions if i.program_id == PROGRAM]
    assert names == [PLACE_AND_TAKE_SPOT, PLACE_AND_TAKE_PERP]
    spot, perp = (coder.parse(i.data).data["params"] for i in fake.sent[0].instructions if i.program_id == PROGRAM)
    assert (type(spot.direction).__name__, spot.base_asset_amount) == ("Long", SMALL)
    assert (type(perp.direction).__name__, perp.base_asset_amount) == ("Short", SMALL)
    assert len(fake.sent[0].raw) <= TX_LIMIT


def test_vault_when_the_node_turns_slow_then_the_operator_is_notified_once(fake: FakeRpc, tmp_path: Path) -> None:
    # a live bot's actor: its tick's read (the vault sync) answers in 1 s on a clock 20x fast, i.e. 20 s: the
    # reading is stale on arrival, trading is disabled, and ONE vault_sync incident reaches the notifier's URL
    from botrunner.notify import Notifier
    from tests.integration.test_live_actor import live_actor
    from tests.integration.test_live_commands import _settled, _until, band
    from tests.integration.test_notify_apprise import Receiver

    serve_chain(fake, user=_user())
    receiver = Receiver()
    try:
        with live_actor(fake, tmp_path, mode=BotMode.LIVE, config=band(FAST), force_pause=True) as bot:
            bot.wait_started()
            notifier = Notifier([receiver.url], daily_summary=False)
            notifier.start(bot.actor().setup.hub)
            try:
                venue = bot.actor().venue
                assert venue is not None
                venue.monotonic = _FastClock(20.0)
                fake.inject("getMultipleAccounts", Fault.hang(1.0), times=2)
                for _ in range(2):  # two slow ticks: one outage, one notification
                    bot.tick()
                    _settled(bot)
                disabled = venue.vault.disabled
                _until("the notification", lambda: any("vault_sync" in p["title"] for p in receiver.posts), 10.0)
                bot.tick()  # answered at once: fresh again
                _settled(bot)
                enabled = not venue.vault.disabled and venue.tradeable() is None
            finally:
                notifier.stop()
    finally:
        receiver.server.shutdown()
    posts = [p for p in receiver.posts if "vault_sync" in p["title"]]
    assert disabled and enabled
    assert len(posts) == 1 and posts[0]["type"] == "failure"
    assert "> 10 s" in posts[0]["message"] and "no trade until a fresh reading" in posts[0]["message"]
