"""What the runner answers operators with: typed snapshots of the fleet and its bots, the answers to commands and
the events ``subscribe`` streams. Frozen msgspec structs, shared by the runner (which builds them,
``botrunner.runtime.views``), the control socket (which encodes them) and ``botrunner ctl`` (which decodes them).

On the wire every amount is an exact decimal string in its unit (``"148.500000"`` USDC, ``"1.000000000"`` SOL),
never a float and never Drift's raw integer; every time is ISO-8601 UTC. Fees follow the report's convention:
``fees_paid`` is positive for a cost, negative for a rebate.

This module imports nothing heavier than msgspec, so ``ctl`` (and a dashboard) can decode replies without loading
the runtime.
"""

from __future__ import annotations

import msgspec

# -- the status board (raw, posted by the bots after every step) --------------------------------------------------


class BotSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One bot's latest one-line summary, as its actor posts it (or, before its first step, what the supervisor
    knows): integers in Drift precisions, cheap enough to post after every step. ``views.status_row`` renders it."""

    name: str
    market: str | None = None
    mode: str | None = None
    state: str | None = None
    risk_state: str | None = None  # the Risk Governor's last action; None before the first decision
    risk_reasons: tuple[str, ...] = ()  # why (``operator`` for an operator's pause or reduce-only)
    position: int | None = None  # base 1e9
    mark: int | None = None  # price 1e6
    equity: int | None = None  # quote 1e6
    pnl: int | None = None  # quote 1e6; None where it is not known (a live bot's lifetime PnL)
    open_orders: int | None = None
    fills: int | None = None
    market_time: int | None = None  # unix seconds
    restarts: int = 0
    flagged: bool = False
    legs: str | None = None  # a two-leg bot's one-line legs, drift, carry and last block (None: a perp-only bot)


# -- the supervisor's view of a bot ------------------------------------------------------------------------------


class SupervisionView(msgspec.Struct, frozen=True, kw_only=True):
    """How the supervisor runs a bot (``runtime.supervision``): its supervision state, restarts, whether a human
    must look at it, its last error, whether its actor is alive."""

    supervision: str
    restarts: int = 0
    flagged: bool = False
    last_error: str | None = None
    alive: bool = False


# -- replies -----------------------------------------------------------------------------------------------------


class StatusRow(msgspec.Struct, frozen=True, kw_only=True):
    """One bot's row of ``ctl status``. Fields a bot has not posted yet (it failed before its first step) are
    None."""

    name: str
    market: str | None = None
    mode: str | None = None
    state: str | None = None  # the bot's operator mode while the supervisor runs it, else the supervision state
    risk_state: str | None = None
    risk_reasons: tuple[str, ...] = ()
    position: str | None = None
    mark: str | None = None
    equity: str | None = None
    pnl: str | None = None
    open_orders: int | None = None
    fills: int | None = None
    market_time: str | None = None
    restarts: int = 0
    flagged: bool = False
    legs: str | None = None  # a two-leg bot's one-line legs, drift, carry and last block


class FleetInfo(msgspec.Struct, frozen=True, kw_only=True):
    bots: int
    running: int
    paused: int
    failed: int
    started_at: str
    market_time: str | None
    speed: str
    replay_finished: bool


class StatusSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """``ctl status``: the fleet line and one row per bot."""

    fleet: FleetInfo
    bots: tuple[StatusRow, ...]


class RiskView(msgspec.Struct, frozen=True, kw_only=True):
    state: str | None
    reasons: tuple[str, ...]


class BandView(msgspec.Struct, frozen=True, kw_only=True):
    """The position band of the last decision (base units)."""

    min: str
    max: str
    preferred: str


class OrderView(msgspec.Struct, frozen=True, kw_only=True):
    uid: int
    side: str
    price: str
    base: str
    filled: str
    post_only: str
    reduce_only: bool
    max_ts: str | None


class PnlView(msgspec.Struct, frozen=True, kw_only=True):
    """A bot's PnL split (USDC). A paper bot knows its whole ledger; a live bot what its User account counts."""

    unrealized: str | None = None
    realized: str | None = None
    funding: str | None = None
    fees_paid: str | None = None  # + a cost, - a rebate
    settled: str | None = None
    unsettled: str | None = None
    total: str | None = None
    settled_perp_pnl: str | None = None  # live: the User's own counter
    cumulative_funding: str | None = None  # live: the User's own counter


class VaultView(msgspec.Struct, frozen=True, kw_only=True):
    """A two-leg bot's engine vault (issue 19 item 8) as a paper bot's books hold it (USDC unless named): the
    balances, the capital allocated to the subaccount (deposits - withdrawals) and available (free collateral), the
    spot leg's entry price and the realised PnL split. ``spot_entry`` is our weighted-average cost of the SOL the
    spot fills hold (``botrunner.margin.spot_basis``; Drift keeps no entry price for a balance; None when they hold
    none; the perp's entry is the snapshot's ``entry``, Drift's). ``interest`` is the USDC and SOL deposit interest,
    the SOL part valued at the oracle; ``fees`` the perp's and the spot leg's fees (+ a cost); ``trading`` the
    realised trading PnL before fees, ``perp_trading`` (the venue's) + ``spot_trading`` (the spot fills' sells
    against their average cost); what is still held is valued at the oracle in ``equity``, never realised."""

    usdc_balance: str
    sol_balance: str  # SOL tokens
    spot_entry: str | None  # price (1e6) of the SOL the fills hold, our weighted-average cost
    equity: str
    allocated: str
    available: str
    realized_funding: str
    realized_interest: str
    interest_sol: str  # SOL tokens earned (its USD value is in ``realized_interest``)
    realized_fees: str
    realized_trading: str  # perp_trading + spot_trading
    perp_trading: str
    spot_trading: str


class BotSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """``ctl bot NAME``: one bot in detail. Paper, live and monitor bots share the shape; what a bot of that mode
    does not have is None (a bot that is not running has only its status row's fields and its supervision)."""

    name: str
    mode: str | None = None
    state: str | None = None
    market: str | None = None
    subaccount: str | None = None
    position: str | None = None
    entry: str | None = None
    mark: str | None = None
    oracle: str | None = None
    leverage: str | None = None
    liq_price: str | None = None
    liq_distance_pct: str | None = None
    health: int | None = None
    equity: str | None = None
    pnl: PnlView | None = None
    risk: RiskView | None = None
    band: BandView | None = None
    grid: dict[str, str] | None = None  # the strategy's parameters, as text (paper)
    legs: dict[str, str] | None = None  # a two-leg bot: both legs, drift, carry, break-even, last block
    vault: VaultView | None = None  # a two-leg paper bot's engine vault
    orders: tuple[OrderView, ...] | None = None
    market_time: str | None = None
    # live and monitor bots
    slot: int | None = None
    free_collateral: str | None = None
    wallet_sol: str | None = None
    latency_ms: float | None = None
    trading: str | None = None
    alert: str | None = None
    # the supervisor's part
    supervision: str | None = None
    restarts: int = 0
    flagged: bool = False
    last_error: str | None = None
    alive: bool = False


class BotState(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to a command that moves a bot: its state afterwards."""

    name: str
    state: str


class PositionResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to ``open`` / ``close`` (``botrunner.bot.operator_position``): the bot's state afterwards, the
    operator's target now in force (base units as text; None after a close) and the venue commands the decision
    sent at once (none: already there, or a perp bot's ladder works it later)."""

    name: str
    state: str
    action: str
    target_base: str | None = None
    commands: tuple[str, ...] = ()


class ReloadResult(msgspec.Struct, frozen=True, kw_only=True):
    changed: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """An answer that is only a sentence (``shutdown``)."""

    message: str


class Subscribed(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to ``subscribe``, before its events: the bots it follows (None: all)."""

    bots: tuple[str, ...] | None


class CapitalEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What the venue reported of a capital move: a balance change (``amount`` in the asset's units) or a refusal
    (``reason``, ``detail``)."""

    event: str  # the venue event's name, e.g. BalanceChanged, CommandRejected
    time: str | None = None
    asset: str | None = None
    amount: str | None = None  # signed: what the subaccount's balance moved
    reason: str | None = None
    detail: str | None = None


class CapitalResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to ``deposit``, ``withdraw`` or ``transfer``."""

    name: str
    action: str
    asset: str
    amount: str
    events: tuple[CapitalEvent, ...]


class Confirmed(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to ``confirm``."""

    name: str
    token: str
    valid_s: int


Result = (
    StatusSnapshot
    | BotSnapshot
    | BotState
    | PositionResult
    | ReloadResult
    | Message
    | Subscribed
    | CapitalResult
    | Confirmed
)
"""Every answer the runner gives (``botrunner.runner.Runner.dispatch``)."""


# -- events (``subscribe``) --------------------------------------------------------------------------------------


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """One event of one bot; a subclass per kind, tagged ``kind``."""

    bot: str


class Started(Event, frozen=True, kw_only=True, tag="started"):
    generation: int
    state: str


class StateChanged(Event, frozen=True, kw_only=True, tag="state"):
    """The bot's operator state moved: by a command (``command``), or a finished flatten became a pause."""

    state: str
    command: str | None = None


class RiskStateChanged(Event, frozen=True, kw_only=True, tag="risk_state"):
    time: str
    state: str
    reasons: tuple[str, ...]


class FillEvent(Event, frozen=True, kw_only=True, tag="fill"):
    time: str
    order_id: int  # user_order_id; 0 = the venue's liquidation transfer
    side: str
    price: str
    base: str
    quote: str  # signed quote change (a buy is negative)
    fees_paid: str  # + a cost, - a rebate
    liquidity: str
    reduce_only: bool


class FundingEvent(Event, frozen=True, kw_only=True, tag="funding"):
    time: str
    position: str
    rate: str  # quote per base for the period; + = longs pay
    payment: str  # + received


class SettlementEvent(Event, frozen=True, kw_only=True, tag="settlement"):
    """A PnL settlement: ``amount`` USD moved from the perp position into USDC (negative: a loss moved out)."""

    time: str
    amount: str
    reason: str  # position_closed | schedule


class Failed(Event, frozen=True, kw_only=True, tag="failed"):
    error: str
    generation: int


class Alert(Event, frozen=True, kw_only=True, tag="alert"):
    level: str
    message: str


class Incident(Event, frozen=True, kw_only=True, tag="incident"):
    """A live bot's incident the operator must hear of (``botrunner.runtime.incidents``): ``what`` is ``tx_unknown``,
    ``breaker_open`` or ``gate_blocked``; ``message`` carries its numbers; ``ref`` is what makes two the same."""

    time: str
    what: str
    message: str
    ref: str


BotEvent = (
    Started | StateChanged | RiskStateChanged | FillEvent | FundingEvent | SettlementEvent | Failed | Alert | Incident
)
"""Every event ``subscribe`` streams."""
