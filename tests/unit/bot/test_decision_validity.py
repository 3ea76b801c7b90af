"""Event-driven decisions (``botrunner.bot.validity``): bars inside a quiet decision's bounds reuse it, the check mode
finds nothing to object to, and it does object when a bound is wrong."""

from __future__ import annotations

import msgspec
import pytest

from botrunner.backtest.engine import BacktestResult, run_backtest
from botrunner.bot import step as step_module
from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.pipeline import BotDefinition, BotState
from botrunner.bot.step import BarClose
from botrunner.bot.validity import DecisionMismatch, DecisionMode, DecisionValidity
from botrunner.core.precision import PRICE_PRECISION
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import VenueAccount
from tests.support.decision_paths import band_bot, flipping_funding, inputs, path_candles, reuse_counter

# flat stretches (decisions stay valid), small walks inside the requote threshold, a spike through every rung, a gap
PATH = (
    ("flat", 12, 0),
    ("walk", 9, 5),
    ("flat", 10, 0),
    ("spike", 1, 300),
    ("flat", 8, 0),
    ("gap", 3, 0),
    ("flat", 8, 0),
    ("walk", 12, 80),
    ("flat", 15, 0),
)


def _figures(result: BacktestResult) -> tuple[object, ...]:
    return (
        result.orders,
        result.fills,
        result.funding,
        result.settlements,
        result.snapshots,
        result.time_in_state_s,
        result.time_in_reason_s,
        result.decisions,
        result.ending_equity,
        result.min_health,
    )


@pytest.mark.parametrize("latency_slots", [0, 2])
def test_event_driven_run_when_bars_repeat_then_reuses_and_matches_every_full_decision(
    monkeypatch: pytest.MonkeyPatch, latency_slots: int
) -> None:
    candles = path_candles(PATH)
    funding = flipping_funding(candles, (40_000, -40_000))
    with reuse_counter(monkeypatch) as reused:
        checked = run_backtest(inputs(band_bot(), candles, funding, latency_slots=latency_slots))
    assert reused[0] >= 20  # the flat stretches reuse (else the check proves nothing)
    assert checked.fill_count > 0
    # and the event-driven run's whole output is the full-decision run's
    always = run_backtest(inputs(band_bot(), candles, funding, latency_slots=latency_slots, check=False))
    assert _figures(always) == _figures(checked)


def test_check_mode_when_a_bound_is_wrong_then_names_the_bar_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """A validity that ignored the oracle (reusing across a price move) must be caught on the first bar it errs."""
    original = step_module._bounds_hold

    def ignores_the_oracle(  # noqa: PLR0917  <why: the patched function's signature>
        state: BotState, valid: DecisionValidity, account: VenueAccount, ts: int, mark: int, oracle: int
    ) -> bool:
        blind = msgspec.structs.replace(valid, oracle=oracle, venue_oracle=account.oracle)
        return original(state, blind, account, ts, mark, oracle)

    monkeypatch.setattr(step_module, "_bounds_hold", ignores_the_oracle)
    candles = path_candles((("flat", 6, 0), ("walk", 30, 3)))
    with pytest.raises(DecisionMismatch, match=r"bar at ts \d+ .*: effects\.decision\.snapshot\.oracle_price"):
        run_backtest(inputs(band_bot(requote_bps=500), candles, None))


def test_mark_moving_alone_when_inside_the_bounds_then_reused_and_outside_then_decided(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The oracle held, the mark moving either side of it by the same gap (the sizing's stress move adds the gap, so
    it stays the same) and inside the requote threshold: every bar reuses the decision, checked in full. A mark past
    the threshold decides in full and moves the ladder."""
    config = band_bot(requote_bps=20)
    bot = BotDefinition.from_config(config, decisions=DecisionMode.CHECK)
    oracle, start = 100 * PRICE_PRECISION, 1_750_032_000
    above, below = oracle + oracle * 5 // 10_000, oracle - oracle * 5 // 10_000  # 5 bp either side: 10 bp apart
    venue = PaperVenue(
        config.market_spec, PaperConfig(), deposit_quote=config.capital_quote, oracle_price=oracle, now=start
    )
    driver = BotDriver(bot, venue, bot.initial_state(started_at=start), RowBuffer())
    for ts in (start, start + 1):  # the ladder placed at ``above`` (acks back at once), then a quiet decision
        driver.feed(BarClose(ts=ts, close_ts=ts, price=above, oracle=oracle))
    with reuse_counter(monkeypatch) as reused:
        for n, mark in enumerate((below, above, below, below, above)):
            effects = driver.feed(BarClose(ts=start + 2 + n, close_ts=start + 2 + n, price=mark, oracle=oracle))
            assert effects.commands == ()
        assert reused[0] == 5
        moved = oracle + oracle * 30 // 10_000  # 25 bp from the anchor: past the threshold
        effects = driver.feed(BarClose(ts=start + 10, close_ts=start + 10, price=moved, oracle=oracle))
        assert reused[0] == 5
        assert effects.commands
