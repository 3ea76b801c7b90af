"""The bot's step through its driver: venue reports are recorded even when the connector's lifecycle refuses one
(the connector then resyncs from the venue), a restart adopts the venue's open orders without placing anything
twice, and the daily-loss reference rolls over at the first decision of each UTC day."""

from __future__ import annotations

from pathlib import Path

from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.pipeline import BotDefinition, BotMemory
from botrunner.bot.step import Tick
from botrunner.config import load_bot
from botrunner.connector import PlaceOrders
from botrunner.connector.commands import PlanReason
from botrunner.funding import ONE_DAY_S
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import CancelReason, FundingPaid, OrderCancelled
from tests.support.runtime import post_only_bid

ROOT = Path(__file__).resolve().parents[3]
PRICE = 150_000_000


class _Equity(PaperVenue):
    """A paper venue whose equity the test sets (the daily-loss reference reads it)."""

    shown = 0

    def equity(self) -> int:
        return self.shown


def _session() -> tuple[BotDriver, _Equity, RowBuffer]:
    bot = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
    venue = _Equity(bot.market_spec, PaperConfig(), deposit_quote=bot.capital_quote, oracle_price=PRICE, now=0)
    definition = BotDefinition.from_config(bot)
    sink = RowBuffer()
    return BotDriver(definition, venue, definition.initial_state(started_at=0), sink), venue, sink


def test_events_after_one_the_connector_refuses_are_still_recorded_and_the_connector_resyncs() -> None:
    session, _, sink = _session()
    refused = OrderCancelled(ts=1, user_order_id=7, reason=CancelReason.REQUESTED, filled_base=0)  # never tracked
    funding = FundingPaid(ts=2, position_base=0, rate=5, payment=0)
    session.report([refused, funding], 2)
    assert [r.ts for r in sink.funding] == [2]
    assert session.state.resyncs == 1
    assert session.state.connector.needs_resync is False and session.state.connector.orders == ()


def test_reconcile_adopts_the_venues_orders_keeps_known_order_ids_and_records_unknown_ones() -> None:
    session, venue, sink = _session()
    session.perform(
        PlaceOrders(
            (post_only_bid(3, 149_000_000, placed_at=1), post_only_bid(4, 148_000_000, placed_at=1)),
            PlanReason.LADDER_EMPTY,
        ),
        1,
    )
    known = {3: session.state.placed[3]}
    # A restarted bot (new state, empty books) that only remembers order 3's placed row.
    restarted = BotDriver(
        session.bot, venue, session.bot.initial_state(started_at=10, memory=BotMemory(order_seq=2)), sink
    )
    adopted = restarted.reconcile(now=10, known=known.values())
    assert {o.user_order_id for o in adopted} == {3, 4}
    assert {o.user_order_id for o in restarted.state.connector.orders} == {3, 4}
    assert restarted.state.connector.started_at == 10  # ramp-in restarts at the restart
    assert restarted.state.placed[3].order_id == known[3].order_id
    assert sink.orders[-1].event == "adopted" and sink.orders[-1].user_order_id == 4
    assert sink.orders[-1].order_id == 3  # a fresh id after the remembered sequence, never a reused one


def _decide(driver: BotDriver, venue: _Equity, ts: int, equity: int) -> None:
    venue.shown = equity
    driver.feed(Tick(ts=ts, oracle=PRICE, funding_rate=0))


def test_the_days_start_equity_is_the_first_decisions_of_each_utc_day_and_a_restored_one_is_kept() -> None:
    session, venue, _ = _session()
    day = 20_000 * ONE_DAY_S
    _decide(session, venue, day + 60, equity=1_000)
    _decide(session, venue, day + ONE_DAY_S - 1, equity=900)  # later the same day: the start stays
    assert (session.state.day, session.state.day_start_equity) == (20_000, 1_000)
    _decide(session, venue, day + ONE_DAY_S, equity=950)  # the next UTC day starts at its first decision
    assert (session.state.day, session.state.day_start_equity) == (20_001, 950)
    memory = session.state.memory()
    restarted = BotDriver(session.bot, venue, session.bot.initial_state(started_at=day, memory=memory), RowBuffer())
    # the actors' checkpoints round-trip it (tests/integration/test_live_actor.py: the restart replaying history)
    _decide(restarted, venue, day + ONE_DAY_S + 30, equity=800)  # restored mid-day: not reset by the restart
    assert (restarted.state.day, restarted.state.day_start_equity) == (20_001, 950)
