"""LiveBotActor in process, against the fake Solana node: how it starts (a flagged restart, its Jito submitter)
and what its status row shows between events. No ticker runs during a test (``refresh_s`` is 10 s): each test
asks for its ticks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import pykka
import pytest
import structlog
import structlog.testing

from actors.live_actor import LiveBotActor, LiveCheckpoint, LiveSetup, Tick
from actors.proxies import live_bot_proxy
from botrunner.bot.operator_position import PositionRefused
from botrunner.config import BotConfig, BotMode
from botrunner.config.live import JitoSettings, LiveSettings
from botrunner.core.operator import Asset, ClosePosition, OpenPosition, PositionSide, TransferFunds
from botrunner.runner import register_config
from botrunner.runtime.hub import EventHub, StatusBoard
from botrunner.runtime.live_loop import LIVE_LOOP, LiveLoop
from botrunner.store import Store, StoreWriteError, StoreWriter
from tests.integration.test_live_venue import FAST, KP, USDC, Clock, funded_user, live_config, serve_chain
from tests.support.drift import bundled_markets, scaled_balance, user_bytes
from tests.support.fake_rpc import FakeRpc

TIMEOUT_S = 30


class Started:
    """A running actor, its status board, its logger and the failures it reported."""

    def __init__(self, ref: pykka.ActorRef[Any], board: StatusBoard, log: Any, failures: list[str]) -> None:
        self.ref, self.board, self.log, self.failures = ref, board, log, failures

    def tick(self) -> None:
        """One tick, stepped: its chain read runs on the live loop and the step comes after it."""
        self.ref.ask(Tick(), timeout=TIMEOUT_S)
        deadline = time.monotonic() + TIMEOUT_S
        while self.ref.proxy().reading_chain().get(timeout=TIMEOUT_S):
            assert time.monotonic() < deadline, "the tick's read never came back"
            time.sleep(0.005)

    def wait_started(self) -> None:
        self.ref.proxy().flush_marker().get(timeout=TIMEOUT_S)  # answered once on_start is done

    def actor(self) -> LiveBotActor:
        actor = self.ref._actor_weakref()  # pykka keeps the actor itself private; the tests read its state
        assert isinstance(actor, LiveBotActor)
        return actor


@contextmanager
def live_actor(
    fake: FakeRpc,
    tmp_path: Path,
    *,
    mode: BotMode,
    force_pause: bool = False,
    settings: LiveSettings = FAST,
    snapshot_every_s: int = 60,
    keep_store: bool = False,
    loop: LiveLoop = LIVE_LOOP,
    config: BotConfig | None = None,
) -> Iterator[Started]:
    config = config if config is not None else live_config(mode, settings)
    db = tmp_path / "store.db"
    with Store.open(db) as store:
        if keep_store:  # a restart on the same store: the bot is registered already
            assert store.account(config.name) is not None
        else:
            register_config(store, config, now=1)
    writer = StoreWriter(db)
    board = StatusBoard()
    failures: list[str] = []
    log = structlog.get_logger("test-live-actor").bind(bot=config.name)
    setup = LiveSetup(
        config=config,
        wallet=KP if mode is BotMode.LIVE else None,
        rpc_url=fake.url,
        store_path=str(db),
        writer=writer,
        board=board,
        hub=EventHub(),
        log=log,
        generation=1,
        on_failure=lambda name, generation, error: failures.append(error),
        force_pause=force_pause,
        snapshot_every_s=snapshot_every_s,
        loop=loop,
    )
    ref = LiveBotActor.start(setup)
    try:
        yield Started(ref, board, log, failures)
    finally:
        if ref.is_alive():
            ref.stop(block=True, timeout=TIMEOUT_S)
        writer.close(timeout=TIMEOUT_S)


def test_monitor_when_flagged_for_a_paused_restart_then_it_starts(fake: FakeRpc, tmp_path: Path) -> None:
    # The supervisor restarts a flagged bot paused; a monitor bot has nothing to pause and must still start.
    serve_chain(fake, user=funded_user())
    with live_actor(fake, tmp_path, mode=BotMode.MONITOR, force_pause=True) as bot:
        bot.tick()
        assert bot.failures == []
        row = bot.board.get("sol-neutral-grid")
        assert row is not None and row.state == "running"


def test_live_when_flagged_for_a_paused_restart_then_it_starts_paused(fake: FakeRpc, tmp_path: Path) -> None:
    serve_chain(fake, user=funded_user())
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, force_pause=True) as bot:
        bot.tick()
        assert bot.failures == []
        row = bot.board.get("sol-neutral-grid")
        assert row is not None and row.state == "paused"
    assert fake.count("sendTransaction") == 0


def test_live_when_the_store_cannot_be_written_then_a_tick_reads_and_sends_nothing(
    fake: FakeRpc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing a bot did after the store failed could be recovered after a crash: it must not trade (the runner is
    # stopping the fleet). A tick then does not even read the chain.
    serve_chain(fake, user=funded_user())
    with live_actor(fake, tmp_path, mode=BotMode.LIVE) as bot:
        bot.tick()
        reads = fake.count("getMultipleAccounts")
        monkeypatch.setattr(StoreWriter, "failed", property(lambda _: StoreWriteError("disk full")))
        bot.tick()
        bot.tick()
        assert fake.count("getMultipleAccounts") == reads
        monkeypatch.undo()
        bot.tick()
        assert fake.count("getMultipleAccounts") > reads  # the same ticks read it while the store works
        assert bot.failures == []
    assert fake.count("sendTransaction") == 0


def test_monitor_when_the_oracle_moves_without_events_then_status_follows(fake: FakeRpc, tmp_path: Path) -> None:
    serve_chain(fake, user=funded_user())
    with live_actor(fake, tmp_path, mode=BotMode.MONITOR) as bot:
        bot.tick()
        first = bot.board.get("sol-neutral-grid")
        serve_chain(fake, user=funded_user(), oracle=160 * USDC)  # no fill, no order change: no venue event
        bot.tick()
        second = bot.board.get("sol-neutral-grid")
    assert first is not None and second is not None
    assert (first.mark, second.mark) == (150 * USDC, 160 * USDC)


def test_live_when_jito_enabled_then_submitter_uses_the_bots_delays_and_log(fake: FakeRpc, tmp_path: Path) -> None:
    serve_chain(fake, user=funded_user())
    settings = msgspec.structs.replace(
        FAST, rpc_retry_delays_s=(3, 5), jito=JitoSettings(enabled=True, block_engine_url=fake.url, attempts=3)
    )
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, settings=settings) as bot:
        bot.wait_started()
        jito = bot.actor()._jito
        assert bot.failures == []
        assert jito._delays == (3.0, 5.0)  # the YAML's rpc_retry_delays_s, not the defaults (1 s, 2 s)
        assert jito._log is bot.log  # the bot's own log file, not a global logger


def test_live_when_operator_transfers_to_a_sibling_then_sent_and_reported(fake: FakeRpc, tmp_path: Path) -> None:
    serve_chain(fake, user=funded_user(), siblings={2: user_bytes(authority=KP.pubkey(), sub_account_id=2)})
    with live_actor(fake, tmp_path, mode=BotMode.LIVE) as bot:
        transfer = TransferFunds(name="sol-neutral-grid", amount="100", asset=Asset.USDC, to_subaccount=2)
        reply = live_bot_proxy(bot.ref).capital(transfer, 100 * USDC).get(timeout=TIMEOUT_S).result(TIMEOUT_S)
    assert [(e.event, e.asset, e.amount) for e in reply.events] == [("BalanceChanged", "usdc", "-100.000000")]
    assert fake.count("sendTransaction") == 1


# ---------------------------------------------------------------------------------------------- stored account rows

SETTLED = 5 * USDC  # PnL already moved into USDC
FUNDING = 2 * USDC  # funding settled into the position over its life (+ = received)


def _user_with_long(*, base: int, quote: int, entry: int, orders: list[dict[str, Any]]) -> bytes:
    perp, _ = bundled_markets()
    return user_bytes(
        authority=KP.pubkey(),
        sub_account_id=1,
        usdc_scaled_balance=scaled_balance(0, 1_000 * USDC + SETTLED),
        perp_base=base,
        perp_quote=quote,
        perp_quote_entry=entry,
        perp_quote_break_even=entry,
        # settled up to the market's current rate: no funding pending, so the split's funding is the User's counter
        perp_last_cumulative_funding_rate=int(perp.amm.cumulative_funding_rate_long),
        open_orders=orders,
        settled_perp_pnl=SETTLED,
        cumulative_perp_funding=FUNDING,
    )


def test_live_when_an_order_fills_then_a_snapshot_and_the_position_are_stored(fake: FakeRpc, tmp_path: Path) -> None:
    # A monitor bot watching a 1 SOL long (bought for 150 USDC, +2 USDC funding settled into it) with a resting
    # bid of 1 SOL at 140; between two ticks half of the bid fills for 70 USDC and a 0.0245 USDC fee.
    bid = {"user_order_id": 7, "base": 10**9, "price": 140 * USDC, "post_only": True}
    before = _user_with_long(base=10**9, quote=-148 * USDC, entry=-150 * USDC, orders=[bid])
    filled = {**bid, "base_filled": 5 * 10**8, "quote_filled": 70 * USDC}
    fee = 24_500
    after = _user_with_long(base=15 * 10**8, quote=-218 * USDC - fee, entry=-220 * USDC, orders=[filled])
    serve_chain(fake, user=before)
    with live_actor(fake, tmp_path, mode=BotMode.MONITOR, snapshot_every_s=3_600) as bot:
        bot.tick()
        serve_chain(fake, user=after)
        bot.tick()
        bot.tick()  # nothing new and no snapshot due: nothing more stored
        assert bot.failures == []
    with Store.open(tmp_path / "store.db", readonly=True) as store:
        fills = store.fills("sol-neutral-grid")
        snapshots = store.snapshots("sol-neutral-grid")
        position = store.latest_position("sol-neutral-grid")
        saved = store.load_checkpoint("sol-neutral-grid")
    assert saved is not None and saved.venue_state is not None
    assert msgspec.json.decode(saved.venue_state, type=LiveCheckpoint).fees_paid == fee  # a restart goes on from it
    assert [(f.base, f.quote, f.fee) for f in fills] == [(5 * 10**8, -70 * USDC, fee)]
    # the start's snapshot, then the fill's (they may share a second: one row per second, the later one wins)
    assert 1 <= len(snapshots) <= 2
    last = snapshots[-1]
    assert last.position_base == 15 * 10**8
    assert (last.realized, last.funding, last.fees) == (SETTLED, FUNDING, fee)  # buying more realizes nothing
    assert last.settled_pnl == SETTLED
    # the paper identity, on chain: equity = USDC not from perp PnL + realized + unrealized + funding - fees
    assert last.equity == 1_000 * USDC + last.realized + last.unrealized_pnl + last.funding - last.fees
    assert last.band_min == last.band_max == 15 * 10**8  # a monitor has no band: the position itself
    assert position is not None
    assert (position.base, position.quote, position.quote_entry) == (15 * 10**8, -218 * USDC - fee, -220 * USDC)
    assert position.entry_price == 220 * USDC * 10**9 // (15 * 10**8) // 1  # 146.666666 USDC


# ---------------------------------------------------------------------------------------------- price history


def _history(actor: LiveBotActor) -> list[tuple[int, int]]:
    assert actor.driver is not None
    windows = actor.driver.state.strategy.history.windows
    return list(windows[-1]._times)  # the longest window: every sample the strategy holds


def test_live_when_restarted_then_its_strategy_history_is_replayed_from_the_store(
    fake: FakeRpc, tmp_path: Path
) -> None:
    # The grid samples one price per 60 s bucket (the bucket's last) over a week. Three ticks of a paused live bot
    # in three buckets with three oracle prices, then a restart: the new actor's strategy must hold the very same
    # samples (without the store it would start empty, and a grid stands still until its windows fill again).
    t0 = (int(time.time()) - 1_000) // 60 * 60
    serve_chain(fake, user=funded_user())
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, force_pause=True) as bot:
        bot.wait_started()
        actor = bot.actor()
        assert actor.venue is not None
        clock = actor.venue.clock = Clock()
        for t, price in ((t0 + 5, 150), (t0 + 50, 151), (t0 + 70, 152), (t0 + 130, 153)):
            clock.t = t
            serve_chain(fake, user=funded_user(), oracle=price * USDC)
            bot.tick()
        before = _history(actor)
        assert bot.failures == []
    # t0+5 was replaced by t0+50 in its bucket; the open bucket (t0+130) was stored on shutdown
    assert before == [(t0 + 50, 151 * USDC), (t0 + 70, 152 * USDC), (t0 + 130, 153 * USDC)]
    with Store.open(tmp_path / "store.db", readonly=True) as store:
        assert store.price_samples("sol-neutral-grid", since=0) == tuple(before)
        saved = store.load_checkpoint("sol-neutral-grid")
    assert saved is not None and saved.venue_state is not None
    envelope = msgspec.json.decode(saved.venue_state, type=LiveCheckpoint)
    assert (envelope.day, envelope.day_start_equity) == ((t0 + 130) // 86_400, 1_000 * USDC)
    # restarted with 100 USDC less on chain: the day's start is the stored one, unless the restart is a new day
    poorer = user_bytes(authority=KP.pubkey(), sub_account_id=1, usdc_scaled_balance=scaled_balance(0, 900 * USDC))
    serve_chain(fake, user=poorer)
    with live_actor(fake, tmp_path, mode=BotMode.LIVE, force_pause=True, keep_store=True) as bot:
        bot.wait_started()
        restarted = bot.actor()
        assert _history(restarted) == before
        assert restarted.driver is not None
        same_day = restarted.driver.state.day == envelope.day  # restored, or a decision since on the same UTC day
        assert restarted.driver.state.day_start_equity == (1_000 * USDC if same_day else 900 * USDC)
        assert bot.failures == []


# ---------------------------------------------------------------------------------------------- operator open


def test_live_when_operator_opens_then_its_orders_pass_the_live_gates_and_a_monitor_refuses(
    fake: FakeRpc, tmp_path: Path
) -> None:
    serve_chain(fake, user=funded_user())
    with live_actor(fake, tmp_path, mode=BotMode.LIVE) as bot, structlog.testing.capture_logs() as logs:
        bot.wait_started()
        bot.tick()  # a first reading: the latency gate needs a sample before anything is sent
        proxy = live_bot_proxy(bot.ref)
        opened = proxy.position(OpenPosition(name="sol-neutral-grid", size="2", side=PositionSide.LONG))
        result = opened.get(timeout=TIMEOUT_S)
        deadline = time.monotonic() + TIMEOUT_S
        while proxy.in_flight().get(timeout=TIMEOUT_S):
            assert time.monotonic() < deadline, "the open's commands never came back"
            time.sleep(0.005)
        too_big = proxy.position(OpenPosition(name="sol-neutral-grid", size="100", side=PositionSide.LONG))
        with pytest.raises(PositionRefused) as refused:
            too_big.get(timeout=TIMEOUT_S)
        actor = bot.actor()
        assert actor.driver is not None and actor.driver.state.flags.target_base == 2 * 10**9
        assert bot.failures == []
    assert (result.action, result.target_base, result.state) == ("open", "2", "running")
    assert result.commands  # the ladder toward the target, which the live safety gates then judge
    # its rungs are above $100 each: held for `ctl confirm`, never sent around the gate
    held = [e for e in logs if e["event"] == "safety_gate"]
    assert held and all(e["reason"] == "needs_confirmation" and e["confirm_token"] for e in held)
    assert fake.count("sendTransaction") == 0
    assert refused.value.refusal.gate == "risk_governor"  # $15,000 on $1,000: beyond the 3x cap
    serve_chain(fake, user=funded_user())
    (tmp_path / "monitor").mkdir()
    with live_actor(fake, tmp_path / "monitor", mode=BotMode.MONITOR) as monitor:
        monitor.wait_started()
        with pytest.raises(ValueError, match="monitor bot"):
            live_bot_proxy(monitor.ref).position(ClosePosition(name="sol-neutral-grid")).get(timeout=TIMEOUT_S)
