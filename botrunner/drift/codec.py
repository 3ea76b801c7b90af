"""Decode raw Drift account bytes (PerpMarket, SpotMarket, User) and oracle accounts with driftpy's decoders.

The anchor coder comes from a ``DriftClient`` built with the cached subscription and an unreachable RPC URL: its
constructor makes no network call (see the driftpy guide), and we only use ``program.coder``.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

# Drift's stable-coin oracles snap to exactly $1 when within min(5 bps, confidence) of it
# (protocol-v2 state/oracle.rs get_pyth_stable_coin_price); driftpy's decoder does not.
_STABLE_COIN_SOURCES = frozenset({"PythStableCoin", "PythStableCoinPull", "PythLazerStableCoin"})
_FIVE_BPS = 500
_PRICE_PRECISION = 10**6


class DecodeError(ValueError):
    """Raw bytes that are not the Drift account or oracle they were supposed to be."""


class OracleReading(msgspec.Struct, frozen=True, kw_only=True):
    """An oracle price as Drift's program would read it (price precision 1e6)."""

    price: int
    confidence: int
    slot: int


@functools.cache
def _coder() -> Any:
    from driftpy.account_subscription_config import AccountSubscriptionConfig
    from driftpy.drift_client import DriftClient
    from solana.rpc.async_api import AsyncClient
    from solders.keypair import Keypair

    client = DriftClient(
        AsyncClient("http://127.0.0.1:1"),
        Keypair(),
        "mainnet",
        account_subscription=AccountSubscriptionConfig("cached"),
    )
    return client.program.coder.accounts


def decode_account(raw: bytes, *, expect: str, what: str) -> Any:
    """Decode ``raw`` as the Drift account type ``expect`` ("User", "PerpMarket", "SpotMarket").

    Raises ``DecodeError`` naming ``what`` when the bytes are another account type or not a Drift account.
    """
    try:
        decoded = _coder().decode(raw)
    except Exception as exc:  # anchorpy raises assorted errors for unknown discriminators / short buffers
        raise DecodeError(f"{what}: not a Drift {expect} account ({type(exc).__name__})") from exc
    kind = type(decoded).__name__
    if kind != expect:
        raise DecodeError(f"{what}: expected a Drift {expect} account, got {kind}")
    return decoded


def variant_name(value: Any) -> str:
    """The variant name of a driftpy enum instance, e.g. ``OracleSource.PythLazer()`` -> ``"PythLazer"``."""
    return type(value).__name__


def decode_oracle_price(raw: bytes, source: str, *, what: str) -> OracleReading:
    """Decode an oracle account of Drift ``OracleSource`` variant ``source``."""
    from driftpy.accounts.oracle import decode_oracle
    from driftpy.types import OracleSource

    try:
        variant = getattr(OracleSource, source)()
    except AttributeError as exc:
        raise DecodeError(f"{what}: unknown oracle source {source!r}") from exc
    try:
        data = decode_oracle(raw, variant)
    except Exception as exc:
        raise DecodeError(f"{what}: not a {source} oracle account ({type(exc).__name__})") from exc
    price = int(data.price)
    confidence = int(data.confidence or 0)
    if source in _STABLE_COIN_SOURCES and abs(price - _PRICE_PRECISION) <= min(_FIVE_BPS, confidence):
        price = _PRICE_PRECISION
    if price <= 0:
        raise DecodeError(f"{what}: {source} oracle price {price} is not positive")
    return OracleReading(price=price, confidence=confidence, slot=int(data.slot or 0))
