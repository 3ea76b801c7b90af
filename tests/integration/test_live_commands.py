"""Commands out, events in: a live bot is never deaf while its transaction confirms.

Against the fake Solana node: a transaction's confirmation is delayed (``FakeRpc.confirm_after_s``); meanwhile the
bot answers the operator at once, sends nothing twice, and steps on the outcome when it comes (confirmed, or
UNKNOWN while paused); a stop while a transaction is in flight leaves it to finish and the next start re-reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from solana.rpc.async_api import AsyncClient

from actors.live_actor import Tick
from actors.proxies import live_bot_proxy
from botrunner.config import BotConfig, BotMode, ShutdownPolicy, parse_bot
from botrunner.config.live import LiveSettings
from botrunner.connector.commands import PlaceOrders, PlanReason
from botrunner.connector.orders import OrderState
from botrunner.control.client import ControlClient
from botrunner.core.operator import Pause, Shutdown
from botrunner.live.transactions import TxPipeline
from botrunner.live.venue import DriftVenue
from botrunner.runtime.live_loop import LiveLoop
from botrunner.runtime.snapshots import BotState
from botrunner.store import Store
from botrunner.venue.port import OrderRejected, RejectReason
from tests.integration.test_live_actor import TIMEOUT_S, Started, live_actor
from tests.integration.test_live_runtime import BOT as BOT_YAML
from tests.integration.test_live_runtime import ROOT, _env, _fleet, _run_cmd
from tests.integration.test_live_venue import FAST, KP, funded_user, live_config, order, serve_chain
from tests.support.fake_rpc import FakeRpc, Fault, SentTx
from tests.support.runtime import short_dir

BOT = "live-band"
SLOW = msgspec.structs.replace(FAST, confirm_timeout_s=30, status_timeout_s=5, rpc_timeout_s=10)


PLACE_ORDERS = hashlib.sha256(b"global:place_orders").digest()[:8]  # Drift's Anchor discriminator


def _places(tx: SentTx) -> bool:
    return any(ix.data[:8] == PLACE_ORDERS for ix in tx.instructions)


def band(settings: LiveSettings = SLOW) -> BotConfig:
    """The runner test's band bot (it places a 2-level ladder at its first tick) with these live settings."""
    config = parse_bot(BOT_YAML.format(authority=KP.pubkey(), url="http://127.0.0.1:1"), "live-band.yaml")
    return msgspec.structs.replace(config, live=settings)


def _until(what: str, done: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _settled(bot: Started) -> None:
    """Every command the bot started has an outcome the bot stepped on."""
    _until("the bot's transactions", lambda: live_bot_proxy(bot.ref).in_flight().get(timeout=TIMEOUT_S) == 0)


# ---------------------------------------------------------------------------------------------- the runner and ctl


@pytest.fixture
def work() -> Iterator[Path]:
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow  # the confirmation takes 20 s by design
def test_ctl_pause_while_a_transaction_confirms_20s_then_applied_within_1s_and_nothing_sent_twice(
    work: Path, fake: FakeRpc
) -> None:
    serve_chain(fake, user=funded_user())
    fleet = _fleet(work, fake.url)
    yaml = (fleet / "live-band.yaml").read_text()
    (fleet / "live-band.yaml").write_text(
        yaml.replace("confirm_timeout_s: 1", "confirm_timeout_s: 30").replace(
            "status_timeout_s: 1", "status_timeout_s: 5"
        )
    )
    fake.confirm_after_s(20)
    out = (work / "runner.out").open("w")
    proc = subprocess.Popen(
        [*_run_cmd(work), "--quiet"], cwd=ROOT, env=_env(str(KP)), stdout=out, stderr=subprocess.STDOUT
    )
    try:
        socket = work / "run" / "control.sock"
        _until("the first transaction", lambda: proc.poll() is None and socket.exists() and len(fake.sent) >= 1, 30)
        assert proc.poll() is None, (work / "runner.out").read_text()
        sent_at = time.monotonic()
        placed = fake.sent[0]
        time.sleep(1)  # the bot is well into its confirmation wait, and ticking (refresh_s 1)
        with ControlClient(socket) as client:
            started = time.monotonic()
            reply = client.call(Pause(name=BOT), BotState)
            latency = time.monotonic() - started
        assert reply.state == "paused"
        assert latency < 1.0, f"pause took {latency:.3f} s"
        # nothing more is sent while the placement confirms: the pause's cancel of its orders waits its turn
        assert [tx.signature for tx in fake.sent] == [placed.signature]
        # the confirmation (20 s after the send) is stepped on afterwards: the placement's orders, which the fake
        # node does not put on chain, are reported as not on chain
        db = work / "run" / "botrunner.db"

        def outcome_rows() -> list[str]:
            with Store.open(db, readonly=True) as store:
                return [r.event for r in store.orders(BOT) if r.event == "rejected"]

        _until("the confirmation's outcome", lambda: bool(outcome_rows()), 40)
        assert time.monotonic() - sent_at >= 19
        with ControlClient(socket) as client:
            assert client.call(Pause(name=BOT), BotState).state == "paused"
        fake.assert_no_double_send()
        # after the pause no placement was ever sent: every later transaction only cancels
        assert _places(placed) and not any(_places(tx) for tx in fake.sent[1:])
        with ControlClient(socket) as client:
            client.call_raw(Shutdown())
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
    log = "".join(p.read_text() for p in (work / "run" / "logs").glob("*"))
    assert '"outcome": "confirmed"' in log or '"outcome":"confirmed"' in log, log[-3000:]


# ---------------------------------------------------------------------------------------------- the actor in process


def _pending_ids(bot: Started) -> set[int]:
    driver = bot.actor().driver
    assert driver is not None
    return {o.user_order_id for o in driver.state.connector.orders if o.state is OrderState.PENDING_NEW}


def test_live_when_a_second_decision_comes_while_a_placement_confirms_then_it_waits_its_turn(
    fake: FakeRpc, tmp_path: Path
) -> None:
    # Tick 1 places the ladder (confirming 2 s). Tick 2 sees those orders pending and places nothing more; a pause
    # then cancels them: that cancel touches the in-flight orders, so it is sent only once the placement confirmed.
    serve_chain(fake, user=funded_user())
    fake.confirm_after_s(2)
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, config=band()) as bot:
        bot.tick()
        _until("the placement", lambda: len(fake.sent) == 1)
        pending = _pending_ids(bot)
        assert pending  # the step returned at once with its orders pending
        bot.tick()
        assert len(fake.sent) == 1 and _pending_ids(bot) == pending  # nothing new while they are pending
        started = time.monotonic()
        assert live_bot_proxy(bot.ref).command(Pause(name=bot.actor().name)).get(timeout=TIMEOUT_S).state == "paused"
        assert time.monotonic() - started < 1.0
        assert len(fake.sent) == 1  # the cancel waits for the placement's outcome
        _settled(bot)
        assert bot.failures == []
    fake.assert_no_double_send()
    placed, cancel = fake.sent
    assert _places(placed) and not _places(cancel)
    confirmed = [c for c in fake.calls if c.method == "getSignatureStatuses" and placed.signature in str(c.params)]
    assert confirmed  # the placement's status was queried before the cancel was simulated
    first_cancel_call = next(
        i
        for i, c in enumerate(fake.calls)
        if c.method == "sendTransaction" and i > fake.methods().index("sendTransaction")
    )
    assert fake.methods().index("getSignatureStatuses") < first_cancel_call


def test_live_when_a_transaction_turns_unknown_while_paused_then_nothing_is_resent_until_a_reread(
    fake: FakeRpc, tmp_path: Path
) -> None:
    serve_chain(fake, user=funded_user())
    fake.never_confirm()  # FAST: 1 s of confirmation, 1 s of status queries, then UNKNOWN
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, config=band(FAST)) as bot:
        bot.tick()
        _until("the placement", lambda: len(fake.sent) == 1)
        name = bot.actor().name
        assert live_bot_proxy(bot.ref).command(Pause(name=name)).get(timeout=TIMEOUT_S).state == "paused"
        _settled(bot)  # the UNKNOWN arrived while paused; the queued cancel was refused (resync pending)
        venue = bot.actor().venue
        assert venue is not None and "unknown transaction outcome" in (venue.tradeable() or "")
        row = bot.board.get(name)
        assert row is not None and row.state == "paused"
        assert len(fake.sent) == 1  # never re-sent, nothing else sent before the re-read
        bot.tick()  # the full re-read
        _settled(bot)
        assert venue.tradeable() is None
        assert bot.failures == []
    fake.assert_no_double_send()
    assert len(fake.sent) == 1  # paused: nothing placed after the re-read either


def test_live_when_stopped_with_a_transaction_in_flight_then_it_finishes_and_the_next_start_rereads(
    fake: FakeRpc, tmp_path: Path
) -> None:
    # The stop does not wait for the confirmation (policy leave_resting); the transaction goes on to its outcome on the
    # loop; a restart at once waits for that outcome before it reads the chain (so it reuses none of its order ids).
    serve_chain(fake, user=funded_user())
    fake.confirm_after_s(3)
    loop = LiveLoop("test-live-loop")
    keep = msgspec.structs.replace(band(), on_shutdown=ShutdownPolicy.LEAVE_RESTING)
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, config=keep, loop=loop) as bot:
        bot.tick()
        _until("the placement", lambda: len(fake.sent) == 1)
        sent_at = time.monotonic()
        bot.ref.stop(block=True, timeout=TIMEOUT_S)
        assert time.monotonic() - sent_at < 1.0
        assert loop.running  # the transaction holds the loop until its outcome
    polls = fake.count("getSignatureStatuses")
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, config=keep, keep_store=True, loop=loop) as bot:
        bot.wait_started()
        assert time.monotonic() - sent_at >= 3  # started only once the confirmation was in
        assert fake.count("getSignatureStatuses") > polls  # it went on confirming after the bot stopped
        assert loop.wait_idle(f"{KP.pubkey()}/1", 0)
        assert bot.failures == []
    _until("the loop to stop", lambda: not loop.running)
    fake.assert_no_double_send()


# ---------------------------------------------------------------------------------------------- the venue


def test_venue_when_a_read_began_before_an_unknown_outcome_then_it_is_not_the_resync(fake: FakeRpc) -> None:
    # A tick's read under way while a transaction turns UNKNOWN may predate the transaction's landing: it must not
    # count as the full re-read after the UNKNOWN; only a read begun after it does.
    serve_chain(fake, user=funded_user())
    fake.never_confirm()  # UNKNOWN after 1 s + 1 s
    settings = msgspec.structs.replace(FAST, rpc_timeout_s=10)
    config = live_config(BotMode.LIVE, settings)

    async def scenario() -> tuple[str | None, str | None]:
        rpc = AsyncClient(fake.url, timeout=10)
        venue = DriftVenue(config, rpc, wallet=KP, pipeline=TxPipeline(rpc, KP, settings), log=None)
        await venue.connect()
        placing = asyncio.create_task(venue.execute(PlaceOrders((order(1),), PlanReason.LADDER_EMPTY)))
        while not fake.sent:
            await asyncio.sleep(0.01)
        fake.inject("getMultipleAccounts", Fault.hang(3.0))  # answers after the UNKNOWN (~2 s after the send)
        events = (await asyncio.gather(placing, venue.refresh()))[0]
        assert [e.reason for e in events if isinstance(e, OrderRejected)] == [RejectReason.OUTCOME_UNKNOWN]
        after_stale_read = venue.tradeable()
        await venue.refresh()
        after_fresh_read = venue.tradeable()
        await rpc.close()
        return after_stale_read, after_fresh_read

    stale, fresh = asyncio.run(scenario())
    assert stale is not None  # still blocked
    assert fresh is None
    assert len(fake.sent) == 1


def test_live_when_the_chain_read_is_slow_then_a_pause_is_answered_at_once(fake: FakeRpc, tmp_path: Path) -> None:
    # A tick's chain read runs on the live loop: while the RPC node takes 3 s to answer it, the mailbox is open, so
    # the operator's pause is stepped at once (before, the tick held the mailbox for the whole read).
    serve_chain(fake, user=funded_user())
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, config=band()) as bot:
        bot.wait_started()
        fake.inject("getMultipleAccounts", Fault.hang(3.0), times=None)
        bot.ref.tell(Tick())
        _until("the slow read", lambda: live_bot_proxy(bot.ref).reading_chain().get(timeout=TIMEOUT_S), 5)
        started = time.monotonic()
        assert live_bot_proxy(bot.ref).command(Pause(name=bot.actor().name)).get(timeout=TIMEOUT_S).state == "paused"
        assert time.monotonic() - started < 1.0
        fake.clear_faults()
        _until("the read's step", lambda: not live_bot_proxy(bot.ref).reading_chain().get(timeout=TIMEOUT_S), 10)
        assert bot.failures == []
    fake.assert_no_double_send()
