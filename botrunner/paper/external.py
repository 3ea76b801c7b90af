"""An external venue's perp account on paper (Hyperliquid, Binance USDT-M): the other leg of a funding arbitrage.

Pure and immutable: every operation takes an :class:`ExternalAccount` and returns the next one with what happened
(a fill, a rejection, a funding settlement, a liquidation). Integers in Drift's precisions throughout: base 1e9,
price 1e6, quote 1e6, margin ratios 1e4 (500 = 5 %), fees ppm, funding 1e12 fraction of price per hour
(``botrunner.marketdata.venue_funding``). The same inputs give the same account, bit for bit.

**Margin** (one isolated position per account, as the arbitrage holds it): equity = collateral + unrealised PnL at
the mark. A trade that adds risk (grows the position or flips it) must leave equity, after its fee, at or above the
initial requirement ``|notional| * initial_margin_ratio``; a trade that only reduces is always accepted. The
account is liquidatable when equity < ``|notional| * maintenance_margin_ratio``.

**Liquidation** (:func:`liquidate`): the whole position is closed at the mark, paying the taker fee, and whatever
equity is left up to the maintenance requirement is forfeited as the liquidation penalty (Hyperliquid and Binance
both keep the maintenance margin of a liquidated position in their liquidation/insurance fund; modelling it as a
full loss of that margin is the conservative reading). Collateral never goes below zero: a shortfall is recorded as
``bad_debt`` (the venue's insurance fund absorbs it).

**Fees**: ``taker_ppm`` / ``maker_ppm`` of the fill's notional, rounded up (against the account; a maker rebate is a
negative rate). **Slippage** of a taker (:func:`taker_slippage_ppm`, the seed spec's model,
``../shared/seeds/spread-arbitrage-design.md``): 2 bps + 3 bps x size / depth near the touch, capped at 5 bps; an
unknown depth costs the cap.

**Funding** (:func:`settle_funding`): settled at the venue's own interval (Hyperliquid hourly, Binance 8-hourly),
``-position notional at the mark x rate per hour x period``, floored (against the account); a settlement at or
before the last one is refused, so no period is ever paid twice.

**Capital conservation** (tests/property/test_external_account.py): at every step
``collateral == deposit + realised_pnl - fees_paid + funding_received - liquidation_penalties + bad_debt``.

The margin rates and fees per venue and market are in :data:`EXTERNAL_MARKETS`, each with its source; a backtest
may pass its own :class:`ExternalMarketRules` instead (venues change them).
"""

from __future__ import annotations

from typing import Final

import msgspec

from botrunner.core.fixed import ceil_div, tdiv
from botrunner.core.precision import BASE_PRICE_TO_QUOTE, MARGIN_PRECISION, PERCENTAGE_PRECISION, quote_value
from botrunner.core.side import Side
from botrunner.funding import ONE_HOUR_S
from botrunner.marketdata.funding import FUNDING_FRACTION_PRECISION
from botrunner.marketdata.venue_data import Coin, Venue
from botrunner.marketdata.venue_funding import FundingPoint
from botrunner.venue.port import Liquidity

SLIPPAGE_BASE_PPM: Final = 200  # 2 bps: the seed spec's base slippage
SLIPPAGE_DEPTH_PPM: Final = 300  # up to 3 bps more, in proportion to size / depth
SLIPPAGE_CAP_PPM: Final = 500  # 5 bps


class ExternalMarketRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One external venue market's margin, fee and funding rules (ratios 1e4, fees ppm, step 1e9 base)."""

    venue: Venue
    coin: Coin
    initial_margin_ratio: int
    maintenance_margin_ratio: int
    taker_ppm: int
    maker_ppm: int
    funding_interval_s: int
    step_base: int
    source: str = ""

    def validate(self) -> ExternalMarketRules:
        """Raise ``ValueError`` naming the first impossible field; return ``self``."""
        name = f"{self.venue}/{self.coin}"
        checks = (
            (
                0 < self.maintenance_margin_ratio <= self.initial_margin_ratio <= MARGIN_PRECISION,
                "need 0 < maintenance_margin_ratio <= initial_margin_ratio <= 10000, got "
                f"{self.maintenance_margin_ratio}, {self.initial_margin_ratio}",
            ),
            (
                0 <= self.taker_ppm < PERCENTAGE_PRECISION // 10,
                f"taker_ppm must be in [0, 100000), got {self.taker_ppm}",
            ),
            (
                -self.taker_ppm <= self.maker_ppm < PERCENTAGE_PRECISION // 10,
                f"maker_ppm must be in [-taker_ppm, 100000) (a rebate above the taker fee pays wash trading), "
                f"got {self.maker_ppm}",
            ),
            (
                self.funding_interval_s > 0 and self.funding_interval_s % ONE_HOUR_S == 0,
                f"funding_interval_s must be a positive number of hours, got {self.funding_interval_s}",
            ),
            (self.step_base > 0, f"step_base must be > 0, got {self.step_base}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(f"ExternalMarketRules {name}: {message}")
        return self


_HL_SOURCE = (
    "Hyperliquid docs (Trading > Margining, Fees, Funding), 2025: IM = 1 / max leverage (SOL 20x, BTC 40x, ETH 25x); "
    "maintenance margin = half the initial margin at max leverage; base-tier perp fees 0.045 % taker / 0.015 % "
    "maker; funding paid hourly; size step = 10^-szDecimals (SOL 2, BTC 5, ETH 4)"
)
_BINANCE_SOURCE = (
    "Binance USDT-M (GET /fapi/v1/leverageBracket, Fee Schedule, exchangeInfo LOT_SIZE), 2025: IM 5 % = 20x, the "
    "default leverage and the cap for accounts younger than 60 days; MM = the first bracket's maintenance margin "
    "rate (BTCUSDT 0.40 %; SOLUSDT/ETHUSDT 0.50 %, the first-bracket rate of the majors); VIP 0 fees 0.05 % taker "
    "/ 0.02 % maker; funding every 8 h; qty step SOL 1, BTC 0.001, ETH 0.001"
)


def _hl(coin: Coin, max_leverage: int, step_base: int) -> ExternalMarketRules:
    im = MARGIN_PRECISION // max_leverage
    return ExternalMarketRules(
        venue=Venue.HYPERLIQUID,
        coin=coin,
        initial_margin_ratio=im,
        maintenance_margin_ratio=im // 2,
        taker_ppm=450,
        maker_ppm=150,
        funding_interval_s=ONE_HOUR_S,
        step_base=step_base,
        source=_HL_SOURCE,
    ).validate()


def _binance(coin: Coin, maintenance: int, step_base: int) -> ExternalMarketRules:
    return ExternalMarketRules(
        venue=Venue.BINANCE,
        coin=coin,
        initial_margin_ratio=500,
        maintenance_margin_ratio=maintenance,
        taker_ppm=500,
        maker_ppm=200,
        funding_interval_s=8 * ONE_HOUR_S,
        step_base=step_base,
        source=_BINANCE_SOURCE,
    ).validate()


# Defaults per venue and coin (sources in each entry's ``source``); Drift's own rules are its market spec.
EXTERNAL_MARKETS: Final[dict[tuple[Venue, Coin], ExternalMarketRules]] = {
    (Venue.HYPERLIQUID, Coin.SOL): _hl(Coin.SOL, 20, 10**7),
    (Venue.HYPERLIQUID, Coin.BTC): _hl(Coin.BTC, 40, 10**4),
    (Venue.HYPERLIQUID, Coin.ETH): _hl(Coin.ETH, 25, 10**5),
    (Venue.BINANCE, Coin.SOL): _binance(Coin.SOL, 50, 10**9),
    (Venue.BINANCE, Coin.BTC): _binance(Coin.BTC, 40, 10**6),
    (Venue.BINANCE, Coin.ETH): _binance(Coin.ETH, 50, 10**6),
}


def external_rules(venue: Venue, coin: Coin) -> ExternalMarketRules:
    """The default rules of an external venue's market; ``ValueError`` for Drift or an unknown pair."""
    rules = EXTERNAL_MARKETS.get((venue, coin))
    if rules is None:
        raise ValueError(f"no external-venue rules for {venue}/{coin} (Drift's leg uses its own market spec)")
    return rules


def taker_slippage_ppm(notional: int, depth_notional: int | None) -> int:
    """The seed's slippage of a taker of ``notional`` quote against ``depth_notional`` near the touch (both 1e6):
    2 bps + 3 bps x notional / depth, rounded up, capped at 5 bps; unknown or empty depth costs the cap."""
    if depth_notional is None or depth_notional <= 0:
        return SLIPPAGE_CAP_PPM
    extra = ceil_div(SLIPPAGE_DEPTH_PPM * abs(notional), depth_notional)
    return min(SLIPPAGE_CAP_PPM, SLIPPAGE_BASE_PPM + extra)


def taker_price(side: Side, touch: int, slippage_ppm: int) -> int:
    """The price a taker pays: ``touch`` moved against it by ``slippage_ppm``, rounded against it."""
    if side is Side.BUY:
        return ceil_div(touch * (PERCENTAGE_PRECISION + slippage_ppm), PERCENTAGE_PRECISION)
    return touch * (PERCENTAGE_PRECISION - slippage_ppm) // PERCENTAGE_PRECISION


class ExternalAccount(msgspec.Struct, frozen=True, kw_only=True):
    """One external perp position and its collateral (quote 1e6, base 1e9 signed).

    ``quote_entry`` is the signed quote the open position was bought/sold for (a long's is negative: it paid),
    so the unrealised PnL is ``quote_value(base, mark) + quote_entry``. The ledger fields add up to the
    collateral (module docstring: capital conservation)."""

    rules: ExternalMarketRules
    deposit: int
    collateral: int
    base: int = 0
    quote_entry: int = 0
    realised_pnl: int = 0
    fees_paid: int = 0
    funding_received: int = 0
    liquidation_penalties: int = 0
    bad_debt: int = 0
    liquidations: int = 0
    last_funding_ts: int | None = None

    def notional(self, mark: int) -> int:
        """|position| valued at ``mark`` (quote 1e6)."""
        return abs(quote_value(self.base, mark))

    def unrealised_pnl(self, mark: int) -> int:
        return quote_value(self.base, mark) + self.quote_entry

    def equity(self, mark: int) -> int:
        return self.collateral + self.unrealised_pnl(mark)

    def initial_requirement(self, mark: int) -> int:
        return ceil_div(self.notional(mark) * self.rules.initial_margin_ratio, MARGIN_PRECISION)

    def maintenance_requirement(self, mark: int) -> int:
        return ceil_div(self.notional(mark) * self.rules.maintenance_margin_ratio, MARGIN_PRECISION)

    def is_liquidatable(self, mark: int) -> bool:
        return self.base != 0 and self.equity(mark) < self.maintenance_requirement(mark)

    def liquidation_price(self) -> int | None:
        """The mark (1e6) at which equity meets the maintenance requirement; None when flat or never (a long whose
        collateral covers the whole position). Solves ``collateral + quote_entry + b*p = |b|*p*mmr`` for ``p``."""
        if self.base == 0:
            return None
        mmr = self.rules.maintenance_margin_ratio
        sign = 1 if self.base > 0 else -1
        # b*p/BPQ*(1 - sign*mmr/MP) = -(collateral + quote_entry)
        numerator = -(self.collateral + self.quote_entry) * BASE_PRICE_TO_QUOTE * MARGIN_PRECISION
        denominator = self.base * (MARGIN_PRECISION - sign * mmr)
        price = tdiv(numerator, denominator)
        return price if price > 0 else None

    def conserved(self) -> bool:
        """The capital-conservation identity (module docstring)."""
        return self.collateral == (
            self.deposit
            + self.realised_pnl
            - self.fees_paid
            + self.funding_received
            - self.liquidation_penalties
            + self.bad_debt
        )


def open_account(rules: ExternalMarketRules, deposit: int) -> ExternalAccount:
    """A flat account holding ``deposit`` quote (1e6)."""
    if deposit < 0:
        raise ValueError(f"deposit must be >= 0, got {deposit}")
    return ExternalAccount(rules=rules.validate(), deposit=deposit, collateral=deposit)


class ExternalFill(msgspec.Struct, frozen=True, kw_only=True):
    """A booked fill: ``base`` > 0 (its direction is ``side``), at ``price``; ``quote`` is the signed cash flow of
    the trade before fees (a buy's is negative); ``fee`` > 0 paid (negative: a rebate)."""

    ts: int
    side: Side
    base: int
    price: int
    quote: int
    fee: int
    liquidity: Liquidity
    realised_pnl: int


class ExternalRejection(msgspec.Struct, frozen=True, kw_only=True):
    """A trade the venue refused (nothing changed)."""

    ts: int
    side: Side
    base: int
    price: int
    reason: str


class FundingSettled(msgspec.Struct, frozen=True, kw_only=True):
    """One funding settlement: ``amount`` (quote 1e6) the account received (negative: paid)."""

    ts: int
    rate_per_hour: int
    period_s: int
    mark: int
    amount: int


class ExternalLiquidation(msgspec.Struct, frozen=True, kw_only=True):
    """The venue closed the whole position at ``mark``; the account lost ``penalty`` and ``bad_debt`` went to the
    venue's insurance fund."""

    ts: int
    base: int
    mark: int
    fee: int
    realised_pnl: int
    penalty: int
    bad_debt: int


def fee_of(rules: ExternalMarketRules, notional: int, liquidity: Liquidity) -> int:
    """The fee (quote 1e6) of a fill of ``notional``, rounded against the account."""
    match liquidity:
        case Liquidity.TAKER:
            rate = rules.taker_ppm
        case Liquidity.MAKER:
            rate = rules.maker_ppm
    return ceil_div(abs(notional) * rate, PERCENTAGE_PRECISION)


def _apply(account: ExternalAccount, delta: int, price: int) -> tuple[int, int, int]:
    """(new base, new quote_entry, realised PnL) after a signed ``delta`` at ``price`` (no fee)."""
    base, entry = account.base, account.quote_entry
    if base == 0 or (base > 0) == (delta > 0):
        return base + delta, entry - quote_value(delta, price), 0
    closed = min(abs(delta), abs(base))
    closing = closed if delta > 0 else -closed
    entry_part = tdiv(entry * closed, abs(base))  # exact when the whole position closes
    realised = entry_part - quote_value(closing, price)
    remainder = delta - closing
    new_base = base + closing + remainder
    new_entry = entry - entry_part - quote_value(remainder, price)
    return new_base, new_entry, realised


def trade(
    account: ExternalAccount, *, ts: int, side: Side, base: int, price: int, liquidity: Liquidity
) -> tuple[ExternalAccount, ExternalFill | ExternalRejection]:
    """Book a fill of ``base`` (1e9, > 0, a multiple of the market's step) at ``price`` (the caller has applied any
    slippage: :func:`taker_price`). A risk-adding trade the margin cannot carry (equity and requirement valued at
    the fill price) is rejected, nothing changed."""
    if base <= 0 or base % account.rules.step_base:
        raise ValueError(f"base must be a positive multiple of {account.rules.step_base}, got {base}")
    if price <= 0:
        raise ValueError(f"price must be > 0, got {price}")
    delta = base if side is Side.BUY else -base
    new_base, new_entry, realised = _apply(account, delta, price)
    fee = fee_of(account.rules, quote_value(base, price), liquidity)
    after = msgspec.structs.replace(
        account,
        base=new_base,
        quote_entry=new_entry,
        collateral=account.collateral + realised - fee,
        realised_pnl=account.realised_pnl + realised,
        fees_paid=account.fees_paid + fee,
    )
    adds_risk = abs(new_base) > abs(account.base) or (new_base != 0 and (new_base > 0) != (account.base > 0))
    if adds_risk and after.equity(price) < after.initial_requirement(price):
        reason = (
            f"insufficient margin: equity {after.equity(price)} < initial requirement "
            f"{after.initial_requirement(price)} (quote 1e6) at {account.rules.initial_margin_ratio / 100:g} %"
        )
        return account, ExternalRejection(ts=ts, side=side, base=base, price=price, reason=reason)
    fill = ExternalFill(
        ts=ts,
        side=side,
        base=base,
        price=price,
        quote=-quote_value(delta, price),
        fee=fee,
        liquidity=liquidity,
        realised_pnl=realised,
    )
    return _absorb_shortfall(after), fill


def funding_amount(base: int, mark: int, point: FundingPoint) -> int:
    """Quote (1e6) a position of ``base`` receives for one settlement (positive rate: longs pay), floored."""
    numerator = -base * mark * point.rate_per_hour * point.period_s
    return numerator // (BASE_PRICE_TO_QUOTE * FUNDING_FRACTION_PRECISION * ONE_HOUR_S)


def settle_funding(account: ExternalAccount, point: FundingPoint, mark: int) -> tuple[ExternalAccount, FundingSettled]:
    """Settle one funding period ending at ``point.ts`` on the position held then, at ``mark``.

    ``point.period_s`` must be the market's interval (a Binance account settles 8-hour points only); a point at or
    before the last settled one raises ``ValueError`` (it would be paid twice)."""
    if point.period_s != account.rules.funding_interval_s:
        raise ValueError(
            f"{account.rules.venue}/{account.rules.coin} settles every {account.rules.funding_interval_s} s, "
            f"got a {point.period_s} s funding period at {point.ts}"
        )
    if account.last_funding_ts is not None and point.ts <= account.last_funding_ts:
        raise ValueError(f"funding at {point.ts} is not after the last settlement at {account.last_funding_ts}")
    amount = funding_amount(account.base, mark, point)
    after = msgspec.structs.replace(
        account,
        collateral=account.collateral + amount,
        funding_received=account.funding_received + amount,
        last_funding_ts=point.ts,
    )
    settled = FundingSettled(
        ts=point.ts, rate_per_hour=point.rate_per_hour, period_s=point.period_s, mark=mark, amount=amount
    )
    return _absorb_shortfall(after), settled


def _absorb_shortfall(account: ExternalAccount) -> ExternalAccount:
    """A flat account with negative collateral has nothing left to lose: the venue's insurance fund takes it."""
    if account.base == 0 and account.collateral < 0:
        return msgspec.structs.replace(account, collateral=0, bad_debt=account.bad_debt - account.collateral)
    return account


def liquidate(account: ExternalAccount, ts: int, mark: int) -> tuple[ExternalAccount, ExternalLiquidation | None]:
    """If the account is below maintenance at ``mark``, close it all at the mark (module docstring); else
    (account, None)."""
    if not account.is_liquidatable(mark):
        return account, None
    requirement = account.maintenance_requirement(mark)
    _, _, realised = _apply(account, -account.base, mark)
    fee = fee_of(account.rules, quote_value(account.base, mark), Liquidity.TAKER)
    left = account.collateral + realised - fee
    penalty = max(0, min(left, requirement))
    collateral = left - penalty
    shortfall = max(0, -collateral)
    after = msgspec.structs.replace(
        account,
        base=0,
        quote_entry=0,
        collateral=collateral + shortfall,
        realised_pnl=account.realised_pnl + realised,
        fees_paid=account.fees_paid + fee,
        liquidation_penalties=account.liquidation_penalties + penalty,
        bad_debt=account.bad_debt + shortfall,
        liquidations=account.liquidations + 1,
    )
    event = ExternalLiquidation(
        ts=ts, base=account.base, mark=mark, fee=fee, realised_pnl=realised, penalty=penalty, bad_debt=shortfall
    )
    return after, event


def next_funding_ts(ts: int, rules: ExternalMarketRules) -> int:
    """The first settlement strictly after ``ts`` on the venue's schedule (interval boundaries of UTC epoch)."""
    interval = rules.funding_interval_s
    return ts - ts % interval + interval
