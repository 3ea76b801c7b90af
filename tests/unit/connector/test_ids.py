"""user_order_id allocation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.connector import IdsExhausted, allocate_ids


def test_ids_when_fresh_then_start_at_one_and_advance_cursor() -> None:
    assert allocate_ids(set(), 3, 0) == ((1, 2, 3), 3)
    assert allocate_ids(set(), 2, 3) == ((4, 5), 5)


def test_ids_skip_reserved_and_wrap_after_255() -> None:
    ids, cursor = allocate_ids({254, 1}, 3, 253)
    assert ids == (255, 2, 3)
    assert cursor == 3


def test_ids_when_none_requested_then_cursor_unchanged() -> None:
    assert allocate_ids({5}, 0, 17) == ((), 17)


def test_ids_when_too_many_requested_then_raises() -> None:
    with pytest.raises(IdsExhausted):
        allocate_ids(set(range(1, 250)), 7, 0)


@settings(max_examples=200, deadline=None)
@given(
    reserved=st.sets(st.integers(1, 255), max_size=64),
    count=st.integers(0, 32),
    cursor=st.integers(0, 255),
)
def test_ids_property_fresh_unique_in_range(reserved: set[int], count: int, cursor: int) -> None:
    ids, new_cursor = allocate_ids(reserved, count, cursor)
    assert len(ids) == count == len(set(ids))
    assert all(1 <= i <= 255 for i in ids)
    assert not set(ids) & reserved
    assert new_cursor == (ids[-1] if ids else cursor)
