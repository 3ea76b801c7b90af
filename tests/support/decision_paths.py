"""Synthetic markets for the event-driven decision tests: price paths built from segments (flat stretches, where a
decision stays valid; gaps; spikes through several rungs; a crash) with hourly funding records whose sign flips, and
a counter of the bars that reused a decision (``botrunner.bot.step._reuse``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from botrunner.backtest.engine import BacktestInputs
from botrunner.bot import step as step_module
from botrunner.config import BotConfig, parse_bot
from botrunner.core.precision import PRICE_PRECISION
from botrunner.marketdata.candles import Candle, Candles
from botrunner.marketdata.funding import DriftFundingRecord
from botrunner.paper.config import PaperConfig

START = 1_750_000_000 - 1_750_000_000 % 3_600  # on the hour: funding records fall on bar boundaries
INTERVAL = 300
VOLUME = 1_000 * 10**9  # base 1e9 per bar: makers fill in full

BAND_BOT = """
name: decision-check
mode: paper
account: {{authority: test, subaccount_id: 1}}
market: SOL-PERP
capital_usdc: {capital}
strategy:
  kind: band
  band: {{min_base: -{edge}, max_base: {edge}}}
execution:
  grid_levels: 3
  step_bps: 40
  base_size_per_level: 0.5
  post_only: must_post_only
  requote_threshold_bps: {requote}
  ttl_s: {ttl}
  ramp_in: {{duration_s: 0, initial_fraction_bps: 10000}}
"""


def band_bot(*, capital: int = 2_000, edge: int = 5, requote_bps: int = 50, ttl_s: int = 86_400) -> BotConfig:
    """A fixed-band bot on SOL-PERP (small capital: a crash can liquidate it)."""
    text = BAND_BOT.format(capital=capital, edge=edge, requote=requote_bps, ttl=ttl_s)
    return parse_bot(text, "<decision-check bot>")


# A segment: (kind, bars, size) with kind "flat" (the close repeats), "walk" (steps of ``size`` bps, alternating
# direction every third bar), "spike" (one bar whose high/low reach ``size`` bps away), "gap" (``bars`` bars
# missing), "crash" (``bars`` bars falling ``size`` bps each).
Segment = tuple[str, int, int]


def path_candles(segments: Sequence[Segment], start_price: int = 100 * PRICE_PRECISION) -> Candles:
    """Candles following ``segments`` (each bar's open is the previous close)."""
    bars: list[Candle] = []
    ts, price = START, start_price
    for kind, count, size in segments:
        for i in range(count):
            if kind == "gap":
                ts += INTERVAL
                continue
            open_ = price
            high = low = price
            if kind == "walk":
                direction = 1 if (i // 3) % 2 == 0 else -1
                price = max(PRICE_PRECISION, price + direction * price * size // 10_000)
            elif kind == "crash":
                price = max(PRICE_PRECISION, price - price * size // 10_000)
            elif kind == "spike":
                high = price + price * size // 10_000
                low = max(PRICE_PRECISION, price - price * size // 10_000)
            high, low = max(high, open_, price), min(low, open_, price)
            bars.append(Candle(ts, open_, high, low, price, VOLUME))
            ts += INTERVAL
    return Candles(source="synthetic", interval_s=INTERVAL, bars=tuple(bars))


def flipping_funding(candles: Candles, rates: Sequence[int]) -> tuple[DriftFundingRecord, ...]:
    """Hourly funding records over ``candles``' span, cycling through ``rates`` (1e9 per hour: sign flips)."""
    first, last = candles.bars[0].ts, candles.bars[-1].ts + candles.interval_s
    out = []
    for n, ts in enumerate(range(first - first % 3_600, last + 3_600, 3_600)):
        rate = rates[n % len(rates)]
        out.append(DriftFundingRecord(ts, rate, rate, rate, 100 * PRICE_PRECISION, 100 * PRICE_PRECISION, 0))
    return tuple(out)


def inputs(
    bot: BotConfig,
    candles: Candles,
    funding: tuple[DriftFundingRecord, ...] | None,
    *,
    latency_slots: int = 0,
    check: bool = True,
) -> BacktestInputs:
    """Every bar traded, in check mode unless told otherwise."""
    return BacktestInputs(
        bot=bot,
        candles=candles,
        funding=funding,
        start=candles.bars[0].ts,
        end=candles.bars[-1].ts + candles.interval_s,
        paper=PaperConfig(latency_slots=latency_slots),
        decision_check=check,
    )


@contextmanager
def reuse_counter(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the bars that reused a decision (a one-element list, updated as the run goes)."""
    count = [0]
    original = step_module._reuse

    def counted(*args: object, **kwargs: object) -> object:
        count[0] += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(step_module, "_reuse", counted)
        yield count
