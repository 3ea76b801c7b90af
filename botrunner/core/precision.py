"""Drift's fixed-point precisions and venue limits, as named constants.

Everything in the core is a Python ``int`` in one of these precisions. Decimal appears only at the edges
(parsing configuration, printing reports); floats never touch accounting.
"""

from __future__ import annotations

from decimal import MIN_EMIN, ROUND_DOWN, Decimal, localcontext
from typing import Final

from botrunner.core.fixed import tdiv

# --- Precisions (protocol-v2 `math/constants.rs`) -------------------------------------------------------------
PRICE_PRECISION: Final = 10**6  # prices, oracle prices, oracle offsets
BASE_PRECISION: Final = 10**9  # perp base asset amounts (AMM_RESERVE_PRECISION)
QUOTE_PRECISION: Final = 10**6  # USDC amounts
MARGIN_PRECISION: Final = 10**4  # margin ratios: 500 = 5 %
SPOT_WEIGHT_PRECISION: Final = 10**4  # spot asset / liability weights: 8000 = 0.8
FUNDING_RATE_PRECISION: Final = 10**9  # funding rates: quote per base, 1e9
FUNDING_RATE_BUFFER: Final = 10**3  # FUNDING_RATE_PRECISION / PRICE_PRECISION
PERCENTAGE_PRECISION: Final = 10**6  # fees, liquidation fees, percentages
LIQUIDATION_FEE_PRECISION: Final = PERCENTAGE_PRECISION
SPOT_BALANCE_PRECISION: Final = 10**9  # scaled spot balances
MAX_MAGNITUDE: Final = 30  # no human figure is beyond 1e30; refusing it also keeps "1e999999999" from becoming an int
SPOT_CUMULATIVE_INTEREST_PRECISION: Final = 10**10
LEVERAGE_PRECISION: Final = 10**4  # 10_000 = 1x (as driftpy's get_leverage)
BASE_PRICE_TO_QUOTE: Final = BASE_PRECISION * PRICE_PRECISION // QUOTE_PRECISION  # base*price // this = quote
BPS_PRECISION: Final = 10**4  # basis points: 1 bp = 1 / 10_000
LAMPORTS_PER_SOL: Final = 10**9  # SOL amounts (gas reserve, priority fees, tips): lamports per SOL

# --- Venue limits (protocol-v2 `state/user.rs`, `instructions/user.rs`) ---------------------------------------
MAX_OPEN_ORDERS_PER_USER: Final = 32
MAX_ORDERS_PER_PLACE_ORDERS: Final = 32
USER_ORDER_ID_MIN: Final = 1  # 0 means "no user order id"
USER_ORDER_ID_MAX: Final = 255  # user_order_id is a u8
MAX_PERP_POSITIONS: Final = 8
MAX_SPOT_POSITIONS: Final = 8
OPEN_ORDER_MARGIN_REQUIREMENT: Final = QUOTE_PRECISION // 100  # $0.01 per open order
MAX_TRANSACTION_BYTES: Final = 1232

QUOTE_SPOT_MARKET_INDEX: Final = 0  # USDC
SOL_SPOT_MARKET_INDEX: Final = 1


def quote_value(base: int, price: int) -> int:
    """Quote value (1e6) of ``base`` (1e9) at ``price`` (1e6), truncated toward zero like the Rust code."""
    return tdiv(base * price, BASE_PRICE_TO_QUOTE)


def scale_exactly(d: Decimal, precision: int) -> Decimal | None:
    """``d * precision`` for a finite ``d``, every digit kept (the default context's 28 digits would round a long
    value, and a caller checking for a fraction would then accept it); None when ``|d|`` is over
    1e``MAX_MAGNITUDE`` (no human or market figure is; it also keeps "1e999999999" from becoming an int)."""
    if d and d.adjusted() > MAX_MAGNITUDE:
        return None
    with localcontext() as exact:
        exact.prec = len(d.as_tuple().digits) + len(str(precision)) + 1
        exact.Emin = MIN_EMIN  # "1e-999999999" must stay a tiny fraction, not underflow to an integral 0
        return d * precision


def to_fixed(value: str | int | Decimal, precision: int, *, what: str = "value") -> int:
    """Parse a human decimal (``"0.25"``) into fixed point, rejecting anything that does not fit exactly.

    Raises ``ValueError`` naming ``what`` for NaN, infinities and values finer than the precision allows.
    """
    try:
        d = Decimal(str(value))
    except ArithmeticError as exc:  # decimal.InvalidOperation derives from ArithmeticError
        raise ValueError(f"{what}: {value!r} is not a number") from exc
    if not d.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    scaled = scale_exactly(d, precision)
    if scaled is None:
        raise ValueError(f"{what}: {value!r} is out of range (over 1e{MAX_MAGNITUDE})")
    if scaled != scaled.to_integral_value(rounding=ROUND_DOWN):
        raise ValueError(f"{what}: {value!r} has more decimals than precision 1/{precision} allows")
    return int(scaled)


def decimal_text(value: int, decimals: int) -> str:
    """``decimal_text(-1_500_000, 6) == "-1.500000"``: the exact decimal string of a fixed-point integer with
    ``decimals`` places. Integer arithmetic only: exact for any magnitude (no decimal context, no rounding)."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}" if decimals else f"{sign}{whole}"


def to_decimal(value: int, precision: int) -> Decimal:
    """Exact decimal for display: ``to_decimal(1_500_000, PRICE_PRECISION) == Decimal("1.500000")``, for a
    ``precision`` that is a power of ten. Built from :func:`decimal_text` (a Decimal from a string is exact: the
    context's 28 digits do not apply), so any magnitude keeps every digit."""
    places = len(str(precision)) - 1
    if precision != 10**places:
        raise ValueError(f"to_decimal: precision must be a power of ten, got {precision}")
    return Decimal(decimal_text(value, places))
