"""The bot's pure decision pipeline on real bundled prices: deterministic, risk-bounded, explainable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.bench.stand_in import accept_all
from botrunner.bot.pipeline import AccountView, BotDefinition, BotState, Decision, MarketUpdate, decide, observe_price
from botrunner.config import load_bot
from botrunner.connector import placed_orders
from botrunner.core.directive import ExecutionMode
from botrunner.core.side import Side
from botrunner.core.verdict import RiskAction, RiskReason
from botrunner.margin import AccountMarginView, apply_fill
from botrunner.margin.fresh import usdc_funded
from botrunner.marketdata.candles import bundled_path, load_candles

ROOT = Path(__file__).resolve().parents[3]
SOL_BOT = load_bot(ROOT / "config" / "bots" / "sol-neutral-grid.yaml")
CANDLES = load_candles(bundled_path("SOL-USDT-PERP_binance_5m.csv.gz"))


def _definition() -> BotDefinition:
    return BotDefinition.from_config(SOL_BOT)


def _warm(bot: BotDefinition, bars: int) -> tuple[BotState, int]:
    state = bot.initial_state(started_at=0)
    ts = 0
    for bar in CANDLES.bars[:bars]:
        ts = bar.ts + CANDLES.interval_s
        state = observe_price(bot, state, ts, bar.close)
    return state, ts


def _account(bot: BotDefinition, price: int, position: int = 0) -> AccountView:
    account, markets = usdc_funded(bot.market, SOL_BOT.capital_quote, price)
    if position:
        account = apply_fill(account, markets, bot.market.market_index, position, price)
    view = AccountMarginView(account, markets, bot.market.market_index)
    return AccountView(
        position_base=position,
        equity=SOL_BOT.capital_quote,
        day_start_equity=SOL_BOT.capital_quote,
        projection=view,
    )


def _run(bars: int, decide_last: int) -> list[Decision]:
    bot = _definition()
    state, _ = _warm(bot, bars - decide_last)
    out = []
    for bar in CANDLES.bars[bars - decide_last : bars]:
        ts = bar.ts + CANDLES.interval_s
        state = observe_price(bot, state, ts, bar.close)
        update = MarketUpdate(ts=ts, mark=bar.close, oracle=bar.close, oracle_ts=ts)
        state, decision = decide(bot, state, update, _account(bot, bar.close))
        state.connector = accept_all(state.connector, decision.commands)
        out.append(decision)
    return out


def test_same_prices_same_decisions_bit_for_bit() -> None:
    a = _run(3000, 60)
    b = _run(3000, 60)
    assert msgspec.json.encode(a) == msgspec.json.encode(b)


def test_every_order_keeps_the_position_inside_the_verdict_band_if_all_fill() -> None:
    for d in _run(4000, 200):
        for cmd in d.commands:
            placed = placed_orders(cmd)  # a pure cancel places nothing and is always safe
            bids = sum(o.base for o in placed if o.side is Side.BUY)
            asks = sum(o.base for o in placed if o.side is Side.SELL)
            band = d.verdict.band
            # flat account: worst case of all bids / all asks filling stays within the approved band
            assert bids <= max(band.max_base, 0)
            assert -asks >= min(band.min_base, 0)
            for o in placed:
                assert o.price % SOL_BOT.market_spec.tick_size == 0
                assert (o.price < d.mark) if o.side is Side.BUY else (o.price > d.mark)


def test_when_oracle_diverges_from_mark_then_pause_and_nothing_is_placed() -> None:
    bot = _definition()
    state, ts = _warm(bot, 3000)
    mark = CANDLES.bars[2999].close
    update = MarketUpdate(ts=ts, mark=mark, oracle=mark * 103 // 100, oracle_ts=ts)  # 3 % apart
    state, d = decide(bot, state, update, _account(bot, mark * 103 // 100))
    assert d.verdict.action is RiskAction.PAUSE
    assert RiskReason.ORACLE_MARK_DIVERGENCE in d.verdict.reasons
    assert d.directive.mode is ExecutionMode.HALT
    assert d.commands == ()


def test_when_oracle_is_stale_then_pause() -> None:
    bot = _definition()
    state, ts = _warm(bot, 3000)
    mark = CANDLES.bars[2999].close
    update = MarketUpdate(ts=ts, mark=mark, oracle=mark, oracle_ts=ts - 3600)
    _, d = decide(bot, state, update, _account(bot, mark))
    assert d.verdict.action is RiskAction.PAUSE
    assert RiskReason.STALE_MARKET_DATA in d.verdict.reasons


@settings(max_examples=25, deadline=None)
@given(position_sol=st.integers(-400, 400))
def test_decision_with_any_position_never_grows_exposure_beyond_the_band(position_sol: int) -> None:
    bot = _definition()
    state, ts = _warm(bot, 3000)
    mark = CANDLES.bars[2999].close
    position = position_sol * 10**9
    update = MarketUpdate(ts=ts, mark=mark, oracle=mark, oracle_ts=ts)
    _, d = decide(bot, state, update, _account(bot, mark, position))
    band = d.verdict.band
    for cmd in d.commands:
        placed = placed_orders(cmd)
        bids = sum(o.base for o in placed if o.side is Side.BUY)
        asks = sum(o.base for o in placed if o.side is Side.SELL)
        # if every order filled, the position moves toward the band and never beyond its far side
        assert position + bids <= max(band.max_base, position)
        assert position - asks >= min(band.min_base, position)
        if d.verdict.action is RiskAction.REDUCE_ONLY:
            assert all(o.reduce_only for o in placed)


def test_demo_paper_trades_the_fleet_end_to_end_on_bundled_data(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "botrunner", "demo", "--days", "1", "--out", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    for expected in (
        "sol-neutral-grid",
        "btc-bullish-infinity",
        "eth-bearish-stepwise",
        "Nothing is sent to any chain",
        "PnL",
        "realized",
        "total collateral",
    ):
        assert expected in res.stdout
    for bot in ("sol-neutral-grid", "btc-bullish-infinity", "eth-bearish-stepwise"):
        assert (tmp_path / bot / "report.html").is_file()
