"""Hypothesis properties of the Risk Governor's capital-protecting invariants.

Every property is parametrised over ``PROJECTION_FACTORIES`` (``tests/support/risk_doubles.py``): today only the
FakeProjection test double; add the real margin engine's factory there to rerun the same properties against it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.intents import ExposureBand, make_band
from botrunner.core.margin_view import MarginProjection
from botrunner.core.precision import BASE_PRECISION, BPS_PRECISION, quote_value
from botrunner.core.verdict import RiskAction, Verdict
from governors.risk import RiskInputs, RiskState, evaluate
from governors.risk_limits import RiskLimits
from tests.support.risk_doubles import PROJECTION_FACTORIES, SOL_PERP, Account, ProjectionFactory, px, sol, usd

STEP = SOL_PERP.step_size
NOW = 1_760_000_000
FACTORIES = pytest.mark.parametrize("factory", list(PROJECTION_FACTORIES.values()), ids=list(PROJECTION_FACTORIES))
SETTINGS = settings(max_examples=200, deadline=None)


@dataclass(frozen=True)
class Scenario:
    account: Account
    requested: ExposureBand
    mark: int
    funding_rate: int
    stress_override: int | None
    limits: RiskLimits
    day_start_equity: int
    equity: int
    operator_pause: bool = False
    operator_reduce_only: bool = False


@st.composite
def limits_strategy(draw: st.DrawFn) -> RiskLimits:
    warning = draw(st.integers(min_value=30, max_value=70))
    critical = draw(st.integers(min_value=5, max_value=warning - 1))
    return RiskLimits(
        health_warning=warning,
        health_critical=critical,
        min_health_after_trade=draw(st.integers(min_value=warning, max_value=95)),
        min_health_under_stress=draw(st.integers(min_value=critical, max_value=95)),
        min_liq_distance_bps=draw(st.integers(min_value=0, max_value=3_000)),
        max_leverage_x10000=draw(st.integers(min_value=10_000, max_value=200_000)),
        max_notional_quote=draw(st.one_of(st.none(), st.integers(min_value=usd(10), max_value=usd(500_000)))),
        stress_move_bps=draw(st.integers(min_value=0, max_value=4_000)),
    ).validate()


@st.composite
def scenarios(draw: st.DrawFn, calm: bool = False) -> Scenario:
    """Random one-position accounts and requests. ``calm`` keeps the market-level triggers (divergence, funding,
    operator, daily loss) quiet so that most verdicts are about sizing (APPROVE / CLAMP)."""
    oracle = draw(st.integers(min_value=px(2), max_value=px(2_000)))
    collateral = draw(st.integers(min_value=usd(20), max_value=usd(200_000)))
    leverage_bps = draw(st.integers(min_value=0, max_value=40_000 if calm else 120_000))  # up to 4x / 12x
    side = draw(st.sampled_from((1, -1)))
    magnitude = collateral * leverage_bps // BPS_PRECISION * BASE_PRECISION // oracle
    base = side * (magnitude - magnitude % STEP)
    entry = oracle * draw(st.integers(min_value=8_000, max_value=12_000)) // BPS_PRECISION
    reach = max(1, 15 * collateral * BASE_PRECISION // oracle // STEP)  # request up to ~15x either way, in steps
    lo = draw(st.integers(min_value=-reach, max_value=reach))
    hi = draw(st.integers(min_value=lo, max_value=reach))
    pref = draw(st.integers(min_value=lo, max_value=hi))
    off_step = draw(st.integers(min_value=0, max_value=STEP - 1))  # strategies may send unrounded bands
    requested = ExposureBand(lo * STEP - off_step, hi * STEP, pref * STEP)
    wild = not calm and draw(st.integers(min_value=0, max_value=3)) == 0  # one in four: anything goes
    gap_bps = draw(st.integers(min_value=-130, max_value=130) if wild else st.integers(min_value=-60, max_value=60))
    funding_ppm = draw(st.integers(min_value=-700, max_value=700) if wild else st.integers(min_value=-90, max_value=90))
    equity = draw(st.integers(min_value=usd(10), max_value=usd(200_000)))
    loss = draw(st.integers(min_value=-usd(1_000), max_value=usd(30_000) if wild else 0))
    limits = draw(limits_strategy())
    if not wild:
        limits = msgspec.structs.replace(limits, max_notional_quote=None) if draw(st.booleans()) else limits
    return Scenario(
        account=Account(collateral, base, entry, oracle),
        requested=requested,
        mark=oracle * (BPS_PRECISION + gap_bps) // BPS_PRECISION,
        funding_rate=funding_ppm * oracle * 1_000 // 10**6,
        stress_override=draw(st.one_of(st.none(), st.integers(min_value=0, max_value=5_000))),
        limits=limits,
        day_start_equity=equity + loss,
        equity=equity,
        operator_pause=wild and draw(st.integers(min_value=0, max_value=4)) == 0,
        operator_reduce_only=wild and draw(st.integers(min_value=0, max_value=4)) == 0,
    )


def inputs_of(sc: Scenario, proj: MarginProjection, now: int = NOW) -> RiskInputs:
    return RiskInputs(
        now=now,
        mark_price=sc.mark,
        oracle_price=sc.account.oracle_price,
        oracle_ts=now,
        funding_rate=sc.funding_rate,
        day_start_equity=max(0, sc.day_start_equity),
        equity=sc.equity,
        requested=sc.requested,
        snapshot=proj.current(),
        stress_move_bps=sc.stress_override,
        operator_pause=sc.operator_pause,
        operator_reduce_only=sc.operator_reduce_only,
    )


def step(sc: Scenario, factory: ProjectionFactory, state: RiskState | None = None, now: int = NOW) -> Verdict:
    proj = factory(sc.account)
    return evaluate(state or RiskState(), inputs_of(sc, proj, now), sc.limits, proj, SOL_PERP)[1]


def normalised(sc: Scenario) -> ExposureBand:
    r = sc.requested
    return make_band(r.min_base, r.max_base, r.preferred_base, SOL_PERP)


def expected_stress_bps(sc: Scenario) -> int:
    oracle = sc.account.oracle_price
    gap = -((-abs(sc.mark - oracle) * BPS_PRECISION) // oracle)
    return min(BPS_PRECISION - 1, max(sc.limits.stress_move_bps, sc.stress_override or 0) + gap)


def assert_within_limits(proj: MarginProjection, q: int, sc: Scenario) -> None:
    """Independent restatement of every sizing limit for the hypothetical position ``q``."""
    limits, oracle = sc.limits, sc.account.oracle_price
    snap = proj.project(q, oracle)
    assert snap.health >= limits.min_health_after_trade, (q, snap)
    assert snap.leverage <= limits.max_leverage_x10000, (q, snap)
    if limits.max_notional_quote is not None:
        assert quote_value(abs(q), oracle) <= limits.max_notional_quote
    if snap.liquidation_price is not None:
        gap = oracle - snap.liquidation_price if q > 0 else snap.liquidation_price - oracle
        assert gap * BPS_PRECISION >= limits.min_liq_distance_bps * oracle, (q, snap)
    s = expected_stress_bps(sc)
    shocked = (
        max(1, oracle * (BPS_PRECISION - s) // BPS_PRECISION)
        if q > 0
        else -((-oracle * (BPS_PRECISION + s)) // BPS_PRECISION)
    )
    stressed = proj.project(q, shocked)
    assert stressed.health >= limits.min_health_under_stress, (q, s, stressed)
    if stressed.liquidation_price is not None:
        gap = shocked - stressed.liquidation_price if q > 0 else stressed.liquidation_price - shocked
        assert gap * BPS_PRECISION >= limits.min_liq_distance_bps * shocked, (q, s, stressed)


@FACTORIES
@SETTINGS
@given(sc=scenarios())
def test_property_clamp_band_lies_inside_the_requested_band(factory: ProjectionFactory, sc: Scenario) -> None:
    verdict = step(sc, factory)
    if verdict.action is RiskAction.CLAMP:
        assert verdict.band.is_within(normalised(sc))
    if verdict.action is RiskAction.APPROVE:
        assert verdict.band == normalised(sc)


@FACTORIES
@SETTINGS
@given(sc=scenarios())
def test_property_verdict_band_is_step_aligned_and_ordered(factory: ProjectionFactory, sc: Scenario) -> None:
    verdict = step(sc, factory)
    b = verdict.band
    assert b.min_base <= b.preferred_base <= b.max_base
    if verdict.action is not RiskAction.PAUSE:  # PAUSE echoes the venue's position as it is
        assert b.min_base % STEP == 0 and b.max_base % STEP == 0 and b.preferred_base % STEP == 0


@FACTORIES
@SETTINGS
@given(
    sc=st.one_of(scenarios(), scenarios(calm=True)),
    picks=st.lists(st.integers(min_value=0, max_value=10**9), max_size=4),
)
def test_property_every_position_in_an_approve_or_clamp_band_satisfies_every_limit_also_under_stress(
    factory: ProjectionFactory, sc: Scenario, picks: list[int]
) -> None:
    verdict = step(sc, factory)
    if verdict.action not in (RiskAction.APPROVE, RiskAction.CLAMP):
        return
    b = verdict.band
    steps = (b.max_base - b.min_base) // STEP
    positions = {b.min_base, b.max_base, b.preferred_base} | {b.min_base + (p % (steps + 1)) * STEP for p in picks}
    proj = factory(sc.account)
    for q in sorted(positions - {0}):  # flat is always allowed: this market cannot make it riskier
        assert_within_limits(proj, q, sc)


@FACTORIES
@SETTINGS
@given(sc=scenarios())
def test_property_reduce_only_never_grows_or_flips_the_position(factory: ProjectionFactory, sc: Scenario) -> None:
    verdict = step(sc, factory)
    position = sc.account.position_base
    if verdict.action is RiskAction.REDUCE_ONLY:
        assert min(0, position) <= verdict.band.min_base <= verdict.band.max_base <= max(0, position)
    if verdict.action is RiskAction.PAUSE:
        assert verdict.band == ExposureBand(position, position, position)


@FACTORIES
@SETTINGS
@given(sc=scenarios())
def test_property_action_is_the_worst_finding_and_evaluation_is_deterministic(
    factory: ProjectionFactory, sc: Scenario
) -> None:
    verdict = step(sc, factory)
    assert verdict.action is RiskAction.worst([f.action for f in verdict.findings])
    assert (verdict.action is RiskAction.APPROVE) == (verdict.findings == ())
    assert step(sc, factory) == verdict


# --- hysteresis and escalation through the whole governor ---

HYSTERESIS_LIMITS = RiskLimits(
    max_leverage_x10000=1_000_000, min_liq_distance_bps=0, liq_distance_hysteresis_bps=0, stress_move_bps=0
).validate()


def _health_scenario(collateral: int, mark_gap_bps: int = 0) -> Scenario:
    oracle = px(100)
    return Scenario(
        account=Account(collateral, sol(10), oracle, oracle),  # maintenance $30: health = 100 * (1 - 30 / c)
        requested=ExposureBand(0, 0, 0),
        mark=oracle * (BPS_PRECISION + mark_gap_bps) // BPS_PRECISION,
        funding_rate=0,
        stress_override=None,
        limits=HYSTERESIS_LIMITS,
        day_start_equity=collateral,
        equity=collateral,
    )


def _actions(scs: list[Scenario], factory: ProjectionFactory, dt: int) -> list[RiskAction]:
    state, out = RiskState(), []
    for i, sc in enumerate(scs):
        proj = factory(sc.account)
        state, verdict = evaluate(state, inputs_of(sc, proj, NOW + i * dt), sc.limits, proj, SOL_PERP)
        out.append(verdict.action)
    return out


@FACTORIES
@SETTINGS
@given(
    start=st.integers(min_value=usd(70), max_value=usd(1_000)),  # health >= 57: clear of the warning + margin
    noise=st.lists(st.integers(min_value=usd(55), max_value=usd(65)), min_size=1, max_size=30),
    dt=st.integers(min_value=1, max_value=600),
)
def test_property_noisy_health_within_hysteresis_margin_never_flips_state_more_than_once(
    factory: ProjectionFactory, start: int, noise: list[int], dt: int
) -> None:
    scs = [_health_scenario(c) for c in [start, *noise]]
    limits = HYSTERESIS_LIMITS
    healths = [factory(sc.account).current().health for sc in scs]
    # keep only series that stay below the re-arm level and above critical after the start
    if not all(limits.health_critical <= h < limits.health_warning + limits.health_hysteresis for h in healths[1:]):
        return
    actions = _actions(scs, factory, dt)
    assert sum(1 for a, b in itertools.pairwise(actions) if a is not b) <= 1


@FACTORIES
@SETTINGS
@given(
    gaps=st.lists(st.integers(min_value=76, max_value=140), min_size=1, max_size=30),
    dt=st.integers(min_value=1, max_value=600),
)
def test_property_noisy_divergence_within_hysteresis_margin_never_flips_state_more_than_once(
    factory: ProjectionFactory, gaps: list[int], dt: int
) -> None:
    # the limit is 100 bp, re-arm at 75 bp: a gap wandering in [76, 140] after a calm start pauses at most once
    scs = [_health_scenario(usd(1_000), 0)] + [_health_scenario(usd(1_000), g) for g in gaps]
    actions = _actions(scs, factory, dt)
    assert sum(1 for a, b in itertools.pairwise(actions) if a is not b) <= 1


@FACTORIES
@SETTINGS
@given(
    history=st.lists(scenarios(), max_size=4),
    sc=scenarios(),
    breach=st.sampled_from(("divergence", "stale", "operator_pause", "critical_health")),
)
def test_property_escalation_is_immediate_whatever_the_prior_state(
    factory: ProjectionFactory, history: list[Scenario], sc: Scenario, breach: str
) -> None:
    state = RiskState()
    for i, past in enumerate(history):
        proj = factory(past.account)
        state, _ = evaluate(state, inputs_of(past, proj, NOW + i), past.limits, proj, SOL_PERP)
    now = NOW + len(history)
    if breach == "critical_health":
        # 10 SOL at $100 with $31 of collateral: health round(100 * (1 - 30/31)) = 3
        sc = _health_scenario(usd(31))
    proj = factory(sc.account)
    inputs = inputs_of(sc, proj, now)
    oracle = sc.account.oracle_price
    if breach == "divergence":
        inputs = _replace(inputs, mark_price=oracle + oracle * (sc.limits.max_oracle_mark_divergence_bps + 1) // 10**4)
    elif breach == "stale":
        inputs = _replace(inputs, oracle_ts=now - sc.limits.max_data_age_s - 1)
    elif breach == "operator_pause":
        inputs = _replace(inputs, operator_pause=True)
    _, verdict = evaluate(state, inputs, sc.limits, proj, SOL_PERP)
    floor = RiskAction.REDUCE_ONLY if breach == "critical_health" else RiskAction.PAUSE
    assert verdict.action.severity >= floor.severity


def _replace(inputs: RiskInputs, **changes: object) -> RiskInputs:
    return msgspec.structs.replace(inputs, **changes)


def test_scenario_generator_reaches_every_action() -> None:
    """Guard against vacuous properties: the generator must produce each verdict action."""
    seen: set[RiskAction] = set()

    @settings(max_examples=400, deadline=None, database=None)
    @given(sc=scenarios())
    def collect(sc: Scenario) -> None:
        seen.add(step(sc, PROJECTION_FACTORIES["fake"]).action)

    collect()
    assert seen == set(RiskAction), seen
