"""TEST DOUBLE for the Risk Governor tests: ``FakeProjection``, a hand-written ``MarginProjection``.

It is NOT the margin engine (``botrunner.margin``) and must never be used outside tests. It models the simplest
account the governor meets: USDC collateral and ONE perp position, no open orders, no funding, no fees, no
unrealised-pnl weights, no IMF. With b = signed base, P = oracle, Q = quote entry (-sum of fill base * price):

    total collateral  tc    = collateral + (b * P + Q)
    maintenance       maint = |b| * P * mmr
    health                  = Drift's definition: 100 if maint == 0, 0 if tc <= 0, else round(100 * (1 - maint / tc))
    leverage                = |b| * P / tc
    liquidation price       = solve tc(P) = maint(P): P* = -(collateral + Q) / (b - |b| * mmr)  (one position)

Property tests take a *projection factory* (``Account -> MarginProjection``) so the same properties can be rerun
against the real engine: add its factory to ``PROJECTION_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from botrunner.core.catalogue import load_catalogue
from botrunner.core.margin_view import MarginProjection, MarginSnapshot
from botrunner.core.markets import PerpMarketSpec
from botrunner.core.precision import BASE_PRECISION, MARGIN_PRECISION, PRICE_PRECISION, QUOTE_PRECISION

# SOL-PERP's real parameters (shared/data README, protocol-v2 snapshot): imr 5 %, mmr 3 %, step 0.01, tick 0.0001.
SOL_PERP = msgspec.structs.replace(
    load_catalogue().perp("SOL-PERP"),
    # the double credits positive unrealized PnL in full (its simple model has no upnl weights)
    unrealized_pnl_initial_asset_weight=10_000,
    unrealized_pnl_maintenance_asset_weight=10_000,
)

_BP = BASE_PRECISION * PRICE_PRECISION // QUOTE_PRECISION  # base * price // _BP = quote


@dataclass(frozen=True)
class Account:
    """A one-position USDC account, in Drift precisions."""

    collateral: int  # quote 1e6
    position_base: int  # signed base 1e9
    entry_price: int  # 1e6
    oracle_price: int  # 1e6
    market: PerpMarketSpec = SOL_PERP


@dataclass(frozen=True)
class FakeProjection:
    """TEST DOUBLE implementing ``MarginProjection`` for one perp position against USDC (see module docstring)."""

    collateral: int
    position_base: int
    quote_entry_x: int  # -(sum of base * price), exact, in base 1e9 * price 1e6 units
    oracle_price: int
    mmr: int  # margin 1e4
    imr: int

    @classmethod
    def from_account(cls, account: Account) -> FakeProjection:
        return cls(
            collateral=account.collateral,
            position_base=account.position_base,
            quote_entry_x=-account.position_base * account.entry_price,
            oracle_price=account.oracle_price,
            mmr=account.market.margin_ratio_maintenance,
            imr=account.market.margin_ratio_initial,
        )

    def current(self) -> MarginSnapshot:
        return self._snapshot(self.position_base, self.quote_entry_x, self.oracle_price)

    def project(self, position_base: int, oracle_price: int) -> MarginSnapshot:
        # fill the difference at the current oracle, then move the oracle
        quote_entry = self.quote_entry_x - (position_base - self.position_base) * self.oracle_price
        return self._snapshot(position_base, quote_entry, oracle_price)

    def _snapshot(self, base: int, quote_entry_x: int, price: int) -> MarginSnapshot:
        upnl = (base * price + quote_entry_x) // _BP  # floored: the conservative side
        tc = self.collateral + upnl
        notional = abs(base) * price // _BP
        maint = notional * self.mmr // MARGIN_PRECISION
        init = notional * self.imr // MARGIN_PRECISION
        if maint == 0 and tc >= 0:
            health = 100
        elif tc <= 0:
            health = 0
        else:
            health = max(0, min(100, (200 * (tc - maint) + tc) // (2 * tc)))  # round half up
        # an account with no collateral left has unbounded leverage; a huge number keeps comparisons simple
        leverage = notional * 10_000 // tc if tc > 0 else (0 if notional == 0 else 10**12)
        return MarginSnapshot(
            oracle_price=price,
            position_base=base,
            entry_price=0 if base == 0 else -quote_entry_x // base,
            total_collateral_initial=tc,
            total_collateral_maintenance=tc,
            margin_requirement_initial=init,
            margin_requirement_maintenance=maint,
            free_collateral_initial=max(0, tc - init),
            free_collateral_maintenance=max(0, tc - maint),
            health=health,
            leverage=leverage,
            liquidation_price=self._liquidation_price(base, quote_entry_x),
            unrealized_pnl=upnl,
        )

    def _liquidation_price(self, base: int, quote_entry_x: int) -> int | None:
        if base == 0:
            return None
        # collateral + (b P + Q) / _BP = |b| P mmr / (_BP * 1e4)
        #   =>  P = -(collateral * _BP + Q) * 1e4 / (b * 1e4 - |b| * mmr)
        numerator = -(self.collateral * _BP + quote_entry_x) * MARGIN_PRECISION
        if base > 0:
            denominator = base * (MARGIN_PRECISION - self.mmr)
            if numerator <= 0:
                return None  # a long that the collateral fully covers cannot be liquidated
            return -((-numerator) // denominator)  # rounded up: closer to the oracle, conservative
        denominator = base * (MARGIN_PRECISION + self.mmr)  # negative
        return max(0, numerator // denominator)  # rounded down for a short: conservative


ProjectionFactory = Callable[[Account], MarginProjection]


def drift_margin_view(account: Account) -> MarginProjection:
    """The real margin engine (``botrunner.margin.AccountMarginView``) on the same one-position USDC account, with
    the bundled catalogue's SOL-PERP / USDC parameters and the account's oracle price."""
    from botrunner.core.catalogue import load_catalogue
    from botrunner.margin.model import Account as MarginAccount
    from botrunner.margin.model import Markets, PerpMarketState, PerpPosition, SpotMarketState, SpotPosition
    from botrunner.margin.spot_balance import scaled_balance_for
    from botrunner.margin.view import AccountMarginView

    catalogue = load_catalogue()
    usdc = SpotMarketState(spec=catalogue.spot(0), oracle_price=PRICE_PRECISION)
    markets = Markets(
        perp={0: PerpMarketState(spec=catalogue.perp(account.market.symbol), oracle_price=account.oracle_price)},
        spot={0: usdc},
    )
    quote = -(account.position_base * account.entry_price) // _BP
    position = PerpPosition(
        market_index=0,
        base_asset_amount=account.position_base,
        quote_asset_amount=quote,
        quote_entry_amount=quote,
        quote_break_even_amount=quote,
    )
    from botrunner.margin.model import BalanceType

    deposit = SpotPosition(
        market_index=0, scaled_balance=scaled_balance_for(account.collateral, usdc, BalanceType.DEPOSIT)
    )
    return AccountMarginView(
        MarginAccount(spot_positions=(deposit,), perp_positions=(position,)), markets, market_index=0
    )


# Every property test runs once per factory here: the test double, and the real engine when it is importable.
PROJECTION_FACTORIES: dict[str, ProjectionFactory] = {"fake": FakeProjection.from_account}
try:
    import botrunner.margin.view  # noqa: F401  (only probing that the engine exists)

    PROJECTION_FACTORIES["drift_margin"] = drift_margin_view
except ImportError:  # the engine is written in parallel; the double alone still runs
    pass


def usd(x: float | int) -> int:
    """Test-only convenience: dollars to quote 1e6 (exact for the literals used in tests)."""
    return round(x * QUOTE_PRECISION)


def sol(x: float | int) -> int:
    """Test-only convenience: SOL to base 1e9."""
    return round(x * BASE_PRECISION)


def px(x: float | int) -> int:
    """Test-only convenience: dollars to price 1e6."""
    return round(x * PRICE_PRECISION)
