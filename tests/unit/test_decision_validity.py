"""Event-driven decisions (``botrunner.bot.validity``): bars inside a quiet decision's bounds reuse it, the check mode
finds nothing to object to, and it does object when a bound is wrong."""

from __future__ import annotations

import msgspec
import pytest

from botrunner.backtest.engine import BacktestResult, run_backtest
from botrunner.bot import step as step_module
from botrunner.bot.pipeline import BotState
from botrunner.bot.validity import DecisionMismatch, DecisionValidity
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
