"""BotActor: one bot = one pykka actor = one Drift subaccount = one perp market.

The actor is the thin imperative shell around the pure step. Its mailbox receives the market feed's events
(``botrunner.runtime.market``) and operator commands; for each market event it runs the same ``PaperBot`` (the paper
venue and the bot's driver) a backtest runs, then hands everything the step produced to the store writer as ONE
``StepRecord`` (rows + the venue checkpoint + the feed cursor), so after a crash a step is either wholly there or
wholly absent.

Start and restart (``on_start``):

1. load the bot's last checkpoint from the store: the paper venue (the venue is the truth), the feed cursor, the
   funding rate in force, the day's starting equity and the operator flags; none ⇒ a fresh subaccount funded
   with the bot's capital at the feed's current price;
2. warm the strategy up on every bar close up to the cursor (what it would have seen running from the start);
3. reconcile: adopt the venue's open orders (known ones keep their order id, unknown ones get an ``adopted`` row),
   restart the ramp-in clock, and audit what was adopted;
4. subscribe to the market feed, then replay the history between the cursor and the subscription point at full
   speed, so the live stream continues exactly where catch-up ends.

A failure inside a step escapes to pykka, which stops the actor and calls ``on_failure``: the stack is logged to
the bot's log and the supervisor decides about a restart. Nothing of the failed step was written.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from actors.actor_shell import ActorSetup, BotShell, open_order_rows
from botrunner.bot.driver import BotDriver, step_for
from botrunner.bot.operator_position import BotCommand
from botrunner.bot.pipeline import BotDefinition, BotMemory, OperatorFlags
from botrunner.bot.step import Effects
from botrunner.bot.step import PricePoint as PriceSeen
from botrunner.config import ShutdownPolicy
from botrunner.config.live import transaction_cost_lamports
from botrunner.connector.commands import CancelOrders, PlanReason
from botrunner.core.operator import Pause
from botrunner.core.records import SnapshotRow
from botrunner.margin.spot_basis import SpotBasis, extend_spot_basis, spot_basis
from botrunner.paper.config import PaperConfig, with_bot_settings
from botrunner.paper.latency import LatentVenue
from botrunner.paper.persist import checkpoint, restore
from botrunner.paper.venue import PaperVenue
from botrunner.runtime.decisions import position_row
from botrunner.runtime.feed import MarketFeed, event_key
from botrunner.runtime.market import FundingPoint, PricePoint
from botrunner.runtime.paper_bot import PaperBot, snapshot_row
from botrunner.runtime.snapshots import BotSnapshot
from botrunner.runtime.views import bot_detail, bot_summary
from botrunner.store import Store
from strategies.carry import CarryState

# 2: the venue's checkpoint is embedded as the JSON it is; 1 held it base64-encoded inside the envelope's JSON, one
# more encoding per step and a third more bytes (still read, see ``decode_checkpoint``).
CHECKPOINT_VERSION = 2


class BotCheckpoint(msgspec.Struct, frozen=True, kw_only=True):
    """What the runtime keeps of a bot between runs, beside its rows (stored as the checkpoint's blob)."""

    version: int = CHECKPOINT_VERSION
    venue: msgspec.Raw  # botrunner.paper.persist.checkpoint, embedded as is
    funding_rate: int
    day: int
    day_start_equity: int
    flags: OperatorFlags
    last_settle_ts: int = 0  # the settle policy's clock (absent before paper bots settled: never settled)
    last_position: int = 0
    last_rebalance_ts: int | None = None  # a two-leg bot's cooldown clock (absent: never rebalanced)
    legs_halted: bool = False  # a two-leg bot's leg-mismatch halt: outlives a restart until an operator clears it
    carry: CarryState | None = None  # a two-leg bot's carry engine (stance, its clocks, smoothed funding)


class _Version(msgspec.Struct):
    version: int = 0


def decode_checkpoint(data: bytes, bot: str) -> BotCheckpoint:
    """A paper bot's saved envelope, of this version or version 1; ``ValueError`` naming the bot otherwise."""
    try:
        found = msgspec.json.decode(data, type=BotCheckpoint)  # the current version: one decode
        if found.version == CHECKPOINT_VERSION:
            return found
    except msgspec.DecodeError:
        pass  # an older or newer version, or not a paper bot's: the version says which
    try:
        version = msgspec.json.decode(data, type=_Version).version
        if version == 1:
            fields = msgspec.json.decode(data)
            fields["venue"] = msgspec.Raw(base64.b64decode(fields["venue"]))
            fields["flags"] = msgspec.convert(fields["flags"], OperatorFlags)
            return BotCheckpoint(**{**fields, "version": CHECKPOINT_VERSION})
    except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{bot}: its checkpoint is not a paper bot's (was it a live bot?): {exc}") from None
    raise ValueError(f"{bot}: checkpoint version {version} is not {CHECKPOINT_VERSION} (or 1)")


@dataclass(frozen=True, kw_only=True)
class BotSetup(ActorSetup):
    """A paper bot's setup: the shell's, plus its market's replay feed and the paper venue's configuration."""

    feed: MarketFeed
    paper: PaperConfig
    probe: Callable[[str, int], None] | None = None  # (name, ts) after a decision's commands are sent (benchmark)


class BotActor(BotShell):
    """See the module doc. Market events arrive through ``tell``; commands and views through the proxy."""

    setup: BotSetup

    def __init__(self, setup: BotSetup) -> None:
        super().__init__(setup)
        self.cursor: int | None = None
        self.paper: PaperBot | None = None
        # a two-leg bot's spot fills' books (its spot entry and trading PnL, ``ctl bot``'s vault): seeded from the
        # stored fills on (re)start, which the same transactions as the venue's checkpoint wrote, then kept up
        # with each step's fills as they are handed to the writer; None for a perp-only bot
        self.spot_books: SpotBasis | None = None

    # -------------------------------------------------------------- start: restore, warm up, reconcile, catch up

    def _start(self) -> None:
        setup = self.setup
        config = setup.config
        feed = setup.feed
        definition = BotDefinition.from_config(config)
        # the bot's YAML paper.interest turns the venue's interest on (the carry engine counts the same deposit APR)
        paper_config = setup.paper
        if config.paper.interest is not None:
            paper_config = msgspec.structs.replace(paper_config, interest=config.paper.interest)
        if config.strategy.two_legs:  # its trades are transactions: the venue charges what each would cost
            paper_config = msgspec.structs.replace(
                paper_config, tx_cost_lamports=transaction_cost_lamports(config.live)
            )
        paper_config = with_bot_settings(paper_config, config.paper)  # paper: fill_model, queue_depth_share_bps
        with Store.open(setup.store_path, readonly=True) as store:
            saved = store.load_checkpoint(self.name)
            known = open_order_rows(store, self.name) if saved is not None else {}
            stored_spot_fills = store.spot_fills(self.name) if saved is not None and config.strategy.two_legs else ()
        if definition.legs is not None:
            spot = definition.legs.spot
            self.spot_books = spot_basis(stored_spot_fills, spot.market_index, spot.decimals)
        position = feed.subscribe(self.name, self.actor_ref)
        if saved is not None:
            if saved.venue_state is None:
                raise ValueError(f"{self.name}: its checkpoint has no paper venue state (was it a live bot?)")
            envelope = decode_checkpoint(saved.venue_state, self.name)
            venue = restore(bytes(envelope.venue), config.market_spec, paper_config)
            self.cursor = saved.cursor
            self.fill_seq = saved.fill_seq
            now = venue.now
            memory = BotMemory(
                flags=envelope.flags,  # operator decisions outlive restarts
                funding_rate=envelope.funding_rate,
                day=envelope.day,
                day_start_equity=envelope.day_start_equity,
                order_seq=saved.order_seq,
                decision_seq=saved.decision_seq,
                last_settle_ts=envelope.last_settle_ts,
                last_position=envelope.last_position,
                last_rebalance_ts=envelope.last_rebalance_ts,
                legs_halted=envelope.legs_halted,
                carry=envelope.carry,
            )
        else:
            start_ts, price = feed.price_before(position)
            venue = PaperVenue(
                config.market_spec, paper_config, deposit_quote=config.capital_quote, oracle_price=price, now=start_ts
            )
            self.cursor = feed.keys[position - 1] if position else None
            now = start_ts
            memory = BotMemory(funding_rate=feed.funding_before(position))
        state = definition.initial_state(started_at=now, memory=memory)
        for close_ts, close in feed.warmup_closes(self.cursor if self.cursor is not None else feed.keys[0] - 1):
            state, _ = step_for(definition)(definition, state, PriceSeen(close_ts, close), venue)
        slots = config.paper.latency_slots  # the bot's YAML (paper: latency_slots); in-flight commands are not saved
        latency = LatentVenue(venue, slots) if slots else None
        driver = BotDriver(definition, venue if latency is None else latency, state, self.step)
        self.driver = driver
        self.flags_seen = self.flags
        adopted = driver.reconcile(now, known.values())
        self.paper = PaperBot(driver, venue, latency)
        self._announce_start(
            now,
            resumed=saved is not None,
            position_base=venue.position.base_asset_amount,
            adopted=tuple(o.user_order_id for o in adopted),
            audit={"cursor": self.cursor},
            log={"catch_up_from": self.cursor},
        )
        self._write(now, snapshot=None, force=True)
        for event in feed.history(self.cursor, position):
            self._on_market(event)
        if setup.force_pause:
            self.command(Pause(name=self.name))  # cancels its orders now; the position is left alone
        self._announce_started()

    # -------------------------------------------------------------- market events

    def on_receive(self, message: object) -> None:
        if isinstance(message, PricePoint | FundingPoint):
            decided = self._on_market(message)
            if decided and self.setup.probe is not None:
                self.setup.probe(self.name, message.ts)
            return None
        raise TypeError(f"{self.name}: unexpected message {type(message).__name__}")

    def _on_market(self, event: PricePoint | FundingPoint) -> bool:
        """Apply one market event; True when the bot decided (a bar close)."""
        key = event_key(event)
        if self.cursor is not None and key <= self.cursor:
            return False  # already processed (catch-up overlap, or before a restart's checkpoint)
        if self._store_down():
            return False
        paper = self.paper
        assert paper is not None
        decided = paper.on_event(event)
        self.cursor = key
        snapshot = None
        if decided is not None:
            snapshot = self._after_decision(decided)
        self._note_flags(event.ts)
        self._write(event.ts, snapshot, force=decided is not None)
        return decided is not None

    def _after_decision(self, effects: Effects) -> SnapshotRow | None:
        paper = self.paper
        decision = effects.decision
        assert paper is not None and decision is not None
        self._note_decision(effects)
        if not (self._snapshot_due(decision.ts) or self.step.fills):
            return None  # built only when it is written: most decisions are neither due nor filled
        self.last_snapshot_ts = decision.ts
        return snapshot_row(paper.venue, paper.driver, effects)

    # -------------------------------------------------------------- records

    def _write(self, ts: int, snapshot: SnapshotRow | None, *, force: bool) -> None:
        """Hand the step's rows and the checkpoint to the writer (one transaction), then log what happened."""
        step = self.step
        if not (force or step or snapshot is not None or self.recorder.pending()):
            return
        paper = self.paper
        assert paper is not None
        if step.spot_fills and self.spot_books is not None:  # what the writer gets is what a restart reads back
            self.spot_books = extend_spot_basis(self.spot_books, step.spot_fills)
        state = paper.driver.state
        envelope = BotCheckpoint(
            venue=msgspec.Raw(checkpoint(paper.venue)),
            funding_rate=state.funding_rate,
            day=state.day,
            day_start_equity=state.day_start_equity,
            flags=state.flags,
            last_settle_ts=state.last_settle_ts,
            last_position=state.last_position,
            last_rebalance_ts=state.last_rebalance_ts,
            legs_halted=state.legs_halted,
            carry=state.memory().carry,
        )
        self._commit(
            paper.driver,
            ts=ts,
            cursor=self.cursor if self.cursor is not None else -1,
            venue_state=msgspec.json.encode(envelope),
            snapshot=snapshot,
            position=position_row(ts, paper.venue.position) if step.fills else None,  # only a fill moves it
        )
        self._post()

    def _post(self) -> None:
        paper = self.paper
        assert paper is not None
        self.setup.board.post(
            self.name,
            bot_summary(
                self.setup.config,
                self.mode,
                paper,
                self.recorder.state,
                self.setup.feed.market_ts,
                risk_reasons=self.recorder.reasons,
            ),
        )

    # -------------------------------------------------------------- operator commands and views (proxy)

    def _decide_now(self, command: BotCommand) -> Effects:
        paper = self.paper
        assert paper is not None
        effects = paper.command(command)
        # a refused open decided nothing (a perp bot's dry run): its effects carry only the refusal
        snapshot = self._after_decision(effects) if effects.decision is not None else None
        self._write(paper.venue.now, snapshot, force=True)
        return effects

    def detail(self) -> BotSnapshot:
        paper = self.paper
        assert paper is not None
        return bot_detail(
            self.setup.config,
            state=self.mode,
            paper=paper,
            risk_state=self.recorder.state,
            reasons=list(self.recorder.reasons),
            decision=self.last_decision,
            spot=self.spot_books,
        )

    def flush_marker(self) -> int | None:
        """The cursor after everything queued before this call (tests and shutdown use it as a barrier)."""
        return self.cursor

    # -------------------------------------------------------------- stop and failure

    def on_stop(self) -> None:
        self._release()
        paper = self.paper
        if paper is None:
            return
        venue = paper.venue
        policy = self.setup.config.on_shutdown
        ids = tuple(venue.orders)
        if policy is ShutdownPolicy.CANCEL_ALL and ids:
            paper.driver.perform(CancelOrders(ids, PlanReason.VERDICT_PAUSE), venue.now)
        paper.flush()  # with latency: what is in flight (the cancel-all among it) lands before the last write
        self._write(venue.now, None, force=True)
        cancelled = len(ids) if policy is ShutdownPolicy.CANCEL_ALL else 0
        self.log.info("bot_stopped", policy=policy.value, cancelled=cancelled)

    def _release(self) -> None:
        self.setup.feed.unsubscribe(self.name)
