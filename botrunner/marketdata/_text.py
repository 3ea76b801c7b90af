"""Shared parsing helpers for the market-data loaders: the error type, file reading, exact fixed-point fields.

Every loader turns decimal text into Drift-precision integers through ``Decimal`` (never float) and reports a bad
input as a :class:`DataError` whose message starts with ``file:line`` (or ``file@record`` for binary captures), so
an operator can open the file at the offending place.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

from botrunner.core.precision import MAX_MAGNITUDE, scale_exactly


class DataError(ValueError):
    """Input data that cannot be trusted; the message names the file and line."""


def parse_fixed(
    text: str, precision: int, where: str, column: str, *, signed: bool = False, exact: bool = False
) -> int:
    """``text`` as an integer in ``precision`` (``"1.5"`` at 1e6 -> 1_500_000).

    Rejects non-numbers and NaN/inf always, negatives unless ``signed``. With ``exact`` a value finer than the
    precision is an error (order-book prices and quantities, Drift records: a rounded value there would be a
    silently different fact); without it the value is rounded half-even (candle volumes, which carry float noise).
    """
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise DataError(f"{where}: {column}={text!r} is not a number") from exc
    if not value.is_finite():
        raise DataError(f"{where}: {column}={text!r} is not finite")
    if value < 0 and not signed:
        raise DataError(f"{where}: {column}={text!r} is negative")
    scaled = scale_exactly(value, precision)
    if scaled is None:
        raise DataError(f"{where}: {column}={text!r} is out of range (over 1e{MAX_MAGNITUDE})")
    integral = scaled.to_integral_value()
    if exact and scaled != integral:
        raise DataError(f"{where}: {column}={text!r} is finer than 1/{precision}")
    return int(integral)


def parse_int(text: str, where: str, column: str) -> int:
    """A decimal integer field (timestamps, update ids)."""
    try:
        return int(text)
    except ValueError as exc:
        raise DataError(f"{where}: {column}={text!r} is not an integer") from exc


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic (the name's suffix is not trusted)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: corrupt gzip ({exc})") from exc
    return raw


def read_text(path: Path) -> str:
    """The file as UTF-8 text (plain or gzip)."""
    raw = read_bytes(path)
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text") from exc


def csv_rows(text: str, source: str, columns: tuple[str, ...]) -> Iterator[tuple[str, list[str]]]:
    """Rows of a headed CSV as (``"source:line"``, fields), after checking the header and each row's width."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != columns:
        raise DataError(f"{source}:1: expected header {','.join(columns)}, got {header!r}")
    for line_no, row in enumerate(reader, start=2):
        where = f"{source}:{line_no}"
        if not row:  # a trailing blank line is not a record
            continue
        if len(row) != len(columns):
            raise DataError(f"{where}: expected {len(columns)} columns, got {len(row)}")
        yield where, row
