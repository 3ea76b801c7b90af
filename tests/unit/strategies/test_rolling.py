"""Rolling percentile windows and the blended range, checked against brute force."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.config import GridConfig
from strategies.history import PriceHistory
from strategies.price_range import blended_range, widen
from strategies.rolling import RollingWindow, nearest_rank


def brute_percentile(values: list[int], p_bps: int) -> int:
    ordered = sorted(values)
    rank = max(1, math.ceil(p_bps * len(ordered) / 10_000))
    return ordered[rank - 1]


def test_nearest_rank_matches_the_textbook_definition() -> None:
    # 5th / 95th percentile of 20 samples: ranks 1 and 19; of 12 samples: ranks 1 and 12
    assert nearest_rank(20, 500) == 1
    assert nearest_rank(20, 9_500) == 19
    assert nearest_rank(12, 9_500) == 12
    assert nearest_rank(100, 5_000) == 50
    assert nearest_rank(1, 0) == 1
    assert nearest_rank(7, 10_000) == 7


def test_nearest_rank_when_percentile_out_of_range_then_error() -> None:
    with pytest.raises(ValueError, match="percentile_bps"):
        nearest_rank(5, 10_001)
    with pytest.raises(ValueError, match="n >= 1"):
        nearest_rank(0, 500)


def test_window_evicts_samples_at_or_before_now_minus_lookback() -> None:
    w = RollingWindow(60)
    w.push(100, 5)
    w.push(159, 7)
    assert w.sorted_prices() == (5, 7)
    w.push(160, 6)  # (100, 160]: the sample at exactly 100 is out
    assert w.sorted_prices() == (6, 7)
    assert w.oldest_ts == 159


def test_empty_window_percentile_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        RollingWindow(60).percentile(500)


events = st.lists(
    st.tuples(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=50)),
    min_size=1,
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(
    evts=events,
    lookback=st.integers(min_value=1, max_value=300),
    p=st.integers(min_value=0, max_value=10_000),
)
def test_rolling_window_percentile_equals_brute_force_sort(evts: list[tuple[int, int]], lookback: int, p: int) -> None:
    w = RollingWindow(lookback)
    seen: list[tuple[int, int]] = []
    ts = 1_000
    for dt, price in evts:
        ts += dt
        w.push(ts, price)
        seen.append((ts, price))
        inside = [px for t, px in seen if ts - lookback < t <= ts]
        assert w.sorted_prices() == tuple(sorted(inside))
        assert w.percentile(p) == brute_percentile(inside, p)


@settings(max_examples=200, deadline=None)
@given(evts=events, interval=st.integers(min_value=1, max_value=30))
def test_history_keeps_the_latest_price_per_bucket_in_every_window(evts: list[tuple[int, int]], interval: int) -> None:
    lookbacks = (interval, 3 * interval, 10 * interval)
    hist = PriceHistory(lookbacks, interval)
    ts = 0
    per_bucket: dict[int, tuple[int, int]] = {}  # bucket -> (ts, price) of its newest observation
    for dt, price in evts:
        ts += dt
        hist.observe(ts, price)
        per_bucket[ts // interval] = (ts, price)
        for window, lb in zip(hist.windows, lookbacks, strict=True):
            expected = sorted(px for t, px in per_bucket.values() if ts - lb < t <= ts)
            assert window.sorted_prices() == tuple(expected)


def test_history_rejects_time_going_backwards_and_bad_prices() -> None:
    hist = PriceHistory((60,), 60)
    hist.observe(100, 5)
    with pytest.raises(ValueError, match="older than the previous observation"):
        hist.observe(99, 5)
    with pytest.raises(ValueError, match="positive int"):
        hist.observe(101, 0)
    with pytest.raises(ValueError, match="positive int"):
        hist.observe(101, 5.0)  # type: ignore[arg-type]


def test_history_copy_is_independent() -> None:
    hist = PriceHistory((60,), 1)
    hist.observe(1, 5)
    clone = hist.copy()
    hist.observe(2, 6)
    assert clone.windows[0].sorted_prices() == (5,)
    assert hist.windows[0].sorted_prices() == (5, 6)


CFG = GridConfig(
    lookbacks_s=(600, 3_000),
    weights_bps=(6_000, 4_000),
    sample_interval_s=60,
    min_samples=5,
    min_coverage_bps=10_000,
    min_range_bps=0,
)


def test_blended_range_when_no_window_qualifies_then_none() -> None:
    hist = PriceHistory(CFG.lookbacks_s, CFG.sample_interval_s)
    for i in range(9):  # 9 minutes < the 10-minute window
        hist.observe(60 * i, 100_000_000 + i)
    assert blended_range(hist, CFG) is None


def test_blended_range_renormalises_weights_over_qualifying_windows() -> None:
    hist = PriceHistory(CFG.lookbacks_s, CFG.sample_interval_s)
    for i in range(10):  # exactly 10 minutes of buckets: the short window qualifies, the long one does not
        hist.observe(60 * i, 100_000_000 + 1_000 * i)
    rng = blended_range(hist, CFG)
    assert rng is not None
    assert rng.windows_used == (0,)
    w = hist.windows[0]
    assert (rng.low, rng.high) == (w.percentile(500), w.percentile(9_500))


@settings(max_examples=200, deadline=None)
@given(prices=st.lists(st.integers(min_value=1, max_value=10**9), min_size=50, max_size=120))
def test_blended_range_is_the_weighted_blend_rounded_outward(prices: list[int]) -> None:
    hist = PriceHistory(CFG.lookbacks_s, CFG.sample_interval_s)
    for i, px in enumerate(prices):
        hist.observe(60 * i, px)
    rng = blended_range(hist, CFG)
    assert rng is not None and rng.windows_used == (0, 1)
    short = prices[-10:]
    long_ = prices[-50:]
    lo_num = 6_000 * brute_percentile(short, 500) + 4_000 * brute_percentile(long_, 500)
    hi_num = 6_000 * brute_percentile(short, 9_500) + 4_000 * brute_percentile(long_, 9_500)
    exp_low, exp_high = widen(lo_num // 10_000, -(-hi_num // 10_000), 0)
    assert (rng.low, rng.high) == (exp_low, exp_high)
    assert rng.low < rng.high


@settings(max_examples=200, deadline=None)
@given(
    low=st.integers(min_value=1, max_value=10**9),
    width=st.integers(min_value=0, max_value=10**7),
    bps=st.integers(min_value=0, max_value=10_000),
)
def test_widen_never_shrinks_and_reaches_the_minimum_width(low: int, width: int, bps: int) -> None:
    lo, hi = widen(low, low + width, bps)
    assert lo >= 1
    assert hi - lo >= max(width, 2)
    assert (hi - lo) * 2 * 10_000 >= (2 * low + width) * bps  # at least bps of the original mid
    if lo > 1:  # symmetric about the original mid, up to half a unit
        assert (lo + hi) - (2 * low + width) in (0, 1)
    if width >= 2 and width * 2 * 10_000 >= (2 * low + width) * bps:
        assert (lo, hi) == (low, low + width)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weights_bps": (5_000, 5_000, 0, 1)}, "weights_bps must sum to 10000"),
        ({"weights_bps": (5_000, 5_000)}, "weights_bps must have one weight per lookback"),
        ({"lookbacks_s": (3_600, 3_600, 86_400, 604_800)}, "lookbacks_s must be strictly ascending"),
        ({"percentile_low_bps": 9_500, "percentile_high_bps": 500}, "percentile_low_bps must be <"),
        ({"percentile_high_bps": 10_001}, "percentile_high_bps must be in"),
        ({"bias_skew_bps": -1}, "bias_skew_bps"),
        ({"sample_interval_s": 0}, "sample_interval_s must be >= 1"),
        ({"sample_interval_s": 7_200}, "lookbacks_s must each be >= sample_interval_s"),
        ({"min_samples": 0}, "min_samples"),
        ({"min_coverage_bps": 10_001}, "min_coverage_bps"),
    ],
)
def test_grid_config_validate_names_the_bad_field(changes: dict[str, object], field: str) -> None:
    import msgspec

    cfg = msgspec.structs.replace(GridConfig(), **changes)
    with pytest.raises(ValueError, match=f"GridConfig.{field}"):
        cfg.validate()


def test_grid_config_defaults_are_the_mvp_spec() -> None:
    cfg = GridConfig()
    cfg.validate()
    assert cfg.lookbacks_s == (3_600, 14_400, 86_400, 604_800)
    assert cfg.weights_bps == (3_500, 3_000, 2_500, 1_000)
    assert (cfg.percentile_low_bps, cfg.percentile_high_bps) == (500, 9_500)
