"""``strategy.carry`` of a delta-neutral bot: the carry engine's parameters (``strategies.carry.CarryParams``,
every field and default of it, same YAML names) plus the two knobs of the legs' execution that live beside them.

A ``CarrySettings`` IS a ``CarryParams`` (a subclass), so the engine's functions take it as it is.
"""

from __future__ import annotations

from botrunner.core.invalid import InvalidField
from botrunner.core.precision import BPS_PRECISION
from strategies.carry import CarryParams


class CarrySettings(CarryParams, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The carry engine's knobs (``CarryParams``: smoothing, favourable share, break-even horizon, hysteresis band,
    minimum hold, re-entry cooldown, emergency exit, negative-funding policy, reverse flag) and:

    - ``slippage_tolerance_bps``: the legs' worst-price limits, oracle (spot) or mark (perp) +- this;
    - ``always_in``: ignore the stance and stay hedged whatever the carry does (the engine still computes and
      records its estimate and what it would have done).
    """

    slippage_tolerance_bps: int = 50
    always_in: bool = False

    def validate(self) -> None:
        """Raise ``InvalidField`` naming the first impossible field (the engine's checks first)."""
        super().validate()
        if not 0 < self.slippage_tolerance_bps < BPS_PRECISION:
            raise InvalidField(type(self).__name__, "slippage_tolerance_bps", "must be in (0, 10000)")
        if self.allow_reverse:
            # the two-leg step trades spot SOL + short perp only; a reversed stance would have no legs to run
            raise InvalidField(type(self).__name__, "allow_reverse", "is not supported by the two-leg step yet")
