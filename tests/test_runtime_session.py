"""A bot session's routing of venue events and its reconciliation after a restart: every event is recorded even
when the connector's lifecycle refuses one (the connector then resyncs from the venue), and a restart adopts the
venue's open orders without placing anything twice."""

from __future__ import annotations

from pathlib import Path

from botrunner.bot.pipeline import BotDefinition, MarketUpdate
from botrunner.bot.session import BotSession, RowBuffer
from botrunner.config import load_bot
from botrunner.connector import PlaceOrders
from botrunner.connector.commands import PlanReason
from botrunner.funding import ONE_DAY_S
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import CancelReason, FundingPaid, OrderCancelled
from tests.support_runtime import post_only_bid

ROOT = Path(__file__).resolve().parents[1]
PRICE = 150_000_000


def _session() -> tuple[BotSession, PaperVenue, RowBuffer]:
    bot = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
    venue = PaperVenue(bot.market_spec, PaperConfig(), deposit_quote=bot.capital_quote, oracle_price=PRICE, now=0)
    definition = BotDefinition.from_config(bot)
    sink = RowBuffer()
    return BotSession(definition, venue, definition.initial_state(started_at=0), sink), venue, sink


def test_events_after_one_the_connector_refuses_are_still_recorded_and_the_connector_resyncs() -> None:
    session, _, sink = _session()
    refused = OrderCancelled(ts=1, user_order_id=7, reason=CancelReason.REQUESTED, filled_base=0)  # never tracked
    funding = FundingPaid(ts=2, position_base=0, rate=5, payment=0)
    session.route([refused, funding])
    assert [r.ts for r in sink.funding] == [2]
    assert session.resyncs == 1
    assert session.state.connector.needs_resync is False and session.state.connector.orders == ()


def test_reconcile_adopts_the_venues_orders_keeps_known_order_ids_and_records_unknown_ones() -> None:
    session, venue, sink = _session()
    session.route(
        venue.submit(
            PlaceOrders(
                (post_only_bid(3, 149_000_000, placed_at=1), post_only_bid(4, 148_000_000, placed_at=1)),
                PlanReason.LADDER_EMPTY,
            ),
            1,
        )
    )
    known = {3: session.placed[3]}
    # A restarted session (new state, empty books) that only remembers order 3's placed row.
    restarted = BotSession(session.bot, venue, session.bot.initial_state(started_at=10), sink, order_seq=2)
    adopted = restarted.reconcile(now=10, placed=known)
    assert {o.user_order_id for o in adopted} == {3, 4}
    assert {o.user_order_id for o in restarted.state.connector.orders} == {3, 4}
    assert restarted.state.connector.started_at == 10  # ramp-in restarts at the restart
    assert restarted.placed[3].order_id == known[3].order_id
    assert sink.orders[-1].event == "adopted" and sink.orders[-1].user_order_id == 4
    assert sink.orders[-1].order_id == 3  # a fresh id after the remembered sequence, never a reused one


def _update(ts: int) -> MarketUpdate:
    return MarketUpdate(ts=ts, mark=PRICE, oracle=PRICE, oracle_ts=ts, funding_rate=0)


def test_the_days_start_equity_is_the_first_decisions_of_each_utc_day_and_a_restored_one_is_kept() -> None:
    session, _, _ = _session()
    day = 20_000 * ONE_DAY_S
    session.decide(_update(day + 60), equity=1_000)
    session.decide(_update(day + ONE_DAY_S - 1), equity=900)  # later the same day: the start stays
    assert (session.day, session.day_start_equity) == (20_000, 1_000)
    session.decide(_update(day + ONE_DAY_S), equity=950)  # the next UTC day starts at its first decision
    assert (session.day, session.day_start_equity) == (20_001, 950)
    restarted = BotSession(
        session.bot, session.venue, session.state, RowBuffer(), day=session.day, day_start_equity=950
    )
    # the actors' checkpoints round-trip it (tests/test_live_actor.py: the restart replaying history)
    restarted.decide(_update(day + ONE_DAY_S + 30), equity=800)  # restored mid-day: not reset by the restart
    assert (restarted.day, restarted.day_start_equity) == (20_001, 950)
