"""Cut the small real-data slice bundled inside the package from ../shared/data.

The product must run (``make run``) and test on a fresh machine without ../shared, so it ships the last
BUNDLE_DAYS days of the development window. Rows are copied verbatim (no resampling, no repair): the loaders
validate them like any other input. Re-run after the shared data changes:

    .venv/bin/python ops/make_data_bundle.py [--shared ../shared/data] [--days 30]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "botrunner" / "data"

# (source relative to shared/data, bundled name): candles keep their venue in the name so nobody mistakes them
# for Drift prints; Drift publishes no candles, and Binance's perp tracks Drift's oracle closely (data README).
SLICES = (
    ("market/binance/SOL-USDT-PERP_5m.csv.gz", "SOL-USDT-PERP_binance_5m.csv.gz"),
    ("market/binance/BTC-USDT-PERP_1h.csv.gz", "BTC-USDT-PERP_binance_1h.csv.gz"),
    ("market/binance/ETH-USDT-PERP_1h.csv.gz", "ETH-USDT-PERP_binance_1h.csv.gz"),
    ("market/drift/SOL-PERP_funding_1h.csv", "SOL-PERP_drift_funding_1h.csv.gz"),
    ("market/drift/BTC-PERP_funding_1h.csv", "BTC-PERP_drift_funding_1h.csv.gz"),
)


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


def _write_gz(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    # mtime=0 keeps the archive byte-identical across regenerations
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue().encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for source, name in SLICES:
        header, rows = _read_rows(args.shared / source)
        end = max(int(r[0]) for r in rows)
        start = end - args.days * 86_400
        kept = [r for r in rows if int(r[0]) > start]
        _write_gz(OUT / name, header, kept)
        print(f"{name}: {len(kept)} rows, ts {kept[0][0]} .. {kept[-1][0]}")


if __name__ == "__main__":
    main()
