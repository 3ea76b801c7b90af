"""What ctl shows of a two-leg bot (``botrunner.runtime.views.legs_fields``): both legs, drift against its tolerance,
carry now and smoothed, days to break-even from the carry engine, the last reason and the gate that blocked it."""

from __future__ import annotations

from pathlib import Path

from botrunner.bot.driver import BotDriver, RowBuffer
from botrunner.bot.pipeline import BotDefinition
from botrunner.bot.step import BarClose, FundingSettled
from botrunner.config import load_bot
from botrunner.paper.config import PaperConfig
from botrunner.paper.venue import PaperVenue
from botrunner.runtime.views import legs_fields, legs_line

ROOT = Path(__file__).resolve().parents[3]
T0 = 1_757_808_000
PRICE = 200_000_000


def test_ctl_legs_show_the_stance_the_break_even_and_the_gate_that_blocked_the_entry() -> None:
    bot = load_bot(ROOT / "config" / "bots" / "sol-delta-neutral.yaml")
    definition = BotDefinition.from_config(bot)
    venue = PaperVenue(bot.market_spec, PaperConfig(), deposit_quote=bot.capital_quote, oracle_price=PRICE, now=T0)
    driver = BotDriver(definition, venue, definition.initial_state(T0), RowBuffer())
    assert legs_fields(driver.state, 0, 0)["reason"] == "no decision yet"
    driver.feed(FundingSettled(T0, 2_000_000))  # favourable, but a week of it does not pay the round trip
    driver.feed(BarClose(ts=T0 + 300, close_ts=T0 + 300, price=PRICE, oracle=PRICE))
    fields = legs_fields(driver.state, venue.spot_balance(1), venue.position.base_asset_amount)
    assert fields["spot_sol"] == fields["perp_base"] == "0.000000000"
    assert fields["reason"] == "enter" and fields["blocked"] == "cost_gate"
    assert fields["stance"].startswith("in (")
    assert fields["tolerance_pct"] == "1.00"
    assert float(fields["break_even_days"]) > 7  # the engine's break-even, beyond the gate's week: why it blocked
    assert fields["carry_apr_now_pct"] == fields["carry_apr_smoothed_pct"]  # one print: the average is that print
    assert "blocked=cost_gate" in legs_line(fields)
