"""user_order_id allocation: Drift's u8 ids, 1..255, unique among the user's orders.

An id is reserved from the moment we send the order until the venue confirms the order is gone (filled,
cancelled, expired, rejected), so an id whose cancel is still in flight is never reused. Allocation is
deterministic: the lowest free ids after a rotating cursor, so consecutive ladders use fresh ids and a late event
for an old order cannot be mistaken for a new one.
"""

from __future__ import annotations

from collections.abc import Collection

from botrunner.core.precision import USER_ORDER_ID_MAX, USER_ORDER_ID_MIN

_ID_COUNT = USER_ORDER_ID_MAX - USER_ORDER_ID_MIN + 1


class IdsExhausted(RuntimeError):
    """More ids requested than free (cannot happen while the 32-order limit holds)."""


def allocate_ids(reserved: Collection[int], count: int, cursor: int) -> tuple[tuple[int, ...], int]:
    """Return ``count`` free ids, scanning upward (with wrap-around) from just after ``cursor``, and the new cursor
    (the last id handed out; unchanged when ``count`` is 0)."""
    if count < 0:
        raise ValueError(f"allocate_ids: count must be >= 0, got {count}")
    if count > _ID_COUNT - len(reserved):
        raise IdsExhausted(f"allocate_ids: {count} ids requested, {_ID_COUNT - len(reserved)} free")
    out: list[int] = []
    candidate = cursor
    while len(out) < count:
        candidate = candidate + 1 if candidate < USER_ORDER_ID_MAX else USER_ORDER_ID_MIN
        if candidate not in reserved:
            out.append(candidate)
    return tuple(out), (out[-1] if out else cursor)
