"""Walk-forward folds: a window cut into consecutive in-sample / out-of-sample pairs.

``[start, end)`` is cut into ``folds`` consecutive segments of equal length; each segment's first part is its
in-sample window (the search scores a trial there), the rest its out-of-sample window (only the best trials are run
there, after the search). Boundaries fall on bar boundaries counted from ``start``; the last segment takes the bars
left over by the division. Every backtest of a fold warms its strategy up on the bars before it, as ``botrunner
backtest --from`` does, so a fold's figures are what that command prints for the same window.
"""

from __future__ import annotations

from dataclasses import dataclass


class FoldError(ValueError):
    """A window that cannot be cut as asked (too short for the folds)."""


@dataclass(frozen=True)
class Fold:
    index: int  # 0-based
    in_sample: tuple[int, int]  # [start, end) unix s
    out_of_sample: tuple[int, int]

    def describe(self) -> list[int]:
        return [*self.in_sample, *self.out_of_sample]


def split(start: int, end: int, folds: int, oos_pct: int, interval_s: int) -> tuple[Fold, ...]:
    """``folds`` consecutive pairs over ``[start, end)``; each holds ``oos_pct`` % of its segment out of sample
    (rounded to whole bars, at least one bar on each side)."""
    if folds < 1:
        raise FoldError(f"--folds must be at least 1, got {folds}")
    if not 0 < oos_pct < 100:
        raise FoldError(f"--oos-pct must be between 1 and 99, got {oos_pct}")
    bars = (end - start) // interval_s
    per_fold = bars // folds
    if per_fold < 2:
        raise FoldError(f"{bars} bars cannot be cut into {folds} folds of an in-sample and an out-of-sample part")
    out: list[Fold] = []
    for i in range(folds):
        first = i * per_fold
        last = bars if i == folds - 1 else first + per_fold
        oos_bars = min(max(1, (last - first) * oos_pct // 100), last - first - 1)
        split_at = last - oos_bars
        out.append(
            Fold(
                index=i,
                in_sample=(start + first * interval_s, start + split_at * interval_s),
                out_of_sample=(start + split_at * interval_s, start + last * interval_s),
            )
        )
    return tuple(out)
