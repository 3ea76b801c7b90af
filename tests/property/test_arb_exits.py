"""The exit pipeline's priorities (strategies.arb_exits): a lower-priority exit never fires while a higher one
applies, nothing but an emergency or early exit fires inside the minimum hold, and some exit always fires when one
applies past the gate."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.arb_exits import ExitConfig, ExitInputs, ExitLayer, ExitMemory, apr_bps, evaluate

H = 3_600
CONFIG = ExitConfig()
RATE = st.integers(-(10**8), 10**8)  # up to 0.01 % per hour either way


@st.composite
def cases(draw: st.DrawFn) -> tuple[ExitInputs, ExitMemory]:
    opened = 1_000_000
    now = opened + draw(st.integers(0, 20 * 24 * H))
    inputs = ExitInputs(
        now_s=now,
        opened_s=opened,
        drift_liq_distance_bps=draw(st.none() | st.integers(0, 10_000)),
        external_liq_distance_bps=draw(st.none() | st.integers(0, 10_000)),
        drift_notional=draw(st.integers(0, 10**10)),
        external_notional=draw(st.integers(0, 10**10)),
        net_rate_now=draw(RATE),
        net_rate_avg=draw(RATE),
        entry_net_rate=draw(RATE),
        net_pnl_quote=draw(st.integers(-(10**8), 10**8)),
        entry_basis_bps=draw(st.integers(-200, 200)),
        basis_bps=draw(st.integers(-200, 200)),
        best_alternative_apr_bps=draw(st.none() | st.integers(-(10**5), 10**5)),
        last_rotation_s=draw(st.none() | st.integers(opened - 48 * H, now)),
    )
    memory = ExitMemory(draw(st.none() | st.integers(opened - 10 * H, now)))
    return inputs, memory


def _emergency(i: ExitInputs, m: ExitMemory) -> bool:
    liq = any(d is not None and d < 1_500 for d in (i.drift_liq_distance_bps, i.external_liq_distance_bps))
    big = max(i.drift_notional, i.external_notional)
    delta = big > 0 and abs(i.drift_notional - i.external_notional) * 10_000 > 300 * big
    since = (m.adverse_since_s if m.adverse_since_s is not None else i.now_s) if i.net_rate_now < 0 else None
    flip = since is not None and i.now_s - since >= 3 * H
    return liq or delta or flip


def _early(i: ExitInputs) -> bool:
    collapse = (
        i.now_s - i.opened_s >= 2 * H and i.entry_net_rate > 0 and i.net_rate_avg * 10_000 < i.entry_net_rate * 2_000
    )
    return i.net_pnl_quote >= 4_000_000 or collapse


def _standard(i: ExitInputs) -> bool:
    entry = abs(i.entry_basis_bps)
    basis = entry >= 10 and abs(i.basis_bps) * 10_000 <= entry * 2_000
    return i.net_pnl_quote >= 1_000_000 or i.now_s - i.opened_s >= 14 * 24 * H or basis or i.net_rate_avg < 0


def _opportunity(i: ExitInputs) -> bool:
    cooled = i.last_rotation_s is None or i.now_s - i.last_rotation_s >= 24 * H
    return (
        i.best_alternative_apr_bps is not None
        and cooled
        and i.best_alternative_apr_bps - apr_bps(i.net_rate_avg) >= 8_000
    )


@settings(max_examples=2_000, deadline=None)
@given(cases())
def test_the_highest_applicable_layer_decides_and_the_min_hold_gate_holds(case: tuple[ExitInputs, ExitMemory]) -> None:
    inputs, memory = case
    decision, _ = evaluate(CONFIG, inputs, memory)
    gate_passed = inputs.now_s - inputs.opened_s >= 48 * H
    applicable = [
        layer
        for layer, applies in (
            (ExitLayer.EMERGENCY, _emergency(inputs, memory)),
            (ExitLayer.EARLY, _early(inputs)),
            (ExitLayer.STANDARD, gate_passed and _standard(inputs)),
            (ExitLayer.OPPORTUNITY, gate_passed and _opportunity(inputs)),
        )
        if applies
    ]
    if not applicable:
        assert decision is None
        return
    assert decision is not None
    assert decision.layer == min(applicable)  # never a lower-priority exit while a higher one applies
    if not gate_passed:
        assert decision.layer in (ExitLayer.EMERGENCY, ExitLayer.EARLY)
