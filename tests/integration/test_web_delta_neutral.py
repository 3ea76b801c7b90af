"""The dashboard's protocol for a delta-neutral bot, without a browser, against a real runner (a paper fleet of a
grid bot and the delta-neutral bot): ENGINE_STATUS carries both legs, the drift against its tolerance, the carry
(now, smoothed, its funding and deposit parts), the stance and why, next funding, days to break even, the gate that
last blocked a trade and the engine vault, each the same figure ``ctl bot`` shows; a grid bot carries none of it;
FUNDING_UPDATE of a two-leg bot carries the interest its vault accrued; no message carries the token."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from botrunner.core.operator import ShowBot
from botrunner.runner import Runner
from botrunner.runtime.hub import StatusBoard
from botrunner.runtime.snapshots import BotSnapshot, BotSummary, FundingEvent, VaultView
from botrunner.web.fleet import FleetView, two_legs
from tests.support.delta_neutral import NAME, dashboard_fleet
from tests.support.runtime import ask

TOKEN = "dn-test-token-" + "q" * 32


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with dashboard_fleet(("alpha",), TOKEN) as r:
        yield r


async def _statuses(runner: Runner) -> tuple[list[dict[str, Any]], list[str]]:
    """Connect, ask for the delta-neutral bot (a command makes the dashboard fetch every bot's detail again) and
    collect messages until both bots have had an ENGINE_STATUS with their detail in it."""
    import aiohttp

    assert runner.dashboard is not None
    texts: list[str] = []
    statuses: list[dict[str, Any]] = []
    url = f"http://127.0.0.1:{runner.dashboard.port}/ws?token={TOKEN}"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"id": "g1", "type": "GET_BOT", "bot": NAME}))

        async def collect() -> None:
            detailed: set[str] = set()
            while detailed != {"alpha", NAME}:
                text = await ws.receive_str()
                texts.append(text)
                message = json.loads(text)
                bots = message["data"]["bots"] if message["type"] == "SNAPSHOT" else []
                if message["type"] == "ENGINE_STATUS":
                    bots = [message["data"]]
                for data in bots:
                    statuses.append(data)
                    if "health" in data and (data["bot"] == "alpha" or "vault" in data):
                        detailed.add(data["bot"])

        await asyncio.wait_for(collect(), 30)
    return statuses, texts


def test_engine_status_of_a_delta_neutral_bot_shows_both_legs_drift_carry_and_vault_as_ctl_does(
    runner: Runner,
) -> None:
    # The replay has finished, but the dashboard's board takes the bots' last summaries asynchronously: a page that
    # connects right after the drain can be one summary behind ctl (seen once: spot 40.002623903 vs 40.003706586,
    # a step's interest). So it reconnects until the two agree, within 10 s; they must agree.
    deadline = time.monotonic() + 10
    while True:
        statuses, texts = asyncio.run(_statuses(runner))
        dn = [s for s in statuses if s["bot"] == NAME and "vault" in s][-1]
        grid = [s for s in statuses if s["bot"] == "alpha"][-1]
        ctl = ask(runner, ShowBot(name=NAME))
        if dn["two_legs"]["spot"]["size"] == ctl["legs"]["spot_sol"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    legs, vault = ctl["legs"], ctl["vault"]

    shown = dn["two_legs"]
    # the spot entry: our weighted-average cost of the spot fills (Drift keeps none for a balance), as ctl shows it
    assert shown["spot"] == {"asset": "SOL", "size": legs["spot_sol"], "entry": legs["spot_entry"]}
    assert legs["spot_entry"] == vault["spot_entry"] and Decimal(legs["spot_entry"]) > 0
    assert shown["perp"] == {"size": legs["perp_base"], "entry": ctl["entry"]}
    assert Decimal(shown["spot"]["size"]) > 0 > Decimal(shown["perp"]["size"])  # it entered: long spot, short perp
    assert shown["drift_pct"] == legs["drift_pct"] and shown["tolerance_pct"] == legs["tolerance_pct"] == "1.00"
    assert shown["carry"] == {
        "apr_now_pct": legs["carry_apr_now_pct"],
        "apr_smoothed_pct": legs["carry_apr_smoothed_pct"],
        "funding_apr_pct": legs["carry_funding_apr_pct"],
        "deposit_apr_pct": legs["carry_deposit_apr_pct"],
    }
    # the carry's parts add up to the smoothed carry (in whole bps, as the engine rounds)
    parts = Decimal(shown["carry"]["funding_apr_pct"]) + Decimal(shown["carry"]["deposit_apr_pct"])
    assert parts == Decimal(shown["carry"]["apr_smoothed_pct"])
    assert f"{shown['stance']} ({shown['stance_reason']})" == legs["stance"] and shown["stance"] in ("in", "out")
    assert shown["next_funding_time"] == legs["next_funding"]
    assert shown["break_even_days"] == legs["break_even_days"]
    assert shown["reason"] == legs["reason"] and shown["last_rebalance"] == legs["last_rebalance"]
    assert shown["blocked"] == (None if legs["blocked"] == "-" else legs["blocked"])
    assert "last_blocked" in shown  # what the dashboard saw last block a trade (None: nothing it saw)
    assert dn["vault"] == vault
    assert Decimal(vault["allocated"]) == 10_000 and Decimal(vault["sol_balance"]) == Decimal(legs["spot_sol"])
    assert Decimal(vault["realized_interest"]) > 0 and Decimal(vault["interest_sol"]) > 0  # the SOL deposit earns
    assert Decimal(vault["realized_fees"]) > 0  # both legs' fees on entry
    trading = Decimal(vault["perp_trading"]) + Decimal(vault["spot_trading"])
    assert Decimal(vault["realized_trading"]) == trading

    assert "two_legs" not in grid and "vault" not in grid  # a grid bot: its perp fields only
    assert grid["grid"]["kind"] == "grid"
    assert not any(TOKEN in text for text in texts)


def test_funding_update_of_a_two_leg_bot_carries_the_interest_its_vault_accrued() -> None:
    board = StatusBoard()
    board.post(NAME, BotSummary(name=NAME, market="SOL-PERP", legs="spot_sol=1.0 perp_base=-1.0 blocked=cost_gate"))
    board.post("grid", BotSummary(name="grid", market="SOL-PERP"))
    vault = VaultView(
        usdc_balance="1.0",
        sol_balance="1.0",
        spot_entry="150.0",
        equity="2.0",
        allocated="2.0",
        available="1.5",
        realized_funding="0.1",
        realized_interest="0.25",
        interest_sol="0.001",
        realized_fees="0.02",
        realized_trading="0",
        perp_trading="0",
        spot_trading="0",
    )
    details = {NAME: BotSnapshot(name=NAME, vault=vault, legs={"stance": "out (no_funding_yet)"}), "grid": None}
    view = FleetView(board, details.__getitem__)
    view.fetch_detail(NAME)
    event = FundingEvent(bot=NAME, time="2025-09-14T01:00:00Z", position="-1", rate="0.01", payment="0.01")
    update = view.funding_update(event)
    assert update["interest_accrued"] == "0.25" and update["interest_sol"] == "0.001"
    assert update["next_funding_time"] == "2025-09-14T02:00:00Z"
    grid_update = view.funding_update(msgspec.structs.replace(event, bot="grid"))
    assert "interest_accrued" not in grid_update
    # the status board's line (posted every step) and the detail's stance meet in one two_legs
    status = view.status(next(row for row in board.rows() if row.name == NAME))
    assert status["two_legs"]["blocked"] == "cost_gate" and status["two_legs"]["stance"] == "out"
    assert status["two_legs"]["last_blocked"]["gate"] == "cost_gate"


def test_the_status_line_is_fresher_than_the_detail_and_wins() -> None:
    line = "spot_sol=2.000000000 perp_base=-2.000000000 drift_pct=0.50 blocked=-"
    fields = {"spot_sol": "1.000000000", "drift_pct": "0.10", "tolerance_pct": "1.00", "stance": "in (hold)"}
    shown = two_legs(line, {**fields, "spot_entry": "150.000000"}, entry="200.000000")
    assert shown["spot"] == {"asset": "SOL", "size": "2.000000000", "entry": "150.000000"}
    assert two_legs(line, {**fields, "spot_entry": "-"}, entry=None)["spot"]["entry"] is None  # no SOL from fills
    assert shown["drift_pct"] == "0.50"
    assert shown["tolerance_pct"] == "1.00" and shown["stance_reason"] == "hold" and shown["blocked"] is None
    assert shown["perp"] == {"size": "-2.000000000", "entry": "200.000000"}
