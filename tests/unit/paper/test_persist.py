"""Checkpoint and restore of the paper venue: a restored venue is indistinguishable from the original.

The property drives a venue through the random operation sequences of ``tests/property/test_paper.py`` (orders
of every kind, floods, leverage, cancels, modifies, price moves and gaps, funding, settlement, cash), checkpoints
it at a random point, restores, and applies the remaining operations to both: every event, report, ledger and
final checkpoint must be equal.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from botrunner.connector.commands import PlaceOrders, PlanReason
from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.catalogue import load_catalogue
from botrunner.core.policy import PostOnlyMode
from botrunner.core.precision import BPS_PRECISION
from botrunner.core.side import Side
from botrunner.margin.model import PerpMarketState, SpotMarketState
from botrunner.marketdata.l2 import Trade
from botrunner.paper.account import PaperAccount
from botrunner.paper.accrual import Accrual
from botrunner.paper.candle_fills import CandleFillModel
from botrunner.paper.config import PaperConfig
from botrunner.paper.orders import RestingOrder, resting_price
from botrunner.paper.persist import (
    FORMAT_VERSION,
    CheckpointError,
    PerpMarketDynamics,
    SpotMarketDynamics,
    capture,
    checkpoint,
    restore,
)
from botrunner.paper.queue import StaticBook
from botrunner.paper.queue_fills import QueueFillModel
from botrunner.paper.tape import Tape
from botrunner.paper.venue import PaperVenue
from botrunner.venue.port import Fill, VenueEvent
from tests.property.test_paper import (
    MIN_PRICE,
    SOL,
    STEP,
    T0,
    Funding,
    Move,
    Op,
    Start,
    _command,
    _dt,
    _tick,
    cancels,
    cash,
    fundings,
    gaps,
    levers,
    modifies,
    moves,
    operations,
    places,
    settles,
    starts,
)

USD = 1_000_000
CONFIG = PaperConfig()

# Every attribute of a PaperVenue and of each of its parts, split into what the checkpoint carries and what it
# rebuilds. A new attribute in the venue or a part must be added to one of them (and, if it is state, to the
# checkpoint), or the guard test below fails.
PERSISTED: dict[type, set[str]] = {
    PaperVenue: set(),  # the venue holds only the caller's market and config, and its parts
    Tape: {"now", "last_price", "oracle", "best_bid", "best_ask", "bar_ts", "bar_budget"},
    PaperAccount: {
        "usdc",
        "sol",
        "position",
        "orders",
        "ledger",
        "perp_state",
        "usdc_market",
        "sol_market",
        "_liq_bounds",
    },
    CandleFillModel: set(),
    QueueFillModel: {"book"},
    Accrual: {"last_ts"},
}
REBUILT: dict[type, set[str]] = {
    # the caller's, the parts, and whether the fill model sees every point (a function of the config)
    PaperVenue: {"market", "config", "_tape", "_account", "_fills", "_accrual", "_every_point"},
    Tape: {"bar_volume", "bar_close"},  # set by every path point before the candle queue model reads them
    PaperAccount: {
        "market",  # the caller's
        "fees",  # the caller's config
        "tape",  # the venue's
        "sol_follows_perp",  # a function of the market
        "version",
        "view_version",  # a counter like version (a restarted bot has no decision validity to key on it)
        "_cache_version",
        "_cached_account",
        "_cached_markets",
        "_liq_version",
        # the oracle prices from which a search finds the carried bounds: from the bounds and the restored oracle
        "_liq_lowest",
        "_liq_highest",
        "_liq_free",  # what the bounds were searched on: a function of the state, rebuilt when a search needs it
        "_liq_pricer",  # whose function _liq_free is
        "_liq_key",  # the margin key the bounds are of: rebuilt from the state (None after a restore)
        "_key",  # the margin key of this version and its version: a function of the state
        "_key_version",
        # the liquidation watch: functions of the state, derived again after a restore (the watch is exact from
        # any of its states: PaperAccount.liquidation_watch)
        "_watch_version",
        "_watch_key",
        "_watch_free",
        "_watch_parts",
        "_watch_evaluated",
        "_safe_low",
        "_safe_high",
        "_scenario",  # the margin engine's scenario of the balances, rebuilt from them
        "_scenario_key",
    },
    CandleFillModel: {"_account", "_spec", "_config", "_through"},  # the venue's parts and the caller's
    QueueFillModel: {"_account", "_spec", "_share_bps"},  # the venue's parts and the caller's
    Accrual: {"_usdc_rates", "_sol_rates", "_accumulate", "every_s"},  # the caller's (restore takes its accrual)
}
ORDER_FIELDS = {
    "uid",
    "side",
    "price",
    "base",
    "filled",
    "post_only",
    "reduce_only",
    "max_ts",
    "placed_at",
    "order_type",
    "oracle_offset",
    "queue_ahead",
    "queue_price",
    "queue_unprinted",
}


# ---------------------------------------------------------------------------------------------- L2 operations


class Book(NamedTuple):
    """An L2 book: the touch one tick either side of the last price plus a level at each resting order's price
    (so queues form), depths in steps taken in turn from ``depths``."""

    dt: int
    depths: tuple[int, ...]


class Print(NamedTuple):
    """A trade print at a resting order's price (``through``: one tick beyond it), or at the last price."""

    dt: int
    target: int  # index into the resting orders
    through: bool
    aggressor: Side
    qty_steps: int


books = st.builds(Book, dt=st.integers(0, 30), depths=st.lists(st.integers(0, 500), min_size=1, max_size=8).map(tuple))
prints = st.builds(
    Print,
    dt=st.integers(0, 30),
    target=st.integers(0, 40),
    through=st.booleans(),
    aggressor=st.sampled_from(Side),
    qty_steps=st.integers(0, 800),
)
l2_operations = st.tuples(  # a book first: the venue is in L2 mode from the start
    books,
    st.lists(
        st.one_of(
            places, places, levers, cancels, modifies, moves, gaps, fundings, settles, cash, books, prints, prints
        ),
        min_size=8,
        max_size=50,
    ),
).map(lambda t: [t[0], *t[1]])
AnyOp = Op | Book | Print


def _book(v: PaperVenue, op: Book) -> StaticBook:
    tick = SOL.tick_size
    levels: dict[tuple[Side, int], int] = {}
    prices = [(Side.BUY, v.last_price - tick), (Side.SELL, v.last_price + tick)]
    prices += [(o.side, resting_price(o, v.oracle, tick)) for o in v.orders.values()]
    for i, key in enumerate(prices):
        levels.setdefault(key, op.depths[i % len(op.depths)] * STEP)
    bids = sorted(((p, q) for (side, p), q in levels.items() if side is Side.BUY), reverse=True)
    asks = sorted((p, q) for (side, p), q in levels.items() if side is Side.SELL)
    return StaticBook(bids=tuple(bids), asks=tuple(asks))


def _print(v: PaperVenue, op: Print) -> Trade:
    resting = list(v.orders.values())
    if resting:
        order = resting[op.target % len(resting)]
        price = resting_price(order, v.oracle, SOL.tick_size) - (order.side.sign * SOL.tick_size if op.through else 0)
        aggressor = order.side.opposite
    else:
        price, aggressor = v.last_price, op.aggressor
    return Trade(ts_ns=0, price=max(SOL.tick_size, price), qty=op.qty_steps * STEP, aggressor=aggressor)


def apply(v: PaperVenue, op: AnyOp) -> tuple[VenueEvent, ...]:
    """One operation, exactly as ``tests.property.test_paper.run`` applies it (plus the L2 ones)."""
    match op:
        case Book(dt=dt):
            return tuple(v.on_book(v.now + dt, _book(v, op)))
        case Print(dt=dt):
            return tuple(v.on_trade(v.now + dt, _print(v, op)))
        case _:
            pass
    now = v.now + _dt(op)
    match op:
        case Move(move_bps=move, oracle_bps=dev, volume_steps=volume):
            price = max(MIN_PRICE, _tick(v.last_price * (BPS_PRECISION + move) // BPS_PRECISION))
            oracle = _tick(price * (BPS_PRECISION + dev) // BPS_PRECISION)
            bar = None if volume is None else now // 60 * 60
            return tuple(
                v.on_price(now, price, oracle, bar_ts=bar, bar_volume=None if volume is None else volume * STEP)
            )
        case Funding(rate_long=rate_long, rate_short=rate_short):
            return tuple(v.apply_funding(now, rate_long, rate_short))
        case _:
            command = _command(v, op, now)
            return () if command is None else v.submit(command, now)


def fresh(start: Start) -> PaperVenue:
    return PaperVenue(SOL, CONFIG, deposit_quote=start.deposit, oracle_price=start.price, now=T0)


def observable(v: PaperVenue) -> tuple[object, ...]:
    """Everything a caller of the venue can see."""
    return (
        v.report(),
        v.open_orders(),
        msgspec.structs.asdict(v.ledger),
        v.position,
        v.usdc,
        v.sol,
        v.now,
        v.last_price,
        v.oracle,
        v.best_bid,
        v.best_ask,
        v.markets(),
        v.liquidation_bounds(),
        v.is_liquidatable(),
        v.equity(),
        v.unrealized(),
    )


# ---------------------------------------------------------------------------------------------- the property


@settings(max_examples=150, deadline=None)
@given(starts, st.one_of(operations, l2_operations), st.data())
def test_a_restored_venue_behaves_exactly_as_the_original_from_the_checkpoint_on(
    start: Start, ops: list[AnyOp], data: st.DataObject
) -> None:
    # prefer a checkpoint while orders rest (most sequences are flat at most points)
    probe = fresh(start)
    resting: list[int] = []
    for i, op in enumerate(ops, start=1):
        apply(probe, op)
        if probe.orders:
            resting.append(i)
    if resting and data.draw(st.integers(0, 3), label="prefer resting") > 0:
        cut = data.draw(st.sampled_from(resting), label="checkpoint after op")
    else:
        cut = data.draw(st.integers(0, len(ops)), label="checkpoint after op")
    original = fresh(start)
    for op in ops[:cut]:
        apply(original, op)
    # the market data an L2 feed would set is part of the state too
    if data.draw(st.booleans(), label="book"):
        original.best_bid = original.last_price - SOL.tick_size
        original.best_ask = original.last_price + SOL.tick_size
    for o in original.orders.values():
        o.queue_ahead = data.draw(st.integers(0, 10**12), label=f"queue_ahead {o.uid}")
    blob = checkpoint(original)
    assert checkpoint(original) == blob, "checkpointing changed the venue or is not deterministic"
    restored = restore(blob, SOL, CONFIG)
    assert checkpoint(restored) == blob
    assert observable(restored) == observable(original)
    event(f"open orders at the checkpoint: {min(len(original.orders), 5)}")
    event(f"liquidation cache current: {capture(original).liquidation_bounds is not None}")
    event(f"L2 book at the checkpoint: {original._fills.book is not None}")
    for i, op in enumerate(ops[cut:], start=cut):
        expected = apply(original, op)
        got = apply(restored, op)
        assert got == expected, f"op {i} {op}"
    assert observable(restored) == observable(original)
    assert checkpoint(restored) == checkpoint(original)


# ---------------------------------------------------------------------------------------------- examples


def _busy_venue() -> PaperVenue:
    """A venue with a position, a partly filled order, a book, funding and a bar window in progress."""
    v = PaperVenue(SOL, CONFIG, deposit_quote=5_000 * USD, oracle_price=150 * USD, now=T0)

    def intent(uid: int, side: Side, price: int, base: int) -> OrderIntent:
        return OrderIntent(
            user_order_id=uid,
            side=side,
            price=price,
            base=base,
            post_only=PostOnlyMode.MUST_POST_ONLY,
            reduce_only=False,
            max_ts=T0 + 3_600,
            placed_at=T0,
            anchor_price=150 * USD,
        )

    v.submit(
        PlaceOrders(
            orders=(intent(1, Side.BUY, 149 * USD, 2 * 10**9), intent(2, Side.SELL, 152 * USD, 10**9)),
            reason=PlanReason.LADDER_EMPTY,
        ),
        T0,
    )
    # a bar whose volume allows only part of the bid: the order is left partly filled, the bar budget spent
    v.on_price(T0 + 60, 148 * USD, 148 * USD, bar_ts=T0, bar_volume=10 * 10**9)
    v.apply_funding(T0 + 120, 500_000, -400_000)
    v.orders[2].queue_ahead = 7 * 10**9
    v.best_bid, v.best_ask = 148 * USD - SOL.tick_size, 148 * USD + SOL.tick_size
    return v


def test_the_busy_venue_example_has_the_state_the_tests_rely_on() -> None:
    v = _busy_venue()
    assert v.position.base_asset_amount > 0
    assert 0 < v.orders[1].filled < v.orders[1].base
    assert v._tape.bar_budget == 0
    assert v._account.perp_state.cumulative_funding_rate_long == 500_000


def test_a_restored_venue_continues_the_bar_budget_and_the_partial_fill() -> None:
    v = _busy_venue()
    r = restore(checkpoint(v), SOL, CONFIG)
    # the same bar: its volume budget is spent, so the bid traded through does not fill any further
    same_bar = (T0 + 150, 147 * USD, 147 * USD)
    assert r.on_price(*same_bar, bar_ts=T0, bar_volume=10 * 10**9) == v.on_price(
        *same_bar, bar_ts=T0, bar_volume=10 * 10**9
    )
    assert r.orders[1].filled == v.orders[1].filled < v.orders[1].base
    # the next bar fills the rest: the fill completes the order at its original size
    events = r.on_price(T0 + 180, 147 * USD, 147 * USD, bar_ts=T0 + 180, bar_volume=100 * 10**9)
    assert events == v.on_price(T0 + 180, 147 * USD, 147 * USD, bar_ts=T0 + 180, bar_volume=100 * 10**9)
    fills = [e for e in events if isinstance(e, Fill) and e.user_order_id == 1]
    assert fills and fills[-1].complete and fills[-1].order_filled_base == 2 * 10**9


def test_every_field_survives_the_round_trip() -> None:
    v = _busy_venue()
    r = restore(checkpoint(v), SOL, CONFIG)
    assert r.position == v.position
    assert [(o.uid, *(getattr(o, f) for f in sorted(ORDER_FIELDS))) for o in r.orders.values()] == [
        (o.uid, *(getattr(o, f) for f in sorted(ORDER_FIELDS))) for o in v.orders.values()
    ]
    assert r.ledger == v.ledger and r.ledger is not v.ledger
    assert (r._tape.bar_ts, r._tape.bar_budget) == (v._tape.bar_ts, v._tape.bar_budget)
    assert r._account.perp_state == v._account.perp_state
    assert r._account.sol_market == v._account.sol_market and r._account.usdc_market == v._account.usdc_market
    assert observable(r) == observable(v)


def test_the_restored_venue_does_not_share_mutable_state_with_the_checkpointed_one() -> None:
    v = _busy_venue()
    blob = checkpoint(v)
    r = restore(blob, SOL, CONFIG)
    r.orders[2].queue_ahead = 0
    r.ledger.fees += 1
    assert checkpoint(v) == blob


def test_a_checkpoint_of_another_version_is_refused_with_its_version() -> None:
    doc = msgspec.json.decode(checkpoint(_busy_venue()))
    doc["version"] = FORMAT_VERSION + 1
    with pytest.raises(CheckpointError, match=f"version {FORMAT_VERSION + 1}"):
        restore(msgspec.json.encode(doc), SOL, CONFIG)


def test_a_checkpoint_of_another_market_is_refused_naming_both() -> None:
    btc = load_catalogue().perp("BTC-PERP")
    with pytest.raises(CheckpointError, match=r"SOL-PERP.*BTC-PERP"):
        restore(checkpoint(_busy_venue()), btc, CONFIG)


@pytest.mark.parametrize("data", [b"", b"not json", b"{}", b'{"format": "other", "version": 1}', b"[1, 2]"])
def test_bytes_that_are_not_a_checkpoint_are_refused(data: bytes) -> None:
    with pytest.raises(CheckpointError, match="not a paper venue checkpoint"):
        restore(data, SOL, CONFIG)


def test_a_truncated_or_mistyped_checkpoint_is_refused_as_corrupt() -> None:
    blob = checkpoint(_busy_venue())
    doc = msgspec.json.decode(blob)
    doc["usdc"] = "lots"
    with pytest.raises(CheckpointError, match="corrupt"):
        restore(msgspec.json.encode(doc), SOL, CONFIG)
    with pytest.raises(CheckpointError):
        restore(blob[: len(blob) // 2], SOL, CONFIG)


def test_inconsistent_contents_are_refused() -> None:
    doc = msgspec.json.decode(checkpoint(_busy_venue()))
    doc["orders"].append(dict(doc["orders"][0]))  # the same order id twice
    doc["orders"][0]["filled"] = doc["orders"][0]["base"]  # a complete order still resting
    with pytest.raises(CheckpointError, match=r"twice.*|filled"):
        restore(msgspec.json.encode(doc), SOL, CONFIG)


def test_a_stale_liquidation_cache_is_not_carried_over_and_a_current_one_is() -> None:
    v = _busy_venue()
    v.liquidation_bounds()
    assert capture(v).liquidation_bounds == v.liquidation_bounds()
    v._account.changed()
    assert capture(v).liquidation_bounds is None


def test_the_checkpoint_covers_every_attribute_of_the_venue_and_its_orders() -> None:
    """Guard: the venue, one of its parts or ``RestingOrder`` gaining state this module does not know about must
    fail here."""
    v = _busy_venue()
    assert set(vars(v)) == PERSISTED[PaperVenue] | REBUILT[PaperVenue], (
        "PaperVenue attributes changed: update botrunner/paper/persist.py"
    )
    v.on_book(v.now, StaticBook())
    accrual = Accrual(
        usdc_rates=lambda m, t: (0, 0),
        sol_rates=lambda m, t: (0, 0),
        accumulate=lambda m, d, b, t: m,
        every_s=1,
        last_ts=0,
    )
    parts = (v._tape, v._account, CandleFillModel(v._account, SOL, CONFIG), v._fills, accrual)
    assert {type(part) for part in parts} == set(PERSISTED) - {PaperVenue}
    for part in parts:
        kind = type(part)
        assert set(kind.__slots__) == PERSISTED[kind] | REBUILT[kind], (
            f"{kind.__name__} attributes changed: update botrunner/paper/persist.py"
        )
    assert set(RestingOrder.__slots__) == ORDER_FIELDS, "RestingOrder fields changed: update botrunner/paper/persist.py"
    perp_dynamic = {f.name for f in msgspec.structs.fields(PerpMarketState)} - {"spec"}
    spot_dynamic = {f.name for f in msgspec.structs.fields(SpotMarketState)} - {"spec"}
    assert {f.name for f in msgspec.structs.fields(PerpMarketDynamics)} == perp_dynamic
    assert {f.name for f in msgspec.structs.fields(SpotMarketDynamics)} == spot_dynamic


def test_an_oracle_offset_order_round_trips() -> None:
    v = PaperVenue(SOL, CONFIG, deposit_quote=5_000 * USD, oracle_price=150 * USD, now=T0)
    v.submit(
        PlaceOrders(
            orders=(
                OrderIntent(
                    user_order_id=9,
                    side=Side.BUY,
                    price=0,
                    base=10**9,
                    post_only=PostOnlyMode.NONE,
                    reduce_only=False,
                    max_ts=0,
                    placed_at=T0,
                    anchor_price=150 * USD,
                    order_type=OrderType.ORACLE_OFFSET,
                    oracle_price_offset=-2 * USD,
                ),
            ),
            reason=PlanReason.LADDER_EMPTY,
        ),
        T0,
    )
    r = restore(checkpoint(v), SOL, CONFIG)
    assert r.open_orders() == v.open_orders()
    assert r.on_price(T0 + 10, 147 * USD, 149 * USD) == v.on_price(T0 + 10, 147 * USD, 149 * USD)
