"""botrunner.backtest.arb_fills: the execution model's named paths on real paper accounts."""

from __future__ import annotations

import random

from botrunner.backtest.arb_fills import ExecutionModel, execute
from botrunner.core.catalogue import load_catalogue
from botrunner.core.side import Side
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.paper.account import PaperAccount
from botrunner.paper.external import ExternalAccount, external_rules, open_account
from botrunner.paper.fees import drift_fee_tier
from botrunner.paper.tape import Tape
from governors.leg_out import LegOutConfig, Outcome, PairExecution

USD = 10**6
SOL = 10**9
QUIET = ExecutionModel(
    drift_miss_bps=0,
    drift_partial_bps=0,
    drift_reject_bps=0,
    external_miss_bps=0,
    external_partial_bps=0,
    external_reject_bps=0,
    market_reject_bps=0,
)


def _accounts() -> tuple[PaperAccount, ExternalAccount]:
    tape = Tape(now=1_750_000_000, price=150 * USD)
    drift = PaperAccount(load_catalogue().perp("SOL-PERP"), drift_fee_tier(1), tape, deposit_quote=5_000 * USD)
    return drift, open_account(external_rules(Venue.HYPERLIQUID, Coin.SOL), 5_000 * USD)


def _open(model: ExecutionModel) -> tuple[Outcome, PaperAccount, ExternalAccount, int]:
    drift, external = _accounts()
    machine = PairExecution(
        LegOutConfig(),
        drift_side=Side.BUY,
        drift_size=0,
        external_size=0,
        target=10 * SOL,
        drift_price=150 * USD,
        external_price=150 * USD,
        first_order_id=1,
    )
    report, external = execute(
        machine,
        start_ms=0,
        model=model,
        rng=random.Random(model.seed),
        drift=drift,
        external=external,
        drift_taker_ppm=400,
        slippage_ppm=200,
    )
    return report.finished.outcome, drift, external, len(report.leg_outs)


def test_a_quiet_model_completes_both_legs_as_takers_with_slippage() -> None:
    outcome, drift, external, leg_outs = _open(QUIET)
    assert (outcome, leg_outs) == (Outcome.COMPLETED, 0)
    assert drift.position.base_asset_amount == 10 * SOL and external.base == -10 * SOL
    assert external.fees_paid == 674_865  # 4.5 bp of 10 SOL sold at 150 less 2 bp (1,499.70 USD)
    assert drift.ledger.fees == 600_120  # 4 bp of 10 SOL bought at 150 plus 2 bp


def test_an_external_leg_that_never_fills_is_hedged_at_market() -> None:
    model = ExecutionModel(**{**{f: getattr(QUIET, f) for f in QUIET.__struct_fields__}, "external_miss_bps": 10_000})
    outcome, drift, external, leg_outs = _open(model)
    assert (outcome, leg_outs) == (Outcome.HEDGED, 1)
    assert drift.position.base_asset_amount == -external.base == 10 * SOL


def test_a_drift_leg_that_is_always_rejected_abandons_the_entry() -> None:
    model = ExecutionModel(**{**{f: getattr(QUIET, f) for f in QUIET.__struct_fields__}, "drift_reject_bps": 10_000})
    outcome, drift, external, _ = _open(model)
    assert outcome is Outcome.ABANDONED
    assert drift.position.base_asset_amount == 0 and external.base == 0
