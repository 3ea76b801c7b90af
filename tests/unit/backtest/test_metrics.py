"""botrunner.backtest.metrics: every figure of the report on hand-computed cases, and the invariants that make the
report's numbers add up (the PnL lines sum to the total, periods sum to the run, trips and cycles conserve money)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner.backtest import metrics
from botrunner.backtest.metrics import FeeSplit, FundingSplit, LedgerPoint
from botrunner.core.records import FillRow, FundingRow

DAY = 86_400
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
USD = 1_000_000  # quote 1e6
SOL = 1_000_000_000  # base 1e9
CLOSE = Decimal("1e-20")  # hand figures (28-digit references) agree far below any printed place


def fill(
    side: str, base_sol: Decimal | int, price_usd: Decimal | int, fee_usd: Decimal | int = 0, order_id: int = 1
) -> FillRow:
    base = int(Decimal(base_sol) * SOL)
    quote = int(Decimal(base_sol) * Decimal(price_usd) * USD)
    return FillRow(
        ts=0,
        order_id=order_id,
        side=side,
        price=int(Decimal(price_usd) * USD),
        base=base,
        quote=-quote if side == "buy" else quote,
        fee=int(Decimal(fee_usd) * USD),
        liquidity="maker",
        reduce_only=False,
    )


def timed(rows: list[FillRow]) -> list[FillRow]:
    """The rows one second apart, in the given order."""
    return [msgspec.structs.replace(r, ts=T0 + i) for i, r in enumerate(rows)]


# --- periods ------------------------------------------------------------------------------------------------------


def test_a_point_at_midnight_closes_the_day_that_ended_and_periods_sum_to_the_run() -> None:
    curve = [
        LedgerPoint(T0, 10_000 * USD),
        LedgerPoint(T0 + DAY // 2, 10_100 * USD, realized=50 * USD, fees=1 * USD),
        LedgerPoint(T0 + DAY, 10_200 * USD, realized=120 * USD, funding=5 * USD, fees=2 * USD),  # closes day 1
        LedgerPoint(T0 + DAY + 6 * 3600, 10_150 * USD, realized=120 * USD, funding=5 * USD, fees=2 * USD),
        LedgerPoint(T0 + 2 * DAY, 10_300 * USD, realized=200 * USD, funding=6 * USD, fees=3 * USD),
    ]
    days = metrics.daily_pnl(curve)
    assert [(d.start, d.open_equity, d.close_equity, d.pnl) for d in days] == [
        (T0, 10_000 * USD, 10_200 * USD, 200 * USD),
        (T0 + DAY, 10_200 * USD, 10_300 * USD, 100 * USD),
    ]
    # day 1: +200 = realized 120 + funding 5 − fees 2 + unrealized 77
    assert (days[0].realized, days[0].funding, days[0].fees, days[0].unrealized) == (
        120 * USD,
        5 * USD,
        2 * USD,
        77 * USD,
    )
    assert days[0].return_ == Decimal("0.02")
    assert abs((days[1].return_ or 0) - Decimal(100) / Decimal(10_200)) < CLOSE
    (month,) = metrics.monthly_pnl(curve)
    assert (month.start, month.pnl) == (T0, 300 * USD)


def test_months_are_utc_calendar_months() -> None:
    jan31 = T0 + 30 * DAY
    curve = [
        LedgerPoint(jan31, 100 * USD),
        LedgerPoint(jan31 + DAY, 110 * USD),  # midnight Feb 1: closes January
        LedgerPoint(jan31 + DAY + 1, 90 * USD),
    ]
    assert [(m.start, m.pnl) for m in metrics.monthly_pnl(curve)] == [
        (T0, 10 * USD),
        (1_706_745_600, -20 * USD),  # 2024-02-01T00:00:00Z
    ]


# --- ratios -------------------------------------------------------------------------------------------------------


def test_sharpe_of_two_days_by_hand() -> None:
    # returns 2 % and 0 %: mean 1 %, sample stdev √2 %, so Sharpe = (1/√2) × √365 = √182.5
    returns = [Decimal("0.02"), Decimal(0)]
    sharpe = metrics.sharpe(returns)
    assert sharpe is not None
    assert abs(sharpe - Decimal("182.5").sqrt()) < CLOSE
    assert metrics.sharpe([Decimal("0.01")]) is None  # one day: no deviation
    assert metrics.sharpe([Decimal("0.01")] * 5) is None  # no variation: undefined, not infinite


def test_sortino_of_two_days_by_hand() -> None:
    # returns 2 % and −1 %: mean 0.5 %, downside deviation √(0.01² / 2), so Sortino = (1/√2) × √365 again
    sortino = metrics.sortino([Decimal("0.02"), Decimal("-0.01")])
    assert sortino is not None
    assert abs(sortino - Decimal("182.5").sqrt()) < CLOSE
    assert metrics.sortino([Decimal("0.02"), Decimal("0.01")]) is None  # no losing day


def test_cagr_and_calmar_by_hand() -> None:
    # 100 → 121 in two years of 365 days: √1.21 − 1 = 10 % a year
    growth = metrics.cagr(100 * USD, 121 * USD, 2 * 365 * DAY)
    assert growth is not None
    assert abs(growth - Decimal("0.1")) < CLOSE
    assert metrics.calmar(growth, Decimal("0.2")) == pytest.approx(Decimal("0.5"), abs=CLOSE)
    assert metrics.cagr(100 * USD, 0, 365 * DAY) == -1  # nothing left
    assert metrics.cagr(100 * USD, 110 * USD, 0) is None
    assert metrics.cagr(100 * USD, 200 * USD, 3600) is None  # an hour doubled: too short to annualise
    assert metrics.calmar(growth, Decimal(0)) is None


def test_max_drawdown_and_its_duration_by_hand() -> None:
    equities = [100, 120, 90, 110, 125, 100]
    curve = [LedgerPoint(T0 + i * 3600, e * USD) for i, e in enumerate(equities)]
    dd = metrics.max_drawdown(curve)
    # 120 → 90 is 25 %, deeper than 125 → 100 (20 %); back at 120 when equity reaches 125, three hours after the peak
    assert (dd.fraction, dd.peak_ts, dd.trough_ts, dd.recovered_ts, dd.duration_s) == (
        Decimal("0.25"),
        T0 + 3600,
        T0 + 7200,
        T0 + 4 * 3600,
        3 * 3600,
    )
    assert metrics.drawdown_ppm(curve) == [0, 0, -250_000, -83_333, 0, -200_000]
    unrecovered = metrics.max_drawdown(curve[:4])
    assert (unrecovered.recovered_ts, unrecovered.duration_s) == (None, 2 * 3600)  # until the run's end
    flat = metrics.max_drawdown([LedgerPoint(T0, USD), LedgerPoint(T0 + 1, 2 * USD)])
    assert (flat.fraction, flat.duration_s) == (0, 0)


# --- round trips and grid cycles --------------------------------------------------------------------------------


def test_round_trips_run_flat_to_flat_and_a_flip_is_split_pro_rata() -> None:
    fills = timed(
        [
            fill("buy", 1, 100, fee_usd=1),
            fill("buy", 1, 90, fee_usd=1),
            fill("sell", 2, 110, fee_usd=2),  # flat: long trip +220 − 190 = +30 gross, 4 fees
            fill("sell", 1, 100, fee_usd=Decimal("0.5")),  # opens a short
            fill("buy", 3, 95, fee_usd=3),  # closes it with 1 of 3 (−95, fee 1) and opens a long of 2
        ]
    )
    long, short, open_long = metrics.round_trips(fills)
    assert (long.side, long.gross, long.fees, long.net, long.peak_base, long.fills) == (
        "long",
        30 * USD,
        4 * USD,
        26 * USD,
        2 * SOL,
        3,
    )
    assert (long.entry_price, long.exit_price) == (95 * USD, 110 * USD)
    assert (short.side, short.gross, short.fees, short.closed_ts) == ("short", 5 * USD, 1_500_000, T0 + 4)
    assert (open_long.side, open_long.closed_ts, open_long.gross, open_long.fees, open_long.entry_base) == (
        "long",
        None,
        -190 * USD,
        2 * USD,
        2 * SOL,
    )
    stats = metrics.trip_stats([long, short, open_long])
    assert (stats.closed, stats.winners, stats.win_rate, stats.profit_factor) == (2, 2, 1, None)  # the open one waits


def test_win_rate_and_profit_factor_by_hand() -> None:
    fills = timed(
        [
            fill("buy", 1, 100),
            fill("sell", 1, 130),  # +30
            fill("sell", 1, 100),
            fill("buy", 1, 110),  # −10
            fill("buy", 1, 100),
            fill("sell", 1, 105),  # +5
        ]
    )
    stats = metrics.trip_stats(metrics.round_trips(fills))
    assert (stats.closed, stats.winners, stats.gross_profit, stats.gross_loss) == (3, 2, 35 * USD, -10 * USD)
    assert stats.profit_factor == Decimal("3.5")
    assert abs((stats.win_rate or 0) - Decimal(2) / Decimal(3)) < CLOSE


def test_grid_cycles_pair_a_sell_with_the_last_buy() -> None:
    fills = timed(
        [
            fill("buy", 1, 100, order_id=1),
            fill("buy", 1, 99, order_id=2),
            fill("buy", 1, 98, order_id=3),
            fill("sell", Decimal("0.5"), 99, order_id=4),  # two partial fills of one order: one cycle, closes the 98
            fill("sell", Decimal("0.5"), 99, order_id=4),
            fill("sell", 1, 100, order_id=5),  # closes the 99
        ]
    )
    cycles = metrics.grid_cycles(fills)
    # LIFO: (99 − 98) + (100 − 99) = 2 USD over two cycles; the 100 buy stays open (FIFO would have booked 0)
    assert (cycles.cycles, cycles.profit, cycles.profit_per_cycle()) == (2, 2 * USD, 1 * USD)
    assert (cycles.open_base, cycles.open_quote, cycles.matched_base) == (SOL, -100 * USD, 2 * SOL)


def test_grid_cycle_fees_are_shared_pro_rata_and_liquidations_are_no_cycle() -> None:
    fills = timed(
        [
            fill("buy", 2, 100, fee_usd=2, order_id=1),
            fill("sell", 1, 101, fee_usd=1, order_id=2),  # closes half the lot: +1 − (1 + 1) fees = −1
            fill("sell", 1, 90, fee_usd=Decimal("0.5"), order_id=0),  # the venue liquidates the rest
        ]
    )
    cycles = metrics.grid_cycles(fills)
    assert (cycles.cycles, cycles.profit, cycles.liquidation_profit) == (1, -1 * USD, -11_500_000)
    assert metrics.simple_annualised(cycles.profit, 100 * USD, 365 * DAY // 2) == Decimal("-0.02")


# --- fees, funding, buy and hold ----------------------------------------------------------------------------------


def test_fees_and_funding_split_into_cost_and_income() -> None:
    fills = [fill("buy", 1, 100, fee_usd=Decimal("0.04")), fill("sell", 1, 100, fee_usd=Decimal("-0.0025"))]
    assert metrics.fee_split(fills) == FeeSplit(paid=40_000, rebates=2_500)
    rows = [FundingRow(0, SOL, 0, 3 * USD), FundingRow(1, -SOL, 0, -1 * USD), FundingRow(2, 0, 0, 0)]
    assert metrics.funding_split(rows) == FundingSplit(received=3 * USD, paid=1 * USD)


def test_buy_and_hold_of_the_same_capital() -> None:
    hold = metrics.buy_and_hold(10_000 * USD, 100 * USD, 150 * USD)
    assert (hold.pnl, hold.return_) == (5_000 * USD, Decimal("0.5"))
    with pytest.raises(ValueError, match="first price"):
        metrics.buy_and_hold(10_000 * USD, 0, 1)


# --- invariants ---------------------------------------------------------------------------------------------------

quote_amounts = st.integers(min_value=-(10**12), max_value=10**12)


@settings(max_examples=200, deadline=None)
@given(quote_amounts, quote_amounts, st.tuples(quote_amounts, quote_amounts), st.tuples(quote_amounts, quote_amounts))
def test_pnl_lines_add_up_to_realized_plus_unrealized_plus_funding_minus_fees(
    realized: int, unrealized: int, fee_parts: tuple[int, int], funding_parts: tuple[int, int]
) -> None:
    fees = FeeSplit(abs(fee_parts[0]), abs(fee_parts[1]))
    funding = FundingSplit(abs(funding_parts[0]), abs(funding_parts[1]))
    lines = dict(metrics.pnl_effects(realized, unrealized, fees, funding))
    assert sum(lines.values()) == realized + unrealized + funding.net - fees.net
    # every line is a cost (≤ 0) or an income (≥ 0) by its name: no figure needs a double negative to read
    assert lines["fees paid"] <= 0 <= lines["rebates earned"]
    assert lines["funding paid"] <= 0 <= lines["funding received"]


fill_rows = st.lists(
    st.builds(
        lambda side, base, price, fee, order_id: FillRow(
            ts=0,
            order_id=order_id,
            side=side,
            price=price,
            base=base,
            quote=(-1 if side == "buy" else 1) * base * price // SOL,
            fee=fee,
            liquidity="maker",
            reduce_only=False,
        ),
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=1, max_value=5).map(lambda k: k * SOL // 10),
        st.integers(min_value=50 * USD, max_value=150 * USD),
        st.integers(min_value=-10_000, max_value=10_000),
        st.integers(min_value=0, max_value=12),
    ),
    max_size=60,
).map(timed)


@settings(max_examples=200, deadline=None)
@given(fill_rows)
def test_fee_split_is_the_net_fee_apart(fills: list[FillRow]) -> None:
    split = metrics.fee_split(fills)
    assert split.paid >= 0 and split.rebates >= 0
    assert split.net == sum(f.fee for f in fills)


@settings(max_examples=200, deadline=None)
@given(fill_rows)
def test_round_trips_conserve_every_fill_and_close_flat(fills: list[FillRow]) -> None:
    trips = metrics.round_trips(fills)
    assert sum(t.gross for t in trips) == sum(f.quote for f in fills)
    assert sum(t.fees for t in trips) == sum(f.fee for f in fills)
    for t in trips[:-1]:
        assert t.closed_ts is not None and t.entry_base == t.exit_base  # flat to flat
    position = sum(f.base if f.side == "buy" else -f.base for f in fills)
    if trips:
        last = trips[-1]
        assert (last.closed_ts is None) == (position != 0)
        assert last.entry_base - last.exit_base == abs(position)


@settings(max_examples=200, deadline=None)
@given(fill_rows)
def test_grid_cycles_conserve_money_to_the_unit(fills: list[FillRow]) -> None:
    cycles = metrics.grid_cycles(fills)
    total = cycles.profit + cycles.liquidation_profit + cycles.open_quote - cycles.open_fees
    assert total == sum(f.quote - f.fee for f in fills)
    assert cycles.open_base == abs(sum(f.base if f.side == "buy" else -f.base for f in fills))
    assert cycles.cycles <= len({f.order_id for f in fills if f.order_id})  # one cycle per closing order at most


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=3 * DAY), st.integers(min_value=1, max_value=10**10)),
        min_size=1,
        max_size=60,
    ),
    st.integers(min_value=1, max_value=10**10),
)
def test_days_and_months_sum_to_the_run_and_drawdown_is_a_fraction(steps: list[tuple[int, int]], start: int) -> None:
    curve = [LedgerPoint(T0 + 5, start)]
    for gap, equity in steps:
        curve.append(LedgerPoint(curve[-1].ts + gap, equity, realized=equity // 3, fees=gap))
    for periods in (metrics.daily_pnl(curve), metrics.monthly_pnl(curve)):
        assert sum(p.pnl for p in periods) == curve[-1].equity - start
        assert sum(p.realized for p in periods) == curve[-1].realized
        assert [p.start for p in periods] == sorted({p.start for p in periods})
    dd = metrics.max_drawdown(curve)
    assert 0 <= dd.fraction < 1
    assert 0 <= dd.duration_s <= curve[-1].ts - curve[0].ts
    deepest = min(metrics.drawdown_ppm(curve))
    assert -deepest == int(dd.fraction * metrics.PPM)  # the chart's line reaches the table's figure


def test_rounding_holds_every_digit_of_a_huge_ratio() -> None:
    huge = Decimal(2**200)  # 61 digits: more than the default 28-digit context can quantize
    assert str(metrics.rounded(huge, 4)) == f"{2**200}.0000"
    assert str(metrics.rounded(Decimal("0.00005"), 4)) == "0.0000"  # half to even
    assert str(metrics.rounded(Decimal("0.00015"), 4)) == "0.0002"
