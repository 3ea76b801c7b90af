"""The Strategy protocol: a pure function of what the bot has seen, emitting only exposure intent.

A strategy never sees orders. The bot step feeds it prices (``on_price``) and asks it for a decision (``decide``)
given a ``MarketView``; the decision is an ``ExposureBand`` plus the ladder rungs it would like worked. Risk caps are
applied afterwards by the Risk Governor, execution by the connector.

Purity: no I/O, no clock (timestamps come in as arguments), no randomness; same inputs give identical output.
State ownership: a strategy's state belongs to exactly one bot step. A state MAY be mutable for speed (see
``strategies.grid.GridState``); then ``on_price`` updates it in place and returns it, and the owner must not share
it across bots or threads. ``decide`` never mutates the state.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

import msgspec

from botrunner.core.intents import StrategyDecision
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.policy import ExecutionPolicy


class MarketView(msgspec.Struct, frozen=True, kw_only=True):
    """What a strategy may look at when deciding: prices (1e6), the bot's signed position (1e9) and static specs."""

    mark: int
    oracle: int
    position_base: int
    market: PerpMarketSpec
    policy: ExecutionPolicy

    def validate(self) -> None:
        """Raise ``ValueError`` naming an impossible field (non-positive or non-int prices)."""
        for name, value in (("mark", self.mark), ("oracle", self.oracle)):
            if type(value) is not int or value <= 0:
                raise ValueError(f"MarketView.{name} must be a positive int (1e6), got {value!r}")
        if type(self.position_base) is not int:
            raise ValueError(f"MarketView.position_base must be an int (1e9), got {self.position_base!r}")


class PriceMemory(msgspec.Struct, frozen=True, kw_only=True):
    """How much price history a strategy's decisions depend on, so a restarted bot can replay it: the last
    observation of every ``sample_s`` bucket (``ts // sample_s``) over the last ``lookback_s`` seconds. Replaying
    exactly those gives the same state as having seen every observation."""

    lookback_s: int
    sample_s: int


S = TypeVar("S")


class Strategy(Protocol[S]):
    """What the bot step calls. ``S`` is the strategy's own state type."""

    def initial_state(self) -> S:
        """A fresh state with no history."""
        ...

    def on_price(self, state: S, ts: int, price: int) -> S:
        """Feed one price observation (1e6) at ``ts`` (unix seconds, non-decreasing); returns the next state."""
        ...

    def decide(self, state: S, view: MarketView) -> StrategyDecision:
        """The band and ladder for this step. Must not mutate ``state``."""
        ...

    def price_memory(self) -> PriceMemory | None:
        """The price history this strategy's decisions depend on (None: none, its prices are never read)."""
        ...
