"""L2 captures -> one event stream -> an order book that never crosses and walks exactly."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.core.side import Side
from botrunner.marketdata.candles import DataError
from botrunner.marketdata.l2 import (
    BookDelta,
    BookEvent,
    BookSnapshot,
    OrderBook,
    TopOfBook,
    Trade,
    iter_binance_capture,
    iter_binance_depth_csv,
    iter_bybit_orderbook_zip,
)

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "orderbook"


def _shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} absent")
    return path


# --- synthetic Binance captures ---------------------------------------------------------------------------------


def _snap(last_id: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
    return {"lastUpdateId": last_id, "E": 1, "T": 1, "bids": bids, "asks": asks}


def _diff(first: int, last: int, prev: int, b: list[list[str]], a: list[list[str]]) -> dict[str, Any]:
    data = {"e": "depthUpdate", "E": 1, "T": 1, "s": "X", "U": first, "u": last, "pu": prev, "b": b, "a": a}
    return {"stream": "x@depth@0ms", "data": data}


def _trade(price: str, qty: str, maker_is_buyer: bool) -> dict[str, Any]:
    data = {"e": "trade", "E": 1, "T": 1, "s": "X", "t": 1, "p": price, "q": qty, "X": "MARKET", "m": maker_is_buyer}
    return {"stream": "x@trade", "data": data}


def _capture(tmp_path: Path, messages: list[tuple[int, dict[str, Any]]], *, raw: bytes | None = None) -> Path:
    path = tmp_path / "cap.gz"
    body = raw if raw is not None else b"".join(f"{ns} {json.dumps(m)}\n".encode() for ns, m in messages)
    path.write_bytes(gzip.compress(body))
    return path


SNAP = _snap(100, [["99.5", "2"], ["99.0", "1"]], [["100.5", "3"], ["101.0", "4"]])


def test_capture_buffers_early_diffs_and_applies_them_at_the_snapshot(tmp_path: Path) -> None:
    path = _capture(
        tmp_path,
        [
            (10, _diff(90, 95, 89, [["99.5", "9"]], [])),  # older than the snapshot: dropped
            (11, _diff(96, 103, 95, [["99.5", "5"]], [["100.5", "0"]])),  # straddles lastUpdateId 100
            (12, _trade("100.5", "0.25", False)),
            (20, SNAP),
            (30, _diff(104, 110, 103, [], [["100.7", "1.5"]])),
        ],
    )
    events = list(iter_binance_capture(path))
    assert [type(e) for e in events] == [Trade, BookSnapshot, BookDelta, BookDelta, BookDelta]
    assert events[0] == Trade(12, 100_500_000, 250_000_000, Side.BUY)
    # the buffered diff becomes usable when the snapshot arrives: stamped with its ts, removals first
    assert events[2] == BookDelta(20, Side.SELL, 100_500_000, 0, 103)
    assert events[3] == BookDelta(20, Side.BUY, 99_500_000, 5_000_000_000, 103)
    book = OrderBook()
    for e in events:
        book.apply(e)
    assert book.best_bid() == (99_500_000, 5_000_000_000)
    assert book.best_ask() == (100_700_000, 1_500_000_000)
    assert book.depth_at(Side.SELL, 101_000_000) == 4_000_000_000
    assert book.depth_at(Side.SELL, 100_500_000) == 0


@pytest.mark.parametrize(
    ("messages", "message", "line"),
    [
        ([(1, SNAP), (2, _diff(101, 105, 100, [], [])), (3, _diff(107, 109, 106, [], []))], "sequence gap: pu=106", 3),
        ([(1, SNAP), (2, _diff(102, 105, 101, [], []))], "first diff after snapshot 100 starts at U=102", 2),
        ([(1, _diff(90, 95, 89, [], []))], "no depth snapshot", None),
        ([(5, SNAP), (4, _trade("1", "1", True))], "non-monotone local timestamp", 2),
        ([(1, _snap(1, [["101", "1"]], [["100", "1"]]))], "snapshot is crossed", 1),
        ([(1, _snap(1, [["NaN", "1"]], []))], "not finite", 1),
        ([(1, _snap(1, [["1.0000001", "1"]], []))], "finer than", 1),
        ([(1, _snap(1, [["1", "-1"]], []))], "negative", 1),
        ([(1, {"stream": "x", "data": {"e": "kline"}})], "unknown message kind", 1),
    ],
)
def test_capture_rejections_name_file_and_line(
    tmp_path: Path, messages: list[tuple[int, dict[str, Any]]], message: str, line: int | None
) -> None:
    path = _capture(tmp_path, messages)
    with pytest.raises(DataError, match=message) as err:
        list(iter_binance_capture(path))
    assert str(err.value).startswith(f"{path}:{line}:" if line is not None else f"{path}:")


def test_capture_malformed_line_and_truncated_gzip(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"cap.gz:1: not 'local_ns JSON'"):
        list(iter_binance_capture(_capture(tmp_path, [], raw=b"12 {not json\n")))
    good = gzip.compress(b"".join(f"{i} {json.dumps(SNAP)}\n".encode() for i in range(200)))
    path = tmp_path / "cut.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        list(iter_binance_capture(path))


# --- real captures ----------------------------------------------------------------------------------------------


def _replay(events: list[BookEvent] | Any) -> tuple[OrderBook, dict[type, int], list[tuple[TopOfBook, int, int]]]:
    book = OrderBook()
    counts: dict[type, int] = {}
    checked: list[tuple[TopOfBook, int, int]] = []
    last_ts = 0
    last_update = None
    for event in events:
        assert event.ts_ns >= last_ts
        last_ts = event.ts_ns
        book.apply(event)
        counts[type(event)] = counts.get(type(event), 0) + 1
        if isinstance(event, BookDelta):
            last_update = event.update_id
        elif isinstance(event, TopOfBook) and event.update_id == last_update:
            checked.append((event, *book.best_bid()))
            assert (book.best_bid(), book.best_ask()) == ((event.bid, event.bid_qty), (event.ask, event.ask_qty))
        assert not book.is_crossed()
    return book, counts, checked


@pytest.mark.shared_data
def test_usdm_capture_replays_gap_free_and_matches_every_same_id_book_ticker() -> None:
    book, counts, checked = _replay(iter_binance_capture(_shared("binance-usdm_BTCUSDT_20240808.gz"), top_of_book=True))
    assert counts[BookSnapshot] == 1
    assert counts[Trade] == 21_313
    assert counts[TopOfBook] == 66_089
    # the venue's own best bid/ask agrees with the rebuilt book whenever both describe the same update id
    assert len(checked) == 126  # every top-of-book message sharing an update id with a depth diff (README cites it)
    assert book.uncrossed == 0


@pytest.mark.shared_data
def test_coinm_capture_replays_gap_free_in_contracts() -> None:
    book, counts, _ = _replay(iter_binance_capture(_shared("binance-coinm_BTCUSD_PERP_20240808.gz")))
    assert counts[Trade] == 2_286
    assert book.uncrossed == 0
    assert book.best_bid()[1] % 1_000_000_000 == 0  # whole contracts


@pytest.mark.shared_data
def test_bybit_capture_is_one_snapshot_and_49_consecutive_deltas() -> None:
    events = list(iter_bybit_orderbook_zip(_shared("bybit_XRPUSDT_ob500.data.zip")))
    book, counts, _ = _replay(events)
    assert counts[BookSnapshot] == 1
    assert len({e.update_id for e in events if isinstance(e, BookDelta)}) == 49
    first = events[0]
    assert isinstance(first, BookSnapshot)
    assert (len(first.bids), len(first.asks)) == (500, 500)
    assert first.bids[0] == (1_953_100, 6_203_000_000_000)
    assert book.uncrossed == 0


@pytest.mark.shared_data
def test_depth_csv_snapshot_loads_and_does_not_chain_to_the_later_update_file() -> None:
    snap = _shared("binance-futures_BTCUSDT_depth-snap.csv")
    update = _shared("binance-futures_BTCUSDT_depth-update.csv")
    [snapshot] = list(iter_binance_depth_csv([snap]))
    assert isinstance(snapshot, BookSnapshot)
    assert (len(snapshot.bids), snapshot.asks) == (100, ())
    assert snapshot.bids[0] == (20_377_000_000, 1_770_000_000)
    # the update file starts ten minutes (20M update ids) after the snapshot: a gap, not a silent splice
    with pytest.raises(DataError, match=r"depth-update.csv:2: sequence gap"):
        list(iter_binance_depth_csv([snap, update]))
    deltas = list(iter_binance_depth_csv([update], require_snapshot=False))
    assert len(deltas) == 100
    with pytest.raises(DataError, match="update before any snapshot"):
        list(iter_binance_depth_csv([update]))


DEPTH_HEADER = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("X,1,10,10,b,snap,100,1,-1\nX,2,11,12,a,set,101,1,10\nX,3,14,15,a,set,101,0,13\n", "pu=13"),
        ("X,1,10,10,b,snap,100,1,-1\nX,2,11,12,x,set,101,1,10\n", "side='x'"),
        ("X,1,10,10,b,snap,100,1,-1\nX,2,11,12,a,delta,101,1,10\n", "update_type='delta'"),
        ("X,1,10,10,b,snap,100,nan,-1\n", "not finite"),
        ("X,1,10,10,b,snap,100\n", "expected 9 columns"),
    ],
)
def test_depth_csv_rejections(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text(DEPTH_HEADER + rows)
    with pytest.raises(DataError, match=message):
        list(iter_binance_depth_csv([path]))
    path.write_text("bad,header\n")
    with pytest.raises(DataError, match="expected header"):
        list(iter_binance_depth_csv([path]))


# --- synthetic Bybit captures -----------------------------------------------------------------------------------


def _bybit(kind: str, u: int, ts: int, b: list[list[str]], a: list[list[str]]) -> str:
    return json.dumps({"topic": "orderbook.500.X", "type": kind, "ts": ts, "data": {"s": "X", "b": b, "a": a, "u": u}})


def _zip(tmp_path: Path, lines: list[str]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.data", "\n".join(lines) + "\n")
    path = tmp_path / "ob.zip"
    path.write_bytes(buf.getvalue())
    return path


def test_bybit_deltas_apply_and_gaps_are_rejected(tmp_path: Path) -> None:
    snap = _bybit("snapshot", 7, 1000, [["1.95", "10"]], [["1.96", "20"]])
    ok = _zip(tmp_path, [snap, _bybit("delta", 8, 1001, [["1.95", "0"], ["1.94", "5"]], [])])
    book = OrderBook()
    for e in iter_bybit_orderbook_zip(ok):
        book.apply(e)
    assert book.best_bid() == (1_940_000, 5_000_000_000)
    assert book.ts_ns == 1001 * 1_000_000
    gap = _zip(tmp_path, [snap, _bybit("delta", 9, 1001, [], [])])
    with pytest.raises(DataError, match=r"x.data:2: sequence gap: u=9 after u=7"):
        list(iter_bybit_orderbook_zip(gap))
    orphan = _zip(tmp_path, [_bybit("delta", 9, 1001, [], [])])
    with pytest.raises(DataError, match="delta before any snapshot"):
        list(iter_bybit_orderbook_zip(orphan))


def test_bybit_truncated_zip_is_a_data_error(tmp_path: Path) -> None:
    good = _zip(tmp_path, [_bybit("snapshot", 1, 1, [["1", "1"]], [])] * 50)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good.read_bytes()[:-30])
    with pytest.raises(DataError, match="zip"):
        list(iter_bybit_orderbook_zip(cut))


# --- the order book ---------------------------------------------------------------------------------------------


def _book(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> OrderBook:
    book = OrderBook()
    book.apply(BookSnapshot(0, tuple(sorted(bids, reverse=True)), tuple(sorted(asks))))
    return book


def test_walk_consumes_levels_best_first_and_rounds_against_the_taker() -> None:
    book = _book([(99, 10), (98, 10)], [(101, 1), (102, 2), (105, 100)])
    w = book.walk(Side.BUY, 4)
    assert w.levels == ((101, 1), (102, 2), (105, 1))
    assert (w.filled, w.cost, w.shortfall) == (4, 101 + 204 + 105, 0)
    assert w.avg_price == 103  # 410 / 4 = 102.5, rounded up for a buyer
    s = book.walk(Side.SELL, 15)
    assert s.avg_price == (990 + 490) // 15  # 98.67 rounded down for a seller
    short = book.walk(Side.SELL, 25)
    assert (short.filled, short.shortfall) == (20, 5)
    assert OrderBook().walk(Side.BUY, 1).avg_price == 0


def test_a_crossing_delta_wins_over_stale_opposite_levels() -> None:
    book = _book([(99, 1)], [(100, 1), (101, 1), (103, 1)])
    book.apply(BookDelta(1, Side.BUY, 101, 7))
    assert book.levels(Side.SELL) == ((103, 1),)
    assert book.uncrossed == 2
    assert not book.is_crossed()


prices = st.integers(1, 60)
qtys = st.integers(0, 5)


@settings(max_examples=300, deadline=None)
@given(
    snapshot=st.tuples(
        st.dictionaries(st.integers(1, 30), st.integers(1, 5)), st.dictionaries(st.integers(31, 60), st.integers(1, 5))
    ),
    deltas=st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), prices, qtys), max_size=60),
)
def test_book_never_crosses_and_stays_sorted_after_any_delta_stream(
    snapshot: tuple[dict[int, int], dict[int, int]], deltas: list[tuple[Side, int, int]]
) -> None:
    book = _book(list(snapshot[0].items()), list(snapshot[1].items()))
    for i, (side, price, qty) in enumerate(deltas, start=1):
        book.apply(BookDelta(i, side, price, qty))
        assert not book.is_crossed()
        bids, asks = book.levels(Side.BUY), book.levels(Side.SELL)
        assert [p for p, _ in bids] == sorted({p for p, _ in bids}, reverse=True)
        assert [p for p, _ in asks] == sorted({p for p, _ in asks})
        assert all(q > 0 for _, q in bids + asks)
        # the latest non-zero update is always present exactly as sent
        if qty > 0:
            assert book.depth_at(side, price) == qty


@settings(max_examples=300, deadline=None)
@given(
    asks=st.dictionaries(st.integers(100, 200), st.integers(1, 10**9), max_size=20),
    bids=st.dictionaries(st.integers(1, 99), st.integers(1, 10**9), max_size=20),
    taker=st.sampled_from([Side.BUY, Side.SELL]),
    qty=st.integers(1, 10**10),
)
def test_walk_fills_exactly_or_reports_shortfall_and_averages_within_consumed_levels(
    asks: dict[int, int], bids: dict[int, int], taker: Side, qty: int
) -> None:
    book = _book(list(bids.items()), list(asks.items()))
    side_levels = book.levels(taker.opposite)
    available = sum(q for _, q in side_levels)
    w = book.walk(taker, qty)
    assert w.filled == min(qty, available)
    assert w.shortfall == max(0, qty - available)
    assert sum(q for _, q in w.levels) == w.filled
    assert w.cost == sum(p * q for p, q in w.levels)
    # levels consumed are a prefix of the book, best first, each fully taken except possibly the last
    assert [p for p, _ in w.levels] == [p for p, _ in side_levels[: len(w.levels)]]
    assert all(q == side_levels[i][1] for i, (_, q) in enumerate(w.levels[:-1]))
    if w.filled:
        best, worst = w.levels[0][0], w.levels[-1][0]
        assert min(best, worst) <= w.avg_price <= max(best, worst)
        # rounding never favours the taker
        assert (w.avg_price * w.filled >= w.cost) if taker is Side.BUY else (w.avg_price * w.filled <= w.cost)
