"""Golden replay: sol-neutral-grid over the bundled slice, figures checked in.

Window: 2025-09-21 00:00 → 2025-10-14 00:00 UTC (the bundled 30 days minus the strategy's one-week warm-up), 6,624
five-minute bars, Drift's hourly SOL-PERP funding records, fee tier 1 (4 bp taker, −0.25 bp maker rebate).

Why these figures are right (each was checked when it was recorded, not only copied from a run):
* every fill is a maker fill (maker share 1): the bot's orders are MustPostOnly and a resting order only fills
  when the path trades through it, so nothing ever takes liquidity; hence ``fees`` is a rebate (negative) equal to
  −0.25 bp of the traded notional: the 701 fills (0.40 SOL on average: ramp-in rungs and partial fills) traded
  $58,572.34, and 0.25 bp of that is $1.4643, recorded −$1.463960 (each fill's rebate rounds down);
* realized −$54.2: SOL fell from ~$240 to ~$176 then bounced (the 10 Oct crash to $148 is in the window); a
  neutral bounded grid buys every rung on the way down and its range (blended 1h..1W percentiles) lags, so exits
  come below entries — the report's price chart shows the fills;
* funding +$3.20: Drift's SOL-PERP rate was negative (shorts pay longs) in 320 of the 552 hours and the bot was
  long in 315 of them: +$3.57 received while long, −$0.37 paid while short; the sum equals Σ position × rate
  exactly (``funding.csv``; property-tested);
* the split adds up to the unit: −54.226477 − 4.849510 + 3.195333 + 1.463960 = −54.416694 = ending − starting;
* CLAMP for 34 h, all by the funding guardrail (|rate| above 100 ppm of the price per hour clamps the paying
  side), never
  REDUCE_ONLY or PAUSE: 10,000 USDC against a grid of at most 2.5 SOL each way is far from any margin limit, so
  health stays 100 and no liquidation happens.
A change to any of these numbers must come with the reasoning for the new value.
"""

from __future__ import annotations

from pathlib import Path

from botrunner.backtest.data import resolve
from botrunner.backtest.engine import BacktestInputs, BacktestResult, pnl_split, run_backtest
from botrunner.config import load_bot

ROOT = Path(__file__).resolve().parents[2]
START = 1_758_412_800  # 2025-09-21T00:00:00Z
END = 1_760_400_000  # 2025-10-14T00:00:00Z


def test_golden_replay_of_sol_neutral_grid_on_the_bundled_slice() -> None:
    bot = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
    data = resolve(bot.market)
    result = run_backtest(BacktestInputs(bot=bot, candles=data.candles, funding=data.funding, start=START, end=END))
    assert venue_figures(result) == {
        "bars": 6_624,
        "bar_events": 26_496,
        "orders_placed": 19_976,
        "fills": 701,
        "maker_fills": 701,
        "funding_rows": 552,
        "liquidations": 0,
        "min_health": 100,
        "time_in_state_s": {"APPROVE": 1_864_800, "CLAMP": 122_400},
        "time_in_reason_s": {"funding_guardrail": 122_400},
    }
    assert pnl_split(result) == {
        "realized": -54_226_477,
        "unrealized": -4_849_510,
        "funding": 3_195_333,
        "fees": -1_463_960,
        "total": -54_416_694,
    }
    assert result.ending_equity == 9_945_583_306
    assert result.max_drawdown_bps == 175


def venue_figures(result: BacktestResult) -> dict[str, object]:
    assert result.venue is not None
    return {
        "bars": result.bars,
        "bar_events": result.ticks,
        "orders_placed": result.orders_placed,
        "fills": result.fill_count,
        "maker_fills": result.venue.ledger.maker_fills,
        "funding_rows": len(result.funding),
        "liquidations": result.venue.ledger.liquidations,
        "min_health": result.min_health,
        "time_in_state_s": result.time_in_state_s,
        "time_in_reason_s": result.time_in_reason_s,
    }
