"""Walk-forward folds: consecutive, on bar boundaries, each an in-sample window followed by its out-of-sample one,
together covering the window exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botrunner.optimize.folds import FoldError, split

BAR = 300


@given(
    start_bar=st.integers(min_value=0, max_value=10**6),
    bars=st.integers(min_value=2, max_value=200_000),
    folds=st.integers(min_value=1, max_value=12),
    oos_pct=st.integers(min_value=1, max_value=99),
    tail=st.integers(min_value=0, max_value=BAR - 1),
)
def test_folds_when_cut_then_consecutive_on_bars_and_covering_the_window(
    start_bar: int, bars: int, folds: int, oos_pct: int, tail: int
) -> None:
    start = start_bar * BAR
    end = start + bars * BAR + tail  # a window that does not end on a bar: the partial bar is left out
    if bars // folds < 2:
        with pytest.raises(FoldError):
            split(start, end, folds, oos_pct, BAR)
        return
    cut = split(start, end, folds, oos_pct, BAR)
    assert len(cut) == folds
    assert cut[0].in_sample[0] == start
    assert cut[-1].out_of_sample[1] == start + bars * BAR
    for i, fold in enumerate(cut):
        assert fold.index == i
        (a, b), (c, d) = fold.in_sample, fold.out_of_sample
        assert a < b == c < d
        assert all((x - start) % BAR == 0 for x in (a, b, c, d))
        if i:
            assert cut[i - 1].out_of_sample[1] == a
        segment = (d - a) // BAR
        oos = (d - c) // BAR
        assert oos == min(max(1, segment * oos_pct // 100), segment - 1)


def test_folds_when_three_over_nine_days_then_three_pairs_of_three_days() -> None:
    day = 86_400
    cut = split(0, 9 * day, 3, 25, BAR)
    assert [f.describe() for f in cut] == [
        [0, 2 * day + day // 4, 2 * day + day // 4, 3 * day],
        [3 * day, 5 * day + day // 4, 5 * day + day // 4, 6 * day],
        [6 * day, 8 * day + day // 4, 8 * day + day // 4, 9 * day],
    ]


@pytest.mark.parametrize(
    ("folds", "oos_pct", "message"), [(0, 25, "--folds"), (1, 0, "--oos-pct"), (1, 100, "--oos-pct")]
)
def test_folds_when_asked_the_impossible_then_error(folds: int, oos_pct: int, message: str) -> None:
    with pytest.raises(FoldError, match=message):
        split(0, 86_400, folds, oos_pct, BAR)
