"""The arbitrage circuit breaker (governors.arb_breaker): for any history of execution outcomes, a new entry is
allowed exactly when the last 3 were not all failures, or the last failure is at least 5 minutes old."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from governors.arb_breaker import Breaker, BreakerConfig, allows_entry, record
from governors.leg_out import FAILED_OUTCOMES, Outcome

CONFIG = BreakerConfig()


@settings(max_examples=1_000, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 400), st.sampled_from(list(Outcome))), max_size=30),
    st.integers(0, 700),
)
def test_no_entry_within_five_minutes_of_three_consecutive_failures(
    history: list[tuple[int, Outcome]], query_after: int
) -> None:
    breaker, now, seen = Breaker(), 0, []
    for gap, outcome in history:
        now += gap
        breaker = record(CONFIG, breaker, outcome, now)
        seen.append((now, outcome))
    query = now + query_after
    last3 = seen[-3:]
    blocked = (
        len(last3) == 3 and all(o in FAILED_OUTCOMES for _, o in last3) and query - last3[-1][0] < CONFIG.cooldown_s
    )
    assert allows_entry(CONFIG, breaker, query) is not blocked
