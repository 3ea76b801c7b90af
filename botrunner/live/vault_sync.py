"""The engine vault's sync rule (issue 19 item 8, live part). Pure: no I/O, no clock (times are passed in).

A bot's vault (balances, both legs, interest) is the venue's account as last read. The rule:

* a reading is fresh for ``FRESH_S`` (10 s): older, the bot must not trade on it;
* a failed read is retried up to ``RETRIES`` (3) times, waiting ``BACKOFF_S`` (1, 2, 4 s) before each retry;
* when every retry fails, or the last good reading is older than ``FRESH_S`` (the RPC node slow, or the reads
  stopped), trading is disabled and ONE error event says so; the next fresh good read enables it again (with one
  recovery event). A reading's age counts from when its read BEGAN: a read that took 12 s is stale on arrival.

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
    DISABLED = "disabled"  # the retries all failed or the last good reading aged past FRESH_S: one error event
    ENABLED = "enabled"  # a fresh good read after being disabled: trading back on


class VaultSync(msgspec.Struct, frozen=True, kw_only=True):
    """Where the sync stands: when the last good read BEGAN (monotonic seconds; the data is at least that old),
    failures in a row, and whether trading is disabled (with why, for the error event)."""

    synced_at: float | None = None
    failures: int = 0
    disabled: bool = False
    why: str = ""

    def _blocked(self, now: float) -> str | None:
        if self.failures > RETRIES:
            return f"vault sync failed {self.failures} times in a row: trading disabled until a good read"
        if self.synced_at is not None and now - self.synced_at > FRESH_S:
            age = now - self.synced_at
            return f"vault last synced {age:.1f} s ago (> {FRESH_S} s): trading disabled until a fresh read"
        return None

    def _settle(self, now: float) -> tuple[VaultSync, SyncChange]:
        """Disable when a read and its retries failed or the reading is older than ``FRESH_S``; enable when neither
        holds any more. A change is reported once (the caller's one event), not once per read."""
        why = self._blocked(now)
        blocked = why is not None
        change = SyncChange.NONE
        if blocked and not self.disabled:
            change = SyncChange.DISABLED
        elif not blocked and self.disabled:
            change = SyncChange.ENABLED
        # the first reason stays while disabled: the operator's event names what disabled trading
        kept = self.why if (blocked and self.disabled) else (why or "")
        return msgspec.structs.replace(self, disabled=blocked, why=kept), change

    def succeeded(self, started: float, now: float | None = None) -> tuple[VaultSync, SyncChange]:
        """A good read that began at ``started`` and was answered at ``now`` (default: at once). A read slower than
        ``FRESH_S`` is stale on arrival: it ends the failures, but does not enable trading."""
        done = started if now is None else now
        return VaultSync(synced_at=started, failures=0, disabled=self.disabled, why=self.why)._settle(done)

    def failed(self, now: float | None = None) -> tuple[VaultSync, SyncChange]:
        """A read that went unanswered at ``now`` (default: judge the failures only, not the age)."""
        bumped = msgspec.structs.replace(self, failures=self.failures + 1)
        return bumped._settle(now if now is not None else (self.synced_at or 0.0))

    def aged(self, now: float) -> tuple[VaultSync, SyncChange]:
        """The same reading, judged at ``now``: disables trading once it is older than ``FRESH_S``."""
        return self._settle(now)

    def retry_in(self) -> float | None:
        """Seconds to wait before the next retry of this round, or None when the round is over (succeeded, or
        the first read and its ``RETRIES`` retries all failed)."""
        if self.failures == 0 or self.failures > RETRIES:
            return None
        return BACKOFF_S[self.failures - 1]

    def why_not_trading(self, now: float) -> str | None:
        """None when the vault is fresh enough to trade on, else why not (checked on every command, so a reading
        that aged between two syncs blocks trading even before the next sync reports it)."""
        if self.synced_at is None:
            return "vault never synced"
        blocked = self._blocked(now)
        if blocked is not None:
            return blocked
        return self.why if self.disabled else None


def interest_since(prev_account: Account, prev_markets: Markets, new_markets: Markets, spot_market_index: int) -> int:
    """Interest (tokens, the market's decimals; + earned on a deposit, - paid on a borrow) the balance held in
    ``spot_market_index`` at the first reading accrued by the second (0 when none was held)."""
    held = prev_account.spot_position(spot_market_index)
    if held is None or spot_market_index not in prev_markets.spot or spot_market_index not in new_markets.spot:
        return 0
    before = signed_token_amount(held, prev_markets.spot_market(spot_market_index))
    after = signed_token_amount(held, new_markets.spot_market(spot_market_index))
    return after - before
