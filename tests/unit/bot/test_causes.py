"""Causes reach the record: every order row carries the PlanReason of the command that placed it and the number of
the decision that sent that command, in the bot's step (backtest, paper and live share it) and in the store, where
"why is this order resting?" is one join of ``orders`` and ``decisions``."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from botrunner.bench.reference import r1_bot
from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.pipeline import BotDefinition
from botrunner.bot.step import BarClose
from botrunner.cli import main as cli_main
from botrunner.connector import PlaceOrders
from botrunner.connector.commands import PlanReason
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from tests.support.runtime import post_only_bid, short_dir, small_market, write_bot

PRICE = 150_000_000
T0 = 1_700_000_000


def _session() -> tuple[BotDriver, PaperVenue, RowBuffer]:
    """R1's bot: a fixed band worked by 5 post-only rungs a side, 30 bps apart, requoted on a 10 bps move."""
    bot = r1_bot()
    venue = PaperVenue(bot.market_spec, PaperConfig(), deposit_quote=bot.capital_quote, oracle_price=PRICE, now=T0)
    definition = BotDefinition.from_config(bot)
    sink = RowBuffer()
    return BotDriver(definition, venue, definition.initial_state(started_at=T0), sink), venue, sink


def _decide(session: BotDriver, venue: PaperVenue, ts: int, price: int) -> None:
    session.report(venue.on_price(ts, price, price), ts)
    session.feed(BarClose(ts=ts, close_ts=ts, price=price, oracle=price))


def test_placed_rows_carry_the_plan_reason_and_the_number_of_the_decision_that_sent_them() -> None:
    session, venue, sink = _session()
    _decide(session, venue, T0 + 60, PRICE)
    _decide(session, venue, T0 + 120, PRICE)  # nothing changed: no command, but still a numbered decision
    _decide(session, venue, T0 + 180, PRICE * 1_002 // 1_000)  # 20 bps: the whole ladder moves
    assert session.state.decision_seq == 3
    placed = [(r.reason, r.decision_seq) for r in sink.orders if r.event == "placed"]
    assert placed == [("ladder_empty", 1)] * 10 + [("requote_price_moved", 3)] * 10
    cancelled = [r for r in sink.orders if r.event == "cancelled"]
    # a closing row keeps the cause of the order it closes (and says why it closed)
    assert [(r.reason, r.decision_seq) for r in cancelled] == [("requested", 1)] * 10
    assert {r.order_id for r in cancelled} == {r.order_id for r in sink.orders[:10]}


def test_a_fill_row_of_an_order_keeps_its_placing_decision() -> None:
    session, venue, sink = _session()
    _decide(session, venue, T0 + 60, PRICE)
    session.report(venue.on_price(T0 + 90, PRICE * 995 // 1_000, PRICE * 995 // 1_000), T0 + 90)  # through a bid
    filled = [r for r in sink.orders if r.event == "filled"]
    assert filled and all(r.decision_seq == 1 for r in filled)


def test_a_rejected_placement_carries_its_decision_and_the_venues_reason() -> None:
    session, venue, sink = _session()
    venue.on_price(T0 + 1, PRICE, PRICE)
    crossing = post_only_bid(9, PRICE + 1_000_000, placed_at=T0 + 1)  # a post-only bid above the price: refused
    session.state.causes[9] = ("band_changed", 41)  # as decision 41's step left it when it sent the order
    session.perform(PlaceOrders((crossing,), PlanReason.BAND_CHANGED), T0 + 1)
    assert [(r.event, r.reason, r.decision_seq) for r in sink.orders] == [("rejected", "post_only_would_cross", 41)]
    assert session.state.causes == {}  # answered: nothing left pending


def test_an_order_no_command_of_ours_placed_has_no_cause() -> None:
    session, _, sink = _session()
    session.perform(PlaceOrders((post_only_bid(5, 140_000_000, placed_at=T0),), PlanReason.RAMP_IN), T0)
    assert [(r.event, r.reason, r.decision_seq) for r in sink.orders] == [("placed", "", 0)]


# ---------------------------------------------------------------------------------------------- a paper run

WHY_RESTING = """
    SELECT o.order_id, o.side, o.price, o.reason, d.decision_seq, d.ts, d.verdict, d.mode, d.plan_reason,
           d.band_min, d.band_max, d.mark
    FROM orders o JOIN decisions d ON d.bot = o.bot AND d.decision_seq = o.decision_seq
    WHERE o.bot = ? AND o.event IN ('placed', 'adopted') AND NOT EXISTS (
        SELECT 1 FROM orders c WHERE c.bot = o.bot AND c.order_id = o.order_id
        AND c.event IN ('cancelled', 'expired', 'filled', 'rejected'))
    ORDER BY o.order_id
"""


@pytest.fixture
def work() -> Iterator[Path]:
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_why_an_order_is_resting_after_a_paper_run_is_one_join(work: Path) -> None:
    small_market(work / "data", bars=200)  # its last decisions leave a ladder resting
    write_bot(work / "fleet", "alpha", 1, extra="on_shutdown: leave_resting\n")  # orders outlive the run
    code = cli_main(
        [
            "run",
            "--fleet",
            str(work / "fleet"),
            "--run-dir",
            str(work / "run"),
            "--data",
            str(work / "data"),
            "--speed",
            "max",
            "--exit-at-end",
            "--quiet",
        ]
    )
    assert code == 0
    with sqlite3.connect(work / "run" / "botrunner.db") as db:
        resting = db.execute(WHY_RESTING, ("alpha",)).fetchall()
        open_ids = {
            r[0]
            for r in db.execute(
                "SELECT order_id FROM orders o WHERE bot = 'alpha' AND event = 'placed' AND NOT EXISTS (SELECT 1 FROM"
                " orders c WHERE c.bot = o.bot AND c.order_id = o.order_id AND c.event != 'placed')"
            )
        }
        decisions = db.execute("SELECT count(*), max(decision_seq) FROM decisions WHERE bot = 'alpha'").fetchone()
        unexplained = db.execute(
            "SELECT count(*) FROM orders o WHERE bot = 'alpha' AND event = 'placed' AND NOT EXISTS"
            " (SELECT 1 FROM decisions d WHERE d.bot = o.bot AND d.decision_seq = o.decision_seq)"
        ).fetchone()[0]
        checkpoint_seq = db.execute("SELECT decision_seq FROM bot_checkpoints WHERE bot = 'alpha'").fetchone()[0]
    assert resting, "the run leaves a ladder resting: the question has an answer"
    assert {r[0] for r in resting} == open_ids  # every resting order is explained, none twice
    plan_reasons = {reason.value for reason in PlanReason}
    for _, _, _, reason, _, ts, verdict, mode, plan_reason, band_min, band_max, mark in resting:
        assert reason in plan_reasons and reason in plan_reason.split(",")  # the row's reason is its command's
        assert verdict in ("APPROVE", "CLAMP", "REDUCE_ONLY") and mode in ("grid", "reduce", "defend")
        assert band_min <= band_max and mark > 0 and ts > 0
    assert unexplained == 0  # every placed row of the run points at a recorded decision
    count, last = decisions
    assert 0 < count <= last <= checkpoint_seq  # only decisions that sent a command are rows; numbers restored
