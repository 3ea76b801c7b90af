"""The settle-PnL policy: when a bot moves its perp's unsettled PnL into its USDC balance (Drift ``settle_pnl``).

One rule for backtests, paper and live bots alike (the step applies it, ``botrunner.bot.step``), so a paper bot's
margin capacity over a long run is the live bot's. Pure: ``now`` is passed in (unix s); amounts quote 1e6.
"""

from __future__ import annotations

import enum

import msgspec

from botrunner.config import BotConfig


class SettleReason(enum.Enum):
    """Why PnL settlement is due."""

    POSITION_CLOSED = "position_closed"  # the position just went flat
    SCHEDULE = "schedule"  # every_s elapsed since the last settlement


class SettlePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Settle when ``|unsettled| > threshold_quote`` and the position just closed or ``every_s`` has passed."""

    threshold_quote: int
    every_s: int

    @classmethod
    def of(cls, bot: BotConfig) -> SettlePolicy:
        """The bot's policy: its ``live.settle_threshold_usd`` and ``live.settle_every_s`` (defaults $1, 1 h),
        which paper and backtests follow too."""
        return cls(threshold_quote=bot.live.settle_threshold_quote, every_s=bot.live.settle_every_s)


def settle_due(
    *,
    unsettled_pnl: int,
    position_base: int,
    previous_position_base: int,
    last_settle_ts: int,
    now: int,
    policy: SettlePolicy,
) -> SettleReason | None:
    """Whether to settle the bot's perp PnL now, and why.

    Settle when ``|unsettled_pnl| > policy.threshold_quote`` ($1 by default: below it the fee is not worth it)
    and either the position just closed (was non-zero, now zero) or ``policy.every_s`` has elapsed since
    ``last_settle_ts``. Why settle at all: on SOL-PERP positive unsettled PnL counts 0 % toward initial collateral
    (``unrealized_pnl_initial_asset_weight = 0``), so a profitable bot cannot reuse its profits for new orders
    until they are settled into its USDC deposit; settling a loss likewise keeps the account's figures honest.
    A closed position is settled at once (the PnL is final); an open one on the schedule.
    """
    if abs(unsettled_pnl) <= policy.threshold_quote:
        return None
    if previous_position_base != 0 and position_base == 0:
        return SettleReason.POSITION_CLOSED
    if now - last_settle_ts >= policy.every_s:
        return SettleReason.SCHEDULE
    return None
