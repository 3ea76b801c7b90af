"""The retry schedule, the circuit breaker and the connection-health state machine (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from botrunner.config.live import LiveSettings
from botrunner.live.retry import BreakerState, CircuitBreaker, Link, LinkState, backoff_delays

SETTINGS = LiveSettings()


def breaker(threshold: int = 3, cool_down_s: float = 60.0) -> CircuitBreaker:
    return CircuitBreaker(threshold=threshold, cool_down_s=cool_down_s)


def link() -> Link:
    return Link(reconnect_every_s=10.0, breaker=breaker())


def test_backoff_when_default_settings_then_one_two_four_seconds() -> None:
    assert backoff_delays(SETTINGS) == (1.0, 2.0, 4.0)
    assert backoff_delays(LiveSettings(rpc_retry_delays_s=(0, 3))) == (0.0, 3.0)


def test_breaker_when_built_from_settings_then_uses_the_configured_limits() -> None:
    b = CircuitBreaker.from_settings(LiveSettings(breaker_failures=7, breaker_cool_down_s=30))
    assert (b.threshold, b.cool_down_s, b.failures, b.opens_until) == (7, 30.0, 0, None)


def test_breaker_when_threshold_failures_then_open_for_the_cool_down_then_half_open() -> None:
    b = breaker(threshold=2, cool_down_s=60)
    b = b.record_failure(100.0).record_failure(101.0)
    assert b.opens_until == 161.0
    assert b.state(160.9) is BreakerState.OPEN
    assert b.state(161.0) is BreakerState.HALF_OPEN
    assert not b.is_open(161.0)


def test_breaker_when_trial_fails_in_half_open_then_reopens_for_a_full_cool_down() -> None:
    b = breaker(threshold=2, cool_down_s=60).record_failure(0.0).record_failure(1.0)
    b = b.record_failure(70.0)  # the single trial after the cool-down fails
    assert b.is_open(70.0)
    assert b.opens_until == 130.0


def test_breaker_when_failure_arrives_while_open_then_cool_down_not_extended() -> None:
    b = breaker(threshold=1, cool_down_s=60).record_failure(0.0)
    assert b.record_failure(30.0).opens_until == 60.0


def test_link_when_connection_lost_then_recovering_until_reconnected_and_resynced() -> None:
    a = link().connection_lost(5.0)
    assert (a.state, a.next_attempt_at) == (LinkState.RECOVERING, 15.0)
    assert not a.should_reconnect(14.9)
    assert a.should_reconnect(15.0)
    a = a.connection_lost(15.0)  # the attempt failed: try again in 10 s
    assert a.next_attempt_at == 25.0
    a = a.reconnected()
    assert a.state is LinkState.RESYNC_REQUIRED
    assert not a.can_trade(30.0)
    a = a.resynced()
    assert a.state is LinkState.CONNECTED
    assert a.can_trade(30.0)


def test_link_when_resynced_while_recovering_then_still_recovering() -> None:
    a = link().connection_lost(0.0).resynced()
    assert a.state is LinkState.RECOVERING
    assert not a.can_trade(100.0)


def test_link_when_unknown_transaction_then_resync_required_and_flag_cleared_by_resync() -> None:
    a = link().unknown_transaction()
    assert (a.state, a.unknown_tx) == (LinkState.RESYNC_REQUIRED, True)
    assert not a.can_trade(0.0)
    a = a.resynced()
    assert (a.state, a.unknown_tx, a.can_trade(0.0)) == (LinkState.CONNECTED, False, True)


def test_link_when_breaker_open_then_cannot_trade_even_when_connected() -> None:
    a = Link(reconnect_every_s=10.0, breaker=breaker(threshold=1, cool_down_s=60))
    a = a.tx_failed(0.0)
    assert a.state is LinkState.CONNECTED
    assert not a.can_trade(59.0)
    assert a.can_trade(60.0)  # half-open: one trial goes through
    assert a.tx_succeeded().breaker.state(61.0) is BreakerState.CLOSED


# -- properties ----------------------------------------------------------------------------------------------------

MAX_THRESHOLD = 8
times = st.lists(st.floats(min_value=0.0, max_value=1_000.0, allow_nan=False), min_size=MAX_THRESHOLD, max_size=40)


@given(
    threshold=st.integers(min_value=1, max_value=MAX_THRESHOLD),
    cool_down=st.floats(min_value=1.0, max_value=600.0, allow_nan=False),
    gaps=times,
)
def test_breaker_property_opens_after_exactly_threshold_consecutive_failures(
    threshold: int, cool_down: float, gaps: list[float]
) -> None:
    b = breaker(threshold, cool_down)
    now = 0.0
    for i, gap in enumerate(gaps[:threshold], start=1):
        now += gap
        b = b.record_failure(now)
        assert b.is_open(now) == (i == threshold), f"open={b.is_open(now)} after {i} of {threshold} failures"
    assert b.is_open(now)  # the loop did reach the threshold


# An event is (kind, time step); kinds: "fail", "ok" on the breaker.
breaker_events = st.lists(
    st.tuples(st.sampled_from(["fail", "ok"]), st.floats(min_value=0.0, max_value=400.0, allow_nan=False)),
    max_size=60,
)


@given(
    threshold=st.integers(min_value=1, max_value=6),
    cool_down=st.floats(min_value=1.0, max_value=300.0, allow_nan=False),
    events=breaker_events,
)
def test_breaker_property_success_always_closes_and_open_never_allows_trading(
    threshold: int, cool_down: float, events: list[tuple[str, float]]
) -> None:
    # Independent model of the REQ 9 rule: `threshold` consecutive failures pause trading for `cool_down` seconds;
    # after it one trial goes through; a failed trial pauses again for a full cool-down, a success resumes.
    lk = Link(reconnect_every_s=10.0, breaker=breaker(threshold, cool_down))
    now = 0.0
    streak = 0
    paused_until: float | None = None
    for kind, step in events:
        now += step
        if kind == "ok":
            lk, streak, paused_until = lk.tx_succeeded(), 0, None
            assert lk.breaker.state(now) is BreakerState.CLOSED
            assert lk.breaker.failures == 0
        else:
            lk, streak = lk.tx_failed(now), streak + 1
            if paused_until is None:
                if streak >= threshold:
                    paused_until = now + cool_down
            elif now >= paused_until:  # the trial after the cool-down failed
                paused_until = now + cool_down
        paused = paused_until is not None and now < paused_until
        assert lk.can_trade(now) == (not paused), f"streak={streak} paused_until={paused_until} now={now}"


link_events = st.lists(
    st.tuples(
        st.sampled_from(["lost", "reconnected", "resynced", "unknown", "tx_fail", "tx_ok"]),
        st.floats(min_value=0.0, max_value=50.0, allow_nan=False),
    ),
    max_size=60,
)


@given(events=link_events)
def test_link_property_no_trading_from_any_failure_until_a_resync_after_reconnecting(
    events: list[tuple[str, float]],
) -> None:
    # Independent model: a loss blocks until a reconnection and then a resync; an unknown tx blocks until a resync
    # made while connected.
    lk = Link(reconnect_every_s=10.0, breaker=breaker(threshold=1_000, cool_down_s=1.0))
    now = 0.0
    lost = False  # no reconnection since the last loss
    blocked = False
    for kind, step in events:
        now += step
        match kind:
            case "lost":
                lk, lost, blocked = lk.connection_lost(now), True, True
            case "reconnected":
                lk, lost = lk.reconnected(), False
            case "resynced":
                lk = lk.resynced()
                if not lost:
                    blocked = False
            case "unknown":
                lk, blocked = lk.unknown_transaction(), True
            case "tx_fail":
                lk = lk.tx_failed(now)
            case _:
                lk = lk.tx_succeeded()
        assert lk.can_trade(now) == (not blocked), f"after {kind}: state={lk.state} unknown={lk.unknown_tx}"
        # can_trade does not look at the flag: it must never be set while CONNECTED
        assert not (lk.unknown_tx and lk.state is LinkState.CONNECTED)
