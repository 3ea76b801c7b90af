"""``botrunner backtest BOT.yaml --data DIR`` for a ``kind: funding_arb`` bot: load both venues' candles and funding
from ``DIR`` (``botrunner.marketdata.venue_data``), replay the window where all four overlap
(``botrunner.backtest.arb``), print the summary and write the report (``botrunner.backtest.arb_output``)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from botrunner.backtest.arb import ArbBacktestError, ArbInputs, run_arb_backtest
from botrunner.backtest.arb_output import arb_summary, write_arb_outputs
from botrunner.backtest.output import iso
from botrunner.cli import CliError
from botrunner.config import BotConfig
from botrunner.marketdata._text import DataError
from botrunner.marketdata.candles import Candles, load_candles
from botrunner.marketdata.funding import DriftFunding, load_drift_funding
from botrunner.marketdata.venue_data import Coin, Venue, candles_path, funding_path
from botrunner.marketdata.venue_funding import VenueFunding, load_venue_funding
from botrunner.paper.external import external_rules
from botrunner.paper.fees import FeeSchedule, drift_fee_tier


def _needed(path: Path | None, what: str, data: Path) -> Path:
    if path is None:
        raise CliError(f"kind: funding_arb needs {what} under {data} (see docs/funding-arbitrage.md)")
    return path


def _window(
    args: argparse.Namespace,
    drift_candles: Candles,
    external_candles: Candles,
    drift_funding: DriftFunding,
    external_funding: VenueFunding,
) -> tuple[int, int]:
    """[start, end) of the replay: --from/--to inside the window every input covers, from a whole bar."""
    # the window every input covers: both price paths and both funding series
    interval = drift_candles.interval_s
    overlap_start = max(
        drift_candles.bars[0].ts,
        external_candles.bars[0].ts,
        drift_funding.records[0].hour_start,
        external_funding.first_ts,
    )
    overlap_end = min(
        drift_candles.bars[-1].ts + interval,
        external_candles.bars[-1].ts + external_candles.interval_s,
        drift_funding.records[-1].ts,
        external_funding.last_ts,
    )
    from botrunner.cli.backtest import parse_when

    start = max(overlap_start, parse_when(args.start, end=False)) if args.start else overlap_start
    end = min(overlap_end, parse_when(args.end, end=True)) if args.end else overlap_end
    start += -start % interval  # the first whole bar
    if end <= start:
        raise CliError(
            f"no window where both venues have data: the four inputs overlap {iso(overlap_start)}..{iso(overlap_end)}"
        )
    return start, end


def _refuse_unusable(args: argparse.Namespace) -> None:
    """The perp backtest's data flags do not apply; --data is required."""
    refused = [
        flag
        for flag, given in (
            ("--candles", args.candles),
            ("--funding", args.funding),
            ("--funding-formula", args.funding_formula),
            ("--latency-slots", args.latency_slots),
        )
        if given
    ]
    if refused:
        raise CliError(f"{', '.join(refused)}: not for kind: funding_arb (its data comes from --data for both venues)")
    if args.data is None:
        raise CliError("kind: funding_arb needs --data DIR with both venues' candles and funding (e.g. ../shared/data)")


def run_arb_backtest_command(args: argparse.Namespace, bot: BotConfig) -> int:
    _refuse_unusable(args)
    data: Path = args.data
    coin = Coin(bot.market.removesuffix("-PERP"))
    venue = bot.strategy.funding_arb.external_venue
    drift_funding_file = _needed(funding_path(data, Venue.DRIFT, coin), f"Drift {coin} funding", data)
    drift_candles_file = _needed(
        candles_path(data, Venue.BINANCE, coin, "5m"), f"Binance {coin} 5m candles (the Drift leg's price path)", data
    )
    external_candles_file = _needed(candles_path(data, venue, coin, "5m"), f"{venue} {coin} 5m candles", data)
    external_funding_file = _needed(funding_path(data, venue, coin), f"{venue} {coin} funding", data)
    try:
        drift_funding = load_drift_funding(drift_funding_file)
        drift_rates = load_venue_funding(drift_funding_file, Venue.DRIFT, coin)
        drift_candles = load_candles(drift_candles_file)
        external_candles = load_candles(external_candles_file)
        external_funding = load_venue_funding(external_funding_file, venue, coin)
        fees = drift_fee_tier(args.fee_tier)
        drift_fees = FeeSchedule(
            taker_ppm=fees.taker_ppm if args.taker_fee_ppm is None else args.taker_fee_ppm,
            maker_ppm=fees.maker_ppm if args.maker_fee_ppm is None else args.maker_fee_ppm,
        ).validate()
        rules = external_rules(venue, coin)
    except (DataError, OSError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    start, end = _window(args, drift_candles, external_candles, drift_funding, external_funding)
    inputs = ArbInputs(
        bot=bot,
        drift_candles=drift_candles,
        external_candles=external_candles,
        drift_funding=drift_funding.records,
        drift_rates=drift_rates,
        external_funding=external_funding,
        external_rules=rules,
        drift_fees=drift_fees,
        start=start,
        end=end,
    )
    files = (drift_candles_file, drift_funding_file, external_candles_file, external_funding_file)
    print(
        f"backtest {bot.name} (Drift {bot.market} vs {venue} {coin}) {iso(start)}..{iso(end)} on "
        f"{', '.join(p.name for p in files)}",
        file=sys.stderr,
    )
    try:
        result = run_arb_backtest(inputs)
    except ArbBacktestError as exc:
        raise CliError(str(exc)) from exc
    digests = [(p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]
    doc = arb_summary(result, digests)
    out = args.out if args.out is not None else Path("out") / "backtest" / bot.name
    try:
        written = write_arb_outputs(result, out, doc)
    except OSError as exc:
        raise CliError(f"cannot write the report to {out}: {exc.strerror or exc}") from exc
    for key, value in doc.items():
        if key in ("data", "execution_model", "score"):
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                print(f"  {key}.{k:<28} {v}")
        else:
            print(f"  {key:<33} {'-' if value is None else value}")
    print(f"wrote {', '.join(p.name for p in written)} to {out}")
    return 0
