"""``botrunner backtest``: every example bot runs on the bundled slice, outputs follow the contract and are
byte-identical across runs, the books balance to the unit, and bad inputs give one clear error."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from botrunner.backtest.output import SCRATCH_PREFIX, WRITER_LOCK, remove_abandoned
from botrunner.cli import main
from botrunner.connector.commands import PlanReason
from botrunner.runtime.exclusive import ExclusiveLock

ROOT = Path(__file__).resolve().parents[3]
BOTS = ROOT / "config" / "bots"
FILES = (
    "summary.json",
    "fills.csv",
    "funding.csv",
    "settlements.csv",
    "orders.csv",
    "snapshots.csv",
    "report.html",
)
WEEK = ["--from", "2025-09-22", "--to", "2025-09-28", "--quiet"]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["backtest", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def sol_week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sol")
    assert main(["backtest", str(BOTS / "sol-neutral-grid.yaml"), *WEEK, "--out", str(out)]) == 0
    return out


def test_backtest_writes_every_contract_file_with_its_header(sol_week: Path) -> None:
    for name in FILES:
        assert (sol_week / name).is_file(), name
    headers = {
        "fills.csv": "ts,order_id,side,price,base,quote,fee,liquidity,reduce_only",
        "funding.csv": "ts,position_base,rate,payment",
        "settlements.csv": "ts,amount,reason",
        "orders.csv": "ts,order_id,user_order_id,event,side,price,base,post_only,reduce_only,reason",
        "snapshots.csv": "ts,mark,oracle,position_base,entry_price,collateral,unrealized_pnl,unsettled_pnl,"
        "settled_pnl,health,leverage,liq_price,risk_state",
    }
    for name, header in headers.items():
        assert (sol_week / name).read_text().splitlines()[0] == header
    doc = json.loads((sol_week / "summary.json").read_text())
    for key in (
        "run_id",
        "bot",
        "market",
        "from",
        "to",
        "bars",
        "starting_equity",
        "ending_equity",
        "pnl",
        "return_pct",
        "max_drawdown_pct",
        "orders",
        "fills",
        "maker_share",
        "liquidations",
        "min_health",
        "min_liq_distance_pct",
        "time_in_state_s",
    ):
        assert key in doc, key
    assert doc["from"] == "2025-09-22T00:00:00Z" and doc["to"] == "2025-09-29T00:00:00Z"
    assert doc["bars"] == 7 * 288
    assert set(doc["time_in_state_s"]) == {"APPROVE", "CLAMP", "REDUCE_ONLY", "PAUSE"}
    assert sum(doc["time_in_state_s"].values()) == 7 * 86_400


def test_backtest_pnl_split_adds_up_exactly_and_matches_the_csvs(sol_week: Path) -> None:
    doc = json.loads((sol_week / "summary.json").read_text())
    pnl = {k: Decimal(v) for k, v in doc["pnl"].items()}
    assert pnl["realized"] + pnl["unrealized"] + pnl["funding"] - pnl["fees"] == pnl["total"]
    assert Decimal(doc["ending_equity"]) - Decimal(doc["starting_equity"]) == pnl["total"]
    with (sol_week / "fills.csv").open() as fh:
        fills = list(csv.DictReader(fh))
    with (sol_week / "funding.csv").open() as fh:
        funding = list(csv.DictReader(fh))
    assert len(fills) == doc["fills"] > 0
    assert sum(Decimal(r["fee"]) for r in fills) == pnl["fees"]
    assert sum(Decimal(r["payment"]) for r in funding) == pnl["funding"]
    assert len(funding) == 7 * 24  # one Drift record per hour
    # every decimal is written at the contract's precision
    assert all(len(r["price"].split(".")[1]) == 6 and len(r["base"].split(".")[1]) == 9 for r in fills)


def test_summary_extras_split_fees_and_funding_into_cost_and_income_and_rate_the_run(sol_week: Path) -> None:
    doc = json.loads((sol_week / "summary.json").read_text())
    pnl = {k: Decimal(v) for k, v in doc["pnl"].items()}
    gross = {k: Decimal(v) for k, v in doc["pnl_gross"].items()}
    assert all(v >= 0 for v in gross.values())  # each a cost or an income: no sign to read
    assert gross["fees_paid"] - gross["rebates_earned"] == pnl["fees"]
    assert gross["funding_received"] - gross["funding_paid"] == pnl["funding"]
    with (sol_week / "fills.csv").open() as fh:
        fees = [Decimal(r["fee"]) for r in csv.DictReader(fh)]
    assert gross["fees_paid"] == sum(f for f in fees if f > 0)
    perf = doc["performance"]
    assert perf["daily_returns"] == 7
    assert perf["round_trips"] >= perf["round_trip_wins"] >= 0
    assert perf["max_drawdown_duration_s"] <= 7 * 86_400
    # CAGR is the week's return compounded over 365/7 weeks
    week = 1 + Decimal(doc["return_pct"]) / 100
    assert Decimal(perf["cagr_pct"]) == pytest.approx((week ** (Decimal(365) / 7) - 1) * 100, abs=Decimal("0.01"))
    assert doc["strategy"] == "grid"
    assert doc["grid"]["cycles"] > 0


def test_backtest_orders_say_why_each_was_placed(sol_week: Path) -> None:
    with (sol_week / "orders.csv").open() as f:
        rows = list(csv.DictReader(f))
    placed = [r for r in rows if r["event"] == "placed"]
    assert placed
    # a placed row's reason is the PlanReason of the connector command that placed it
    reasons = {r["reason"] for r in placed}
    assert "" not in reasons and reasons <= {reason.value for reason in PlanReason}
    assert "ladder_empty" in reasons  # the first ladder


def test_backtest_same_inputs_give_byte_identical_outputs(sol_week: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert main(["backtest", str(BOTS / "sol-neutral-grid.yaml"), *WEEK, "--out", str(again)]) == 0
    for name in FILES:
        assert (again / name).read_bytes() == (sol_week / name).read_bytes(), name


@pytest.mark.parametrize("bot", ["btc-bullish-infinity", "eth-bearish-stepwise"])
def test_every_example_bot_backtests_on_the_bundled_slice(
    bot: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run([str(BOTS / f"{bot}.yaml"), "--quiet", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "summary.json").read_text())
    assert doc["bot"] == bot and doc["bars"] > 0
    assert "pnl.total" in out
    expected_funding = "drift_records" if bot.startswith("btc") else "drift_formula"  # no ETH records bundled
    assert doc["funding_source"] == expected_funding


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "missing.yaml"),
        ([str(BOTS / "sol-neutral-grid.yaml"), "--from", "2030-01-01"], "no data for the window"),
        ([str(BOTS / "sol-neutral-grid.yaml"), "--from", "2025-09-25", "--to", "2025-09-20"], "empty window"),
        ([str(BOTS / "sol-neutral-grid.yaml"), "--from", "yesterday"], "not a date"),
        ([str(BOTS / "sol-neutral-grid.yaml"), "--data", "/nonexistent"], "no candles for SOL-PERP"),
        ([str(BOTS / "sol-neutral-grid.yaml"), "--fee-tier", "9"], "fee tier"),
        ([str(BOTS / "sol-neutral-grid.yaml"), "--maker-fee-ppm", "-500"], "maker_ppm"),
    ],
)
def test_backtest_bad_input_is_one_clear_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run([*args, "--out", str(tmp_path / "x")], capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_backtest_rejects_a_bot_file_that_does_not_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((BOTS / "sol-neutral-grid.yaml").read_text().replace("capital_usdc: 10000", "capital_usdc: -5"))
    code, _, err = run([str(bad), "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "capital_usdc" in err


def test_backtest_rejects_funding_records_that_do_not_cover_the_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = ROOT / "botrunner" / "data"
    data = tmp_path / "data"
    data.mkdir()
    (data / "SOL-USDT-PERP_binance_5m.csv.gz").write_bytes((src / "SOL-USDT-PERP_binance_5m.csv.gz").read_bytes())
    import gzip

    lines = gzip.decompress((src / "SOL-PERP_drift_funding_1h.csv.gz").read_bytes()).decode().splitlines()
    (data / "SOL-PERP_drift_funding_1h.csv.gz").write_bytes(gzip.compress(("\n".join(lines[:100]) + "\n").encode()))
    code, _, err = run([str(BOTS / "sol-neutral-grid.yaml"), "--data", str(data), *WEEK], capsys)
    assert code == 2 and "--funding-formula" in err


def test_a_report_that_cannot_be_written_leaves_the_earlier_one_whole(
    sol_week: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while writing the report (the HTML, written last): one error line, exit 2, and the output
    directory still holds the earlier run's files, byte for byte, with no scratch files left in it."""
    out = tmp_path / "report"
    out.mkdir()
    for name in FILES:
        (out / name).write_bytes((sol_week / name).read_bytes())
    abandoned = out / f"{SCRATCH_PREFIX}x1y2"  # an earlier run killed -9 while writing: its lock went with it
    abandoned.mkdir()
    (abandoned / WRITER_LOCK).touch()
    (abandoned / "report.html").write_text("half")

    def disk_full(*_args: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("botrunner.backtest.output.render_report", disk_full)
    code, _, err = run(
        [
            str(BOTS / "sol-neutral-grid.yaml"),
            "--from",
            "2025-09-23",
            "--to",
            "2025-09-25",
            "--quiet",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 2
    assert err.strip().splitlines()[-1] == (  # after the run's own "backtest BOT on DATA" header line
        f"botrunner backtest: error: cannot write the report to {out}: No space left on device; nothing in it was "
        "changed"
    )
    for name in FILES:
        assert (out / name).read_bytes() == (sol_week / name).read_bytes(), name
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)  # no scratch left behind


def test_scratch_directories_of_killed_writers_are_removed_and_others_kept(tmp_path: Path) -> None:
    def scratch(name: str, *, lock_file: bool = True) -> Path:
        d = tmp_path / f"{SCRATCH_PREFIX}{name}"
        d.mkdir()
        (d / "summary.json").write_text("{}")
        if lock_file:
            (d / WRITER_LOCK).touch()
        return d

    gone = scratch("abc")  # its writer was killed: nobody holds the lock
    writing = scratch("def")  # a writer still at work holds it
    foreign = scratch("notes", lock_file=False)  # not a directory write_outputs makes
    writer = ExclusiveLock(writing / WRITER_LOCK, "a backtest still writing")
    writer.acquire()
    try:
        assert remove_abandoned(tmp_path) == [gone]
    finally:
        writer.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([writing.name, foreign.name])
    assert remove_abandoned(tmp_path) == [writing]  # once its writer has let go


def test_without_from_the_window_starts_at_the_first_funding_record_when_the_candles_start_earlier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the shared data's shape: Binance candles begin a week before Drift's records; without --from the run starts
    # on the first funded hour (and says so); an explicit --from before the records is still refused
    import gzip

    src = ROOT / "botrunner" / "data"
    data = tmp_path / "data"
    data.mkdir()
    (data / "SOL-USDT-PERP_binance_5m.csv.gz").write_bytes((src / "SOL-USDT-PERP_binance_5m.csv.gz").read_bytes())
    lines = gzip.decompress((src / "SOL-PERP_drift_funding_1h.csv.gz").read_bytes()).decode().splitlines()
    kept = [lines[0], *lines[241:]]  # the first 240 hours of records gone: 1758672003 (seconds late) comes first
    (data / "SOL-PERP_drift_funding_1h.csv.gz").write_bytes(gzip.compress(("\n".join(kept) + "\n").encode()))
    out = tmp_path / "out"
    bot = str(BOTS / "sol-neutral-grid.yaml")
    code, printed, err = run([bot, "--data", str(data), "--to", "2025-09-26", "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    assert "window starts at 2025-09-24T00:00:00Z: the first Drift funding record" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["from"].startswith("2025-09-24T00:00:00")
    assert summary["funding_source"] == "drift_records"
    code, _, err = run([bot, "--data", str(data), "--from", "2025-09-22", "--to", "2025-09-26"], capsys)
    assert code == 2 and "--funding-formula" in err
