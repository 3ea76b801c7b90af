"""The rows a bot records (backtest, paper and live alike) in Drift precisions (ints), and their exact decimals.

The CSV layouts are a public contract (``shared/guides/backtest-output.md``): prices 6 decimals, base 9, USD 6,
funding rates 9 (Drift's 1e9 quote per base), ``ts`` unix seconds UTC. Decimals are rendered from the integers
directly, so there is never binary-float noise and reruns are byte-identical.
"""

from __future__ import annotations

from typing import Final

import msgspec

from botrunner.core.precision import decimal_text

PRICE_DECIMALS: Final = 6
BASE_DECIMALS: Final = 9
QUOTE_DECIMALS: Final = 6
RATE_DECIMALS: Final = 9

# ``fixed(-1_500_000, 6) == "-1.500000"``: the exact decimal string of a fixed-point integer (integer divmod: any
# magnitude, no rounding). The project's one implementation, under the name the writers use.
fixed = decimal_text


def optional_fixed(value: int | None, decimals: int) -> str:
    return "" if value is None else fixed(value, decimals)


class FillRow(msgspec.Struct, frozen=True):
    ts: int
    order_id: int  # user_order_id; 0 = the venue's liquidation transfer
    side: str  # buy / sell
    price: int
    base: int
    quote: int  # signed quote change (buys negative)
    fee: int  # + paid, - rebate
    liquidity: str  # maker / taker
    reduce_only: bool


class FundingRow(msgspec.Struct, frozen=True):
    ts: int
    position_base: int
    rate: int  # 1e9 quote per base for the period, + = longs pay
    payment: int  # + received


class SettleRow(msgspec.Struct, frozen=True):
    """A PnL settlement (Drift ``settle_pnl``): ``amount`` moved from the perp position's quote into the USDC
    balance (negative: a loss moved out of USDC); ``reason`` the settle policy's (``position_closed`` /
    ``schedule``), empty for one the bot did not ask for."""

    ts: int
    amount: int
    reason: str


class OrderRow(msgspec.Struct, frozen=True):
    """One event of an order's life. ``reason`` says why the event happened: for ``placed``, the connector's
    ``PlanReason`` of the command that placed it; for ``rejected``/``cancelled``, the venue's reason; ``adopted``
    rows say ``restart``. ``decision_seq`` numbers the bot's decision whose command placed the order (the store's
    ``decisions`` row); every row of the order carries it. 0: no decision placed it (adopted at a restart, or
    placed before the store recorded decisions)."""

    ts: int
    order_id: int
    user_order_id: int
    event: str  # placed / adopted / cancelled / expired / rejected / filled
    side: str
    price: int
    base: int
    post_only: bool
    reduce_only: bool
    reason: str
    decision_seq: int = 0


class SnapshotRow(msgspec.Struct, frozen=True):
    """The account at a bar close, as the bot's decision saw it, plus what the decision produced."""

    ts: int
    mark: int
    oracle: int
    position_base: int
    entry_price: int
    collateral: int  # total collateral, maintenance weights (quote 1e6)
    unrealized_pnl: int  # position value at the oracle minus its entry cost
    unsettled_pnl: int  # Drift's unrealized PnL of the perp (value + quote amount): not yet in USDC
    settled_pnl: int  # cumulative PnL moved into USDC
    equity: int
    health: int
    leverage: int  # 1e4 = 1x
    liq_price: int | None
    risk_state: str
    range_low: int  # the strategy's price range (1e6; 0 when it has none yet)
    range_high: int
    band_min: int  # approved band (base 1e9)
    band_max: int
    bid_prices: tuple[int, ...]  # resting ladder after the decision's commands, best first
    ask_prices: tuple[int, ...]
    realized: int  # cumulative PnL split (quote 1e6), for the equity plot
    funding: int
    fees: int


class SpotFillRow(msgspec.Struct, frozen=True):
    """A spot leg's fill (the delta-neutral engine): ``base`` tokens of spot market ``market_index`` at ``price``;
    ``quote`` the signed USDC change (buys negative), ``fee`` + paid."""

    ts: int
    market_index: int
    side: str  # buy / sell
    price: int
    base: int
    quote: int
    fee: int


class InterestRow(msgspec.Struct, frozen=True):
    """Interest the venue accrued on a spot balance: ``amount`` tokens of ``market_index`` (its decimals: USDC 1e6,
    SOL 1e9), + earned on a deposit, - paid on a borrow."""

    ts: int
    market_index: int
    amount: int


class LegsRow(msgspec.Struct, frozen=True):
    """One two-leg decision (the delta-neutral engine): both legs as seen, the drift and what was asked, why, and
    the carry behind it. ``drift_bps`` None: no hedgeable spot. ``blocked``: the rule or gate that stopped a trade
    the strategy wanted ('' when none did)."""

    ts: int
    decision_seq: int
    mark: int
    oracle: int
    spot_base: int
    perp_base: int
    net_delta: int
    drift_bps: int | None
    tolerance_bps: int
    correction_base: int
    target_spot: int
    target_perp: int
    carry_apr_bps: int
    smoothed_carry_apr_bps: int
    in_market: bool
    reason: str
    blocked: str
    sent: bool
    break_even_s: int | None = None  # the carry engine's time to break even (None: never, or no estimate)
    stance: str = ""  # the carry engine's reason (strategies.carry.StanceReason)


FILLS_HEADER: Final = "ts,order_id,side,price,base,quote,fee,liquidity,reduce_only"
FUNDING_HEADER: Final = "ts,position_base,rate,payment"
SETTLEMENTS_HEADER: Final = "ts,amount,reason"
ORDERS_HEADER: Final = "ts,order_id,user_order_id,event,side,price,base,post_only,reduce_only,reason"
SPOT_FILLS_HEADER: Final = "ts,market_index,side,price,base,quote,fee"
INTEREST_HEADER: Final = "ts,market_index,amount"
LEGS_HEADER: Final = (
    "ts,decision_seq,mark,oracle,spot_base,perp_base,net_delta,drift_pct,tolerance_pct,correction_base,target_spot,target_perp,"
    "carry_apr_pct,smoothed_carry_apr_pct,in_market,reason,blocked,sent,break_even_days,stance"
)
SNAPSHOTS_HEADER: Final = (
    "ts,mark,oracle,position_base,entry_price,collateral,unrealized_pnl,unsettled_pnl,settled_pnl,health,leverage,"
    "liq_price,risk_state"
)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def fill_line(r: FillRow) -> str:
    return (
        f"{r.ts},{r.order_id},{r.side},{fixed(r.price, PRICE_DECIMALS)},{fixed(r.base, BASE_DECIMALS)},"
        f"{fixed(r.quote, QUOTE_DECIMALS)},{fixed(r.fee, QUOTE_DECIMALS)},{r.liquidity},{_flag(r.reduce_only)}"
    )


def settlement_line(r: SettleRow) -> str:
    return f"{r.ts},{fixed(r.amount, QUOTE_DECIMALS)},{r.reason}"


def funding_line(r: FundingRow) -> str:
    return (
        f"{r.ts},{fixed(r.position_base, BASE_DECIMALS)},{fixed(r.rate, RATE_DECIMALS)},"
        f"{fixed(r.payment, QUOTE_DECIMALS)}"
    )


def order_line(r: OrderRow) -> str:
    return (
        f"{r.ts},{r.order_id},{r.user_order_id},{r.event},{r.side},{fixed(r.price, PRICE_DECIMALS)},"
        f"{fixed(r.base, BASE_DECIMALS)},{_flag(r.post_only)},{_flag(r.reduce_only)},{r.reason}"
    )


def snapshot_line(r: SnapshotRow) -> str:
    return (
        f"{r.ts},{fixed(r.mark, PRICE_DECIMALS)},{fixed(r.oracle, PRICE_DECIMALS)},"
        f"{fixed(r.position_base, BASE_DECIMALS)},{fixed(r.entry_price, PRICE_DECIMALS)},"
        f"{fixed(r.collateral, QUOTE_DECIMALS)},{fixed(r.unrealized_pnl, QUOTE_DECIMALS)},"
        f"{fixed(r.unsettled_pnl, QUOTE_DECIMALS)},{fixed(r.settled_pnl, QUOTE_DECIMALS)},{r.health},"
        f"{fixed(r.leverage, 4)},{optional_fixed(r.liq_price, PRICE_DECIMALS)},{r.risk_state}"
    )


def spot_fill_line(r: SpotFillRow) -> str:
    return (
        f"{r.ts},{r.market_index},{r.side},{fixed(r.price, PRICE_DECIMALS)},{fixed(r.base, BASE_DECIMALS)},"
        f"{fixed(r.quote, QUOTE_DECIMALS)},{fixed(r.fee, QUOTE_DECIMALS)}"
    )


def interest_line(r: InterestRow, decimals: int) -> str:
    """``decimals``: the spot market's token decimals (USDC 6, SOL 9)."""
    return f"{r.ts},{r.market_index},{fixed(r.amount, decimals)}"


def legs_line(r: LegsRow) -> str:
    # bps rendered as percent with 2 decimals (exact: 1 bp = 0.01 %)
    return (
        f"{r.ts},{r.decision_seq},{fixed(r.mark, PRICE_DECIMALS)},{fixed(r.oracle, PRICE_DECIMALS)},"
        f"{fixed(r.spot_base, BASE_DECIMALS)},{fixed(r.perp_base, BASE_DECIMALS)},"
        f"{fixed(r.net_delta, BASE_DECIMALS)},{optional_fixed(r.drift_bps, 2)},{fixed(r.tolerance_bps, 2)},"
        f"{fixed(r.correction_base, BASE_DECIMALS)},{fixed(r.target_spot, BASE_DECIMALS)},"
        f"{fixed(r.target_perp, BASE_DECIMALS)},{fixed(r.carry_apr_bps, 2)},{fixed(r.smoothed_carry_apr_bps, 2)},"
        f"{_flag(r.in_market)},{r.reason},{r.blocked},{_flag(r.sent)},"
        f"{optional_fixed(None if r.break_even_s is None else -(-r.break_even_s * 100 // 86_400), 2)},{r.stance}"
    )
