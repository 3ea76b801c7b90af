"""Rust integer semantics in Python: protocol-v2 divides with truncation toward zero, Python's ``//`` floors.

Every division in the margin engine goes through one of these so a reader can see which rounding the Rust code
uses at that spot (``safe_div`` truncates, ``safe_div_floor`` floors, ``safe_div_ceil`` rounds up).
"""

from __future__ import annotations

import math


def tdiv(a: int, b: int) -> int:
    """``a / b`` truncated toward zero, as Rust's ``safe_div`` on signed integers."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ceil_div(a: int, b: int) -> int:
    """``a / b`` rounded up, for non-negative ``a`` and positive ``b`` (Rust ``safe_div_ceil`` on u128)."""
    return -((-a) // b)


def isqrt(n: int) -> int:
    """Floor square root, as Rust ``num_integer::Roots::nth_root(2)`` on unsigned integers."""
    return math.isqrt(n)
