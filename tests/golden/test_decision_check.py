"""The event-driven decisions proven on real data: every example bot in check mode (``decision_check``: each bar
that reuses the last decision is also decided in full and compared; the first difference raises
``DecisionMismatch``) over the bundled data and over the shared data's three markets, at latency 0 and 2 slots.
The byte-identical goldens (``test_backtest``, ``test_perf_equivalence``) are the other half of the proof: they run
event-driven, as every backtest does."""

from __future__ import annotations

from pathlib import Path

import pytest

from botrunner.backtest.data import resolve
from botrunner.backtest.engine import BacktestInputs, run_backtest
from botrunner.config import StrategyKind, load_bot
from botrunner.paper.config import PaperConfig

ROOT = Path(__file__).resolve().parents[2]
# every example bot the step runs; a funding_arb bot has its own two-venue replay (botrunner.backtest.arb), no step
BOTS = [
    p
    for p in sorted((ROOT / "config" / "bots").glob("*.yaml"))
    if load_bot(p).strategy.kind is not StrategyKind.FUNDING_ARB
]
SHARED = ROOT.parent / "shared" / "data" / "market" / "binance"
DAY = 86_400


@pytest.mark.slow
@pytest.mark.parametrize("latency_slots", [0, 2])
@pytest.mark.parametrize("bot_file", BOTS, ids=lambda p: p.stem)
def test_example_bot_when_checked_on_the_bundled_data_then_no_reused_decision_differs(
    bot_file: Path, latency_slots: int
) -> None:
    bot = load_bot(bot_file)
    data = resolve(bot.market)
    _, last = data.span()
    start = data.default_start(bot.strategy.warmup_s)
    # the bot's own interest source (the delta-neutral bot's carry reads it), the backtest's default fees
    paper = PaperConfig(latency_slots=latency_slots, interest=bot.paper.interest).validate()
    result = run_backtest(
        BacktestInputs(
            bot=bot,
            candles=data.candles,
            funding=data.funding,
            start=start,
            end=min(last, start + 14 * DAY),
            paper=paper,
            keep_rows=False,
            decision_check=True,
        )
    )
    assert result.decisions > 0


# each perp example bot on its own market's shared hourly candles (the three markets), Drift's funding formula
SHARED_RUNS = [
    ("sol-neutral-grid.yaml", "SOL-USDT-PERP_1h.csv.gz"),
    ("btc-bullish-infinity.yaml", "BTC-USDT-PERP_1h.csv.gz"),
    ("eth-bearish-stepwise.yaml", "ETH-USDT-PERP_1h.csv.gz"),
]


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("latency_slots", [0, 2])
@pytest.mark.parametrize(("bot_name", "candles_name"), SHARED_RUNS, ids=[run[0] for run in SHARED_RUNS])
def test_example_bot_when_checked_on_the_shared_data_then_no_reused_decision_differs(
    bot_name: str, candles_name: str, latency_slots: int
) -> None:
    candles_path = SHARED / candles_name
    if not candles_path.exists():
        pytest.skip("../shared/data is absent")
    bot = load_bot(ROOT / "config" / "bots" / bot_name)
    data = resolve(bot.market, candles=candles_path, formula_funding=True)
    first, last = data.span()
    start = max(first + bot.strategy.warmup_s, last - 60 * DAY)  # the last 60 days (the check is CPU-bound)
    result = run_backtest(
        BacktestInputs(
            bot=bot,
            candles=data.candles,
            funding=None,
            start=start,
            end=last,
            paper=PaperConfig(latency_slots=latency_slots),
            keep_rows=False,
            decision_check=True,
        )
    )
    assert result.decisions > 0
