"""``InvalidField``: the one error a config struct's ``validate()`` raises, structured so a loader can say it in the
words of the file the value came from (``risk.max_leverage``), not the struct's (``max_leverage_x10000``)."""

from __future__ import annotations


class InvalidField(ValueError):
    """An impossible value of one field of ``owner`` (a struct's class name).

    ``field`` is the struct's own field name (dotted into a nested struct: ``ramp_in.duration_s``). ``rule`` says
    what the value must be, without the value itself (its unit is the loader's to render), and may name other
    fields of the same struct; ``related`` lists those, so a loader can translate and show them too.
    ``str()`` stays the plain sentence ``"RiskLimits.cool_down_s must be >= 0"``.
    """

    def __init__(self, owner: str, field: str, rule: str, related: tuple[str, ...] = ()) -> None:
        self.owner, self.field, self.rule, self.related = owner, field, rule, related
        super().__init__(f"{owner}.{field} {rule}")
