"""``strategy: kind: funding_arb``: a cross-venue funding arbitrage, its settings and its entry rule. Pure.

One bot holds at most one pair: a perp on its Drift subaccount and the opposite perp of the same coin on one external
venue (Hyperliquid, Binance). It is **long where funding is cheaper and short where it is richer**, so it collects
the difference of the two rates while the price moves cancel out. Rates are 1e12 fractions of price per hour,
positive = longs pay shorts (``botrunner.marketdata.venue_funding``); the position's net rate is then
``short leg's rate - long leg's rate`` = ``|drift - external|``.

**Entry rule** (issue 22, the spread-arbitrage seed's "Entry Decision Logic"), in this order, the first failure is
the reason to skip:

1. the confluence score (``strategies.arb_score``) is >= ``entry_score`` (70);
2. the funding rates differ (else there is no side to take);
3. size: ``position_share_bps`` (50 %) of the available capital, capped by ``max_position_usd``, rounded down to the
   order step; at least ``min_position_usd`` ($100) or no trade;
4. projected profit over ``expected_hold_h`` > 0: funding ``notional x net rate x hours`` minus the taker fees of
   both legs in and out, minus slippage (the seed's 2-5 bps by size vs depth, computed by the caller:
   ``botrunner.paper.external.taker_slippage_ppm``) on both legs in and out.

The position's capital is its notional: half of it is each leg's collateral (each leg at 2x), so capital
conservation (``strategies.arb_portfolio``) counts a pair as its notional.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from botrunner.core.fixed import ceil_div
from botrunner.core.invalid import InvalidField
from botrunner.core.precision import (
    BASE_PRICE_TO_QUOTE,
    BPS_PRECISION,
    PERCENTAGE_PRECISION,
    QUOTE_PRECISION,
    quote_value,
)
from botrunner.core.side import Side
from botrunner.marketdata.funding import FUNDING_FRACTION_PRECISION
from botrunner.marketdata.venue_data import Venue
from strategies.arb_exits import ExitConfig
from strategies.arb_score import MAX_SCORE

ROUND_TRIP_LEGS: Final = 4  # two legs, each traded in and out


class FundingArbSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``strategy.funding_arb`` in a bot's YAML (money in quote 1e6: the loader converts ``*_usd`` keys)."""

    external_venue: Venue = Venue.HYPERLIQUID
    entry_score: int = 70
    expected_hold_h: int = 72
    position_share_bps: int = 5_000  # of the available capital
    min_position_quote: int = 100 * QUOTE_PRECISION
    max_position_quote: int | None = None
    depth_quote: int | None = None  # depth near the touch for the slippage model when the data has no book
    funding_window_h: int = 24  # the average net rate the exits' edge and EV rules look at
    exits: ExitConfig = ExitConfig()

    def validate(self) -> None:
        if self.external_venue is Venue.DRIFT:
            raise InvalidField("FundingArbSettings", "external_venue", "must be another venue than drift")
        if not 0 <= self.entry_score <= MAX_SCORE:
            raise InvalidField("FundingArbSettings", "entry_score", f"must be in [0, {MAX_SCORE}]")
        if self.expected_hold_h <= 0:
            raise InvalidField("FundingArbSettings", "expected_hold_h", "must be > 0")
        if not 0 < self.position_share_bps <= BPS_PRECISION // 2:
            raise InvalidField("FundingArbSettings", "position_share_bps", "must be in (0, 5000]: at most half")
        if self.min_position_quote <= 0:
            raise InvalidField("FundingArbSettings", "min_position_quote", "must be > 0")
        if self.max_position_quote is not None and self.max_position_quote < self.min_position_quote:
            raise InvalidField(
                "FundingArbSettings", "max_position_quote", "must be >= min_position_quote", ("min_position_quote",)
            )
        if self.depth_quote is not None and self.depth_quote <= 0:
            raise InvalidField("FundingArbSettings", "depth_quote", "must be > 0")
        if self.funding_window_h <= 0:
            raise InvalidField("FundingArbSettings", "funding_window_h", "must be > 0")
        try:
            self.exits.validate()
        except InvalidField as exc:
            raise InvalidField("FundingArbSettings", f"exits.{exc.field}", exc.rule) from exc


class SkipReason(enum.StrEnum):
    SCORE = "score_below_threshold"
    NO_EDGE = "no_funding_difference"
    CAPITAL = "capital_below_minimum"
    UNPROFITABLE = "projected_profit_not_positive"


class EntryInputs(msgspec.Struct, frozen=True, kw_only=True):
    score: int  # 0..100 (strategies.arb_score)
    drift_rate: int  # per hour, 1e12 fraction, positive = longs pay
    external_rate: int
    price: int  # reference price for sizing (1e6): the Drift leg's
    available_quote: int
    step_base: int  # the coarser of the two venues' order steps (1e9)
    drift_taker_ppm: int
    external_taker_ppm: int
    slippage_ppm: int  # per taker fill (the caller's model: 2..5 bps by size vs depth)


class EntryPlan(msgspec.Struct, frozen=True, kw_only=True):
    drift_side: Side  # BUY: long Drift, short the external venue
    base: int
    notional: int
    net_rate: int  # per hour, the position earns it (> 0)
    funding_quote: int  # projected over the expected hold
    fees_quote: int
    slippage_quote: int
    projected_quote: int  # funding - fees - slippage


class EntryDecision(msgspec.Struct, frozen=True):
    plan: EntryPlan | None
    skip: SkipReason | None
    detail: str


def _skip(reason: SkipReason, detail: str) -> EntryDecision:
    return EntryDecision(None, reason, detail)


def direction(drift_rate: int, external_rate: int) -> Side | None:
    """The Drift leg's side: long where funding is cheaper (positive = longs pay), short where it is richer."""
    if drift_rate == external_rate:
        return None
    return Side.BUY if drift_rate < external_rate else Side.SELL


def position_notional_cap(settings: FundingArbSettings, available_quote: int) -> int:
    cap = available_quote * settings.position_share_bps // BPS_PRECISION
    return cap if settings.max_position_quote is None else min(cap, settings.max_position_quote)


def decide_entry(settings: FundingArbSettings, inputs: EntryInputs) -> EntryDecision:
    """Enter (with the plan) or skip (with the reason): module docstring."""
    if inputs.score < settings.entry_score:
        return _skip(SkipReason.SCORE, f"score {inputs.score} < {settings.entry_score}")
    side = direction(inputs.drift_rate, inputs.external_rate)
    if side is None:
        return _skip(SkipReason.NO_EDGE, f"both venues pay {inputs.drift_rate} per hour")
    cap = position_notional_cap(settings, inputs.available_quote)
    base = cap * BASE_PRICE_TO_QUOTE // inputs.price // inputs.step_base * inputs.step_base
    notional = quote_value(base, inputs.price)
    if notional < settings.min_position_quote:
        return _skip(SkipReason.CAPITAL, f"position {notional} < minimum {settings.min_position_quote} (cap {cap})")
    net_rate = abs(inputs.drift_rate - inputs.external_rate)
    funding = notional * net_rate * settings.expected_hold_h // FUNDING_FRACTION_PRECISION
    # costs rounded up: rounding can stop an entry, never cause one
    fees = 2 * ceil_div(notional * (inputs.drift_taker_ppm + inputs.external_taker_ppm), PERCENTAGE_PRECISION)
    slippage = ROUND_TRIP_LEGS * ceil_div(notional * inputs.slippage_ppm, PERCENTAGE_PRECISION)
    projected = funding - fees - slippage
    plan = EntryPlan(
        drift_side=side,
        base=base,
        notional=notional,
        net_rate=net_rate,
        funding_quote=funding,
        fees_quote=fees,
        slippage_quote=slippage,
        projected_quote=projected,
    )
    if projected <= 0:
        return EntryDecision(
            None, SkipReason.UNPROFITABLE, f"funding {funding} - fees {fees} - slippage {slippage} = {projected}"
        )
    return EntryDecision(plan, None, f"projected {projected} over {settings.expected_hold_h} h")
