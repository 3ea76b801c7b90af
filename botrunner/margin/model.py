"""Our own account and market model for the margin engine: frozen msgspec Structs, integers in Drift precisions.

The engine never sees driftpy objects; ``botrunner.drift`` converts decoded accounts into these. Field names follow
protocol-v2 (``state/user.rs``, ``state/perp_market.rs``, ``state/spot_market.rs``) so each formula can be checked
against the Rust source line by line.
"""

from __future__ import annotations

import enum

import msgspec

from botrunner.core.markets import PerpMarketSpec, SpotMarketSpec
from botrunner.core.precision import SPOT_CUMULATIVE_INTEREST_PRECISION


class MarginCategory(enum.Enum):
    """Drift's ``MarginRequirementType``: which ratios and weights apply."""

    # Members are singletons compared by identity: hash them by identity too (C) rather than by name (Python),
    # as they key the hot dict lookups. (Set iteration order never depended on a hash: names hash randomly.)
    __hash__ = object.__hash__

    INITIAL = "initial"
    FILL = "fill"
    MAINTENANCE = "maintenance"


class MarginMode(enum.Enum):
    """Drift's user ``MarginMode``. High-leverage mode swaps in the market's ``high_leverage_margin_ratio_*``."""

    # Members are singletons compared by identity: hash them by identity too (C) rather than by name (Python),
    # as they key the hot dict lookups. (Set iteration order never depended on a hash: names hash randomly.)
    __hash__ = object.__hash__

    DEFAULT = "default"
    HIGH_LEVERAGE = "high_leverage"
    HIGH_LEVERAGE_MAINTENANCE = "high_leverage_maintenance"


class BalanceType(enum.Enum):
    """Whether a spot position's scaled balance is a deposit or a borrow."""

    # Members are singletons compared by identity: hash them by identity too (C) rather than by name (Python),
    # as they key the hot dict lookups. (Set iteration order never depended on a hash: names hash randomly.)
    __hash__ = object.__hash__

    DEPOSIT = "deposit"
    BORROW = "borrow"


class PerpMarketStatus(enum.Enum):
    """The part of Drift's ``MarketStatus`` that changes margin: a settled market is valued at its expiry price
    and carries no margin requirement."""

    ACTIVE = "active"
    SETTLEMENT = "settlement"


class SpotPosition(msgspec.Struct, frozen=True, kw_only=True):
    """A spot balance. The token amount is derived from ``scaled_balance`` and the market's cumulative interest."""

    market_index: int
    scaled_balance: int  # SPOT_BALANCE_PRECISION 1e9, >= 0
    balance_type: BalanceType = BalanceType.DEPOSIT
    open_bids: int = 0  # token precision, >= 0
    open_asks: int = 0  # token precision, <= 0
    open_orders: int = 0

    def __post_init__(self) -> None:
        if self.scaled_balance < 0:
            raise ValueError(f"spot position {self.market_index}: scaled_balance {self.scaled_balance} < 0")
        if self.open_bids < 0 or self.open_asks > 0 or self.open_orders < 0:
            raise ValueError(
                f"spot position {self.market_index}: open_bids must be >= 0, open_asks <= 0, open_orders >= 0 "
                f"(got {self.open_bids}, {self.open_asks}, {self.open_orders})"
            )

    @property
    def is_available(self) -> bool:
        """An empty slot (Rust ``SpotPosition::is_available``)."""
        return self.scaled_balance == 0 and self.open_orders == 0

    @property
    def has_open_order(self) -> bool:
        return self.open_orders != 0 or self.open_bids != 0 or self.open_asks != 0


class PerpPosition(msgspec.Struct, frozen=True, kw_only=True):
    """A cross-margin perp position (Rust ``PerpPosition``)."""

    market_index: int
    base_asset_amount: int = 0  # 1e9, signed
    quote_asset_amount: int = 0  # 1e6, signed, includes fees and settled funding
    quote_entry_amount: int = 0
    quote_break_even_amount: int = 0
    last_cumulative_funding_rate: int = 0  # 1e9
    open_bids: int = 0  # 1e9, >= 0
    open_asks: int = 0  # 1e9, <= 0
    open_orders: int = 0
    max_margin_ratio: int = 0  # per-position custom initial margin ratio, 1e4; 0 = none

    def __post_init__(self) -> None:
        if self.open_bids < 0 or self.open_asks > 0 or self.open_orders < 0 or self.max_margin_ratio < 0:
            raise ValueError(
                f"perp position {self.market_index}: open_bids must be >= 0, open_asks <= 0, open_orders >= 0, "
                f"max_margin_ratio >= 0 (got {self.open_bids}, {self.open_asks}, {self.open_orders}, "
                f"{self.max_margin_ratio})"
            )

    @property
    def has_open_order(self) -> bool:
        return self.open_orders != 0 or self.open_bids != 0 or self.open_asks != 0

    @property
    def is_available(self) -> bool:
        """An empty slot (Rust ``PerpPosition::is_available``, isolated positions aside)."""
        return self.base_asset_amount == 0 and not self.has_open_order and self.quote_asset_amount == 0


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """A Drift user (sub-account) as the margin engine sees it."""

    sub_account_id: int = 0
    spot_positions: tuple[SpotPosition, ...] = ()
    perp_positions: tuple[PerpPosition, ...] = ()
    margin_mode: MarginMode = MarginMode.DEFAULT
    max_margin_ratio: int = 0  # user-wide custom initial margin ratio, 1e4; 0 = none
    being_liquidated: bool = False  # UserStatus BeingLiquidated or Bankrupt

    def is_high_leverage_mode(self, category: MarginCategory) -> bool:
        """Rust ``User::is_high_leverage_mode``."""
        return self.margin_mode is MarginMode.HIGH_LEVERAGE or (
            category is MarginCategory.MAINTENANCE and self.margin_mode is MarginMode.HIGH_LEVERAGE_MAINTENANCE
        )

    def perp_position(self, market_index: int) -> PerpPosition | None:
        """The active perp position in ``market_index``, if any."""
        for p in self.perp_positions:
            if p.market_index == market_index and not p.is_available:
                return p
        return None

    def spot_position(self, market_index: int) -> SpotPosition | None:
        """The active spot position in ``market_index``, if any."""
        for s in self.spot_positions:
            if s.market_index == market_index and not s.is_available:
                return s
        return None


class PerpMarketState(msgspec.Struct, frozen=True, kw_only=True):
    """A perp market's static spec plus the dynamic state the margin formulas read."""

    spec: PerpMarketSpec
    oracle_price: int  # 1e6
    cumulative_funding_rate_long: int = 0  # 1e9
    cumulative_funding_rate_short: int = 0
    status: PerpMarketStatus = PerpMarketStatus.ACTIVE
    expiry_price: int = 0  # 1e6, used when settled
    # For the unrealized-pnl imbalance weight (Rust amm::calculate_net_user_pnl at the historical last oracle price):
    amm_net_base_asset_amount: int = 0  # base_asset_amount_with_amm + base_asset_amount_with_unsettled_lp, 1e9
    amm_net_user_cost_basis: int = 0  # quote_asset_amount + quote_with_unsettled_lp + net_unsettled_funding_pnl
    last_oracle_price: int = 0  # amm.historical_oracle_data.last_oracle_price; 0 = use oracle_price
    oracle_price_twap: int = 0  # amm.historical_oracle_data.last_oracle_price_twap (for reports)

    def __post_init__(self) -> None:
        if self.oracle_price <= 0:
            raise ValueError(f"{self.spec.symbol}: oracle price {self.oracle_price} must be > 0")

    @property
    def market_index(self) -> int:
        return self.spec.market_index

    def with_oracle_price(self, price: int) -> PerpMarketState:
        """The same market after the oracle moved to ``price``."""
        return msgspec.structs.replace(self, oracle_price=price)


class SpotMarketState(msgspec.Struct, frozen=True, kw_only=True):
    """A spot market's static spec plus the dynamic state the margin formulas read."""

    spec: SpotMarketSpec
    oracle_price: int  # 1e6
    oracle_price_twap_5min: int = 0  # historical_oracle_data.last_oracle_price_twap_5min; 0 = oracle_price
    cumulative_deposit_interest: int = SPOT_CUMULATIVE_INTEREST_PRECISION  # 1e10
    cumulative_borrow_interest: int = SPOT_CUMULATIVE_INTEREST_PRECISION
    deposit_balance: int = 0  # scaled, for scale_initial_asset_weight_start

    def __post_init__(self) -> None:
        if self.oracle_price <= 0:
            raise ValueError(f"{self.spec.symbol}: oracle price {self.oracle_price} must be > 0")

    @property
    def market_index(self) -> int:
        return self.spec.market_index

    @property
    def twap_5min(self) -> int:
        return self.oracle_price_twap_5min or self.oracle_price

    def with_oracle_price(self, price: int) -> SpotMarketState:
        """The same market after the oracle moved to ``price`` (the 5-minute twap is left as recorded)."""
        return msgspec.structs.replace(self, oracle_price=price)


class Markets(msgspec.Struct, frozen=True, kw_only=True):
    """The markets an account's positions reference, keyed by market index. Treat the dicts as read-only."""

    perp: dict[int, PerpMarketState]
    spot: dict[int, SpotMarketState]

    def perp_market(self, index: int) -> PerpMarketState:
        try:
            return self.perp[index]
        except KeyError:
            raise KeyError(f"perp market {index} is missing from the margin inputs") from None

    def spot_market(self, index: int) -> SpotMarketState:
        try:
            return self.spot[index]
        except KeyError:
            raise KeyError(f"spot market {index} is missing from the margin inputs") from None

    def moves_with_perp_oracle(self, perp_index: int, spot: SpotMarketState) -> bool:
        """Whether spot market ``spot`` is repriced when perp ``perp_index``'s oracle moves: it reads the same
        oracle account, or it is the perp's underlying asset (SOL for SOL-PERP). The second rule matters for
        markets assembled from snapshots of different dates, across oracle migrations. USDC never moves."""
        if spot.market_index == 0:
            return False
        perp = self.perp_market(perp_index).spec
        if spot.spec.oracle == perp.oracle:
            return True
        return perp.symbol.upper().removesuffix("-PERP") == spot.spec.symbol.upper()

    def sister_spot_market(self, perp_index: int) -> SpotMarketState | None:
        """The spot market priced with perp ``perp_index`` (SOL spot for SOL-PERP), if any."""
        for s in self.spot.values():
            if self.moves_with_perp_oracle(perp_index, s):
                return s
        return None

    def with_perp_oracle_price(self, perp_index: int, price: int) -> Markets:
        """All markets after the oracle of perp ``perp_index`` moved (with every spot market that moves with it)."""
        oracle = self.perp_market(perp_index).spec.oracle
        perp = {i: (m.with_oracle_price(price) if m.spec.oracle == oracle else m) for i, m in self.perp.items()}
        spot = {
            i: (m.with_oracle_price(price) if self.moves_with_perp_oracle(perp_index, m) else m)
            for i, m in self.spot.items()
        }
        return Markets(perp=perp, spot=spot)
