"""``make bench-peer``: R1 run by NautilusTrader and by us, alternately, on the same bars; CPU-time ratios.

shared/bench/README.md defines R1 and ships the peer (``peer_nautilus.py``: the same ladder as a NautilusTrader
strategy). Both sides run in fresh processes, one after the other, ``--pairs`` times for each requote threshold
(10 bp: R1 itself, ~310k orders; 100 bp: the light requoting a grid normally sees), and the figure is the ratio of
CPU time spent in each side's backtest loop (loading and wrangling the bars excluded on both sides). CPU time, not
wall time, because this machine is shared: another process taking a core slows the wall clock of whichever side
runs then, not its CPU time. Alternating pairs spread what remains (frequency scaling, cache pressure) over both.

NautilusTrader lives in its own venv (``.venv-peer``, Python 3.12, made by ``ops/ensure_peer_venv.sh``), never in
ours. Our side runs on the interpreter running this module.

    python -m botrunner.cli.bench_peer [--pairs N] [--requote 10,100] [--peer-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from botrunner.bench.reference import R1_SHARED_CANDLES, run_r1
from botrunner.marketdata.candles import load_candles

ROOT = Path(__file__).resolve().parents[2]
PEER_SCRIPT = ROOT.parent / "shared" / "bench" / "peer_nautilus.py"
PEER_WRAPPER = ROOT / "ops" / "peer_cpu.py"
DEFAULT_PEER_PYTHON = ROOT / ".venv-peer" / "bin" / "python"
SIDE_TIMEOUT_S = 1_800  # one side's run; NautilusTrader needs ~90 CPU s at 10 bp on this machine's kind


class BenchPeerError(RuntimeError):
    """A side could not run or said something we cannot read."""


def _ours_once(requote_bps: int) -> dict[str, Any]:
    """Our R1 in this process (the child of an alternating pair)."""
    figures = run_r1(load_candles(R1_SHARED_CANDLES), requote_bps=requote_bps)
    return {
        "cpu_s": figures.cpu_s,
        "wall_s": figures.wall_s,
        "orders": figures.orders,
        "fills": figures.fills,
        "bars": figures.bars,
    }


def _side(argv: list[str], what: str) -> dict[str, Any]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=SIDE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchPeerError(f"{what}: no answer within {SIDE_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BenchPeerError(f"{what}: exit {done.returncode}: " + " | ".join(tail))
    lines = done.stdout.strip().splitlines()
    try:
        answer: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise BenchPeerError(f"{what}: no JSON summary on its last line: {done.stdout[-300:]!r}") from exc
    return answer


def _spread(values: list[float]) -> str:
    return f"min {min(values):.2f}  median {statistics.median(values):.2f}  max {max(values):.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-peer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="alternating (peer, ours) pairs per threshold")
    parser.add_argument("--requote", default="10,100", help="requote thresholds in bp, comma-separated")
    parser.add_argument("--peer-python", type=Path, default=DEFAULT_PEER_PYTHON)
    parser.add_argument("--ours-once", type=int, default=None, help=argparse.SUPPRESS)  # the child of a pair
    args = parser.parse_args(argv)
    if args.ours_once is not None:
        print(json.dumps(_ours_once(args.ours_once)))
        return 0
    try:
        thresholds = [int(x) for x in args.requote.split(",")]
    except ValueError:
        print(f"bench-peer: --requote {args.requote!r}: expected integers in bp, e.g. 10,100", file=sys.stderr)
        return 2
    if args.pairs < 1 or any(t < 1 for t in thresholds):
        print("bench-peer: --pairs and every --requote must be >= 1", file=sys.stderr)
        return 2
    for needed, what in ((R1_SHARED_CANDLES, "R1's bars"), (PEER_SCRIPT, "the peer script")):
        if not needed.exists():
            print(f"bench-peer: {what} not found at {needed} (../shared beside the project)", file=sys.stderr)
            return 2
    if not args.peer_python.exists():
        print(f"bench-peer: no peer interpreter at {args.peer_python} (run ops/ensure_peer_venv.sh)", file=sys.stderr)
        return 2
    peer_version = subprocess.run(
        [str(args.peer_python), "-c", "import sys, nautilus_trader as n; print(sys.version.split()[0], n.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    print(
        f"R1 peer benchmark: NautilusTrader {peer_version[1] if len(peer_version) > 1 else '?'} on Python "
        f"{peer_version[0] if peer_version else '?'} vs botrunner on Python {sys.version.split()[0]}; "
        f"{args.pairs} alternating pairs per threshold; CPU time of each backtest loop"
    )
    print(f"bars: {R1_SHARED_CANDLES}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    failed = False
    for requote in thresholds:
        peer_cpu: list[float] = []
        ours_cpu: list[float] = []
        ratios: list[float] = []
        last: tuple[dict[str, Any], dict[str, Any]] | None = None
        for pair in range(1, args.pairs + 1):
            try:
                peer = _side(
                    [
                        str(args.peer_python),
                        str(PEER_WRAPPER),
                        str(PEER_SCRIPT),
                        str(R1_SHARED_CANDLES),
                        "1",
                        str(requote),
                    ],
                    f"peer, requote {requote} bp, pair {pair}",
                )
                ours = _side(
                    [sys.executable, "-m", "botrunner.cli.bench_peer", "--ours-once", str(requote)],
                    f"ours, requote {requote} bp, pair {pair}",
                )
            except BenchPeerError as exc:
                print(f"  requote {requote} bp: {exc}", file=sys.stderr)
                failed = True
                break
            peer_cpu.append(peer["cpu_s"])
            ours_cpu.append(ours["cpu_s"])
            ratios.append(peer["cpu_s"] / ours["cpu_s"])
            last = (peer, ours)
        if last is None:
            continue
        peer, ours = last
        print(f"requote {requote} bp:")
        print(
            f"  NautilusTrader CPU s : {_spread(peer_cpu)}   orders {peer['orders']:,}  "
            f"peak RSS {peer['peak_rss_mib']:,.0f} MiB"
        )
        print(f"  botrunner CPU s      : {_spread(ours_cpu)}   orders {ours['orders']:,}  fills {ours['fills']:,}")
        print(
            f"  ratio (peer / ours)  : {_spread(ratios)}   (median of medians "
            f"{statistics.median(peer_cpu) / statistics.median(ours_cpu):.2f}x)"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
