"""What a live bot's operator must hear of at once, from what its venue already reports: a transaction whose outcome
is UNKNOWN, the circuit breaker opening, a safety gate blocking a trade, the vault sync disabling trading. Pure: the
live shell feeds it the events a command returned, the link's breaker and the vault's state afterwards, and
publishes what comes out to the event hub (the notifier listens there; ``botrunner.notify``).

Each incident carries the numbers (the command, the signature, the gate and its figures) and a ``ref``: what makes two
incidents the same one, so the notifier's deduplication collapses a gate that blocks every tick into one message
while a new signature or a new trip of the breaker is a new one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from botrunner.core.records import BASE_DECIMALS, PRICE_DECIMALS, fixed
from botrunner.live.retry import CircuitBreaker
from botrunner.runtime.snapshots import Incident
from botrunner.venue.port import CommandRejected, OrderRejected, RejectReason, VenueEvent

TX_UNKNOWN = "tx_unknown"
BREAKER_OPEN = "breaker_open"
GATE_BLOCKED = "gate_blocked"
VAULT_SYNC = "vault_sync"


def iso_time(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _order(e: OrderRejected) -> str:
    side = e.side.value if e.side is not None else "?"
    return f"#{e.user_order_id} {side} {fixed(e.base, BASE_DECIMALS)} @ {fixed(e.price, PRICE_DECIMALS)}"


def from_events(bot: str, events: Sequence[VenueEvent]) -> list[Incident]:
    """The UNKNOWN outcomes and gate blocks among one command's events: one incident per unknown transaction (its
    orders share the detail, which names the signature) and one per gate that blocked, listing the orders."""
    unknown: dict[str, list[str]] = {}
    gates: dict[str, list[OrderRejected]] = {}
    ts = 0
    for e in events:
        if not isinstance(e, OrderRejected | CommandRejected):
            continue
        if e.reason is RejectReason.OUTCOME_UNKNOWN:
            what = _order(e) if isinstance(e, OrderRejected) else e.command
            unknown.setdefault(e.detail, []).append(what)
            ts = e.ts
        elif e.reason is RejectReason.SAFETY_GATE and isinstance(e, OrderRejected):
            gates.setdefault(e.detail.split(":", 1)[0], []).append(e)
            ts = e.ts
    out: list[Incident] = []
    for detail, touched in unknown.items():
        signature = detail.rsplit("signature ", 1)[1].rstrip(")") if "signature " in detail else detail
        out.append(
            Incident(
                bot=bot,
                time=iso_time(ts),
                what=TX_UNKNOWN,
                message=f"transaction outcome UNKNOWN ({detail}) for {', '.join(touched)}: trading stops until the "
                "account is re-read; nothing is re-sent",
                ref=signature,
            )
        )
    for gate, blocked in gates.items():
        orders = ", ".join(_order(e) for e in blocked)
        out.append(
            Incident(
                bot=bot,
                time=iso_time(ts),
                what=GATE_BLOCKED,
                message=f"safety gate {gate} blocked {len(blocked)} order(s) {orders}: {blocked[0].detail}",
                ref=gate,
            )
        )
    return out


def breaker_opened(bot: str, seen: float | None, breaker: CircuitBreaker, now: int) -> Incident | None:
    """An incident when ``breaker`` tripped since the trip last seen (``seen``, its ``opens_until``), else None.
    A failed half-open trial trips it again: a new incident."""
    if breaker.opens_until is None or breaker.opens_until == seen:
        return None
    return Incident(
        bot=bot,
        time=iso_time(now),
        what=BREAKER_OPEN,
        message=f"circuit breaker open after {breaker.failures} consecutive transaction failures "
        f"(threshold {breaker.threshold}): no trade for {breaker.cool_down_s:.0f} s",
        ref=str(breaker.failures),
    )


def vault_disabled(bot: str, why: str, synced_at: float | None, now: int) -> Incident:
    """Trading disabled by the engine vault's sync (``botrunner.live.vault_sync``: the reads and their retries
    failed, or the last good reading is older than 10 s). ``synced_at`` (the last good read) tells one outage
    from the next: a new outage after a recovery is a new incident, the same one is not repeated."""
    return Incident(
        bot=bot,
        time=iso_time(now),
        what=VAULT_SYNC,
        message=f"{why}; no trade until a fresh reading",
        ref=f"{synced_at or 0:.3f}",
    )
