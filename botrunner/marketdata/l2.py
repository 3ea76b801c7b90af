"""Level-2 order books: recorded captures as one event stream, and an order book that applies it.

Event stream (all frozen messages, ``ts_ns`` unix nanoseconds, non-decreasing within a stream):

* :class:`BookSnapshot` — the whole book (bids best first, i.e. descending; asks ascending); replaces the book.
* :class:`BookDelta` — one level set to ``qty`` (absolute, not a change); ``qty == 0`` removes the level.
* :class:`Trade` — a print with the aggressor's side; it does not change the book (venues publish the depth change
  separately).
* :class:`TopOfBook` — a venue's own best bid/ask message (Binance ``bookTicker``), only when asked for; useful to
  check a reconstructed book against the venue.

Precision: prices 1e6 (Drift's price precision), quantities 1e9 (base precision), parsed exactly — a value finer
than that is a :class:`DataError`, never rounded. Quantities are in the venue's unit: base for Binance USD-M and
Bybit linear, contracts (100 USD each) for Binance COIN-M.

Sources:

* Binance futures raw websocket captures (``local_ns JSON`` per line, gzip): a REST snapshot, ``@depth@0ms`` diffs,
  ``bookTicker`` and ``trade``. Synchronised exactly as Binance documents for futures: diffs that arrive before the
  snapshot are buffered; those with ``u < lastUpdateId`` are dropped; the first applied diff must straddle the
  snapshot (``U <= lastUpdateId <= u``; ``U == lastUpdateId + 1`` also continues it exactly), and every later one
  must continue it (``pu`` == previous ``u``). Anything else is a sequence gap and a :class:`DataError`: a replay
  cannot fetch a fresh snapshot, so it must not invent a book. Buffered diffs applied after the snapshot are
  stamped with the snapshot's ``ts_ns``: that is when a live consumer could first have used them.
* Binance futures depth CSVs (``symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu``;
  ``update_type`` ``snap`` or ``set``), with the same continuity rule between messages.
* Bybit ``orderbook.500`` captures (zip of JSON lines: one ``snapshot`` then ``delta`` messages, update id ``u``
  consecutive; a later snapshot resets the book).

The loaders are generators: they stream the file and hold at most the pre-snapshot diff buffer, so a capture of any
length replays in constant memory.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import io
import itertools
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final, assert_never

import msgspec

from botrunner.core.fixed import ceil_div
from botrunner.core.precision import BASE_PRECISION, PRICE_PRECISION
from botrunner.core.side import Side
from botrunner.marketdata._text import DataError, parse_fixed, parse_int

BOOK_PRICE_PRECISION: Final = PRICE_PRECISION
BOOK_QTY_PRECISION: Final = BASE_PRECISION
_PRICE_DIGITS: Final = 6
_QTY_DIGITS: Final = 9
_NS_PER_MS: Final = 1_000_000

Level = tuple[int, int]  # (price 1e6, qty 1e9)


class BookSnapshot(msgspec.Struct, frozen=True):
    """The full book at ``ts_ns``: bids descending, asks ascending, no zero quantities, not crossed."""

    ts_ns: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class BookDelta(msgspec.Struct, frozen=True):
    """Set the ``side`` level at ``price`` to ``qty`` (0 removes it). ``Side.BUY`` is the bid side.

    ``update_id`` is the venue's id of the message the delta came from (Binance ``u``, Bybit ``u``; 0 if none).
    """

    ts_ns: int
    side: Side
    price: int
    qty: int
    update_id: int = 0


class Trade(msgspec.Struct, frozen=True):
    """A print: ``aggressor`` is the taker's side (Binance ``m == true`` means the buyer was the maker: a SELL)."""

    ts_ns: int
    price: int
    qty: int
    aggressor: Side


class TopOfBook(msgspec.Struct, frozen=True):
    """The venue's own best bid/ask message (for checking a reconstructed book); ``update_id`` as published."""

    ts_ns: int
    update_id: int
    bid: int
    bid_qty: int
    ask: int
    ask_qty: int


BookEvent = BookSnapshot | BookDelta | Trade | TopOfBook


class Walk(msgspec.Struct, frozen=True):
    """Result of a taker of ``requested`` quantity walking one side of the book.

    ``cost`` is the exact sum of price × qty over the fills (units 1e6 × 1e9). ``avg_price`` rounds against the
    taker (a buy rounds up, a sell down) so a simulated fill is never better than the book; it is 0 when nothing
    filled. ``shortfall`` is what the book could not fill. ``levels`` are the (price, qty taken) pairs, best first.
    """

    taker: Side
    requested: int
    filled: int
    cost: int
    avg_price: int
    levels: tuple[Level, ...]

    @property
    def shortfall(self) -> int:
        return self.requested - self.filled

    @property
    def worst_price(self) -> int | None:
        return self.levels[-1][0] if self.levels else None


class _Ladder:
    """One side of a book: price -> qty plus an ascending price list (bisect keeps it sorted)."""

    __slots__ = ("prices", "qty")

    def __init__(self) -> None:
        self.qty: dict[int, int] = {}
        self.prices: list[int] = []

    def set(self, price: int, qty: int) -> None:
        if qty == 0:
            if self.qty.pop(price, None) is not None:
                del self.prices[bisect.bisect_left(self.prices, price)]
            return
        if price not in self.qty:
            bisect.insort(self.prices, price)
        self.qty[price] = qty

    def clear(self) -> None:
        self.qty.clear()
        self.prices.clear()


class OrderBook:
    """A mutable L2 book that applies :data:`BookEvent` values in stream order.

    Invariant: the book is never crossed (best bid < best ask). When a delta would cross it, the newest update wins
    and the stale opposite levels at or through its price are removed (counted in ``uncrossed``) — the same repair
    market-data handlers apply, because a level the venue has just quoted is more current than one it has not
    re-sent. On a valid Binance/Bybit stream this never triggers; the counter shows it if it does.
    """

    def __init__(self) -> None:
        self._bids = _Ladder()
        self._asks = _Ladder()
        self.ts_ns = 0
        self.uncrossed = 0
        self.has_snapshot = False

    def apply(self, event: BookEvent) -> None:
        """Apply one event (trades and top-of-book messages only advance ``ts_ns``)."""
        self.ts_ns = max(self.ts_ns, event.ts_ns)
        match event:
            case BookSnapshot():
                self._bids.clear()
                self._asks.clear()
                for price, qty in event.bids:
                    self._bids.set(price, qty)
                for price, qty in event.asks:
                    self._asks.set(price, qty)
                self.has_snapshot = True
                self._uncross_after(Side.BUY, self.best_bid()[0] if self._bids.prices else None)
            case BookDelta():
                if event.qty < 0 or event.price <= 0:
                    raise ValueError(f"impossible level {event.price} x {event.qty}")
                ladder = self._bids if event.side is Side.BUY else self._asks
                ladder.set(event.price, event.qty)
                if event.qty > 0:
                    self._uncross_after(event.side, event.price)
            case Trade() | TopOfBook():
                pass
            case _:
                assert_never(event)

    def _uncross_after(self, side: Side, price: int | None) -> None:
        if price is None:
            return
        if side is Side.BUY:
            while self._asks.prices and self._asks.prices[0] <= price:
                self._asks.set(self._asks.prices[0], 0)
                self.uncrossed += 1
        else:
            while self._bids.prices and self._bids.prices[-1] >= price:
                self._bids.set(self._bids.prices[-1], 0)
                self.uncrossed += 1

    def best_bid(self) -> Level:
        """(price, qty) of the best bid; raises ``LookupError`` on an empty side."""
        if not self._bids.prices:
            raise LookupError("no bids")
        price = self._bids.prices[-1]
        return price, self._bids.qty[price]

    def best_ask(self) -> Level:
        """(price, qty) of the best ask; raises ``LookupError`` on an empty side."""
        if not self._asks.prices:
            raise LookupError("no asks")
        price = self._asks.prices[0]
        return price, self._asks.qty[price]

    def is_crossed(self) -> bool:
        return bool(self._bids.prices and self._asks.prices and self._bids.prices[-1] >= self._asks.prices[0])

    def depth_at(self, side: Side, price: int) -> int:
        """Resting quantity at exactly ``price`` on ``side`` (``Side.BUY`` = bids), 0 if none."""
        return (self._bids if side is Side.BUY else self._asks).qty.get(price, 0)

    def levels(self, side: Side, n: int | None = None) -> tuple[Level, ...]:
        """The best ``n`` levels (all when None) of ``side``, best first."""
        ladder = self._bids if side is Side.BUY else self._asks
        prices = reversed(ladder.prices) if side is Side.BUY else iter(ladder.prices)
        return tuple((p, ladder.qty[p]) for p in itertools.islice(prices, n))

    def walk(self, taker: Side, qty: int) -> Walk:
        """Walk the opposite side for a taker of ``qty``: a buy consumes asks from the best upward."""
        if qty <= 0:
            raise ValueError(f"walk quantity must be > 0, got {qty}")
        ladder = self._asks if taker is Side.BUY else self._bids
        prices = iter(ladder.prices) if taker is Side.BUY else reversed(ladder.prices)
        book = ladder.qty
        return walk_levels(((price, book[price]) for price in prices), taker, qty)


def walk_levels(levels: Iterable[Level], taker: Side, qty: int, limit: int = 0) -> Walk:
    """A ``taker`` of ``qty`` walking ``levels`` (the opposite side, best first): each level is taken, in part for
    the last, until ``qty`` is met or the next level is beyond ``limit`` (a buy takes levels at or below it, a sell
    at or above; 0 = no limit). The one level walk of the project: ``OrderBook.walk`` and the paper venue's
    ``botrunner.paper.queue.walk_book`` (which rounds it to the market's step) both use it."""
    remaining, cost = qty, 0
    taken: list[Level] = []
    buy = taker is Side.BUY
    for price, size in levels:
        if remaining == 0 or (limit and (price > limit if buy else price < limit)):
            break
        take = min(remaining, size)
        taken.append((price, take))
        cost += price * take
        remaining -= take
    filled = qty - remaining
    if filled == 0:
        avg = 0
    elif buy:
        avg = ceil_div(cost, filled)  # a buyer's average never rounds in its favour
    else:
        avg = cost // filled
    return Walk(taker, qty, filled, cost, avg, tuple(taken))


# --- parsing helpers -------------------------------------------------------------------------------------------


def _fixed(text: str, digits: int, where: str, column: str) -> int:
    """Exact non-negative decimal text -> int with ``digits`` decimals; fast path for plain ``123.45``."""
    scale: int = 10**digits
    whole, _, frac = text.partition(".")
    if whole.isdigit() and len(frac) <= digits and (not frac or frac.isdigit()):
        return int(whole) * scale + (int(frac.ljust(digits, "0")) if frac else 0)
    return parse_fixed(text, scale, where, column, exact=True)


def _levels(raw: Any, where: str, column: str) -> list[Level]:
    if not isinstance(raw, list):
        raise DataError(f"{where}: {column} is not a list of levels")
    out: list[Level] = []
    for item in raw:
        if not (isinstance(item, list) and len(item) >= 2 and isinstance(item[0], str) and isinstance(item[1], str)):
            raise DataError(f"{where}: {column} level {item!r} is not [price, qty]")
        price = _fixed(item[0], _PRICE_DIGITS, where, f"{column}.price")
        if price == 0:
            raise DataError(f"{where}: {column} price {item[0]!r} is zero")
        out.append((price, _fixed(item[1], _QTY_DIGITS, where, f"{column}.qty")))
    return out


def _snapshot(ts_ns: int, bids: list[Level], asks: list[Level], where: str) -> BookSnapshot:
    book_bids = tuple(sorted(((p, q) for p, q in bids if q > 0), reverse=True))
    book_asks = tuple(sorted((p, q) for p, q in asks if q > 0))
    if len({p for p, _ in book_bids}) != len(book_bids) or len({p for p, _ in book_asks}) != len(book_asks):
        raise DataError(f"{where}: snapshot repeats a price level")
    if book_bids and book_asks and book_bids[0][0] >= book_asks[0][0]:
        raise DataError(f"{where}: snapshot is crossed (bid {book_bids[0][0]} >= ask {book_asks[0][0]})")
    return BookSnapshot(ts_ns, book_bids, book_asks)


def _deltas(ts_ns: int, bids: list[Level], asks: list[Level], update_id: int) -> Iterator[BookDelta]:
    """One message's level changes, removals first: then a transient cross can only mean a crossed final book."""
    changes = [(Side.BUY, p, q) for p, q in bids] + [(Side.SELL, p, q) for p, q in asks]
    for side, price, qty in sorted(changes, key=lambda c: c[2] != 0):  # stable: removals, then sets
        yield BookDelta(ts_ns, side, price, qty, update_id)


def _int_field(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DataError(f"{where}: field {key!r} is missing or not an integer ({value!r})")
    return int(value)


def _str_field(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise DataError(f"{where}: field {key!r} is missing or not a string ({value!r})")
    return value


# --- Binance raw websocket captures ----------------------------------------------------------------------------


class _BinanceSync:
    """Binance futures diff-depth synchronisation (snapshot + U/u/pu continuity)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.snapshot_id: int | None = None
        self.last_u: int | None = None
        self.pending: list[tuple[str, int, int, int, list[Level], list[Level]]] = []

    def on_snapshot(self, last_update_id: int) -> None:
        self.snapshot_id = last_update_id
        self.last_u = None

    def accept(self, where: str, first: int, last: int, prev: int) -> bool:
        """True when the diff (U=first, u=last, pu=prev) applies; False when it predates the snapshot."""
        if self.snapshot_id is None:
            raise AssertionError("accept() before a snapshot")
        if self.last_u is None:
            if last < self.snapshot_id:
                return False  # older than the snapshot: already contained in it
            if first > self.snapshot_id + 1:  # U == lastUpdateId + 1 continues it exactly
                raise DataError(
                    f"{where}: sequence gap: first diff after snapshot {self.snapshot_id} starts at U={first}"
                )
        elif prev != self.last_u:
            raise DataError(f"{where}: sequence gap: pu={prev} but the previous diff ended at u={self.last_u}")
        self.last_u = last
        return True


def _capture_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        with gzip.open(path, "rb") as fh:
            yield from enumerate(fh, start=1)
    except OSError as exc:
        raise DataError(f"{path}: cannot read or corrupt gzip ({exc})") from exc
    except (EOFError, zlib.error) as exc:
        raise DataError(f"{path}: truncated or corrupt gzip ({exc})") from exc


def iter_binance_capture(  # noqa: PLR0912  <why: hot path, millions of capture lines; the per-line dispatch stays inline>
    path: Path, *, top_of_book: bool = False
) -> Iterator[BookEvent]:
    """Stream a Binance futures raw capture (``local_ns JSON`` lines, gzip) as book events.

    ``ts_ns`` is the capture's local receive time. Trades are emitted as they arrive (also before the snapshot);
    book deltas only once the snapshot has synchronised the stream. ``top_of_book`` adds the ``bookTicker``
    messages as :class:`TopOfBook`. Raises :class:`DataError` (``file:line``) on malformed lines, a missing
    snapshot, or a sequence gap.
    """
    source = str(path)
    sync = _BinanceSync(source)
    last_ts = 0
    for line_no, raw in _capture_lines(path):
        where = f"{source}:{line_no}"
        stamp, _, body = raw.partition(b" ")
        try:
            ts_ns = int(stamp)
            msg = msgspec.json.decode(body)
        except (ValueError, msgspec.DecodeError) as exc:
            raise DataError(f"{where}: not 'local_ns JSON' ({exc})") from exc
        if ts_ns < last_ts:
            raise DataError(f"{where}: non-monotone local timestamp {ts_ns} after {last_ts}")
        last_ts = ts_ns
        if not isinstance(msg, dict):
            raise DataError(f"{where}: JSON is not an object")
        if "lastUpdateId" in msg:
            snap_id = _int_field(msg, "lastUpdateId", where)
            yield _snapshot(
                ts_ns, _levels(msg.get("bids"), where, "bids"), _levels(msg.get("asks"), where, "asks"), where
            )
            sync.on_snapshot(snap_id)
            pending, sync.pending = sync.pending, []
            for p_where, first, last, prev, bids, asks in pending:
                if sync.accept(p_where, first, last, prev):
                    yield from _deltas(ts_ns, bids, asks, last)
            continue
        data = msg.get("data")
        if not isinstance(data, dict):
            raise DataError(f"{where}: neither a snapshot nor a stream message")
        kind = data.get("e", "bookTicker" if "stream" in msg and str(msg["stream"]).endswith("@bookTicker") else None)
        if kind == "depthUpdate":
            first, last, prev = (_int_field(data, k, where) for k in ("U", "u", "pu"))
            bids, asks = _levels(data.get("b"), where, "b"), _levels(data.get("a"), where, "a")
            if sync.snapshot_id is None:
                sync.pending.append((where, first, last, prev, bids, asks))
            elif sync.accept(where, first, last, prev):
                yield from _deltas(ts_ns, bids, asks, last)
        elif kind == "trade":
            price = _fixed(_str_field(data, "p", where), _PRICE_DIGITS, where, "p")
            qty = _fixed(_str_field(data, "q", where), _QTY_DIGITS, where, "q")
            maker_is_buyer = data.get("m")
            if not isinstance(maker_is_buyer, bool):
                raise DataError(f"{where}: trade field 'm' is not a boolean")
            yield Trade(ts_ns, price, qty, Side.SELL if maker_is_buyer else Side.BUY)
        elif kind == "bookTicker":
            if top_of_book:
                yield TopOfBook(
                    ts_ns,
                    _int_field(data, "u", where),
                    _fixed(_str_field(data, "b", where), _PRICE_DIGITS, where, "b"),
                    _fixed(_str_field(data, "B", where), _QTY_DIGITS, where, "B"),
                    _fixed(_str_field(data, "a", where), _PRICE_DIGITS, where, "a"),
                    _fixed(_str_field(data, "A", where), _QTY_DIGITS, where, "A"),
                )
        else:
            raise DataError(f"{where}: unknown message kind {kind!r}")
    if sync.snapshot_id is None:
        raise DataError(f"{source}: no depth snapshot in the capture")


# --- Binance depth CSVs ------------------------------------------------------------------------------------------

BINANCE_DEPTH_COLUMNS: Final = (
    "symbol",
    "timestamp",
    "first_update_id",
    "last_update_id",
    "side",
    "update_type",
    "price",
    "qty",
    "pu",
)


def _checked_rows(reader: Iterator[list[str]], source: str, width: int) -> Iterator[tuple[str, list[str]]]:
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != width:
            raise DataError(f"{source}:{line_no}: expected {width} columns, got {len(row)}")
        yield f"{source}:{line_no}", row


def iter_binance_depth_csv(  # noqa: PLR0912  <why: hot path, millions of depth rows; the per-message match stays inline>
    paths: Iterable[Path], *, require_snapshot: bool = True
) -> Iterator[BookEvent]:
    """Stream Binance futures depth CSVs (a ``-snap`` file then ``-update`` files) as book events.

    Rows sharing (timestamp, first_update_id, last_update_id, update_type) form one message. ``snap`` messages
    become :class:`BookSnapshot`; ``set`` messages become deltas under the same continuity rule as the raw capture.
    With ``require_snapshot=False`` updates before any snapshot are emitted after checking only their mutual
    ``pu`` continuity (for inspecting an update file alone).
    """
    sync: _BinanceSync | None = None
    loose_last_u: int | None = None
    for path in paths:
        source = str(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot read ({exc})") from exc
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != BINANCE_DEPTH_COLUMNS:
            raise DataError(f"{source}:1: expected header {','.join(BINANCE_DEPTH_COLUMNS)}, got {header!r}")
        rows = _checked_rows(reader, source, len(BINANCE_DEPTH_COLUMNS))
        for key, group in itertools.groupby(rows, key=lambda wr: tuple(wr[1][i] for i in (1, 2, 3, 5, 8))):
            members = list(group)
            where = members[0][0]
            ts_ms = parse_int(key[0], where, "timestamp")
            first, last, prev = (
                parse_int(key[i], where, c) for i, c in ((1, "first_update_id"), (2, "last_update_id"), (4, "pu"))
            )
            bids: list[Level] = []
            asks: list[Level] = []
            for w, row in members:
                level = (_fixed(row[6], _PRICE_DIGITS, w, "price"), _fixed(row[7], _QTY_DIGITS, w, "qty"))
                if row[4] == "b":
                    bids.append(level)
                elif row[4] == "a":
                    asks.append(level)
                else:
                    raise DataError(f"{w}: side={row[4]!r} is not 'b' or 'a'")
            ts_ns = ts_ms * _NS_PER_MS
            match key[3]:
                case "snap":
                    yield _snapshot(ts_ns, bids, asks, where)
                    sync = _BinanceSync(source)
                    sync.on_snapshot(last)
                case "set":
                    if sync is not None:
                        if sync.accept(where, first, last, prev):
                            yield from _deltas(ts_ns, bids, asks, last)
                    elif require_snapshot:
                        raise DataError(f"{where}: update before any snapshot")
                    else:
                        if loose_last_u is not None and prev != loose_last_u:
                            raise DataError(
                                f"{where}: sequence gap: pu={prev} but the previous update ended at u={loose_last_u}"
                            )
                        loose_last_u = last
                        yield from _deltas(ts_ns, bids, asks, last)
                case other:
                    raise DataError(f"{where}: update_type={other!r} is not 'snap' or 'set'")


# --- Bybit orderbook captures -----------------------------------------------------------------------------------


def iter_bybit_orderbook_zip(path: Path) -> Iterator[BookEvent]:
    """Stream a Bybit ``orderbook.N`` capture (a zip of JSON lines) as book events.

    ``ts`` (ms) becomes ``ts_ns``. The first message must be a snapshot; each delta's ``u`` must be the previous
    ``u`` + 1 (a gap is a :class:`DataError`); a later snapshot resets the book, as Bybit specifies.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot open zip ({exc})") from exc
    with archive:
        for name in sorted(archive.namelist()):
            source = f"{path}!{name}"
            last_u: int | None = None
            last_ts = 0
            try:
                with archive.open(name) as fh:
                    for line_no, raw in enumerate(fh, start=1):
                        if not raw.strip():
                            continue
                        where = f"{source}:{line_no}"
                        event_u, events, ts_ms, is_snapshot = _bybit_message(raw, where)
                        if ts_ms < last_ts:
                            raise DataError(f"{where}: non-monotone ts {ts_ms} after {last_ts}")
                        last_ts = ts_ms
                        if not is_snapshot:
                            if last_u is None:
                                raise DataError(f"{where}: delta before any snapshot")
                            if event_u != last_u + 1:
                                raise DataError(f"{where}: sequence gap: u={event_u} after u={last_u}")
                        last_u = event_u
                        yield from events
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise DataError(f"{source}: truncated or corrupt zip member ({exc})") from exc


def _bybit_message(raw: bytes, where: str) -> tuple[int, list[BookEvent], int, bool]:
    try:
        msg = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise DataError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(msg, dict) or not isinstance(msg.get("data"), dict):
        raise DataError(f"{where}: not an orderbook message")
    data = msg["data"]
    ts_ms = _int_field(msg, "ts", where)
    update_id = _int_field(data, "u", where)
    bids, asks = _levels(data.get("b"), where, "b"), _levels(data.get("a"), where, "a")
    kind = msg.get("type")
    if kind == "snapshot":
        return update_id, [_snapshot(ts_ms * _NS_PER_MS, bids, asks, where)], ts_ms, True
    if kind == "delta":
        return update_id, list(_deltas(ts_ms * _NS_PER_MS, bids, asks, update_id)), ts_ms, False
    raise DataError(f"{where}: type={kind!r} is not 'snapshot' or 'delta'")
