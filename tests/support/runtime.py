"""Small real inputs for runtime tests: a short slice of the bundled SOL history and a fleet of quick grid bots."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from botrunner.backtest.data import BUNDLED_DIR
from botrunner.connector.orders import OrderIntent
from botrunner.core.operator import ControlCommand
from botrunner.core.policy import PostOnlyMode
from botrunner.core.side import Side

CANDLES = "SOL-USDT-PERP_binance_5m.csv.gz"
FUNDING = "SOL-PERP_drift_funding_1h.csv.gz"


def post_only_bid(uid: int, price: int, *, placed_at: int, anchor: int = 150_000_000) -> OrderIntent:
    """A 1 SOL must-post-only bid, as a ladder rung the connector would place at ``placed_at``."""
    return OrderIntent(
        user_order_id=uid,
        side=Side.BUY,
        price=price,
        base=1_000_000_000,
        post_only=PostOnlyMode.MUST_POST_ONLY,
        reduce_only=False,
        max_ts=0,
        placed_at=placed_at,
        anchor_price=anchor,
    )


def short_dir() -> Path:
    """A temp directory with a short path (Unix socket paths are limited to ~107 bytes)."""
    return Path(tempfile.mkdtemp(prefix="br-", dir="/tmp"))


def small_market(directory: Path, bars: int = 576) -> Path:
    """The first ``bars`` five-minute bars of the bundled SOL candles (default 2 days) and the funding records
    that cover them, in a data directory ``resolve`` understands."""
    directory.mkdir(parents=True, exist_ok=True)
    with gzip.open(BUNDLED_DIR / CANDLES, "rt") as src:
        lines = [next(src) for _ in range(bars + 1)]
    last_ts = int(lines[-1].split(",", 1)[0])
    with gzip.open(directory / CANDLES, "wt") as dst:
        dst.writelines(lines)
    with gzip.open(BUNDLED_DIR / FUNDING, "rt") as src:
        header = next(src)
        records = [line for line in src if int(line.split(",", 1)[0]) <= last_ts + 3600]
    with gzip.open(directory / FUNDING, "wt") as dst:
        dst.write(header)
        dst.writelines(records)
    return directory


BOT_YAML = """\
name: {name}
mode: paper
account:
  authority: paper-wallet
  subaccount_id: {subaccount}
market: SOL-PERP
capital_usdc: 10000
{extra}strategy:
  kind: grid
  grid:
    curve: linear
    bias: neutral
    mode: bounded
    percentile_low_bps: 500
    percentile_high_bps: 9500
    lookbacks_s: [3600, 14400]
    weights_bps: [5000, 5000]
execution:
  grid_levels: 4
  step_bps: {step}
  base_size_per_level: 0.5
  post_only: must_post_only
  requote_threshold_bps: 10
  ttl_s: 3600
risk:
  max_leverage: 3
  min_liq_distance_bps: 1500
  max_daily_loss_usd: 500
"""


def write_bot(directory: Path, name: str, subaccount: int, step: int = 25, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(BOT_YAML.format(name=name, subaccount=subaccount, step=step, extra=extra))
    return path


def small_fleet(directory: Path, names: tuple[str, ...] = ("alpha", "beta")) -> Path:
    for i, name in enumerate(names):
        write_bot(directory, name, i + 1, step=20 + 5 * i)
    return directory


def ask(runner: Any, command: ControlCommand) -> Any:
    """``runner.dispatch(command)``'s answer as the JSON value the control socket carries."""
    return msgspec.json.decode(msgspec.json.encode(runner.dispatch(command)))


def fleet_status(runner: Any) -> Any:
    """``runner.status()`` as the JSON value the control socket carries."""
    return msgspec.json.decode(msgspec.json.encode(runner.status()))
