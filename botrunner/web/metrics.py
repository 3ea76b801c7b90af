"""Prometheus metrics at the dashboard's ``/metrics`` (behind the same token), on a registry of their own.

Per bot, read at scrape time from what the dashboard already holds (the status board and the bots' newest details):
equity, position, health, leverage, liquidation distance, risk state, open orders, fills, funding PnL, restarts.
Counted as they happen: step errors (a bot's failure, from the event hub), funding payments, decision latency (a
paper bot's market event published by its feed → its decision sent; a live bot's chain reading returned → its
decision's commands started; the runner feeds it), store write latency (the writer's batches). Per process: RSS,
socket clients (control socket and dashboard).
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from botrunner.runtime.hub import StatusBoard
from botrunner.runtime.snapshots import BotEvent, Failed, FundingEvent

RISK_STATES: Final = ("APPROVE", "CLAMP", "REDUCE_ONLY", "PAUSE")
_LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux: the peak is the best there is
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _float(value: object) -> float | None:
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


class _FleetCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._m
        rows = m.board.rows()
        details = m.details()
        gauges = {
            "equity_usd": ("Equity (USDC)", "equity"),
            "position_base": ("Position (base units, signed)", "position"),
            "health_pct": ("Drift account health (0..100)", "health"),
            "leverage": ("Leverage", "leverage"),
            "liquidation_distance_pct": ("Distance from the mark to the liquidation price (%)", "liq_distance_pct"),
            "funding_pnl_usd": ("Funding PnL (USDC, + received)", "funding"),
        }
        families = {
            key: GaugeMetricFamily(f"botrunner_bot_{key}", text, labels=["bot"]) for key, (text, _) in gauges.items()
        }
        risk = GaugeMetricFamily(
            "botrunner_bot_risk_state", "1 for the bot's current risk state", labels=["bot", "state"]
        )
        orders = GaugeMetricFamily("botrunner_bot_orders_open", "Resting orders", labels=["bot"])
        fills = CounterMetricFamily("botrunner_bot_fills", "Fills since the bot's store began", labels=["bot"])
        restarts = CounterMetricFamily("botrunner_bot_restarts", "Restarts after a failure", labels=["bot"])
        for row in rows:
            detail = details.get(row.name, {})
            pnl_value = detail.get("pnl")
            pnl = pnl_value if isinstance(pnl_value, dict) else {}
            values: dict[str, float | None] = {
                "equity_usd": row.equity / 1e6 if row.equity is not None else None,
                "position_base": row.position / 1e9 if row.position is not None else None,
                "health_pct": _float(detail.get("health")),
                "leverage": _float(detail.get("leverage")),
                "liquidation_distance_pct": _float(detail.get("liq_distance_pct")),
                "funding_pnl_usd": _float(pnl.get("funding") or pnl.get("cumulative_funding")),
            }
            for key, value in values.items():
                if value is not None:
                    families[key].add_metric([row.name], value)
            for state in RISK_STATES:
                risk.add_metric([row.name, state], 1.0 if row.risk_state == state else 0.0)
            if row.open_orders is not None:
                orders.add_metric([row.name], row.open_orders)
            if row.fills is not None:
                fills.add_metric([row.name], row.fills)
            restarts.add_metric([row.name], row.restarts)
        yield from families.values()
        yield risk
        yield orders
        yield fills
        yield restarts
        yield GaugeMetricFamily("botrunner_process_rss_bytes", "Resident set size of the runner", value=_rss_bytes())
        clients = GaugeMetricFamily("botrunner_socket_clients", "Connected clients", labels=["socket"])
        for name, count in m.client_counts().items():
            clients.add_metric([name], count)
        yield clients


class Metrics:
    """The runner's metrics. ``board`` and ``details`` are read at scrape time; the ``on_*`` methods are called by
    the runner's hooks from any thread (prometheus_client's metrics are thread-safe)."""

    def __init__(
        self,
        board: StatusBoard,
        *,
        details: Callable[[], dict[str, dict[str, object]]] = dict,
        client_counts: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self.board = board
        self.details = details
        self.client_counts = client_counts
        self.registry = CollectorRegistry(auto_describe=False)
        self.step_errors = Counter("botrunner_bot_step_errors", "A bot's step failed", ["bot"], registry=self.registry)
        self.funding_payments = Counter(
            "botrunner_bot_funding_payments", "Funding payments settled", ["bot"], registry=self.registry
        )
        self.decision_latency = Histogram(
            "botrunner_decision_latency_seconds",
            "A bot's input -> its decision's commands sent (paper: the feed publishing the market event; live: the "
            "tick's chain reading returning)",
            ["bot"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.store_write = Histogram(
            "botrunner_store_write_seconds",
            "One group commit of the store writer",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_FleetCollector(self))
        self._published: dict[int, float] = {}  # event ts -> when the feed published it (perf_counter)
        self._lock = threading.Lock()

    def text(self) -> bytes:
        return generate_latest(self.registry)

    def on_event(self, event: BotEvent) -> None:
        if isinstance(event, Failed):
            self.step_errors.labels(event.bot).inc()
        elif isinstance(event, FundingEvent):
            self.funding_payments.labels(event.bot).inc()

    def on_store_commit(self, _records: int, seconds: float) -> None:
        self.store_write.observe(seconds)

    # decision latency: the feed's publication of an event, then each bot's decision on it
    def published(self, ts: int) -> None:
        with self._lock:
            self._published.setdefault(ts, time.perf_counter())
            if len(self._published) > 4096:  # the oldest, whose decisions are long done
                for key in sorted(self._published)[:2048]:
                    del self._published[key]

    def decided_after(self, bot: str, seconds: float) -> None:
        """A live bot decided ``seconds`` after its chain reading returned (its actor's thread)."""
        self.decision_latency.labels(bot).observe(seconds)

    def decided(self, bot: str, ts: int) -> None:
        with self._lock:
            start = self._published.get(ts)
        if start is not None:
            self.decision_latency.labels(bot).observe(time.perf_counter() - start)


class FeedClock:
    """A feed subscriber that only notes when each event was published (for ``Metrics.decided``)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def tell(self, message: object) -> None:
        ts = getattr(message, "ts", None)
        if isinstance(ts, int):
            self._metrics.published(ts)
