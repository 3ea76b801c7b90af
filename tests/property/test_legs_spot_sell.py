"""A two-leg bot never sizes a spot sell above the SOL it holds: beyond it Drift would BORROW SOL (a reversed
carry, which a two-leg bot does not run), the paper venue refuses the sell, and the live spot sell is reduce-only.
Checked on the step's sizing of both legs (``botrunner.bot.legs._deltas``, the one place a PlaceLegs' sizes come
from) for any held SOL and any spot target, a borrowing (negative) one included."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.bot.legs import _deltas  # the sizing rule itself: private, no public seam sizes without a venue
from botrunner.bot.pipeline import BotDefinition
from botrunner.config import load_bot
from botrunner.core.intents import ExposureBand, TwoLegDecision

ROOT = Path(__file__).resolve().parents[2]
BOT = BotDefinition.from_config(load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml"))
LEGS = BOT.legs
SOL = 10**9


@settings(max_examples=300, deadline=None)
@given(
    held=st.integers(-5 * SOL, 100 * SOL),  # negative: a borrow already there (never sold further)
    spot_target=st.integers(-100 * SOL, 100 * SOL),
    perp=st.integers(-100 * SOL, 100 * SOL),
    perp_target=st.integers(-100 * SOL, 100 * SOL),
)
def test_a_spot_sell_never_exceeds_the_sol_held(held: int, spot_target: int, perp: int, perp_target: int) -> None:
    assert LEGS is not None
    decision = TwoLegDecision(
        band=ExposureBand(perp_target, perp_target, perp_target),
        spot_band=ExposureBand(spot_target, spot_target, spot_target),
        note="exit",
    )
    spot_delta, _ = _deltas(BOT, LEGS, decision, spot=held, perp=perp)
    if spot_delta < 0:
        assert -spot_delta <= held
    if 0 <= spot_target <= held:
        # a sell the holding covers is sized as ever (on the step, at least the minimum): the cap cuts only a borrow
        step = LEGS.spot.order_step_size or 1
        size = (held - spot_target) // step * step
        assert -spot_delta == (size if size >= max(LEGS.spot.min_order_size, 1) else 0)
