"""The cost gate of the delta-neutral engine: is a two-leg trade worth its costs? Pure: no I/O, no clock.

A trade that adds exposure (an entry, a rebalance that expands the short) is rejected when the revenue it is
expected to earn over ``horizon_s`` is below what it costs:

* revenue = funding on the perp change + deposit interest on the spot change, over the horizon. Funding follows
  Drift's convention (``funding_rate`` quote per base per hour, 1e9, positive = longs pay shorts): a perp change of
  ``d`` base earns ``-d * rate * hours / 1e12`` quote. A favourable expectation counts at ``favourable_weight_bps``
  (the source spec's conservative 50 %), an unfavourable one in full. Interest: ``deposit_apr_bps`` on the spot
  change's notional at the oracle (a negative change forgoes it).
* costs = taker fees on both legs' notionals (``perp_fee_ppm``, ``spot_fee_ppm``), the slippage estimate
  (``slippage_ppm`` of both notionals) and the transaction cost (base fee + priority fee + Jito tip, lamports,
  valued at the SOL oracle); doubled when ``include_unwind`` (the exposure added must be unwound one day, at about
  the same cost). Every cost rounds up, every revenue down: the gate errs toward not trading.

A trade that only reduces exposure (an exit, a rebalance that reduces the short) is never blocked by cost: it
restores the hedge or leaves the market, and waiting for it to pay would leave the risk in place. Its numbers are
still reported (``CostVerdict.REDUCING``).

Integers: quote 1e6, base/token 1e9, price 1e6, fees and slippage in ppm (1e6), APR in bps, lamports.
The shell logs every result at WARNING when blocked, with ``describe(result)``.
"""

from __future__ import annotations

import enum

import msgspec

from botrunner.core.fixed import ceil_div
from botrunner.core.invalid import InvalidField
from botrunner.core.precision import BPS_PRECISION, LAMPORTS_PER_SOL, PERCENTAGE_PRECISION, QUOTE_PRECISION

SECONDS_PER_HOUR = 3_600
SECONDS_PER_YEAR = 365 * 86_400
_FUNDING_TO_QUOTE = 10**12  # base 1e9 x rate 1e9 // this = quote 1e6 (Drift: AMM_TO_QUOTE x FUNDING_RATE_BUFFER)
_BASE_PRICE_TO_QUOTE = 10**9  # base 1e9 x price 1e6 // this = quote 1e6


class CostGateConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The cost gate's knobs. Fees in ppm of notional (Drift's tier-1 SOL-PERP taker fee 0.035 % = 350 ppm; spot
    taker 0.1 % here unless configured), slippage ppm per leg, transaction costs in lamports."""

    horizon_s: int = 7 * 86_400
    favourable_weight_bps: int = 5_000  # the spec's 50 % of favourable funding
    perp_fee_ppm: int = 350
    spot_fee_ppm: int = 1_000
    slippage_ppm: int = 500
    base_fee_lamports: int = 5_000  # one signature
    priority_fee_lamports: int = 10_000
    jito_tip_lamports: int = 10_000
    include_unwind: bool = True

    def validate(self) -> None:
        """Raise ``InvalidField`` naming the first impossible field."""
        checks = (
            (self.horizon_s > 0, "horizon_s", "must be > 0"),
            (0 <= self.favourable_weight_bps <= BPS_PRECISION, "favourable_weight_bps", "must be in [0, 10000]"),
            (self.perp_fee_ppm >= 0, "perp_fee_ppm", "must be >= 0"),
            (self.spot_fee_ppm >= 0, "spot_fee_ppm", "must be >= 0"),
            (self.slippage_ppm >= 0, "slippage_ppm", "must be >= 0"),
            (self.base_fee_lamports >= 0, "base_fee_lamports", "must be >= 0"),
            (self.priority_fee_lamports >= 0, "priority_fee_lamports", "must be >= 0"),
            (self.jito_tip_lamports >= 0, "jito_tip_lamports", "must be >= 0"),
        )
        for ok, field, rule in checks:
            if not ok:
                raise InvalidField("CostGateConfig", field, rule)


class CostInputs(msgspec.Struct, frozen=True, kw_only=True):
    """One two-leg trade and the market it is priced on."""

    perp_base: int  # the perp position now, 1e9 signed
    perp_delta: int  # 1e9 signed
    spot_base: int  # the spot SOL now, 1e9 signed
    spot_delta: int  # 1e9 signed
    oracle: int  # SOL, 1e6 (prices both legs and the lamports)
    funding_rate: int  # expected hourly rate, quote per base, 1e9; positive = longs pay shorts
    deposit_apr_bps: int = 0  # the SOL deposit rate


class CostVerdict(enum.Enum):
    PASS = "pass"  # revenue >= cost
    REVENUE_BELOW_COST = "revenue_below_cost"  # blocked
    REDUCING = "reducing"  # reduces exposure only: never blocked by cost
    NO_TRADE = "no_trade"


class CostGateResult(msgspec.Struct, frozen=True, kw_only=True):
    """The gate's answer with its numbers (quote 1e6)."""

    verdict: CostVerdict
    revenue_quote: int  # funding + interest over the horizon, weighted
    funding_quote: int
    interest_quote: int
    fees_quote: int
    slippage_quote: int
    tx_cost_quote: int
    cost_quote: int  # everything, unwind included when configured
    horizon_s: int

    @property
    def blocked(self) -> bool:
        return self.verdict is CostVerdict.REVENUE_BELOW_COST


def _adds_exposure(position: int, delta: int) -> bool:
    after = position + delta
    return abs(after) > abs(position) or (after != 0 and (after > 0) != (position > 0) and position != 0)


def _ppm_up(notional: int, ppm: int) -> int:
    return ceil_div(notional * ppm, PERCENTAGE_PRECISION)


def expected_funding(perp_delta: int, funding_rate: int, horizon_s: int, favourable_weight_bps: int) -> int:
    """Funding earned (+) or paid (-) by a perp change over the horizon, quote 1e6: favourable weighted and rounded
    down, unfavourable in full and rounded away from zero (against the trade)."""
    raw = -perp_delta * funding_rate * horizon_s  # quote 1e6 x _FUNDING_TO_QUOTE x SECONDS_PER_HOUR
    scale = _FUNDING_TO_QUOTE * SECONDS_PER_HOUR
    if raw >= 0:
        return raw * favourable_weight_bps // (scale * BPS_PRECISION)
    return -ceil_div(-raw, scale)


def expected_interest(spot_delta: int, oracle: int, deposit_apr_bps: int, horizon_s: int) -> int:
    """Deposit interest gained (+) or forgone (-) by a spot change over the horizon, quote 1e6 (down / away)."""
    raw = spot_delta * oracle * deposit_apr_bps * horizon_s
    scale = _BASE_PRICE_TO_QUOTE * BPS_PRECISION * SECONDS_PER_YEAR
    return raw // scale if raw >= 0 else -ceil_div(-raw, scale)


def check_cost(config: CostGateConfig, inputs: CostInputs) -> CostGateResult:
    """The cost gate's verdict on one two-leg trade (see the module docstring)."""
    if inputs.oracle <= 0:
        raise ValueError(f"CostInputs.oracle must be > 0, got {inputs.oracle}")
    perp_notional = ceil_div(abs(inputs.perp_delta) * inputs.oracle, _BASE_PRICE_TO_QUOTE)
    spot_notional = ceil_div(abs(inputs.spot_delta) * inputs.oracle, _BASE_PRICE_TO_QUOTE)
    fees = _ppm_up(perp_notional, config.perp_fee_ppm) + _ppm_up(spot_notional, config.spot_fee_ppm)
    slippage = _ppm_up(perp_notional + spot_notional, config.slippage_ppm)
    lamports = config.base_fee_lamports + config.priority_fee_lamports + config.jito_tip_lamports
    trading = inputs.perp_delta != 0 or inputs.spot_delta != 0
    tx = ceil_div(lamports * inputs.oracle, LAMPORTS_PER_SOL) if trading else 0
    cost = (fees + slippage + tx) * (2 if config.include_unwind else 1)
    funding = expected_funding(inputs.perp_delta, inputs.funding_rate, config.horizon_s, config.favourable_weight_bps)
    interest = expected_interest(inputs.spot_delta, inputs.oracle, inputs.deposit_apr_bps, config.horizon_s)
    revenue = funding + interest
    if not trading:
        verdict = CostVerdict.NO_TRADE
    elif not (
        _adds_exposure(inputs.perp_base, inputs.perp_delta) or _adds_exposure(inputs.spot_base, inputs.spot_delta)
    ):
        verdict = CostVerdict.REDUCING
    elif revenue < cost:
        verdict = CostVerdict.REVENUE_BELOW_COST
    else:
        verdict = CostVerdict.PASS
    return CostGateResult(
        verdict=verdict,
        revenue_quote=revenue,
        funding_quote=funding,
        interest_quote=interest,
        fees_quote=fees,
        slippage_quote=slippage,
        tx_cost_quote=tx,
        cost_quote=cost,
        horizon_s=config.horizon_s,
    )


def _usd(quote: int) -> str:
    sign = "-" if quote < 0 else ""
    whole, frac = divmod(abs(quote), QUOTE_PRECISION)
    return f"{sign}${whole}.{frac:06d}"


def describe(result: CostGateResult) -> str:
    """One line with the numbers, for the shell's WARNING log and ctl."""
    return (
        f"cost gate {result.verdict.value}: revenue {_usd(result.revenue_quote)} over {result.horizon_s} s "
        f"(funding {_usd(result.funding_quote)}, interest {_usd(result.interest_quote)}) vs cost "
        f"{_usd(result.cost_quote)} (fees {_usd(result.fees_quote)}, slippage {_usd(result.slippage_quote)}, "
        f"tx {_usd(result.tx_cost_quote)})"
    )
