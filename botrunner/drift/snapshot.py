"""Account snapshot files: raw Drift accounts (base64) -> our ``Account`` and ``Markets``.

Format (``botrunner account inspect``)::

    {"user": b64, "perp_markets": [b64, ...], "spot_markets": [b64, ...],
     "oracles": [{"pubkey": base58, "data": b64}, ...], "now": unix_ts?, "slot": int?}

Each oracle's source is taken from the market that references its pubkey. Every failure raises
``SnapshotError`` with a one-line message that names what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import msgspec

from botrunner.drift.codec import DecodeError, decode_account, decode_oracle_price
from botrunner.drift.convert import account_from_user, markets_of
from botrunner.margin.model import Account, Markets


class SnapshotError(ValueError):
    """A snapshot file that cannot be turned into margin inputs."""


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A decoded snapshot, ready for the margin engine."""

    account: Account
    markets: Markets
    now: int | None = None
    slot: int | None = None


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise SnapshotError(f"{what}: expected a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnapshotError(f"{what}: not valid base64 ({exc})") from exc


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise SnapshotError(f"{key}: expected a list, got {type(value).__name__}")
    return value


def _opt_int(doc: dict[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SnapshotError(f"{key}: expected a non-negative integer, got {value!r}")
    return value


def _check_markets_cover(account: Account, markets: Markets) -> None:
    """Every market the user's positions use is in the snapshot (a perp's quote spot market too)."""
    for p in account.perp_positions:
        if p.market_index not in markets.perp:
            raise SnapshotError(f"perp market {p.market_index} (used by the user) is missing from 'perp_markets'")
        quote = markets.perp[p.market_index].spec.quote_spot_market_index
        if quote not in markets.spot:
            raise SnapshotError(
                f"spot market {quote} (quote of perp market {p.market_index}) is missing from 'spot_markets'"
            )
    for s in account.spot_positions:
        if s.market_index not in markets.spot:
            raise SnapshotError(f"spot market {s.market_index} (used by the user) is missing from 'spot_markets'")


def parse_snapshot(raw: bytes | str) -> Snapshot:
    """Decode a snapshot document (JSON text). Raises ``SnapshotError``."""
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise SnapshotError(f"expected a JSON object at the top level, got {type(doc).__name__}")
    if "user" not in doc:
        raise SnapshotError("missing key 'user'")
    try:
        user = decode_account(_b64(doc["user"], "user"), expect="User", what="user")
        perps = [
            decode_account(_b64(v, f"perp_markets[{i}]"), expect="PerpMarket", what=f"perp_markets[{i}]")
            for i, v in enumerate(_list(doc, "perp_markets"))
        ]
        spots = [
            decode_account(_b64(v, f"spot_markets[{i}]"), expect="SpotMarket", what=f"spot_markets[{i}]")
            for i, v in enumerate(_list(doc, "spot_markets"))
        ]
        oracle_bytes: dict[str, bytes] = {}
        for i, o in enumerate(_list(doc, "oracles")):
            if not isinstance(o, dict) or "pubkey" not in o or "data" not in o:
                raise SnapshotError(f"oracles[{i}]: expected an object with 'pubkey' and 'data'")
            oracle_bytes[str(o["pubkey"])] = _b64(o["data"], f"oracles[{i}] ({o['pubkey']})")

        def read(key: str, source: str, what: str) -> int:
            if key not in oracle_bytes:
                raise SnapshotError(f"oracle {key} ({source}) of {what} is missing from 'oracles'")
            return decode_oracle_price(oracle_bytes[key], source, what=f"oracle {key} of {what}").price

        markets = markets_of(perps, spots, read)
        account = account_from_user(user)
    except DecodeError as exc:
        raise SnapshotError(str(exc)) from exc
    except ValueError as exc:
        if isinstance(exc, SnapshotError):
            raise
        raise SnapshotError(str(exc)) from exc

    _check_markets_cover(account, markets)
    return Snapshot(
        account=account,
        markets=markets,
        now=_opt_int(doc, "now"),
        slot=_opt_int(doc, "slot"),
    )
