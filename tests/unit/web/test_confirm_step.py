"""The page's confirm step for an open (``web.protocol.needs_confirmation``): what counts is the trade the open
makes, not the size it names: a perp bot's resize moves |target - position|, and a two-leg bot's open moves both
legs (the live safety gate sums them too, ``governors.safety_gates.check_legs``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from botrunner.core.operator import PositionSide
from botrunner.web.protocol import DriftOpenPosition, needs_confirmation

MARK = Decimal(150)


def _price(bot: str, asset: str | None) -> Decimal | None:
    del bot, asset
    return MARK


def _held(spot: str | None, perp: str | None) -> Callable[[str], tuple[Decimal | None, Decimal | None]]:
    def held(bot: str) -> tuple[Decimal | None, Decimal | None]:
        del bot
        return (None if spot is None else Decimal(spot), None if perp is None else Decimal(perp))

    return held


def _open(size: str, side: PositionSide | None = None, *, confirm: bool = False) -> DriftOpenPosition:
    return DriftOpenPosition(id="c1", bot="b", size=size, side=side, confirm=confirm)


def test_confirm_when_a_small_target_reverses_a_large_position_then_the_trade_needs_the_confirm_step() -> None:
    # long 5 SOL -> short 0.5 SOL: the target is $75, the trade 5.5 SOL = $825
    assert needs_confirmation(_open("0.5", PositionSide.SHORT), _price, _held(None, "5"))
    assert not needs_confirmation(_open("0.5", PositionSide.SHORT, confirm=True), _price, _held(None, "5"))


def test_confirm_when_a_resize_moves_little_then_no_confirm_step() -> None:
    # long 5 -> long 5.5: a $75 trade, though the target is worth $825
    assert not needs_confirmation(_open("5.5", PositionSide.LONG), _price, _held(None, "5"))


def test_confirm_when_a_two_leg_open_moves_both_legs_over_100_usd_then_the_confirm_step() -> None:
    # 0.6 SOL hedged from flat: $90 of spot and $90 of perp, $180 traded
    assert needs_confirmation(_open("0.6"), _price, _held("0", "0"))
    # already held: nothing to trade
    assert not needs_confirmation(_open("0.6"), _price, _held("0.6", "-0.6"))


def test_confirm_when_the_position_is_unknown_then_the_confirm_step() -> None:
    assert needs_confirmation(_open("0.1", PositionSide.LONG), _price, _held(None, None))
    assert needs_confirmation(_open("0.1"), _price, _held(None, "0"))  # a two-leg bot's spot leg unknown
