"""Capital conservation of a delta-neutral bot across both legs: over a random run (random price path, random
funding prints that move the carry stance in and out, random tolerances and cooldowns), the equity change equals
funding + interest + trading PnL (perp and spot) - fees (perp and spot), exactly, and each term equals the sum of
the rows the bot recorded. Interest is on (the example bot's ``paper.interest``: Drift's curves at the snapshots'
utilisations, USDC ~10 %/yr, SOL ~2 %/yr, updated hourly), so the interest term is nonzero in every run and the
SOL interest the hedge earns is checked against its rows too."""

from __future__ import annotations

from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botrunner.backtest.engine import BacktestInputs, legs_split, run_backtest
from botrunner.config import load_bot
from botrunner.core.catalogue import load_catalogue
from botrunner.margin.spot_balance import token_value
from botrunner.marketdata.candles import Candle, Candles
from botrunner.marketdata.funding import DriftFundingRecord
from botrunner.paper.config import PaperConfig
from governors.legs_gates import CostGateConfig

ROOT = Path(__file__).resolve().parents[2]
BOT = load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml")
T0 = 1_757_808_000
INTERVAL = 300


@st.composite
def runs(draw: st.DrawFn) -> BacktestInputs:
    n = draw(st.integers(min_value=24, max_value=120))
    moves = draw(st.lists(st.integers(min_value=-300, max_value=300), min_size=n, max_size=n))  # bps per bar
    price = 200_000_000
    bars = []
    for i, move in enumerate(moves):
        close = max(1_000_000, price * (10_000 + move) // 10_000 // 1_000 * 1_000)
        high, low = max(price, close) + 100_000, min(price, close) - 100_000
        bars.append(Candle(T0 + i * INTERVAL, price, high, low, close, 10**12))
        price = close
    hours = n * INTERVAL // 3_600 + 1
    # up to +-$0.004 per SOL per hour at $200 (+-17.5 %/yr): enough to turn the carry (1.98 % deposit APR plus
    # funding) negative and positive, so the engine moves in and out
    rates = draw(st.lists(st.integers(min_value=-4_000_000, max_value=4_000_000), min_size=hours, max_size=hours))
    funding = tuple(
        DriftFundingRecord(T0 + (h + 1) * 3_600, r, r, r, 200_000_000, 200_000_000, 0) for h, r in enumerate(rates)
    )
    always_in = draw(st.booleans())
    carry = msgspec.structs.replace(
        BOT.strategy.carry,
        half_life_s=draw(st.sampled_from([600, 3_600, 86_400])),
        min_hold_s=draw(st.sampled_from([0, 3_600])),
        exit_after_s=draw(st.sampled_from([0, 3_600])),
        reentry_after_s=draw(st.sampled_from([0, 3_600])),
        always_in=always_in,
    )
    free = CostGateConfig(
        perp_fee_ppm=0,
        spot_fee_ppm=0,
        slippage_ppm=0,
        base_fee_lamports=0,
        priority_fee_lamports=0,
        jito_tip_lamports=0,
        include_unwind=False,
    )
    rules = msgspec.structs.replace(
        BOT.strategy.delta_neutral,
        cooldown_s=draw(st.sampled_from([0, 900, 1_800])),
        target_base=draw(st.integers(min_value=1, max_value=60)) * 10**9,
    )
    bot = msgspec.structs.replace(
        BOT, strategy=msgspec.structs.replace(BOT.strategy, carry=carry, delta_neutral=rules, cost_gate=free)
    )
    candles = Candles(source="random", interval_s=INTERVAL, bars=tuple(bars))
    # transaction costs: none, the default live settings' (8,000 lamports), or a fee spike's 0.005 SOL
    paper = PaperConfig(interest=BOT.paper.interest, tx_cost_lamports=draw(st.sampled_from([0, 8_000, 5_000_000])))
    return BacktestInputs(bot=bot, candles=candles, funding=funding, start=T0, end=T0 + n * INTERVAL, paper=paper)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_legs_capital_is_conserved_across_both_legs_including_interest(inputs: BacktestInputs) -> None:
    result = run_backtest(inputs)
    split = legs_split(result)  # raises when the terms do not sum to the equity change
    venue = result.venue
    assert venue is not None
    change = result.ending_equity - result.starting_equity
    trading = split["realized"] + split["unrealized"] + split["spot_trading"]
    fees = split["fees"] + split["spot_fees"]
    assert change == split["funding"] + split["interest"] + trading - fees - split["tx_costs"]
    # one transaction cost per booked PlaceLegs (each books its spot leg), none without
    assert split["tx_costs"] == venue.ledger.tx_costs >= 0
    if inputs.paper.tx_cost_lamports == 0:
        assert split["tx_costs"] == 0
    elif result.spot_fills:
        assert split["tx_costs"] > 0
    # each term is what the bot recorded
    assert split["funding"] == sum(r.payment for r in result.funding)
    assert split["spot_fees"] == sum(r.fee for r in result.spot_fills)
    assert split["fees"] == sum(r.fee for r in result.fills)
    usdc_interest = sum(r.amount for r in result.interest if r.market_index == 0)
    sol_interest = sum(r.amount for r in result.interest if r.market_index == 1)
    # USDC earns, or pays once settled perp losses and the spot buy take the balance below zero (a borrow)
    assert result.interest, "interest never accrued: the identity would not test its term"
    assert usdc_interest == venue.ledger.interest_usdc
    assert sol_interest == venue.ledger.interest_sol >= 0  # the spot leg is a deposit, never a borrow
    sol = venue.spot_balance(1)
    assert split["interest"] == usdc_interest + token_value(sol, 9, venue.oracle) - token_value(
        sol - sol_interest, 9, venue.oracle
    )
    if inputs.bot.strategy.carry.always_in:
        assert result.spot_fills and result.fills, "an always-in run never entered"
    # both legs traded together: every decision that sent legs has its fills, and the hedge is exact but for the
    # SOL the deposit earned and the spot step an exit rounds it to (sizes round toward zero)
    spot_step = load_catalogue().spot(1).order_step_size
    assert abs(venue.spot_balance(1) + venue.position.base_asset_amount) <= sol_interest + spot_step
