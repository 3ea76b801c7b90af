"""The scanner's live Drift quotes, read from the chain: a :class:`~botrunner.scan.snapshot.SnapshotSource`.

Per coin (SOL/BTC/ETH-PERP, market indexes from the bundled catalogue) it reads the PerpMarket account and its
oracle, the way the live venue does (``botrunner.live.venue``: ``getMultipleAccounts`` at ``confirmed``, decoded by
``botrunner.drift.codec``), in three round trips, each with its own timeout:

1. the PerpMarket accounts (to learn each market's oracle);
2. the PerpMarkets again with their oracles, in ONE call, so every figure of a quote is from one slot;
3. ``getBlockTime`` of that slot: the quote's time (whole seconds: Solana's block time has no finer resolution).

What each figure is:

- **funding per hour**: the rate the program would set if the funding update ran at the slot: protocol-v2's formula
  (:func:`botrunner.funding.market_funding_rate`, verified to the unit against every recorded Drift SOL/BTC hour)
  on the account's mark and oracle TWAPs, divided by the oracle TWAP (the repo's convention,
  :func:`~botrunner.marketdata.venue_funding.drift_rate_per_hour`). Why not ``last_funding_rate``: that is the
  settled rate of the hour before (up to an hour old), while the other side of a live scan (Binance's
  ``premiumIndex``) is the running estimate for the coming settlement; two estimates compare like with like. The
  program's asymmetric cap (``calculate_funding_rate_long_short``, when the fee pool cannot pay one side) is not
  applied. TWAPs older than one funding period at the slot make the coin unavailable (no current estimate).
- **next funding**: the program's ``on_the_hour_update`` schedule from ``last_funding_rate_ts``
  (:func:`botrunner.funding.next_funding_ts`).
- **bid/ask**: the vAMM's, from driftpy's own maths (``calculate_updated_amm`` then ``calculate_spread_reserves``
  at the oracle reading and the slot's time). The DLOB (resting limit orders, JIT makers) is an off-chain server,
  not chain state: it is not read, so the touch shown is the vAMM's, usually wider than Drift's real best price.
- **depth near the touch**: the quote notional the vAMM's constant-product curve fills before its price moves
  ``NEAR_TOUCH_BPS`` from its own touch (price goes as the square of the base-reserve ratio, so that is the quote
  reserve's notional x (sqrt(1 + 10 bp) - 1) buying, x (1 - 1/sqrt(1 + 10 bp)) selling), capped by the AMM's
  open-interest room (``min/max_base_asset_reserve``) and its per-fill limit (``max_fill_reserve_fraction``). It
  is the vAMM's alone, without the DLOB.

Failures never crash the scan: an RPC that does not answer in time, answers an error or garbage makes every Drift
coin "unavailable: <reason>"; an account that is missing, not a PerpMarket, another market, or whose oracle cannot
be decoded makes that coin unavailable. Reasons are scrubbed of the RPC URL's secrets and name only its host.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from driftpy.addresses import get_perp_market_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.math.amm import calculate_price, calculate_spread_reserves, calculate_updated_amm
from driftpy.types import OraclePriceData
from solana.rpc.commitment import Confirmed

from botrunner.core.catalogue import load_catalogue
from botrunner.core.precision import BPS_PRECISION, quote_value
from botrunner.drift.codec import DecodeError, OracleReading, decode_account, decode_oracle_price, variant_name
from botrunner.drift.convert import market_name, perp_spec
from botrunner.funding import market_funding_rate, next_funding_ts
from botrunner.live.transactions import describe_error
from botrunner.logsetup import scrub
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.marketdata.venue_funding import MAX_PLAUSIBLE_RATE_PER_HOUR, drift_rate_per_hour
from botrunner.scan.snapshot import NEAR_TOUCH_BPS, MarketSnapshot, Unavailable, VenueQuote

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient
    from solders.pubkey import Pubkey

_T = TypeVar("_T")

DRIFT_PERPS: Final = {Coin.SOL: "SOL-PERP", Coin.BTC: "BTC-PERP", Coin.ETH: "ETH-PERP"}
LIVE_DRIFT_NOTES: Final = (
    "live Drift quotes are the vAMM's (bid/ask and depth from its curve at the oracle); the DLOB's resting orders "
    "are not read, so Drift's touch is shown wider and its depth thinner than they are",
    "live Drift quote time is its slot's block time, whole seconds (Solana's resolution), read at confirmed "
    "commitment: a Drift quote is rarely under the 200 ms freshness bound",
)
# sqrt(1 + NEAR_TOUCH_BPS / 10_000) in parts per 1e12 (a constant-product price moves as the base reserve's ratio,
# squared)
_ROOT_SCALE: Final = 10**12
_SQRT_NEAR: Final = math.isqrt((BPS_PRECISION + NEAR_TOUCH_BPS) * _ROOT_SCALE**2 // BPS_PRECISION)
# AMM reserves (1e9) x peg (1e6) / this = quote (1e6); driftpy's AMM_TIMES_PEG_TO_QUOTE_PRECISION_RATIO
_AMM_TIMES_PEG_TO_QUOTE: Final = 10**9


class DriftReadError(RuntimeError):
    """An RPC read that did not give an answer (timeout, transport error, an error reply, garbage)."""


def _oracle_price_data(pm: Any, oracle: OracleReading) -> OraclePriceData:
    return OraclePriceData(
        price=oracle.price,
        slot=oracle.slot,
        confidence=oracle.confidence,
        twap=int(pm.amm.historical_oracle_data.last_oracle_price_twap),
        twap_confidence=oracle.confidence,
        has_sufficient_number_of_data_points=True,
    )


def _curve_depth(quote_reserve: int, peg: int, *, buying: bool) -> int:
    """Quote (1e6) the curve fills before its price moves ``NEAR_TOUCH_BPS`` from ``quote_reserve``'s point."""
    notional = quote_reserve * peg // _AMM_TIMES_PEG_TO_QUOTE
    if buying:  # base leaves the pool: price x (B/B')^2 = 1 + 10 bp at B' = B / sqrt(1 + 10 bp)
        return notional * (_SQRT_NEAR - _ROOT_SCALE) // _ROOT_SCALE
    return notional * (_ROOT_SCALE - _ROOT_SCALE**2 // _SQRT_NEAR) // _ROOT_SCALE


def amm_book(pm: Any, oracle: OracleReading, now_s: int) -> tuple[int, int, int, int, str]:
    """The vAMM's ``(bid, ask, bid_depth, ask_depth, note)`` (prices 1e6, depth quote 1e6) at ``oracle``/``now_s``.

    Raises ``ValueError`` when driftpy cannot price this AMM state."""
    data = _oracle_price_data(pm, oracle)
    note = "Drift vAMM bid/ask at the oracle, repegged as a fill would"
    try:
        amm = calculate_updated_amm(pm.amm, data)
    except (AssertionError, ArithmeticError):  # driftpy's repeg estimate refuses some states (an AMM in deficit)
        amm = pm.amm
        note = "Drift vAMM bid/ask at the oracle, reserves as stored (driftpy's repeg estimate refused this state)"
    try:
        # (base, quote) reserves per side; driftpy annotates them as ints
        reserves: Any = calculate_spread_reserves(amm, data, now=now_s)
        bid_res, ask_res = reserves
        bid = int(calculate_price(bid_res[0], bid_res[1], amm.peg_multiplier))
        ask = int(calculate_price(ask_res[0], ask_res[1], amm.peg_multiplier))
    except (AssertionError, ArithmeticError) as exc:
        raise ValueError(f"driftpy cannot price this vAMM ({type(exc).__name__}: {exc})") from None
    if not 0 < bid <= ask:
        raise ValueError(f"the vAMM's bid/ask are not a market: bid {bid}, ask {ask}")
    peg = int(amm.peg_multiplier)
    base_reserve = int(pm.amm.base_asset_reserve)
    per_fill = base_reserve // int(pm.amm.max_fill_reserve_fraction) if pm.amm.max_fill_reserve_fraction else None
    room_to_buy = max(0, base_reserve - int(pm.amm.min_base_asset_reserve))  # longs take base out of the pool
    room_to_sell = max(0, int(pm.amm.max_base_asset_reserve) - base_reserve)
    caps_ask = [room_to_buy] + ([per_fill] if per_fill is not None else [])
    caps_bid = [room_to_sell] + ([per_fill] if per_fill is not None else [])
    ask_depth = min(_curve_depth(int(ask_res[1]), peg, buying=True), quote_value(min(caps_ask), ask))
    bid_depth = min(_curve_depth(int(bid_res[1]), peg, buying=False), quote_value(min(caps_bid), bid))
    return bid, ask, bid_depth, ask_depth, note


def drift_quote(coin: Coin, pm: Any, oracle: OracleReading, now_s: int, quote_ts_ms: int | None) -> VenueQuote:
    """One coin's live quote from its decoded PerpMarket and oracle reading at ``now_s`` (the slot's time).

    Raises ``ValueError`` with the reason the coin cannot be quoted."""
    status = variant_name(pm.status)
    if status != "Active":
        raise ValueError(f"market status {status}, not Active")
    spec = perp_spec(pm)
    amm = pm.amm
    history = amm.historical_oracle_data
    mark_twap, oracle_twap = int(amm.last_mark_price_twap), int(history.last_oracle_price_twap)
    twap_ts = min(int(amm.last_mark_price_twap_ts), int(history.last_oracle_price_twap_ts))
    if now_s - twap_ts > spec.funding_period:
        raise ValueError(
            f"its mark/oracle TWAPs were last updated {now_s - twap_ts} s before the slot (more than a funding "
            f"period of {spec.funding_period} s): no current funding estimate"
        )
    rate = market_funding_rate(spec, mark_twap, oracle_twap)  # quote per base (1e9) for one period
    per_hour = drift_rate_per_hour(rate, oracle_twap, spec.funding_period)
    if abs(per_hour) > MAX_PLAUSIBLE_RATE_PER_HOUR:
        raise ValueError(
            f"implausible funding {per_hour} per 1e12 per hour (bound {MAX_PLAUSIBLE_RATE_PER_HOUR}): "
            "bad data, not ranked"
        )
    bid, ask, bid_depth, ask_depth, note = amm_book(pm, oracle, now_s)
    return VenueQuote(
        venue=Venue.DRIFT,
        coin=coin,
        bid=bid,
        ask=ask,
        funding_rate_per_hour=per_hour,
        funding_period_s=spec.funding_period,
        next_funding_ts=next_funding_ts(int(amm.last_funding_rate_ts), spec.funding_period),
        bid_depth=bid_depth,
        ask_depth=ask_depth,
        quote_ts_ms=quote_ts_ms,
        price_note=note,
    )


class DriftSnapshotSource:
    """Live Drift quotes through ``rpc`` (a solana ``AsyncClient``); ``rpc_label`` is what may be shown of its URL
    (``botrunner.live.connect.safe_url``). Every read is bounded by ``timeout_s``."""

    def __init__(self, rpc: AsyncClient, *, rpc_label: str, timeout_s: float, clock_ms: Callable[[], int]) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self._rpc = rpc
        self._label = rpc_label
        self._timeout_s = timeout_s
        self._clock_ms = clock_ms
        catalogue = load_catalogue()
        self._indexes = {coin: catalogue.perp(symbol).market_index for coin, symbol in DRIFT_PERPS.items()}

    async def snapshot(self, venues: tuple[Venue, ...], coins: tuple[Coin, ...]) -> MarketSnapshot:
        """Drift's quote per coin asked for, or an ``Unavailable`` saying why; other venues are not read here."""
        found: list[VenueQuote | Unavailable] = [
            Unavailable(v, c, "not read by the Drift source") for v in venues if v is not Venue.DRIFT for c in coins
        ]
        notes: tuple[str, ...] = ()
        if Venue.DRIFT in venues and coins:
            try:
                quotes, notes = await self._quotes(coins)
            except DriftReadError as exc:
                quotes = [Unavailable(Venue.DRIFT, c, scrub(str(exc))) for c in coins]
            found.extend(quotes)
        return MarketSnapshot(
            taken_ms=self._clock_ms(),  # when the last reply is in: a quote's age includes the round trips
            quotes=tuple(q for q in found if isinstance(q, VenueQuote)),
            unavailable=tuple(q for q in found if isinstance(q, Unavailable)),
            source=f"live Drift (RPC {self._label})",
            notes=(*LIVE_DRIFT_NOTES, *notes),
        )

    async def _call(self, what: str, make: Callable[[], Awaitable[_T]]) -> _T:
        try:
            return await asyncio.wait_for(make(), self._timeout_s)
        except TimeoutError:
            raise DriftReadError(f"RPC {self._label} {what}: no answer within {self._timeout_s:g} s") from None
        except Exception as exc:  # solana/httpx/solders raise assorted errors for transport failures and garbage
            raise DriftReadError(f"RPC {self._label} {what} failed: {describe_error(exc)}") from None

    async def _accounts(self, keys: list[Pubkey]) -> tuple[int, list[bytes | None]]:
        resp = await self._call(
            "getMultipleAccounts",
            lambda: self._rpc.get_multiple_accounts(keys, commitment=Confirmed, encoding="base64"),
        )
        values = list(resp.value)
        if len(values) != len(keys):
            raise DriftReadError(f"RPC {self._label} getMultipleAccounts: {len(values)} accounts for {len(keys)} keys")
        return int(resp.context.slot), [None if v is None else bytes(v.data) for v in values]

    async def _quotes(self, coins: tuple[Coin, ...]) -> tuple[list[VenueQuote | Unavailable], tuple[str, ...]]:
        keys = {c: get_perp_market_public_key(DRIFT_PROGRAM_ID, self._indexes[c]) for c in coins}
        out: dict[Coin, VenueQuote | Unavailable] = {}
        _, first = await self._accounts(list(keys.values()))
        oracles: dict[Coin, tuple[Pubkey, str]] = {}
        for coin, raw in zip(keys, first, strict=True):
            try:
                pm = self._perp(coin, keys[coin], raw)
            except ValueError as exc:
                out[coin] = Unavailable(Venue.DRIFT, coin, str(exc))
                continue
            oracles[coin] = (pm.amm.oracle, variant_name(pm.amm.oracle_source))
        notes: tuple[str, ...] = ()
        if oracles:
            read = list(oracles)
            slot, second = await self._accounts([keys[c] for c in read] + [oracles[c][0] for c in read])
            block_s = await self._block_time(slot)
            if block_s is None:
                notes = (
                    f"getBlockTime({slot}) gave no time: Drift's quote time is unknown, its freshness not checkable",
                )
            now_s = block_s if block_s is not None else self._clock_ms() // 1000
            for coin, pm_raw, oracle_raw in zip(read, second[: len(read)], second[len(read) :], strict=True):
                out[coin] = self._quote(
                    coin,
                    keys[coin],
                    pm_raw=pm_raw,
                    oracle_raw=oracle_raw,
                    oracle=oracles[coin],
                    now_s=now_s,
                    block_s=block_s,
                )
        return [out[c] for c in coins], notes

    def _perp(self, coin: Coin, key: Pubkey, raw: bytes | None) -> Any:
        symbol = DRIFT_PERPS[coin]
        if raw is None:
            raise ValueError(f"perp market {self._indexes[coin]} ({symbol}) not found at {key}")
        pm = decode_account(raw, expect="PerpMarket", what=f"perp market {self._indexes[coin]} at {key}")
        name = market_name(pm.name)
        if name != symbol or int(pm.market_index) != self._indexes[coin]:
            raise ValueError(f"the account at {key} is {name!r} (index {pm.market_index}), not {symbol}")
        return pm

    def _quote(
        self,
        coin: Coin,
        key: Pubkey,
        *,
        pm_raw: bytes | None,
        oracle_raw: bytes | None,
        oracle: tuple[Pubkey, str],
        now_s: int,
        block_s: int | None,
    ) -> VenueQuote | Unavailable:
        oracle_key, source = oracle
        try:
            pm = self._perp(coin, key, pm_raw)
            if pm.amm.oracle != oracle_key:
                raise ValueError(f"its oracle changed between two reads ({oracle_key} -> {pm.amm.oracle}): scan again")
            if oracle_raw is None:
                raise ValueError(f"oracle {oracle_key} ({source}) not found")
            reading = decode_oracle_price(oracle_raw, source, what=f"oracle {oracle_key} ({source})")
            return drift_quote(coin, pm, reading, now_s, None if block_s is None else block_s * 1000)
        except (DecodeError, ValueError) as exc:  # DecodeError is a ValueError; named for the reader
            return Unavailable(Venue.DRIFT, coin, str(exc))

    async def _block_time(self, slot: int) -> int | None:
        """The slot's block time (unix s), or None when the node has none for it (recent slots on some RPCs)."""
        try:
            resp = await self._call("getBlockTime", lambda: self._rpc.get_block_time(slot))
        except DriftReadError:
            return None
        value = getattr(resp, "value", None)
        return value if isinstance(value, int) and value > 0 else None


__all__ = ["DRIFT_PERPS", "DriftReadError", "DriftSnapshotSource", "amm_book", "drift_quote"]
