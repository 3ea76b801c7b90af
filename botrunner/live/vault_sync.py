"""The engine vault's sync rule (issue 19 item 8, live part). Pure: no I/O, no clock (times are passed in).

A bot's vault (balances, both legs, interest) is the venue's account as last read. The rule:

* a reading is fresh for ``FRESH_S`` (10 s): older, the bot must not trade on it;
* a failed read is retried up to ``RETRIES`` (3) times, waiting ``BACKOFF_S`` (1, 2, 4 s) before each retry;
* when every retry fails, trading is disabled and ONE error event says so; the next good read enables it again
  (with one recovery event).

Interest: between two readings the venue accrues interest into the spot market's cumulative deposit/borrow index;
the interest on the balance held at the first reading is that balance's token amount at the second index minus
at the first (``interest_since``): exact for a balance that did not change in between, and for one that did, the
interest on what was held before (the change itself is a fill or a transfer, reported as such).
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from botrunner.margin.model import Account, Markets
from botrunner.margin.spot_balance import signed_token_amount

FRESH_S: Final = 10
RETRIES: Final = 3
BACKOFF_S: Final = (1.0, 2.0, 4.0)  # before retry 1, 2, 3


class SyncChange(enum.Enum):
    """What a sync outcome changed about trading."""

    NONE = "none"
    DISABLED = "disabled"  # every retry failed: trading off, one error event
    ENABLED = "enabled"  # a good read after being disabled: trading back on


class VaultSync(msgspec.Struct, frozen=True, kw_only=True):
    """Where the sync stands: the last good read (monotonic seconds), failures in a row, trading disabled."""

    synced_at: float | None = None
    failures: int = 0
    disabled: bool = False

    def succeeded(self, now: float) -> tuple[VaultSync, SyncChange]:
        change = SyncChange.ENABLED if self.disabled else SyncChange.NONE
        return VaultSync(synced_at=now, failures=0, disabled=False), change

    def failed(self) -> tuple[VaultSync, SyncChange]:
        failures = self.failures + 1
        if failures > RETRIES and not self.disabled:
            return VaultSync(synced_at=self.synced_at, failures=failures, disabled=True), SyncChange.DISABLED
        return VaultSync(synced_at=self.synced_at, failures=failures, disabled=self.disabled), SyncChange.NONE

    def retry_in(self) -> float | None:
        """Seconds to wait before the next retry of this round, or None when the round is over (succeeded, or
        the first read and its ``RETRIES`` retries all failed)."""
        if self.failures == 0 or self.failures > RETRIES:
            return None
        return BACKOFF_S[self.failures - 1]

    def why_not_trading(self, now: float) -> str | None:
        """None when the vault is fresh enough to trade on, else why not."""
        if self.disabled:
            return f"vault sync failed {self.failures} times in a row: trading disabled until a good read"
        if self.synced_at is None:
            return "vault never synced"
        if now - self.synced_at > FRESH_S:
            return f"vault last synced {now - self.synced_at:.0f} s ago (> {FRESH_S} s)"
        return None


def interest_since(prev_account: Account, prev_markets: Markets, new_markets: Markets, spot_market_index: int) -> int:
    """Interest (tokens, the market's decimals; + earned on a deposit, - paid on a borrow) the balance held in
    ``spot_market_index`` at the first reading accrued by the second (0 when none was held)."""
    held = prev_account.spot_position(spot_market_index)
    if held is None or spot_market_index not in prev_markets.spot or spot_market_index not in new_markets.spot:
        return 0
    before = signed_token_amount(held, prev_markets.spot_market(spot_market_index))
    after = signed_token_amount(held, new_markets.spot_market(spot_market_index))
    return after - before
