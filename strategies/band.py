"""The fixed-band strategy: hold the position anywhere inside a configured band; the connector works the ladder.

It is the simplest exposure intent there is, and what the R1 reference workload asks for ("no bids while long
>= 5 SOL, no asks while short >= 5 SOL" is the band ``[-5, +5]``). The preferred position is the current one
clamped into the band, so inside the band the ladder is symmetric and only the edges stop a side.
"""

from __future__ import annotations

import msgspec

from botrunner.core.intents import StrategyDecision, make_band
from botrunner.core.invalid import InvalidField
from strategies.base import MarketView


class BandConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Signed base (1e9) the bot may hold: ``min_base <= position <= max_base``."""

    min_base: int
    max_base: int

    def validate(self) -> None:
        """Raise ``InvalidField`` for a band that is empty or does not contain flat."""
        if self.min_base > self.max_base:
            raise InvalidField("BandConfig", "min_base", "must be <= max_base", ("max_base",))
        if self.min_base > 0:
            raise InvalidField("BandConfig", "min_base", "must be <= 0 (the band must contain flat)")
        if self.max_base < 0:
            raise InvalidField("BandConfig", "max_base", "must be >= 0 (the band must contain flat)")


class BandState:
    """The fixed band needs no memory; one shared immutable instance."""

    __slots__ = ()


_STATE = BandState()


class FixedBandStrategy:
    """Implements ``strategies.base.Strategy[BandState]``."""

    __slots__ = ("config",)

    def __init__(self, config: BandConfig) -> None:
        config.validate()
        self.config = config

    def initial_state(self) -> BandState:
        return _STATE

    def on_price(self, state: BandState, ts: int, price: int) -> BandState:
        return state

    def price_memory(self) -> None:
        return None  # the band is fixed: no price is ever read

    def decide(self, state: BandState, view: MarketView) -> StrategyDecision:
        view.validate()
        lo, hi = self.config.min_base, self.config.max_base
        preferred = min(max(view.position_base, lo), hi)
        return StrategyDecision(band=make_band(lo, hi, preferred, view.market))
