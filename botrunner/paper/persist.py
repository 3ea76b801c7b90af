"""Exact checkpoint and restore of a :class:`~botrunner.paper.venue.PaperVenue`, so a paper fleet survives a crash.

``checkpoint(venue)`` is the venue's whole state as msgspec JSON: the same state always gives the same bytes (orders
in placement order, fields in declaration order, no dicts). ``restore(data, market, config)`` rebuilds a venue that
behaves identically from then on: the same calls give the same events, reports and ledger as the original would.

What is kept: balances (USDC and SOL), the perp position (every ``PerpPosition`` field), the open orders with every
field (filled base and the L2 queue state included), the ledger, the clock, last traded price, oracle, best
bid/ask, the bar volume window, the L2 book (every level, as a ``StaticBook``), the dynamic state of the perp market
(cumulative funding rates, ...) and of the USDC and SOL spot markets (their cumulative interest), the interest
clock's last update, and the cached liquidation bounds when they are current (``find_boundary`` starts its search
from the oracle it ran at; a fresh search at a later oracle should find the same crossing, but carrying the cache
over makes the restored venue's liquidation checks and reported liquidation price the original's by construction).
What is not kept: the static specs (``market`` comes from the caller, the spot specs from the catalogue), the
``PaperConfig`` (the caller's), and the other caches, which are pure functions of the state.

This module reads and writes the state of the venue's parts (its tape, account and fill model; private to the
package) on purpose: it is the venue's own persistence, in the same package. ``tests/unit/paper/test_persist.py``
fails if the venue, one of those parts or ``RestingOrder`` gains an attribute this module does not account for, so
the checkpoint cannot silently fall behind the simulator.
"""

from __future__ import annotations

from typing import Final

import msgspec

from botrunner.connector.orders import OrderType
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import USER_ORDER_ID_MAX, USER_ORDER_ID_MIN
from botrunner.core.side import Side
from botrunner.margin.model import PerpMarketStatus, PerpPosition
from botrunner.paper.account import Ledger
from botrunner.paper.accrual import Accrual
from botrunner.paper.config import PaperConfig
from botrunner.paper.orders import RestingOrder
from botrunner.paper.queue import BookView, StaticBook
from botrunner.paper.queue_fills import QueueFillModel
from botrunner.paper.venue import PaperVenue

FORMAT: Final = "botrunner.paper.venue"
FORMAT_VERSION: Final = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored here: not a checkpoint, another format version, another market, or
    inconsistent contents."""


class OrderSnapshot(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One resting order, every field of the venue's ``RestingOrder``."""

    uid: int
    side: Side
    price: int
    base: int
    filled: int
    post_only: PostOnlyMode
    reduce_only: bool
    max_ts: int
    placed_at: int
    order_type: OrderType
    oracle_offset: int
    queue_ahead: int
    queue_price: int
    queue_unprinted: int


class PerpMarketDynamics(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PerpMarketState`` without its static spec."""

    oracle_price: int
    cumulative_funding_rate_long: int
    cumulative_funding_rate_short: int
    status: PerpMarketStatus
    expiry_price: int
    amm_net_base_asset_amount: int
    amm_net_user_cost_basis: int
    last_oracle_price: int
    oracle_price_twap: int


class SpotMarketDynamics(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``SpotMarketState`` without its static spec."""

    oracle_price: int
    oracle_price_twap_5min: int
    cumulative_deposit_interest: int
    cumulative_borrow_interest: int
    deposit_balance: int


class VenueCheckpoint(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole state of one paper venue (see the module docstring for what is and is not in it)."""

    format: str
    version: int
    market_index: int
    symbol: str
    now: int
    last_price: int
    oracle: int
    best_bid: int | None
    best_ask: int | None
    bar_ts: int | None
    bar_budget: int | None
    book: StaticBook | None  # every level of the L2 book the venue last read; None = candle mode
    usdc: int
    sol: int
    position: PerpPosition
    orders: tuple[OrderSnapshot, ...]  # placement order
    ledger: Ledger
    perp_market: PerpMarketDynamics
    usdc_market: SpotMarketDynamics
    sol_market: SpotMarketDynamics
    liquidation_bounds: tuple[int | None, int | None] | None  # the cached bounds if current, else None
    interest_ts: int | None = None  # the interest clock's last update (None: the venue books no interest)


class _Header(msgspec.Struct):
    """Just enough to tell a checkpoint's format and version before decoding the rest."""

    format: str
    version: int


_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(VenueCheckpoint)
_HEADER_DECODER: Final = msgspec.json.Decoder(_Header)
_PERP_DYNAMIC_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(PerpMarketDynamics))
_SPOT_DYNAMIC_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(SpotMarketDynamics))


def capture(venue: PaperVenue) -> VenueCheckpoint:
    """The venue's state as a record (reads private attributes, see the module docstring). Does not change it."""
    tape = venue._tape
    account = venue._account
    perp = account.perp_state
    book = venue._fills.book
    return VenueCheckpoint(
        format=FORMAT,
        version=FORMAT_VERSION,
        market_index=venue.market.market_index,
        symbol=venue.market.symbol,
        now=tape.now,
        last_price=tape.last_price,
        oracle=tape.oracle,
        best_bid=tape.best_bid,
        best_ask=tape.best_ask,
        bar_ts=tape.bar_ts,
        bar_budget=tape.bar_budget,
        book=None if book is None else _static(book),
        usdc=account.usdc,
        sol=account.sol,
        position=account.position,
        orders=tuple(_order_snapshot(o) for o in account.orders.values()),
        ledger=msgspec.structs.replace(account.ledger),  # a copy: the venue mutates its ledger in place
        perp_market=PerpMarketDynamics(**{name: getattr(perp, name) for name in _PERP_DYNAMIC_FIELDS}),
        usdc_market=SpotMarketDynamics(**{n: getattr(account.usdc_market, n) for n in _SPOT_DYNAMIC_FIELDS}),
        sol_market=SpotMarketDynamics(**{n: getattr(account.sol_market, n) for n in _SPOT_DYNAMIC_FIELDS}),
        liquidation_bounds=account.known_liquidation_bounds(),
        interest_ts=None if venue._accrual is None else venue._accrual.last_ts,
    )


def checkpoint(venue: PaperVenue) -> bytes:
    """The venue's state as deterministic msgspec JSON (same state, same bytes). Does not change the venue."""
    return _ENCODER.encode(capture(venue))


def decode(data: bytes) -> VenueCheckpoint:
    """Parse a checkpoint, checking its format and version; :class:`CheckpointError` says what is wrong."""
    try:
        header = _HEADER_DECODER.decode(data)
    except msgspec.DecodeError as e:
        raise CheckpointError(f"not a paper venue checkpoint: {e}") from None
    if header.format != FORMAT:
        raise CheckpointError(f"not a paper venue checkpoint: format {header.format!r}, expected {FORMAT!r}")
    if header.version != FORMAT_VERSION:
        raise CheckpointError(
            f"paper venue checkpoint version {header.version} cannot be restored by this code (it reads version "
            f"{FORMAT_VERSION})"
        )
    try:
        return _DECODER.decode(data)
    except msgspec.DecodeError as e:
        raise CheckpointError(f"corrupt paper venue checkpoint (version {FORMAT_VERSION}): {e}") from None


def restore(data: bytes, market: PerpMarketSpec, config: PaperConfig, accrual: Accrual | None = None) -> PaperVenue:
    """Rebuild the venue ``checkpoint`` captured, on ``market`` with ``config``.

    The market must be the checkpoint's (same index and symbol); its parameters are taken from ``market``, so an
    updated catalogue applies from the restart on, as a Drift parameter change would. Raises
    :class:`CheckpointError` for another format version, another market, or contents no venue can hold.
    ``accrual`` is the restored venue's interest clock (as ``PaperVenue``'s); it goes on from the checkpoint's last
    interest update (the markets' cumulative interest is in the checkpoint)."""
    cp = decode(data)
    if (cp.market_index, cp.symbol) != (market.market_index, market.symbol):
        raise CheckpointError(
            f"checkpoint is for perp market {cp.market_index} {cp.symbol}, not {market.market_index} {market.symbol}"
        )
    _check(cp)
    # The constructor builds the static parts (catalogue spot specs, caches); every piece of state is then replaced.
    venue = PaperVenue(market, config, deposit_quote=1, oracle_price=cp.oracle, now=cp.now, accrual=accrual)
    if venue._accrual is not None and cp.interest_ts is not None:  # the given clock or the config's
        venue._accrual.last_ts = cp.interest_ts
    tape = venue._tape
    tape.now = cp.now
    tape.last_price = cp.last_price
    tape.oracle = cp.oracle
    tape.best_bid = cp.best_bid
    tape.best_ask = cp.best_ask
    tape.bar_ts = cp.bar_ts
    tape.bar_budget = cp.bar_budget
    account = venue._account
    account.usdc = cp.usdc
    account.sol = cp.sol
    account.position = cp.position
    account.orders = {o.uid: _order(o) for o in cp.orders}
    account.ledger = msgspec.structs.replace(cp.ledger)
    account.perp_state = msgspec.structs.replace(account.perp_state, **msgspec.structs.asdict(cp.perp_market))
    account.usdc_market = msgspec.structs.replace(account.usdc_market, **msgspec.structs.asdict(cp.usdc_market))
    account.sol_market = msgspec.structs.replace(account.sol_market, **msgspec.structs.asdict(cp.sol_market))
    # every cache is invalidated, then the liquidation bounds are put back as they were when they were current
    account.forget_caches(cp.liquidation_bounds)
    if cp.book is not None:  # the venue was in L2 mode: it goes on with the queue model on the same book
        venue._fills = QueueFillModel(account, market, config, cp.book)
    return venue


def _static(book: BookView) -> StaticBook:
    # the venue only reads a book through ``BookView``, so a static copy of every level reads the same: the book
    # as of the venue's last ``on_book``, which by that method's contract is what the venue's reference shows
    return StaticBook(bids=book.levels(Side.BUY), asks=book.levels(Side.SELL))


def _order_snapshot(o: RestingOrder) -> OrderSnapshot:
    return OrderSnapshot(
        uid=o.uid,
        side=o.side,
        price=o.price,
        base=o.base,
        filled=o.filled,
        post_only=o.post_only,
        reduce_only=o.reduce_only,
        max_ts=o.max_ts,
        placed_at=o.placed_at,
        order_type=o.order_type,
        oracle_offset=o.oracle_offset,
        queue_ahead=o.queue_ahead,
        queue_price=o.queue_price,
        queue_unprinted=o.queue_unprinted,
    )


def _order(s: OrderSnapshot) -> RestingOrder:
    # built field by field: RestingOrder's constructor takes an OrderIntent, whose checks (e.g. max_ts >= placed_at)
    # a modified order's stored fields need not pass
    o = RestingOrder.__new__(RestingOrder)
    o.uid = s.uid
    o.side = s.side
    o.price = s.price
    o.base = s.base
    o.filled = s.filled
    o.post_only = s.post_only
    o.reduce_only = s.reduce_only
    o.max_ts = s.max_ts
    o.placed_at = s.placed_at
    o.order_type = s.order_type
    o.oracle_offset = s.oracle_offset
    o.queue_ahead = s.queue_ahead
    o.queue_price = s.queue_price
    o.queue_unprinted = s.queue_unprinted
    return o


def _check(cp: VenueCheckpoint) -> None:
    """Refuse contents no venue could have reached (a damaged or hand-edited checkpoint)."""
    problems: list[str] = []
    if cp.oracle <= 0 or cp.last_price <= 0:
        problems.append(f"prices must be > 0 (oracle {cp.oracle}, last {cp.last_price})")
    if cp.position.market_index != cp.market_index:
        problems.append(f"position is in market {cp.position.market_index}")
    if cp.sol < 0:
        problems.append(f"SOL balance {cp.sol} < 0")
    seen: set[int] = set()
    for o in cp.orders:
        if o.uid in seen:
            problems.append(f"order {o.uid} twice")
        seen.add(o.uid)
        if not USER_ORDER_ID_MIN <= o.uid <= USER_ORDER_ID_MAX:
            problems.append(f"order id {o.uid} outside {USER_ORDER_ID_MIN}..{USER_ORDER_ID_MAX}")
        if not 0 <= o.filled < o.base:
            problems.append(f"order {o.uid}: filled {o.filled} not in [0, base {o.base})")
        if min(o.queue_ahead, o.queue_price, o.queue_unprinted) < 0:
            problems.append(f"order {o.uid}: negative queue state")
    if problems:
        raise CheckpointError("inconsistent paper venue checkpoint: " + "; ".join(problems))
