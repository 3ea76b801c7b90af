"""Replay candles through one bot's decision pipeline against a stand-in venue that accepts every command and fills
nothing (positions stay flat): the decision path alone, without the paper venue's fills and margin.

``make bench`` times ``decide()`` with it, and tests/golden/test_perf_equivalence.py digests every decision it
makes (the digests were recorded on this very loop). Backtests and paper bots run the real paper venue
(``botrunner.backtest.engine``), never this.

Not part of the pure core: it times the decisions with ``time.perf_counter`` for the benchmark.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from botrunner.bot.pipeline import AccountView, BotDefinition, Decision, MarketUpdate, decide, observe_price
from botrunner.config import BotConfig
from botrunner.connector import WorkingOrder, cancelled_ids, placed_orders
from botrunner.connector.commands import Command
from botrunner.connector.lifecycle import OrderEvent
from botrunner.connector.state import ConnectorState, OrderUpdate, apply_event
from botrunner.margin.fresh import usdc_funded_view
from botrunner.marketdata.candles import Candles, iter_closes
from botrunner.marketdata.funding import DriftFundingRecord


def accept_all(state: ConnectorState, commands: tuple[Command, ...]) -> ConnectorState:
    """Apply the acks and cancel confirmations a venue that accepts everything would send."""
    for cmd in commands:
        for uid in cancelled_ids(cmd):
            state = apply_event(state, OrderUpdate(uid, OrderEvent.CANCEL))
        for order in placed_orders(cmd):
            state = apply_event(state, OrderUpdate(order.user_order_id, OrderEvent.ACK))
    return state


@dataclass
class ReplayResult:
    bot: BotConfig
    rows: list[tuple[Decision, tuple[WorkingOrder, ...]]] = field(default_factory=list)  # sampled decisions
    decisions: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    placed: int = 0
    cancelled: int = 0
    decide_s: float = 0.0  # time inside pipeline.decide alone


def funding_at(records: tuple[DriftFundingRecord, ...], ts: int, cursor: int) -> tuple[int, int]:
    """The latest recorded funding rate at or before ``ts`` (no look-ahead), advancing ``cursor``."""
    while cursor + 1 < len(records) and records[cursor + 1].ts <= ts:
        cursor += 1
    rate = records[cursor].rate if records and records[cursor].ts <= ts else 0
    return rate, cursor


def replay(
    bot: BotConfig, candles: Candles, funding: tuple[DriftFundingRecord, ...], days: int, sample_every_s: int
) -> ReplayResult:
    """Warm the strategy up on the history before the window, then decide on every bar close of the last ``days``
    (every bar when ``days`` covers the data), keeping one decision per ``sample_every_s`` in ``rows``."""
    definition = BotDefinition.from_config(bot)
    window_start = candles.bars[-1].ts + candles.interval_s - days * 86_400
    state = definition.initial_state(started_at=window_start)
    out = ReplayResult(bot)
    cursor = 0
    for close_ts, close in iter_closes(candles):
        state = observe_price(definition, state, close_ts, close)
        if close_ts <= window_start:
            continue
        rate, cursor = funding_at(funding, close_ts, cursor)
        # No separate oracle series is bundled: the perp's close stands in for mark and oracle alike.
        update = MarketUpdate(ts=close_ts, mark=close, oracle=close, oracle_ts=close_ts, funding_rate=rate)
        account = AccountView(
            position_base=0,
            equity=bot.capital_quote,
            day_start_equity=bot.capital_quote,
            projection=usdc_funded_view(definition.market, bot.capital_quote, close),
        )
        t0 = time.perf_counter()
        state, decision = decide(definition, state, update, account)
        out.decide_s += time.perf_counter() - t0
        state.connector = accept_all(state.connector, decision.commands)
        out.decisions += 1
        out.actions[decision.verdict.action.value] += 1
        out.placed += sum(len(placed_orders(c)) for c in decision.commands)
        out.cancelled += sum(len(cancelled_ids(c)) for c in decision.commands)
        if (close_ts - window_start) % sample_every_s == 0:
            out.rows.append((decision, state.connector.orders))
    return out
