#!/usr/bin/env python3
"""Build ``botrunner account inspect`` SNAPSHOT.json files from protocol-v2 test snapshots.

Usage: ops/build_account_snapshot.py [--accounts PATH] [--out-dir DIR]

For each User account in ``protocol_v2_accounts.json`` whose test also embeds its markets and oracles (the two
liquidation tests in programs/drift/src/controller/liquidation/tests.rs), gather the accounts of the same test
(lines between the previous user and this one) and write one snapshot. Oracles are keyed by the pubkey of the
market that references them: ``<x>_oracle_str`` belongs to ``<x>_market_str`` (``perp_market_oracle_str`` to
``perp_market_str``), which is how the Rust test wires them. ``now``/``slot`` are the test's clock values.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from botrunner.drift.codec import decode_account  # noqa: E402

LIQUIDATION_TESTS = "programs/drift/src/controller/liquidation/tests.rs"
# user line -> (output name, now, clock_slot) as written in the Rust test (`let now = ...; let clock_slot = ...;`)
USERS: dict[int, tuple[str, int, int]] = {
    9009: ("liquidate_dust_prediction_market_user.json", 1734646601, 308552347),
    9171: ("liquidate_dust_spot_market_user.json", 1734721516, 308728664),
}


def _oracle_owner_var(var: str) -> str:
    if var == "perp_market_oracle_str":
        return "perp_market_str"
    return var.removesuffix("_oracle_str") + "_market_str"


def build_one(entries: list[dict[str, Any]], user_line: int, now: int, slot: int) -> dict[str, Any]:
    users = sorted(e["line"] for e in entries if e["file"] == LIQUIDATION_TESTS and e["var"] == "user_str")
    prev = max((line for line in users if line < user_line), default=0)
    block = [e for e in entries if e["file"] == LIQUIDATION_TESTS and prev < e["line"] <= user_line]
    by_var = {e["var"]: e for e in block}
    perp_markets: list[str] = []
    spot_markets: list[str] = []
    oracle_of_var: dict[str, str] = {}
    for e in block:
        if e["var"] in ("user_str",) or e["var"].endswith("_oracle_str"):
            continue
        raw = base64.b64decode(e["b64"])
        kind = _kind(raw)
        acct = decode_account(raw, expect=kind, what=e["var"])
        if kind == "PerpMarket":
            perp_markets.append(e["b64"])
            oracle_of_var[e["var"]] = str(acct.amm.oracle)
        else:
            spot_markets.append(e["b64"])
            oracle_of_var[e["var"]] = str(acct.oracle)
    oracles = []
    for var, e in by_var.items():
        if var.endswith("_oracle_str"):
            owner = _oracle_owner_var(var)
            if owner not in oracle_of_var:
                raise SystemExit(f"line {e['line']}: oracle {var} has no market {owner} in the same test")
            oracles.append({"pubkey": oracle_of_var[owner], "data": e["b64"]})
    return {
        "source": {"repo": "drift-labs/protocol-v2", "file": LIQUIDATION_TESTS, "user_line": user_line},
        "user": by_var["user_str"]["b64"],
        "perp_markets": perp_markets,
        "spot_markets": spot_markets,
        "oracles": oracles,
        "now": now,
        "slot": slot,
    }


def _kind(raw: bytes) -> str:
    for kind in ("PerpMarket", "SpotMarket", "User"):
        try:
            decode_account(raw, expect=kind, what="probe")
            return kind
        except ValueError:
            continue
    raise SystemExit("account is neither a PerpMarket, a SpotMarket nor a User")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = ROOT.parent / "shared" / "data" / "drift-accounts" / "protocol_v2_accounts.json"
    parser.add_argument("--accounts", type=Path, default=default)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "botrunner" / "data" / "accounts")
    args = parser.parse_args(argv)
    entries = json.loads(args.accounts.read_text())["accounts"]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for line, (name, now, slot) in USERS.items():
        doc = build_one(entries, line, now, slot)
        path = args.out_dir / name
        path.write_text(json.dumps(doc, indent=1) + "\n")
        print(
            f"wrote {path}: {len(doc['perp_markets'])} perp, {len(doc['spot_markets'])} spot, "
            f"{len(doc['oracles'])} oracles"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
