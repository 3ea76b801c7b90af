"""Performance figures of one backtest, computed from its rows: pure, no I/O, no clock.

Money stays an integer in Drift's quote precision (1e6 USD) and sums exactly; only ratios (returns, Sharpe, win
rate...) are ``Decimal``, computed in a 40-digit context and rounded by the caller that prints them. Every function
states its formula; the figures a report shows are these and nothing else.

Conventions shared by every function:

* **Equity curve**: the run's start (starting equity, an empty ledger), every bar-close snapshot, then the run's
  end (ending equity and the final ledger). Snapshots carry the cumulative realized PnL, funding and fees, so a
  period's change splits the same way the whole run's PnL does.
* **Periods** are UTC calendar days and months. A point at time ``ts`` closes the period holding ``ts - 1``: the
  equity at midnight is the close of the day that just ended, so a run ending at 00:00 has no empty last day.
* **Sign of fees**: ``fees`` is what was paid, as in ``summary.json`` and ``fills.csv`` (a maker rebate is a
  negative fee). For people it is shown split (``fee_split``) as a cost (fees paid) and an income (rebates
  earned), both non-negative, so ``total = realized + unrealized + funding − fees`` never needs a double negative.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Final

from botrunner.core.fixed import tdiv
from botrunner.core.records import FillRow, FundingRow, SnapshotRow

SECONDS_PER_DAY: Final = 86_400
DAYS_PER_YEAR: Final = 365  # crypto trades every day: annualise by 365 days, not 252 sessions
PPM: Final = 1_000_000
MIN_CAGR_DAYS: Final = 7  # shorter runs get no CAGR (nor Calmar): see ``cagr``
_CONTEXT: Final = Context(prec=40)  # ratios of 1e6-scaled integers over years of days need far fewer digits


def rounded(value: Decimal, places: int) -> Decimal:
    """``value`` to ``places`` decimal places, half to even, however large: the context grows to hold every digit
    (a quantize in the default 28-digit context fails on, say, the CAGR of a one-hour run that doubled)."""
    with localcontext(Context(prec=max(28, value.adjusted() + places + 2))):
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


# --- the equity curve and its periods ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerPoint:
    """The account at one instant: equity and the cumulative PnL parts so far (quote 1e6; ``fees`` + paid)."""

    ts: int
    equity: int
    realized: int = 0
    funding: int = 0
    fees: int = 0


def equity_curve(start: LedgerPoint, snapshots: Iterable[SnapshotRow], end: LedgerPoint) -> list[LedgerPoint]:
    """``start``, every snapshot in time order, then ``end``: the points every figure below is computed from."""
    return [start, *snapshot_curve(snapshots), end]


def snapshot_curve(snapshots: Iterable[SnapshotRow]) -> list[LedgerPoint]:
    """The snapshots alone as a curve (when the run's start and end are not known): the first opens it."""
    return [LedgerPoint(s.ts, s.equity, s.realized, s.funding, s.fees) for s in sorted(snapshots, key=lambda s: s.ts)]


@dataclass(frozen=True, slots=True)
class PeriodPnl:
    """One day or month: equity at its open and close and the change of each PnL part over it (quote 1e6).

    ``open_equity`` is the previous period's close (the starting equity for the first period), so the periods'
    ``pnl`` sum exactly to ending − starting equity.
    """

    start: int  # the period's first second, UTC
    open_equity: int
    close_equity: int
    realized: int
    funding: int
    fees: int  # + paid

    @property
    def pnl(self) -> int:
        return self.close_equity - self.open_equity

    @property
    def unrealized(self) -> int:
        """The change of unrealized PnL: what the period's PnL holds besides realized, funding and fees."""
        return self.pnl - self.realized - self.funding + self.fees

    @property
    def return_(self) -> Decimal | None:
        """pnl / open equity; None when the period opened with no equity (nothing to return on)."""
        if self.open_equity <= 0:
            return None
        return _CONTEXT.divide(Decimal(self.pnl), Decimal(self.open_equity))


def day_start(ts: int) -> int:
    return ts - ts % SECONDS_PER_DAY


def month_start(ts: int) -> int:
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp())


def daily_pnl(curve: Sequence[LedgerPoint]) -> list[PeriodPnl]:
    """One row per UTC day that has a point (see the module's conventions)."""
    return _periods(curve, day_start)


def monthly_pnl(curve: Sequence[LedgerPoint]) -> list[PeriodPnl]:
    """One row per UTC calendar month that has a point."""
    return _periods(curve, month_start)


def _periods(curve: Sequence[LedgerPoint], period_of: Callable[[int], int]) -> list[PeriodPnl]:
    if len(curve) < 2:
        return []
    out: list[PeriodPnl] = []
    opened = curve[0]
    first = opened.ts  # a point at the very start (ts − 1 before it) still belongs to the first period

    def key_of(point: LedgerPoint) -> int:
        return period_of(max(point.ts - 1, first))

    key = key_of(curve[1])
    last = curve[1]
    for point in curve[2:]:
        k = key_of(point)
        if k != key:
            out.append(_period(key, opened, last))
            opened, key = last, k
        last = point
    out.append(_period(key, opened, last))
    return out


def _period(start: int, opened: LedgerPoint, closed: LedgerPoint) -> PeriodPnl:
    return PeriodPnl(
        start=start,
        open_equity=opened.equity,
        close_equity=closed.equity,
        realized=closed.realized - opened.realized,
        funding=closed.funding - opened.funding,
        fees=closed.fees - opened.fees,
    )


# --- risk-adjusted returns --------------------------------------------------------------------------------------


def daily_returns(days: Iterable[PeriodPnl]) -> list[Decimal]:
    """Each day's return (pnl / the previous close), for days that opened with equity."""
    return [r for r in (d.return_ for d in days) if r is not None]


def sharpe(returns: Sequence[Decimal]) -> Decimal | None:
    """Sharpe ratio of daily returns, annualised: mean(r) / stdev(r) × √365, risk-free rate 0, ``stdev`` the sample
    standard deviation (n − 1). None with fewer than two days or no variation (the ratio is undefined)."""
    n = len(returns)
    if n < 2:
        return None
    with localcontext(_CONTEXT):
        mean = sum(returns, Decimal(0)) / n
        variance = sum(((r - mean) ** 2 for r in returns), Decimal(0)) / (n - 1)
        if variance == 0:
            return None
        return mean / variance.sqrt() * Decimal(DAYS_PER_YEAR).sqrt()


def sortino(returns: Sequence[Decimal]) -> Decimal | None:
    """Sortino ratio of daily returns, annualised: mean(r) / downside deviation × √365, with downside deviation =
    √(Σ min(r, 0)² / n) over all n days (target return 0). None with fewer than two days or no losing day."""
    n = len(returns)
    if n < 2:
        return None
    with localcontext(_CONTEXT):
        downside = sum((r * r for r in returns if r < 0), Decimal(0)) / n
        if downside == 0:
            return None
        mean = sum(returns, Decimal(0)) / n
        return mean / downside.sqrt() * Decimal(DAYS_PER_YEAR).sqrt()


def years(seconds: int) -> Decimal:
    """``seconds`` in years of 365 days."""
    return _CONTEXT.divide(Decimal(seconds), Decimal(DAYS_PER_YEAR * SECONDS_PER_DAY))


def cagr(starting_equity: int, ending_equity: int, seconds: int) -> Decimal | None:
    """Compound annual growth rate: (ending / starting) ^ (1 / years) − 1, years of 365 days; −1 when the run ended
    with nothing. None without starting equity or for a run shorter than ``MIN_CAGR_DAYS``: compounding an hour's
    move over a year gives thousands of digits and means nothing. A run shorter than a year is still extrapolated,
    so weeks of data can give a large figure: read it with the run's length."""
    if seconds < MIN_CAGR_DAYS * SECONDS_PER_DAY or starting_equity <= 0:
        return None
    if ending_equity <= 0:
        return Decimal(-1)
    with localcontext(_CONTEXT):
        growth = Decimal(ending_equity) / Decimal(starting_equity)
        return growth ** (Decimal(1) / years(seconds)) - 1


def calmar(cagr_value: Decimal | None, max_drawdown: Decimal) -> Decimal | None:
    """CAGR / maximum drawdown (both fractions); None without a drawdown or a CAGR."""
    if cagr_value is None or max_drawdown == 0:
        return None
    return _CONTEXT.divide(cagr_value, max_drawdown)


# --- drawdown ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drawdown:
    """The deepest fall of the equity curve from a running peak.

    ``fraction`` = (peak − trough) / peak (0 when equity never fell); ``duration_s`` runs from that peak until
    equity is back at the peak (``recovered_ts``) or, if it never is, until the run's end.
    """

    fraction: Decimal
    peak_ts: int
    trough_ts: int
    recovered_ts: int | None
    duration_s: int


def max_drawdown(curve: Sequence[LedgerPoint]) -> Drawdown:
    """The maximum drawdown of ``curve`` (at least one point). Ties keep the first, deepest fall."""
    best = Drawdown(Decimal(0), curve[0].ts, curve[0].ts, curve[0].ts, 0)
    peak = curve[0]
    deepest: tuple[int, int] | None = None  # (fall, peak equity) as an exact fraction, compared by cross-multiplying
    for point in curve:
        if point.equity >= peak.equity:
            peak = point
            continue
        if peak.equity <= 0:
            continue  # no fraction of a non-positive peak
        fall = peak.equity - point.equity
        if deepest is None or fall * deepest[1] > deepest[0] * peak.equity:
            deepest = (fall, peak.equity)
            best = Drawdown(_CONTEXT.divide(Decimal(fall), Decimal(peak.equity)), peak.ts, point.ts, None, 0)
    if deepest is None:
        return best
    peak_equity = deepest[1]
    recovered = next((p.ts for p in curve if p.ts > best.trough_ts and p.equity >= peak_equity), None)
    until = recovered if recovered is not None else curve[-1].ts
    return Drawdown(best.fraction, best.peak_ts, best.trough_ts, recovered, until - best.peak_ts)


def drawdown_ppm(curve: Sequence[LedgerPoint]) -> list[int]:
    """Per point, the fall from the running peak in millionths of the peak, ≤ 0 (−(peak − equity) × 1e6 // peak,
    rounded toward zero); 0 while the peak is not positive."""
    out: list[int] = []
    peak: int | None = None
    for point in curve:
        peak = point.equity if peak is None else max(peak, point.equity)
        out.append(-((peak - point.equity) * PPM // peak) if peak > 0 else 0)
    return out


# --- round trips ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One position from flat back to flat: its first fill opens it, the fill that brings it back to 0 (or through
    0: a sign flip) closes it. Quote amounts 1e6, base 1e9; ``fees`` + paid.

    ``gross`` is the sum of the trip's signed quote flows (sells +, buys −): for a closed trip that is its trading
    PnL exactly, whatever the entry-price bookkeeping, because the position starts and ends at zero. A fill that
    flips the position is split pro rata to base between the trip it closes and the one it opens (quote and fee
    rounded toward zero for the closing part; the opening part takes the rest, so nothing is lost).
    """

    side: str  # long / short
    opened_ts: int
    closed_ts: int | None  # None: still open at the end of the run
    fills: int
    peak_base: int  # the largest |position| during the trip
    entry_base: int  # base and |quote| of the parts that grew the position
    entry_quote: int
    exit_base: int  # and of the parts that reduced it
    exit_quote: int
    gross: int
    fees: int

    @property
    def net(self) -> int:
        return self.gross - self.fees

    @property
    def entry_price(self) -> int | None:
        """Average entry price (1e6), rounded toward zero."""
        return self.entry_quote * 10**9 // self.entry_base if self.entry_base else None

    @property
    def exit_price(self) -> int | None:
        return self.exit_quote * 10**9 // self.exit_base if self.exit_base else None


class _Trip:
    """A round trip being built."""

    def __init__(self, ts: int, long: bool) -> None:
        self.opened_ts = ts
        self.long = long
        self.fills = 0
        self.peak = 0
        self.entry_base = self.entry_quote = self.exit_base = self.exit_quote = 0
        self.gross = self.fees = 0

    def add(self, base: int, quote: int, fee: int, position_after: int, grows: bool) -> None:
        self.fills += 1
        self.gross += quote
        self.fees += fee
        self.peak = max(self.peak, abs(position_after))
        if grows:
            self.entry_base += base
            self.entry_quote += abs(quote)
        else:
            self.exit_base += base
            self.exit_quote += abs(quote)

    def freeze(self, closed_ts: int | None) -> RoundTrip:
        return RoundTrip(
            side="long" if self.long else "short",
            opened_ts=self.opened_ts,
            closed_ts=closed_ts,
            fills=self.fills,
            peak_base=self.peak,
            entry_base=self.entry_base,
            entry_quote=self.entry_quote,
            exit_base=self.exit_base,
            exit_quote=self.exit_quote,
            gross=self.gross,
            fees=self.fees,
        )


def _delta(fill: FillRow) -> int:
    return fill.base if fill.side == "buy" else -fill.base


def round_trips(fills: Iterable[FillRow]) -> list[RoundTrip]:
    """Every round trip of ``fills`` (taken in time order, ties in the given order), the last one open if the run
    ended with a position.

    Why flat-to-flat rather than lot matching: it is what the account went through (one net perp position, no
    lots), its PnL is the exact sum of its fills whatever entry-price convention one prefers, and a closed trip's
    ``gross`` equals the venue's realized PnL over it. Grid cycles, where lots do matter, are ``grid_cycles``.
    """
    trips: list[RoundTrip] = []
    position = 0
    trip: _Trip | None = None
    for fill in sorted(fills, key=lambda f: f.ts):
        delta = _delta(fill)
        if delta == 0:
            continue
        after = position + delta
        if trip is None:  # flat: this fill opens a trip
            trip = _Trip(fill.ts, delta > 0)
        if position != 0 and (after > 0) != (position > 0) and after != 0:  # a flip: close, then open the rest
            closing = abs(position)
            quote, fee = tdiv(fill.quote * closing, fill.base), tdiv(fill.fee * closing, fill.base)
            trip.add(closing, quote, fee, 0, grows=False)
            trips.append(trip.freeze(fill.ts))
            trip = _Trip(fill.ts, after > 0)
            trip.add(fill.base - closing, fill.quote - quote, fill.fee - fee, after, grows=True)
        else:
            trip.add(fill.base, fill.quote, fill.fee, after, grows=abs(after) > abs(position))
            if after == 0:
                trips.append(trip.freeze(fill.ts))
                trip = None
        position = after
    if trip is not None:
        trips.append(trip.freeze(None))
    return trips


@dataclass(frozen=True, slots=True)
class TripStats:
    """Win rate and profit factor over closed round trips, by net PnL (after their fees).

    ``win_rate`` = winners / closed trips (a trip that nets exactly 0 is not a winner); ``profit_factor`` = Σ net of
    winners / |Σ net of losers|, None without a losing trip (it would be infinite).
    """

    closed: int
    winners: int
    gross_profit: int
    gross_loss: int  # ≤ 0

    @property
    def win_rate(self) -> Decimal | None:
        return _CONTEXT.divide(Decimal(self.winners), Decimal(self.closed)) if self.closed else None

    @property
    def profit_factor(self) -> Decimal | None:
        return _CONTEXT.divide(Decimal(self.gross_profit), Decimal(-self.gross_loss)) if self.gross_loss else None


def trip_stats(trips: Iterable[RoundTrip]) -> TripStats:
    closed = [t for t in trips if t.closed_ts is not None]
    return TripStats(
        closed=len(closed),
        winners=sum(1 for t in closed if t.net > 0),
        gross_profit=sum(t.net for t in closed if t.net > 0),
        gross_loss=sum(t.net for t in closed if t.net < 0),
    )


# --- grid cycles ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GridCycles:
    """A grid's completed cycles: lots matched last in, first out.

    Every fill that grows the position opens a lot; a fill that reduces it closes the most recent lots first. Why
    LIFO: a grid pairs each buy with the sell one step above it (and each sell with the buy one step below). When
    price falls through rungs 10, 9, 8 and turns, the first sell (at 9) completes the cycle of the last buy (at 8),
    not of the first one (at 10), which is still open and is the grid's floating loss. FIFO would book that loss as
    "cycles" and hide the grid's step profit; flat-to-flat ``round_trips`` are where the whole result shows.

    A cycle is one closing order: the partial fills of one order are one cycle, however many lots they close. Its
    profit is the matched exit quote plus the matched entry quote (signed: sells +, buys −), less both legs' fees
    pro rata to the matched base. The venue's liquidation transfers (order id 0) close lots too but are no grid
    cycle: their result is ``liquidation_profit``.

    Money is conserved to the unit: ``profit + liquidation_profit + open_quote − open_fees`` equals Σ quote − Σ fee
    over all fills (a lot split by a partial close keeps its remainder; rounding is toward zero on the part taken).
    """

    cycles: int
    profit: int
    liquidation_profit: int
    matched_base: int
    open_base: int  # the lots still open at the end (|base|, their signed quote and fees)
    open_quote: int
    open_fees: int

    def profit_per_cycle(self) -> int | None:
        """Average profit of a cycle (quote 1e6, rounded toward zero)."""
        return tdiv(self.profit, self.cycles) if self.cycles else None


def grid_cycles(fills: Iterable[FillRow]) -> GridCycles:
    lots: list[list[int]] = []  # [base, quote, fee] remaining of each open lot, oldest first
    position = 0
    closing_orders: set[int] = set()
    profit = liquidation_profit = matched = 0
    for fill in sorted(fills, key=lambda f: f.ts):
        delta = _delta(fill)
        if delta == 0:
            continue
        base, quote, fee = fill.base, fill.quote, fill.fee
        if position != 0 and (delta > 0) != (position > 0):
            result = 0
            while base and lots:
                lot = lots[-1]
                m = min(base, lot[0])
                lot_quote, lot_fee = tdiv(lot[1] * m, lot[0]), tdiv(lot[2] * m, lot[0])
                fill_quote, fill_fee = tdiv(quote * m, base), tdiv(fee * m, base)
                result += lot_quote + fill_quote - lot_fee - fill_fee
                lot[0], lot[1], lot[2] = lot[0] - m, lot[1] - lot_quote, lot[2] - lot_fee
                if lot[0] == 0:
                    lots.pop()
                base, quote, fee = base - m, quote - fill_quote, fee - fill_fee
                matched += m
            if fill.order_id == 0:
                liquidation_profit += result
            else:
                profit += result
                closing_orders.add(fill.order_id)
        if base:
            lots.append([base, quote, fee])
        position += delta
    return GridCycles(
        cycles=len(closing_orders),
        profit=profit,
        liquidation_profit=liquidation_profit,
        matched_base=matched,
        open_base=sum(lot[0] for lot in lots),
        open_quote=sum(lot[1] for lot in lots),
        open_fees=sum(lot[2] for lot in lots),
    )


def simple_annualised(profit: int, capital: int, seconds: int) -> Decimal | None:
    """profit / capital scaled to a year of 365 days without compounding (the APR grid bots quote)."""
    if capital <= 0 or seconds <= 0:
        return None
    with localcontext(_CONTEXT):
        return Decimal(profit) / Decimal(capital) / years(seconds)


# --- fees, funding, buy and hold --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeeSplit:
    """Fees as a cost and rebates as an income, both ≥ 0 (quote 1e6): ``paid − rebates`` is the net fee."""

    paid: int
    rebates: int

    @property
    def net(self) -> int:
        return self.paid - self.rebates


def fee_split(fills: Iterable[FillRow]) -> FeeSplit:
    """Σ of the positive fees (paid, liquidation fees included) and of the negative ones, negated (rebates)."""
    paid = rebates = 0
    for f in fills:
        if f.fee > 0:
            paid += f.fee
        else:
            rebates -= f.fee
    return FeeSplit(paid, rebates)


@dataclass(frozen=True, slots=True)
class FundingSplit:
    """Funding received and paid, both ≥ 0 (quote 1e6): ``received − paid`` is the net funding."""

    received: int
    paid: int

    @property
    def net(self) -> int:
        return self.received - self.paid


def funding_split(rows: Iterable[FundingRow]) -> FundingSplit:
    received = paid = 0
    for r in rows:
        if r.payment > 0:
            received += r.payment
        else:
            paid -= r.payment
    return FundingSplit(received, paid)


def pnl_effects(realized: int, unrealized: int, fees: FeeSplit, funding: FundingSplit) -> list[tuple[str, int]]:
    """The PnL as signed effects on equity, each line a cost (−) or an income (+) by what its name says, so the
    lines add up to ``realized + unrealized + funding − fees`` with no double negative."""
    return [
        ("realized trading PnL", realized),
        ("unrealized PnL", unrealized),
        ("funding received", funding.received),
        ("funding paid", -funding.paid),
        ("fees paid", -fees.paid),
        ("rebates earned", fees.rebates),
    ]


@dataclass(frozen=True, slots=True)
class BuyAndHold:
    """The same capital put into the base asset at the first price and held to the last: no fees, no funding, no
    leverage. ``pnl`` = capital × (last − first) / first, rounded toward zero (quote 1e6)."""

    first_price: int
    last_price: int
    pnl: int

    @property
    def return_(self) -> Decimal:
        return _CONTEXT.divide(Decimal(self.last_price - self.first_price), Decimal(self.first_price))


def buy_and_hold(capital: int, first_price: int, last_price: int) -> BuyAndHold:
    if first_price <= 0:
        raise ValueError(f"buy_and_hold: first price must be positive, got {first_price}")
    return BuyAndHold(first_price, last_price, tdiv(capital * (last_price - first_price), first_price))


# --- one place for every summary figure -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Performance:
    """Every figure of the report's summary table that is not already a contract field of ``summary.json``."""

    seconds: int
    fees: FeeSplit
    funding: FundingSplit
    cagr: Decimal | None
    drawdown: Drawdown
    sharpe: Decimal | None
    sortino: Decimal | None
    calmar: Decimal | None
    days: int  # daily returns behind Sharpe and Sortino
    trips: TripStats
    buy_and_hold: BuyAndHold | None
    grid: GridCycles | None
    grid_annualised: Decimal | None


def performance(
    curve: Sequence[LedgerPoint],
    fills: Sequence[FillRow],
    funding: Sequence[FundingRow],
    *,
    prices: tuple[int, int] | None,
    grid: bool,
) -> Performance:
    """All figures of one run from its equity curve (``equity_curve``), fills and funding rows; ``prices`` the first
    and last price of the run for buy-and-hold (None: not shown); ``grid`` whether to count grid cycles."""
    first, last = curve[0], curve[-1]
    seconds = last.ts - first.ts
    growth = cagr(first.equity, last.equity, seconds)
    drawdown = max_drawdown(curve)
    returns = daily_returns(daily_pnl(curve))
    cycles = grid_cycles(fills) if grid else None
    return Performance(
        seconds=seconds,
        fees=fee_split(fills),
        funding=funding_split(funding),
        cagr=growth,
        drawdown=drawdown,
        sharpe=sharpe(returns),
        sortino=sortino(returns),
        calmar=calmar(growth, drawdown.fraction),
        days=len(returns),
        trips=trip_stats(round_trips(fills)),
        buy_and_hold=buy_and_hold(first.equity, *prices) if prices is not None else None,
        grid=cycles,
        grid_annualised=simple_annualised(cycles.profit, first.equity, seconds) if cycles is not None else None,
    )
