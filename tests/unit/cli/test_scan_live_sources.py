"""Which live sources `botrunner scan --live` builds from the environment (no network is touched here)."""

from __future__ import annotations

import sys

import pytest

from botrunner.cli.scan import live_sources
from botrunner.marketdata.venue_data import Venue


def test_the_rpc_url_comes_from_the_runners_variable_and_a_bad_one_is_a_reason_not_a_crash() -> None:
    parts, missing = live_sources({"BOTRUNNER_RPC_URL": "https://rpc.example/?api-key=abcdefghijklmnop"}, 1.0)
    assert set(parts) == {Venue.DRIFT, Venue.BINANCE}
    assert missing == {Venue.HYPERLIQUID: "no live source for this venue yet (its ccxt adapter is not built)"}
    _, missing = live_sources({"BOTRUNNER_RPC_URL": "ftp://rpc.example"}, 1.0)
    assert missing[Venue.DRIFT] == "BOTRUNNER_RPC_URL: the RPC URL must start with http:// or https://"
    _, missing = live_sources({}, 1.0)
    assert missing[Venue.DRIFT] == "BOTRUNNER_RPC_URL is not set: no Solana RPC to read"


def test_without_ccxt_binance_is_unavailable_and_drift_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    import botrunner.live
    import botrunner.scan

    for package, name in ((botrunner.live, "ccxt_venue"), (botrunner.scan, "live_ccxt")):
        monkeypatch.delitem(sys.modules, f"{package.__name__}.{name}", raising=False)
        monkeypatch.delattr(package, name, raising=False)  # `from package import name` looks here first
    monkeypatch.setitem(sys.modules, "ccxt", None)  # import ccxt now raises ModuleNotFoundError (name "ccxt")
    parts, missing = live_sources({"BOTRUNNER_RPC_URL": "http://127.0.0.1:1"}, 1.0)
    assert set(parts) == {Venue.DRIFT}
    assert missing[Venue.BINANCE] == "ccxt is not installed (the optional extra: pip install -e '.[arb]')"
