"""The funding-arbitrage backtest's executions (botrunner.backtest.arb_fills): whatever the seeded model draws
(latencies, misses, partial fills, rejects, refused hedges), an execution finishes and leaves the two paper
accounts level unless it is STUCK, and every leg-out's loss is what its hedge price cost against the plan."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.backtest.arb_fills import ExecutionModel, execute
from botrunner.core.catalogue import load_catalogue
from botrunner.core.precision import quote_value
from botrunner.core.side import Side
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.paper.account import PaperAccount
from botrunner.paper.external import external_rules, open_account
from botrunner.paper.fees import drift_fee_tier
from botrunner.paper.tape import Tape
from governors.leg_out import LegOutConfig, Outcome, PairExecution

USD = 10**6
STEP = 10_000_000
PROB = st.integers(0, 3_000)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    miss=PROB,
    partial=PROB,
    reject=PROB,
    market_reject=st.integers(0, 9_000),
    size=st.integers(1, 3_000),
    side=st.sampled_from([Side.BUY, Side.SELL]),
)
def test_an_execution_leaves_the_accounts_level(  # noqa: PLR0917  one Hypothesis draw per model knob
    seed: int, miss: int, partial: int, reject: int, market_reject: int, size: int, side: Side
) -> None:
    model = ExecutionModel(
        seed=seed,
        drift_miss_bps=miss,
        drift_partial_bps=partial,
        drift_reject_bps=reject,
        external_miss_bps=miss,
        external_partial_bps=partial,
        external_reject_bps=reject,
        market_reject_bps=market_reject,
    )
    tape = Tape(now=1_750_000_000, price=150 * USD)
    drift = PaperAccount(load_catalogue().perp("SOL-PERP"), drift_fee_tier(1), tape, deposit_quote=100_000 * USD)
    external = open_account(external_rules(Venue.HYPERLIQUID, Coin.SOL), 100_000 * USD)
    for target in (size * STEP, 0):  # open, then close
        machine = PairExecution(
            LegOutConfig(),
            drift_side=side,
            drift_size=abs(drift.position.base_asset_amount),
            external_size=abs(external.base),
            target=target,
            drift_price=150 * USD,
            external_price=151 * USD,
            first_order_id=1,
        )
        report, external = execute(
            machine,
            start_ms=0,
            model=model,
            rng=random.Random(seed),
            drift=drift,
            external=external,
            drift_taker_ppm=400,
            slippage_ppm=300,
        )
        if report.finished.outcome is Outcome.STUCK:
            return
        assert abs(drift.position.base_asset_amount) == abs(external.base)
        assert (drift.position.base_asset_amount > 0) != (external.base > 0) or external.base == 0
        for leg_out in report.leg_outs:  # the model prices a market order against it: always a cost
            assert leg_out.loss_quote == abs(quote_value(leg_out.base, leg_out.hedge_price - leg_out.reference_price))
            assert leg_out.loss_quote >= 0
