"""Hypothesis properties of the delta-neutral engine's capital-protecting rules: drift maths, cooldown, minimum
size, direction, the leg-mismatch halt, the two-leg risk check (on the Drift-exact margin engine) and the cost
gate."""

from __future__ import annotations

from fractions import Fraction

import msgspec
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from botrunner.core.catalogue import load_catalogue
from botrunner.core.verdict import RiskAction
from botrunner.margin.legs import LegsTrade, LegsWhatIf, apply_legs
from governors.legs_gates import CostGateConfig, CostInputs, CostVerdict, check_cost
from governors.risk_legs import LegsLimits, LegsRequest, check_legs, leverage_cap
from strategies.delta_neutral import (
    CarryInput,
    DeltaNeutralConfig,
    DeltaNeutralState,
    LegsNote,
    LegsView,
    beyond_tolerance,
    clear_halt,
    decide_legs,
    drift_bps,
    initial_state,
    leg_step,
    mismatch_bound_base,
    within_leverage,
)
from tests.support.margin import account, catalogue_markets, usdc_deposit

SOL = 10**9
USD = 10**6
SOL_PERP = load_catalogue().perp("SOL-PERP")
SOL_SPOT = load_catalogue().spot(1)
STEP = SOL_PERP.step_size
LEG_STEP = leg_step(SOL_PERP, SOL_SPOT)
NOW = 1_760_000_000
SETTINGS = settings(max_examples=300, deadline=None)
TRADES = {LegsNote.REBALANCE_EXPAND_SHORT, LegsNote.REBALANCE_REDUCE_SHORT}

configs = st.builds(
    DeltaNeutralConfig,
    drift_tolerance_bps=st.integers(1, 2_000),
    cooldown_s=st.integers(0, 7_200),
    min_trade_base=st.integers(1, SOL),
    max_leverage_x10000=st.integers(10_000, 100_000),
    mismatch_quote=st.integers(0, 5_000 * USD),
)
prices = st.integers(5 * USD, 1_000 * USD)
steps = st.integers(0, 100_000).map(lambda n: n * STEP)  # 0 .. 1,000 SOL on the step


def make_view(
    spot: int,
    perp: int,
    *,
    oracle: int = 140 * USD,
    last: int | None = None,
    now: int = NOW,
    equity: int = 1_000_000 * USD,
    in_market: bool = True,
) -> LegsView:
    return LegsView(
        spot_base=spot,
        perp_base=perp,
        oracle=oracle,
        mark=oracle,
        now=now,
        last_rebalance_ts=last,
        equity_quote=equity,
        market=SOL_PERP,
        spot_market=SOL_SPOT,
        carry=CarryInput(in_market=in_market),
    )


# ------------------------------------------------------------------------------------------------ drift maths


@given(net=st.integers(-(10**15), 10**15), hedgeable=st.integers(0, 10**15))
@SETTINGS
def test_drift_bps_is_the_exact_ratio_truncated(net: int, hedgeable: int) -> None:
    got = drift_bps(net, hedgeable)
    if hedgeable == 0:
        assert got is None
        return
    exact = Fraction(net * 10_000, hedgeable)
    assert got is not None
    assert abs(got) == abs(exact).__floor__()  # truncation toward zero
    assert got == 0 or (got > 0) == (net > 0)


@given(net=st.integers(-(10**15), 10**15), hedgeable=st.integers(0, 10**15), tol=st.integers(1, 10_000))
@SETTINGS
def test_beyond_tolerance_is_exact(net: int, hedgeable: int, tol: int) -> None:
    if hedgeable == 0:
        assert beyond_tolerance(net, hedgeable, tol) == (net != 0)
    else:
        assert beyond_tolerance(net, hedgeable, tol) == (abs(Fraction(net * 10_000, hedgeable)) > tol)


# ------------------------------------------------------------------------------------------------ the rules


@st.composite
def hedged_legs(draw: st.DrawFn) -> tuple[int, int]:
    """A spot deposit (above the spot minimum) and a short near it (within 30 %), both on the perp step."""
    spot = draw(st.integers(10, 100_000)) * STEP
    perp = -draw(st.integers(spot * 7 // 10 // STEP, spot * 13 // 10 // STEP)) * STEP
    return spot, perp


@given(cfg=configs, legs=hedged_legs(), oracle=prices, since=st.integers(0, 7_200))
@SETTINGS
def test_no_rebalance_inside_the_cooldown(
    cfg: DeltaNeutralConfig, legs: tuple[int, int], oracle: int, since: int
) -> None:
    spot, perp = legs
    _, decision, numbers = decide_legs(cfg, initial_state(), make_view(spot, perp, oracle=oracle, last=NOW - since))
    if since < cfg.cooldown_s:
        assert numbers.note not in TRADES
        assert decision.band.preferred_base == perp and decision.spot_band.preferred_base == spot
        if numbers.note is LegsNote.COOLDOWN:
            assert numbers.cooldown_remaining_s == cfg.cooldown_s - since


@given(cfg=configs, legs=hedged_legs(), oracle=prices)
@SETTINGS
def test_a_failed_rebalance_does_not_start_the_cooldown(
    cfg: DeltaNeutralConfig, legs: tuple[int, int], oracle: int
) -> None:
    """The strategy keeps no rebalance time: a rebalance whose fills never arrived (the step leaves
    ``last_rebalance_ts`` as it was) is decided again at once, even a second later."""
    spot, perp = legs
    state, first, numbers = decide_legs(cfg, initial_state(), make_view(spot, perp, oracle=oracle))
    assume(numbers.note in TRADES)
    _, again, _ = decide_legs(cfg, state, make_view(spot, perp, oracle=oracle, now=NOW + 1))
    assert again == first


@given(cfg=configs, legs=hedged_legs(), oracle=prices, equity=st.integers(100 * USD, 1_000_000 * USD))
@SETTINGS
def test_direction_minimum_size_and_leverage_cap_for_every_sign_of_net_delta(
    cfg: DeltaNeutralConfig, legs: tuple[int, int], oracle: int, equity: int
) -> None:
    spot, perp = legs
    net = spot + perp
    _, decision, numbers = decide_legs(cfg, initial_state(), make_view(spot, perp, oracle=oracle, equity=equity))
    target = decision.band.preferred_base
    assert decision.band.min_base == decision.band.max_base == target
    assert target % STEP == 0
    if numbers.note is LegsNote.HALTED_LEG_MISMATCH:
        assert abs(net) > mismatch_bound_base(cfg, SOL_PERP, oracle)
        return
    cap = numbers.leverage_cap_x10000
    if numbers.note is LegsNote.DELEVER:  # both legs cut by the same base, back within the cap (or flat)
        cut = spot - decision.spot_band.preferred_base
        assert cut > 0 and target - perp == cut
        assert not within_leverage(spot, perp, equity, oracle, cap + cap * cfg.delever_margin_bps // 10_000)
        assert within_leverage(spot - cut, perp + cut, equity, oracle, cap) or min(spot, -perp) - cut < LEG_STEP
        return
    if net > 0:
        assert target <= perp  # expand the short (or hold)
        assert numbers.note in {
            LegsNote.REBALANCE_EXPAND_SHORT,
            LegsNote.WITHIN_TOLERANCE,
            LegsNote.BELOW_MIN_SIZE,
            LegsNote.LEVERAGE_CAP,
        }
    elif net < 0:
        assert target >= perp  # reduce the short (or hold)
        assert numbers.note in {LegsNote.REBALANCE_REDUCE_SHORT, LegsNote.WITHIN_TOLERANCE, LegsNote.BELOW_MIN_SIZE}
    else:
        assert numbers.note is LegsNote.WITHIN_TOLERANCE and target == perp
    assert decision.spot_band.preferred_base == spot  # a rebalance never trades the spot leg
    minimum = max(cfg.min_trade_base, SOL_PERP.min_order_size, STEP)
    if numbers.note is LegsNote.REBALANCE_EXPAND_SHORT:  # an expansion never takes the short beyond the cap
        assert within_leverage(spot, target, equity, oracle, cap)
    if numbers.note in TRADES:
        assert abs(target - perp) >= minimum
        assert abs(target - perp) <= abs(net) + STEP // 2  # the correction is |net delta|, to the step
        assert beyond_tolerance(net, spot, cfg.drift_tolerance_bps)
    else:
        assert target == perp
        if numbers.note is LegsNote.BELOW_MIN_SIZE:
            assert abs(net) < minimum + STEP // 2


@given(
    cfg=configs,
    oracle=prices,
    spot=steps,
    excess=st.integers(1, 10_000).map(lambda n: n * STEP),
    later=st.lists(st.tuples(steps, steps, st.booleans()), max_size=6),
)
@SETTINGS
def test_mismatch_beyond_the_bound_halts_and_stays_halted_until_cleared(
    cfg: DeltaNeutralConfig, oracle: int, spot: int, excess: int, later: list[tuple[int, int, bool]]
) -> None:
    bound = mismatch_bound_base(cfg, SOL_PERP, oracle)
    perp = -spot + bound + excess if spot % 2 else -spot - bound - excess  # either sign of mismatch
    state, decision, _ = decide_legs(cfg, initial_state(), make_view(spot, perp, oracle=oracle))
    assert state.halted and decision.note == LegsNote.HALTED_LEG_MISMATCH.value
    assert (decision.band.preferred_base, decision.spot_band.preferred_base) == (perp, spot)
    for s, p, in_market in later:  # whatever happens next, no trade until an operator clears it
        state, decision, _ = decide_legs(cfg, state, make_view(s, -p, oracle=oracle, in_market=in_market))
        assert state.halted and decision.note == LegsNote.HALTED_LEG_MISMATCH.value
        assert (decision.band.preferred_base, decision.spot_band.preferred_base) == (-p, s)
    assert clear_halt(state) == DeltaNeutralState()


@given(cfg=configs, oracle=prices, equity=st.integers(0, 10_000_000 * USD))
@SETTINGS
def test_entry_is_hedged_on_both_steps_and_within_the_leverage_cap(
    cfg: DeltaNeutralConfig, oracle: int, equity: int
) -> None:
    _, decision, numbers = decide_legs(cfg, initial_state(), make_view(0, 0, oracle=oracle, equity=equity))
    if numbers.note is LegsNote.ENTER:
        size = decision.spot_band.preferred_base
        assert decision.band.preferred_base == -size > -size - 1
        assert size % leg_step(SOL_PERP, SOL_SPOT) == 0
        # Drift's leverage after buying with USDC (borrowing beyond it) and shorting the same
        notional = Fraction(size * oracle, 10**9)
        borrow = max(Fraction(0), notional - equity)
        assert (notional + borrow) / equity <= Fraction(numbers.leverage_cap_x10000, 10_000)
        assert within_leverage(size, -size, equity, oracle, numbers.leverage_cap_x10000)
    else:
        assert numbers.note is LegsNote.BELOW_MIN_SIZE
        assert decision.band.preferred_base == 0 and decision.spot_band.preferred_base == 0


# ------------------------------------------------------------------------------------------------ two-leg risk

MARKETS = catalogue_markets(140 * USD)


@given(
    usdc=st.integers(100, 100_000).map(lambda d: d * USD),
    held=st.integers(0, 2_000).map(lambda n: n * LEG_STEP * 10),
    spot_d=st.integers(-3_000, 3_000).map(lambda n: n * LEG_STEP * 10),
    perp_extra=st.integers(-20, 20).map(lambda n: n * LEG_STEP),
    max_lev=st.integers(10_000, 200_000),
    min_health=st.integers(0, 99),
    slippage=st.integers(0, 100),
)
@settings(max_examples=150, deadline=None)
def test_risk_legs_never_approves_below_health_or_above_cap_and_clamp_keeps_legs_hedged(
    *, usdc: int, held: int, spot_d: int, perp_extra: int, max_lev: int, min_health: int, slippage: int
) -> None:
    start = LegsTrade(perp_delta=-held, perp_price=140 * USD, spot_delta=held, spot_price=140 * USD)
    acct = (
        apply_legs(account(usdc_deposit(MARKETS, usdc)), MARKETS, 0, 1, start)
        if held
        else account(usdc_deposit(MARKETS, usdc))
    )
    whatif = LegsWhatIf(acct, MARKETS, 0, 1, perp_fee_bps=4, spot_fee_bps=10, slippage_bps=slippage)
    limits = LegsLimits(max_leverage_x10000=max_lev, min_health_after_trade=min_health)
    perp_d = -spot_d + perp_extra
    assume(held + spot_d >= 0)  # a spot sale beyond the deposit is not this engine's trade
    request = LegsRequest(
        spot_base=held,
        perp_base=-held,
        spot_delta=spot_d,
        perp_delta=perp_d,
        mismatch_bound_base=5 * SOL,
        leg_step=LEG_STEP,
        market=SOL_PERP,
    )
    verdict = check_legs(limits, request, whatif)
    if verdict.action in (RiskAction.APPROVE, RiskAction.CLAMP) and (verdict.spot_delta or verdict.perp_delta):
        after = whatif.project_legs(verdict.perp_delta, verdict.spot_delta)
        assert after.health >= min_health
        assert after.leverage <= leverage_cap(limits, SOL_PERP)
        assert after.initial.meets_margin_requirement
        assert (after.health, after.leverage) == (verdict.health_after, verdict.leverage_after)
        assert abs(held - held + verdict.spot_delta + verdict.perp_delta) <= 5 * SOL
    if verdict.action is RiskAction.CLAMP:
        shrink_spot = abs(spot_d) - abs(verdict.spot_delta)
        shrink_perp = abs(perp_d) - abs(verdict.perp_delta)
        assert shrink_spot > 0 or shrink_perp > 0
        assert verdict.spot_delta * spot_d >= 0 and verdict.perp_delta * perp_d >= 0  # never reversed
        # both legs shrink by the same base unless one reached zero
        if verdict.spot_delta and verdict.perp_delta:
            assert shrink_spot == shrink_perp
        if spot_d == -perp_d:  # a hedged trade stays hedged
            assert verdict.spot_delta == -verdict.perp_delta
    if verdict.action is RiskAction.REDUCE_ONLY:
        assert abs(held + verdict.spot_delta) <= held and abs(-held + verdict.perp_delta) <= held
    if verdict.action is RiskAction.PAUSE:
        assert verdict.spot_delta == verdict.perp_delta == 0


# ------------------------------------------------------------------------------------------------ cost gate


@given(
    perp=st.integers(-1_000, 0).map(lambda n: n * STEP),
    perp_d=st.integers(-1_000, 1_000).map(lambda n: n * STEP),
    spot_d=st.integers(-1_000, 1_000).map(lambda n: n * STEP),
    oracle=prices,
    rate=st.integers(-(10**8), 10**8),
    apr=st.integers(0, 2_000),
    cfg=st.builds(
        CostGateConfig,
        horizon_s=st.integers(1, 30 * 86_400),
        favourable_weight_bps=st.integers(0, 10_000),
        perp_fee_ppm=st.integers(0, 2_000),
        spot_fee_ppm=st.integers(0, 2_000),
        slippage_ppm=st.integers(0, 5_000),
        priority_fee_lamports=st.integers(0, 10**6),
        jito_tip_lamports=st.integers(0, 10**6),
        include_unwind=st.booleans(),
    ),
)
@SETTINGS
def test_cost_gate_blocks_every_exposure_adding_trade_whose_revenue_is_below_cost(
    *, perp: int, perp_d: int, spot_d: int, oracle: int, rate: int, apr: int, cfg: CostGateConfig
) -> None:
    spot = -perp
    result = check_cost(
        cfg,
        CostInputs(
            perp_base=perp,
            perp_delta=perp_d,
            spot_base=spot,
            spot_delta=spot_d,
            oracle=oracle,
            funding_rate=rate,
            deposit_apr_bps=apr,
        ),
    )
    adds = abs(perp + perp_d) > abs(perp) or abs(spot + spot_d) > abs(spot) or (perp + perp_d) * perp < 0
    adds = adds or (spot + spot_d) * spot < 0
    if perp_d == 0 and spot_d == 0:
        assert result.verdict is CostVerdict.NO_TRADE
    elif adds:
        assert result.blocked == (result.revenue_quote < result.cost_quote)
        assert result.verdict in (CostVerdict.PASS, CostVerdict.REVENUE_BELOW_COST)
    else:
        assert result.verdict is CostVerdict.REDUCING
    # revenue never overstated: favourable funding at most its weighted exact value
    exact = Fraction(-perp_d * rate * cfg.horizon_s, 10**12 * 3_600)
    if exact > 0:
        assert result.funding_quote <= exact * Fraction(cfg.favourable_weight_bps, 10_000)
    else:
        assert result.funding_quote <= exact
    assert result.cost_quote >= 0
    assert msgspec.json.decode(msgspec.json.encode(result), type=type(result)) == result
