"""The dashboard's broadcast bound, measured: how long from a change on the status board until each WebSocket
client has an ENGINE_STATUS that shows it (or a newer state of the same bot: changes within one poll coalesce).

3 bots, 10 clients, CHANGES changes (default 1,500) posted every INTERVAL_MS (default 5 ms) round-robin over the
bots, through the real DashboardServer (aiohttp, its poll, its queues) on 127.0.0.1; the bots' details come from a
stand-in that answers at once (the real runner asks the bot's actor, off the broadcast's path: a broadcast never
waits for a detail). Prints p50/p99/max over every (change, client) pair.

    PYTHONPATH=$PWD .venv/bin/python ops/bench_dashboard.py [CHANGES] [INTERVAL_MS]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import threading
import time

import aiohttp

from botrunner.runtime.hub import EventHub, StatusBoard
from botrunner.runtime.snapshots import BotSnapshot, BotSummary
from botrunner.web.server import DashboardOptions, DashboardServer

BOTS = ("alpha", "beta", "gamma")
CLIENTS = 10
TOKEN = "bench-token-" + "z" * 32


def main() -> None:  # noqa: PLR0915  <why: a script read top to bottom: set up, post, collect, report>
    changes = int(sys.argv[1]) if len(sys.argv) > 1 else 1_500
    interval_s = (float(sys.argv[2]) if len(sys.argv) > 2 else 5.0) / 1000
    board = StatusBoard()
    for name in BOTS:
        board.post(name, BotSummary(name=name, market="SOL-PERP", mode="paper", state="running", fills=0))
    server = DashboardServer(
        DashboardOptions(port=0, token=TOKEN),
        dispatch=lambda command: None,  # type: ignore[arg-type,return-value]  # no commands in this bench
        board=board,
        hub=EventHub(),
        detail=lambda name: BotSnapshot(name=name, health=100),
    )
    server.start()
    posted: dict[tuple[str, int], float] = {}
    seen: list[dict[tuple[str, int], float]] = [{} for _ in range(CLIENTS)]
    connected: list[int] = []
    done = threading.Event()

    async def client(i: int) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"http://127.0.0.1:{server.port}/ws?token={TOKEN}") as ws,
        ):
            connected.append(i)
            while not done.is_set():
                try:
                    msg = await asyncio.wait_for(ws.receive(), 0.5)
                except TimeoutError:
                    continue
                now = time.perf_counter()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(msg.data)
                if data["type"] == "ENGINE_STATUS":
                    seen[i].setdefault((data["data"]["bot"], data["data"]["fills"]), now)

    async def clients() -> None:
        await asyncio.gather(*(client(i) for i in range(CLIENTS)))

    thread = threading.Thread(target=lambda: asyncio.run(clients()), daemon=True)
    thread.start()
    while len(connected) < CLIENTS:
        time.sleep(0.05)
    time.sleep(0.5)  # every client has its snapshot
    counts = dict.fromkeys(BOTS, 0)
    for n in range(changes):
        name = BOTS[n % len(BOTS)]
        counts[name] += 1
        posted[(name, counts[name])] = time.perf_counter()
        board.post(name, BotSummary(name=name, market="SOL-PERP", mode="paper", state="running", fills=counts[name]))
        time.sleep(interval_s)
    time.sleep(1.5)
    done.set()
    thread.join(5)
    server.stop()
    latencies: list[float] = []
    missing = 0
    for per_client in seen:
        for (name, fills), at in posted.items():
            # the first broadcast showing this change or a newer one of the same bot
            shown = [t for (b, f), t in per_client.items() if b == name and f >= fills]
            if shown:
                latencies.append(min(shown) - at)
            else:
                missing += 1
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"dashboard broadcast: {changes} changes x {CLIENTS} clients, {len(BOTS)} bots, one every "
        f"{interval_s * 1000:g} ms: p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms, never shown {missing}; dropped clients {server.dropped_clients}"
    )


if __name__ == "__main__":
    main()
