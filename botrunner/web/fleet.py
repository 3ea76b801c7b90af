"""What the dashboard broadcasts, built from what the runtime already shows without asking a busy actor.

``ENGINE_STATUS`` per bot joins two sources: the status board's summary (posted by the bot after every step, so a
change is seen on the next poll) and the bot's detail (``ctl bot``: entry, leverage, liquidation price and
distance, health, PnL split, grid, band, orders), asked of the bot's actor at most every ``DETAIL_EVERY_S`` while it
changes, in the dashboard's own threads. A broadcast never waits for a detail: it carries the newest one there is,
and a fresh detail is broadcast when it arrives. A two-leg (delta-neutral) bot's ``two_legs`` joins its summary's
one-line legs (every step) with its detail's (``ctl bot``'s legs), and its ``vault`` is the detail's. Thread-safe
(the poll runs on the dashboard's loop, detail fetches in its pool, events arrive from the bots' threads through
the loop).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

import msgspec

from botrunner.core.precision import decimal_text
from botrunner.runtime.hub import StatusBoard
from botrunner.runtime.snapshots import BotEvent, BotSnapshot, BotSummary, Failed, FundingEvent, Started
from botrunner.runtime.views import iso

DETAIL_EVERY_S: Final = 0.5
RECENT_EVENTS: Final = 200
FUNDING_PERIOD_S: Final = 3600  # Drift settles perp funding hourly

_BASE, _PRICE, _QUOTE = 9, 6, 6
_DETAIL_FIELDS: Final = (
    "entry",
    "oracle",
    "leverage",
    "liq_price",
    "liq_distance_pct",
    "health",
    "pnl",
    "risk",
    "band",
    "grid",
    "orders",
    "subaccount",
    "free_collateral",
    "supervision",
    "last_error",
    "alert",
    "trading",
    "legs",
    "vault",
)


def _text(value: int | None, decimals: int) -> str | None:
    return None if value is None else decimal_text(value, decimals)


class FleetView:
    def __init__(self, board: StatusBoard, detail: Callable[[str], BotSnapshot | None]) -> None:
        self._board = board
        self._detail = detail
        self._lock = threading.Lock()
        self._seen: dict[str, BotSummary] = {}
        self._details: dict[str, dict[str, Any]] = {}
        self._fetched: dict[str, float] = {}  # monotonic time of the last detail request
        self._stale: set[str] = set()  # changed since their last detail: due for another
        self._fresh: set[str] = set()  # a detail arrived: broadcast again
        self._funding: dict[str, dict[str, Any]] = {}
        self._blocked: dict[str, dict[str, str | None]] = {}  # a two-leg bot's last blocked trade: gate, market time
        self.on_detail: Callable[[str, dict[str, Any]], None] | None = None  # e.g. the notifier's health check
        self.events: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT_EVENTS)

    # -------------------------------------------------------------- ENGINE_STATUS

    def status(self, summary: BotSummary) -> dict[str, Any]:
        """One bot's ENGINE_STATUS data: the summary's fields, then the newest detail's."""
        with self._lock:
            detail = self._details.get(summary.name, {})
        data: dict[str, Any] = {
            "bot": summary.name,
            "market": summary.market,
            "mode": summary.mode,
            "state": summary.state or "starting",
            "risk_state": summary.risk_state,
            "risk_reasons": list(summary.risk_reasons),
            "position": _text(summary.position, _BASE),
            "mark": _text(summary.mark, _PRICE),
            "equity": _text(summary.equity, _QUOTE),
            "pnl_total": _text(summary.pnl, _QUOTE),
            "open_orders": summary.open_orders,
            "fills": summary.fills,
            "market_time": iso(summary.market_time),
            "restarts": summary.restarts,
            "flagged": summary.flagged,
        }
        data.update(detail)
        legs = data.pop("legs", None)
        if summary.legs is not None or legs is not None:
            shown = two_legs(summary.legs, legs, entry=detail.get("entry"))
            with self._lock:  # the last decision may have blocked nothing: keep the last gate that did
                if shown["blocked"] is not None:
                    self._blocked[summary.name] = {"gate": shown["blocked"], "market_time": data["market_time"]}
                shown["last_blocked"] = self._blocked.get(summary.name)
            data["two_legs"] = shown
        supervision = detail.get("supervision")
        if supervision not in (None, "running"):  # stopped, failed, restarting, starting: what an operator must see
            data["state"] = supervision
        funding = self._funding.get(summary.name)
        if funding is not None:
            data["funding_rate"] = funding["rate"]
            data["next_funding_time"] = funding["next_funding_time"]
        return data

    def changed(self) -> list[dict[str, Any]]:
        """ENGINE_STATUS data of every bot whose summary changed since the last call, or whose detail arrived."""
        out = []
        rows = self._board.rows()
        with self._lock:
            fresh, self._fresh = self._fresh, set()
        for row in rows:
            if self._seen.get(row.name) != row or row.name in fresh:
                if self._seen.get(row.name) != row:
                    with self._lock:
                        self._stale.add(row.name)
                self._seen[row.name] = row
                out.append(self.status(row))
        return out

    def details_due(self, now: float) -> list[str]:
        """Bots whose detail should be asked for now (changed, and not asked within ``DETAIL_EVERY_S``)."""
        with self._lock:
            due = [n for n in self._stale if now - self._fetched.get(n, -1e9) >= DETAIL_EVERY_S]
            for name in due:
                self._stale.discard(name)
                self._fetched[name] = now
        return due

    def touch(self, name: str | None = None) -> None:
        """Ask for fresh details soon (after a command, a start, a failure)."""
        with self._lock:
            names = [name] if name is not None else list(self._seen)
            for n in names:
                self._stale.add(n)
                self._fetched.pop(n, None)

    def fetch_detail(self, name: str) -> None:
        """Ask the runner for ``name``'s detail (blocking: the dashboard's pool) and keep it."""
        try:
            snapshot = self._detail(name)
        except Exception:  # the bot is busy, stopped or gone: keep the last one
            return
        if snapshot is None:
            return
        built = msgspec.to_builtins(snapshot)
        kept = {key: built[key] for key in _DETAIL_FIELDS if built.get(key) is not None}
        with self._lock:
            self._details[name] = kept
            self._fresh.add(name)
        if self.on_detail is not None:
            self.on_detail(name, kept)

    def details(self) -> dict[str, dict[str, Any]]:
        """The newest detail of every bot (the metrics read it at scrape time)."""
        with self._lock:
            return dict(self._details)

    def snapshot(self) -> dict[str, Any]:
        """What a client gets first: every bot's ENGINE_STATUS, the last FUNDING_UPDATE per bot, recent events."""
        rows = self._board.rows()
        return {
            "bots": [self.status(row) for row in rows],
            "funding": list(self._funding.values()),
            "events": list(self.events),
        }

    # -------------------------------------------------------------- events

    def record_event(self, event: BotEvent) -> None:
        self.events.append(msgspec.to_builtins(event))
        if isinstance(event, Failed | Started):
            self.touch(event.bot)

    def funding_update(self, event: FundingEvent) -> dict[str, Any]:
        """FUNDING_UPDATE data: the rate just settled, when the next settles, the payment and the funding PnL."""
        with self._lock:
            detail = self._details.get(event.bot, {})
        pnl = detail.get("pnl") or {}
        vault = detail.get("vault") or {}
        previous = self._funding.get(event.bot)
        total = Decimal(previous["funding_pnl_stream"]) if previous else Decimal(0)
        total += Decimal(event.payment)
        when = _parse_iso(event.time)
        data = {
            "bot": event.bot,
            "time": event.time,
            "rate": event.rate,
            "position": event.position,
            "payment": event.payment,
            "next_funding_time": iso(when + FUNDING_PERIOD_S) if when is not None else None,
            "funding_pnl": pnl.get("funding") or pnl.get("cumulative_funding") or str(total),
            "funding_pnl_stream": str(total),  # what this dashboard saw since it started
        }
        if vault:  # a two-leg bot: the deposit interest its vault accrued so far (the newest detail's)
            data["interest_accrued"] = vault.get("realized_interest")
            data["interest_sol"] = vault.get("interest_sol")
        self._funding[event.bot] = data
        self.touch(event.bot)
        return data

    # -------------------------------------------------------------- prices (the confirm step)

    def usd_price(self, bot: str, asset: str | None) -> Decimal | None:
        """USD per unit: of ``asset`` (``sol``: any SOL-PERP bot's mark), or of ``bot``'s base (its mark)."""
        for row in self._board.rows():
            if row.mark is None:
                continue
            if (asset is None and row.name == bot) or (asset is not None and row.market == f"{asset.upper()}-PERP"):
                return Decimal(row.mark) / Decimal(10**_PRICE)
        return None

    def held(self, bot: str) -> tuple[Decimal | None, Decimal | None]:
        """What ``bot`` holds, in base units: (its SOL spot leg, from a two-leg bot's legs line; its perp position),
        each None when it has not posted it (the confirm step then counts the open as above the limit)."""
        for row in self._board.rows():
            if row.name != bot:
                continue
            perp = None if row.position is None else Decimal(row.position) / Decimal(10**_BASE)
            spot_text = dict(p.partition("=")[::2] for p in (row.legs or "").split()).get("spot_sol")
            return (None if spot_text is None else Decimal(spot_text)), perp
        return None, None


def two_legs(line: str | None, fields: dict[str, str] | None, *, entry: str | None) -> dict[str, Any]:
    """ENGINE_STATUS's ``two_legs`` for a delta-neutral bot, reshaped from what ``ctl`` shows
    (``runtime.views.legs_fields``, the detail; ``legs_line``, the summary every step posts — fresher, so its
    values win): both legs with their size and entry (the perp's is Drift's; the spot's is our weighted-average cost
    of its fills, ``botrunner.margin.spot_basis``, as Drift keeps none for a balance; None when they hold none), the
    drift against its tolerance, the carry now / smoothed and its funding and deposit parts, the stance and why,
    next funding, days to break even, the last decision's reason and the rule or gate that last blocked a trade."""
    got = dict(fields or {})
    for part in (line or "").split():
        key, _, value = part.partition("=")
        if value:
            got[key] = value
    stance, _, why = got.get("stance", "").partition(" (")
    blocked = got.get("blocked")
    return {
        "spot": {"asset": "SOL", "size": got.get("spot_sol"), "entry": _dash_none(got.get("spot_entry"))},
        "perp": {"size": got.get("perp_base"), "entry": entry},
        "drift_pct": _dash_none(got.get("drift_pct")),
        "tolerance_pct": got.get("tolerance_pct"),
        "carry": {
            "apr_now_pct": got.get("carry_apr_now_pct"),
            "apr_smoothed_pct": got.get("carry_apr_smoothed_pct"),
            "funding_apr_pct": got.get("carry_funding_apr_pct"),
            "deposit_apr_pct": got.get("carry_deposit_apr_pct"),
        },
        "stance": stance or None,  # in | out
        "stance_reason": why.removesuffix(")") or None,
        "next_funding_time": got.get("next_funding"),
        "break_even_days": got.get("break_even_days"),
        "reason": got.get("reason"),
        "blocked": _dash_none(blocked),
        "last_rebalance": got.get("last_rebalance"),
        "halted": got.get("halted"),
    }


def _dash_none(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value


def _parse_iso(text: str) -> int | None:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None
