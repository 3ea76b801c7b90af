"""What a bot's shell records of each decision, paper and live alike: the decision log line, a risk-event row when
the Risk Governor's state or reasons change, an objective row when the approved band or verdict changes, a decision
row when it sent the venue a command (its orders' rows point to it by ``decision_seq``), and the ``risk_state``
event on the hub. One place, so the paper and the live actor cannot drift apart.
"""

from __future__ import annotations

import msgspec
from structlog.typing import FilteringBoundLogger

from botrunner.bot.driver import RowBuffer
from botrunner.bot.pipeline import Decision
from botrunner.core.precision import FUNDING_RATE_PRECISION
from botrunner.core.records import BASE_DECIMALS, PRICE_DECIMALS, QUOTE_DECIMALS, FillRow, FundingRow, fixed
from botrunner.margin.model import PerpPosition
from botrunner.margin.what_if import break_even_price, entry_price
from botrunner.runtime.hub import EventHub
from botrunner.runtime.snapshots import FillEvent, FundingEvent, RiskStateChanged
from botrunner.runtime.views import iso_time
from botrunner.store import DecisionRow, ObjectiveRow, PositionRow, RiskEventRow

_RATE_DECIMALS = len(str(FUNDING_RATE_PRECISION)) - 1


class DecisionRecorder:
    """One bot's last recorded risk state and objective; collects the rows a step adds (taken by ``take``)."""

    __slots__ = ("decisions", "hub", "log", "name", "objective", "objective_row", "reasons", "risk_events", "state")

    def __init__(self, name: str, log: FilteringBoundLogger, hub: EventHub) -> None:
        self.name = name
        self.log = log
        self.hub = hub
        self.state = ""  # the Risk Governor's last action ("" before the first decision)
        self.reasons: tuple[str, ...] = ()
        self.objective: tuple[int, int, int, str] | None = None
        self.objective_row: ObjectiveRow | None = None  # the approved objective, when it changed in this step
        self.risk_events: list[RiskEventRow] = []
        self.decisions: list[DecisionRow] = []

    def record(self, decision: Decision, decision_seq: int) -> None:
        """Log ``decision`` (the bot's decision number ``decision_seq``) and keep the rows it adds."""
        verdict = decision.verdict
        action = verdict.action.value
        reasons = tuple(sorted({f.reason.value for f in verdict.findings}))
        if action != self.state or reasons != self.reasons:
            self.risk_events.append(
                RiskEventRow(ts=decision.ts, from_state=self.state, to_state=action, reasons=reasons)
            )
            self.log.info(
                "risk_state_changed", ts=decision.ts, previous=self.state, state=action, reasons=list(reasons)
            )
            self.hub.publish(RiskStateChanged(bot=self.name, time=iso_time(decision.ts), state=action, reasons=reasons))
            self.state, self.reasons = action, reasons
        band = verdict.band
        self.log.info(
            "decision",
            seq=decision_seq,
            ts=decision.ts,
            mark=decision.mark,
            position_base=decision.position_base,
            band=[band.min_base, band.max_base, band.preferred_base],
            verdict=action,
            reasons=list(reasons),
            mode=decision.directive.mode.value,
            commands=[type(c).__name__ for c in decision.commands],
            note=decision.strategy.note,
        )
        if decision.commands:
            self.decisions.append(
                DecisionRow(
                    decision_seq=decision_seq,
                    ts=decision.ts,
                    mark=decision.mark,
                    position_base=decision.position_base,
                    band_min=band.min_base,
                    band_max=band.max_base,
                    band_preferred=band.preferred_base,
                    verdict=action,
                    reasons=reasons,
                    mode=decision.directive.mode.value,
                    # the planner sends at most one command per decision; should that change, each reason once
                    plan_reason=",".join(dict.fromkeys(c.reason.value for c in decision.commands)),
                    note=decision.strategy.note,
                )
            )
        objective = (band.min_base, band.max_base, band.preferred_base, action)
        if objective != self.objective:
            self.objective = objective
            self.objective_row = ObjectiveRow(
                ts=decision.ts,
                band_min=band.min_base,
                band_max=band.max_base,
                band_preferred=band.preferred_base,
                verdict=action,
                reasons=reasons,
            )

    def pending(self) -> bool:
        """Whether rows wait to be written."""
        return self.objective_row is not None or bool(self.risk_events) or bool(self.decisions)

    def take(self) -> tuple[ObjectiveRow | None, tuple[RiskEventRow, ...], tuple[DecisionRow, ...]]:
        """The rows collected since the last call, for the step's record."""
        rows = self.objective_row, tuple(self.risk_events), tuple(self.decisions)
        self.objective_row = None
        self.risk_events = []
        self.decisions = []
        return rows


def fill_event(bot: str, row: FillRow) -> FillEvent:
    """A fill as ``ctl subscribe`` streams it: exact units, ISO time, ``fees_paid`` positive for a cost."""
    return FillEvent(
        bot=bot,
        time=iso_time(row.ts),
        order_id=row.order_id,
        side=row.side,
        price=fixed(row.price, PRICE_DECIMALS),
        base=fixed(row.base, BASE_DECIMALS),
        quote=fixed(row.quote, QUOTE_DECIMALS),
        fees_paid=fixed(row.fee, QUOTE_DECIMALS),  # the row's fee is already + paid, - rebate
        liquidity=row.liquidity,
        reduce_only=row.reduce_only,
    )


def funding_event(bot: str, row: FundingRow) -> FundingEvent:
    """A funding payment as ``ctl subscribe`` streams it."""
    return FundingEvent(
        bot=bot,
        time=iso_time(row.ts),
        position=fixed(row.position_base, BASE_DECIMALS),
        rate=fixed(row.rate, _RATE_DECIMALS),
        payment=fixed(row.payment, QUOTE_DECIMALS),
    )


def announce_rows(name: str, log: FilteringBoundLogger, hub: EventHub, step: RowBuffer) -> None:
    """Log every fill, funding payment and PnL settlement of a step in the bot's log (Drift's integers, as the
    store keeps them) and publish fills and funding to ``ctl subscribe`` (in units). Settlements are logged only:
    the store and the stream show their effect (snapshots' unsettled and settled PnL), not rows of their own."""
    for fill in step.fills:
        log.info("fill", **msgspec.structs.asdict(fill))
        hub.publish(fill_event(name, fill))
    for payment in step.funding:
        log.info("funding", **msgspec.structs.asdict(payment))
        hub.publish(funding_event(name, payment))
    for settlement in step.settlements:
        log.info("settlement", **msgspec.structs.asdict(settlement))


def position_row(ts: int, position: PerpPosition) -> PositionRow:
    """The perp position as the store keeps it after a change (the prices are the position's own: no margin
    report needed)."""
    return PositionRow(
        ts=ts,
        base=position.base_asset_amount,
        quote=position.quote_asset_amount,
        quote_entry=position.quote_entry_amount,
        quote_break_even=position.quote_break_even_amount,
        entry_price=entry_price(position),
        break_even_price=break_even_price(position),
        last_cumulative_funding_rate=position.last_cumulative_funding_rate,
    )
