"""``ctl bot`` of a two-leg bot prints its legs (the spot entry among them: our average cost of the spot fills)
and its engine vault, the realised trading PnL split into the perp's and the spot leg's."""

from __future__ import annotations

from rich.console import Console

from botrunner.cli.ctl import render_bot
from botrunner.runtime.snapshots import BotSnapshot, VaultView

VAULT = VaultView(
    usdc_balance="647.831355",
    sol_balance="40.003706586",
    spot_entry="200.023800",
    equity="9985.899363",
    allocated="10000.000000",
    available="7643.925761",
    realized_funding="11.606490",
    realized_interest="1.283961",
    interest_sol="0.003706586",
    realized_fees="13.843088",
    realized_trading="30.500000",
    perp_trading="0.500000",
    spot_trading="30.000000",
)


def test_ctl_bot_prints_the_spot_entry_and_the_vault_s_trading_split() -> None:
    console = Console(record=True, width=200)
    render_bot(BotSnapshot(name="dn", legs={"spot_sol": "40.0", "spot_entry": "200.023800"}, vault=VAULT), console)
    text = console.export_text()
    assert "vault" in text and "legs" in text
    lines = text.splitlines()
    for key, value in (("spot_entry", "200.023800"), ("perp_trading", "0.500000"), ("spot_trading", "30.000000")):
        assert any(key in line and value in line for line in lines), key
    assert any("realized_trading" in line and "30.500000" in line for line in lines)


def test_ctl_bot_of_a_grid_bot_has_no_vault() -> None:
    console = Console(record=True, width=200)
    render_bot(BotSnapshot(name="grid"), console)
    assert "vault" not in console.export_text()
