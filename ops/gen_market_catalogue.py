#!/usr/bin/env python3
"""Regenerate botrunner/data/markets.json from protocol-v2 mainnet account snapshots.

Usage: ops/gen_market_catalogue.py [--accounts PATH] [--out PATH]

PATH defaults to ../shared/data/drift-accounts/protocol_v2_accounts.json (entries carry file / fn / var / line of
the Rust test they come from). For each catalogue market we take the NEWEST snapshot listed in ``SELECTION``;
every number is decoded from the account bytes with driftpy, none is typed in here.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from botrunner.core.catalogue import CatalogueFile, PerpEntry, SnapshotSource, SpotEntry  # noqa: E402
from botrunner.drift.codec import decode_account  # noqa: E402
from botrunner.drift.convert import perp_spec, spot_spec  # noqa: E402

REPO = "drift-labs/protocol-v2"
# (kind, symbol, fn, var, line): newest snapshot per market. SOL-PERP and USDC come from the March 2026 repeg test,
# ETH-PERP from its sibling, BTC-PERP from the PythLazer-era position test (newer than fn=btc), SOL spot only exists
# in the liquidation tests (Dec 2024).
SELECTION: tuple[tuple[str, str, str, str, int], ...] = (
    ("perp", "SOL-PERP", "adjust_amm_with_market_config_flag_sol_perp", "sol_perp_market_str", 420),
    ("perp", "BTC-PERP", "amm_ref_price_offset_decay_logic", "perp_market_str", 739),
    ("perp", "ETH-PERP", "adjust_amm_with_market_config_flag_eth_perp", "eth_perp_market_str", 654),
    ("spot", "USDC", "adjust_amm_with_market_config_flag_sol_perp", "usdc_spot_market_str", 437),
    ("spot", "SOL", "test", "sol_market_str", 9089),
)


def default_accounts_path() -> Path:
    return ROOT.parent / "shared" / "data" / "drift-accounts" / "protocol_v2_accounts.json"


def build(accounts_path: Path) -> CatalogueFile:
    entries = json.loads(accounts_path.read_text())["accounts"]
    perps: list[PerpEntry] = []
    spots: list[SpotEntry] = []
    for kind, symbol, fn, var, line in SELECTION:
        match = [e for e in entries if e["fn"] == fn and e["var"] == var and e["line"] == line]
        if len(match) != 1:
            raise SystemExit(f"snapshot {fn}/{var}/{line} for {symbol}: found {len(match)} entries, expected 1")
        e = match[0]
        raw = base64.b64decode(e["b64"])
        source = SnapshotSource(repo=REPO, file=e["file"], fn=fn, var=var, line=line)
        what = f"{symbol} ({fn}:{line})"
        if kind == "perp":
            spec = perp_spec(decode_account(raw, expect="PerpMarket", what=what))
            if spec.symbol != symbol:
                raise SystemExit(f"{what}: decoded market is {spec.symbol}, expected {symbol}")
            perps.append(PerpEntry(source=source, spec=spec))
        else:
            sspec = spot_spec(decode_account(raw, expect="SpotMarket", what=what))
            if sspec.symbol != symbol:
                raise SystemExit(f"{what}: decoded market is {sspec.symbol}, expected {symbol}")
            spots.append(SpotEntry(source=source, spec=sspec))
    return CatalogueFile(
        generated_by="ops/gen_market_catalogue.py from protocol_v2_accounts.json",
        perp=tuple(sorted(perps, key=lambda p: p.spec.market_index)),
        spot=tuple(sorted(spots, key=lambda s: s.spec.market_index)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=Path, default=default_accounts_path())
    parser.add_argument("--out", type=Path, default=ROOT / "botrunner" / "data" / "markets.json")
    args = parser.parse_args(argv)
    import msgspec

    catalogue = build(args.accounts)
    text = msgspec.json.format(msgspec.json.encode(catalogue), indent=2)
    args.out.write_bytes(text + b"\n")
    print(f"wrote {args.out} ({len(catalogue.perp)} perp, {len(catalogue.spot)} spot markets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
