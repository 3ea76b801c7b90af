"""A bot's ``paper:`` section: what a paper bot (and its backtest) sets of the paper venue per bot.

``latency_slots``: Solana slots (400 ms each) between the bot and its paper venue, both ways: commands land and
reports arrive that much later (``botrunner.paper.latency``). 0, the default, answers every command at once.

``interest``: the paper venue's deposit and borrow interest on the USDC and SOL balances
(``botrunner.paper.config.InterestSettings``: per market a rate series file or Drift's curve at a utilisation, and
the update cadence ``every_s``); off when absent. A delta-neutral bot's carry engine counts the SOL deposit APR of
the same source, so what it expects and what the venue pays agree.
"""

from __future__ import annotations

from typing import Final

import msgspec

from botrunner.paper.config import InterestSettings

SLOT_MS: Final = 400  # a Solana slot
# A transaction's recent blockhash is valid for 150 blocks: a command cannot land later than that, so a longer
# delay would model something that cannot happen.
MAX_LATENCY_SLOTS: Final = 150


def check_latency_slots(slots: object, where: str) -> int:
    """``slots`` as a latency in slots, or ``ValueError`` naming ``where`` (an integer in 0..150)."""
    if isinstance(slots, bool) or not isinstance(slots, int):
        raise ValueError(f"{where} must be an integer number of slots, got {slots!r}")
    if not 0 <= slots <= MAX_LATENCY_SLOTS:
        raise ValueError(
            f"{where} must be in 0..{MAX_LATENCY_SLOTS} (a Solana transaction expires after 150 slots), got {slots}"
        )
    return slots


class PaperSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A paper bot's venue settings (paper mode and backtests; a live bot ignores them)."""

    latency_slots: int = 0
    interest: InterestSettings | None = None

    def validate(self) -> None:
        """Raise ``ValueError`` ("PaperSettings.latency_slots must ...") for an impossible value."""
        check_latency_slots(self.latency_slots, "PaperSettings.latency_slots")
        if self.interest is not None:
            self.interest.validate()
