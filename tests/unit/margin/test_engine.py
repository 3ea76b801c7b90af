"""Hand-checked margin numbers on catalogue markets (real SOL-PERP / SOL / USDC parameters).

Every expected value is derived in the comment next to it from the protocol-v2 formula it exercises, with the real
parameters: SOL-PERP margin_ratio_initial 500, maintenance 300, high-leverage 99/66, imf_factor 50,
upnl asset weights 0 (initial) / 10000 (maintenance); SOL spot asset weights 8000/9000, liability 12000/11000,
imf_factor 1250, scale_initial_asset_weight_start $180M; USDC weight 10000.
"""

from __future__ import annotations

import msgspec
import pytest

from botrunner.margin import (
    Account,
    AccountMarginView,
    BalanceType,
    MarginCategory,
    MarginMode,
    Markets,
    OracleScenario,
    PerpPosition,
    SpotPosition,
    account_margin,
    apply_fill,
    calculate_margin,
    entry_price,
    liquidation_price,
    scaled_balance_for,
    unsettled_funding,
)
from botrunner.margin.liquidation import nearest
from botrunner.margin.weights import perp_margin_ratio, spot_asset_weight
from tests.support.margin import SOL, USDC, account, catalogue_markets, perp_at, sol_deposit, usdc_deposit

P150 = 150 * USDC


def _long_10_sol() -> tuple[Account, Markets]:
    m = catalogue_markets(P150)
    return account(usdc_deposit(m, 1000 * USDC), perps=(perp_at(10 * SOL, P150),)), m


def test_margin_when_long_10_sol_at_150_then_requirements_are_5_and_3_percent_of_notional() -> None:
    a, m = _long_10_sol()
    r = account_margin(a, m)
    # notional 10 * $150 = $1500; imf premium at 10 SOL: 400 + isqrt(1e11+1)=316227 * 50 // 1e7 = 401 < 500
    assert r.initial.margin_requirement == 75_000_000  # 1500 * 500 / 1e4
    assert r.maintenance.margin_requirement == 45_000_000  # 1500 * 300 / 1e4
    assert r.initial.total_collateral == 1000 * USDC
    assert r.free_collateral_initial == 925_000_000
    # health = round(100 * (1 - 45/1000)) = round(95.5) -> 96 (halves to even)
    assert r.health == 96
    assert r.leverage == 15_000  # $1500 / $1000 = 1.5x


def test_liquidation_price_when_long_10_sol_then_maintenance_boundary_by_hand() -> None:
    a, m = _long_10_sol()
    # free(p) = 1000 + 10 (p - 150) - 0.03 * 10 p = 9.7 p - 500  ->  p* = 51.546391...
    # in integers (p in 1e6): free(p) = 10 p - 500e6 - (10 p * 300 // 1e4);  free(51_546_391) = -7, free(+1) = +3
    assert liquidation_price(a, m, 0) == 51_546_391


def test_margin_when_high_leverage_mode_then_hlm_ratios_apply_unlike_driftpy() -> None:
    a, m = _long_10_sol()
    hlm = msgspec.structs.replace(a, margin_mode=MarginMode.HIGH_LEVERAGE)
    r = account_margin(hlm, m)
    # Rust get_margin_ratio, HLM initial: pre = 500 (ordinary initial), size_adj = 400 + 316227*50//1e7 = 401 < 500
    #   discount = 1e6 - (500 - 401) * 1e6 // (500 // 5) = 1e6 - 990_000 = 10_000
    #   ratio = max(1, 500 - 99) * 10_000 // 1e6 + 99 = 4 + 99 = 103   ->  1500 * 103 / 1e4 = $15.45
    assert r.initial.margin_requirement == 15_450_000
    # maintenance: HLM 66, bounded premium 66 - 13 + 1 = 54 < 66 -> 66  ->  1500 * 66 / 1e4 = $9.90
    assert r.maintenance.margin_requirement == 9_900_000
    # driftpy's DriftUser ignores the mode and would report the default $75 / $45 (previous test).


def test_margin_ratio_when_hlm_and_tiny_position_then_exactly_hlm_initial() -> None:
    m = catalogue_markets()
    # size 0: premium = 400 + isqrt(1) * 50 // 1e7 = 400; discount = 1e6 - 100 * 1e6 // 100 = 0 -> ratio = 99
    assert perp_margin_ratio(m.perp_market(0), 0, MarginCategory.INITIAL, high_leverage=True) == 99


def test_margin_ratio_when_position_huge_then_imf_premium_raises_it() -> None:
    m = catalogue_markets()
    # 1,000,000 SOL = 1e15: isqrt(1e15 * 10 + 1) = 1e8; initial: 400 + 1e8 * 50 // 1e7 = 400 + 500 = 900
    assert perp_margin_ratio(m.perp_market(0), 10**6 * SOL, MarginCategory.INITIAL, high_leverage=False) == 900
    # maintenance: 300 - 60 + 500 = 740
    assert perp_margin_ratio(m.perp_market(0), 10**6 * SOL, MarginCategory.MAINTENANCE, high_leverage=False) == 740


def test_total_collateral_when_positive_upnl_then_initial_capped_at_100_dollars_unlike_driftpy() -> None:
    m = catalogue_markets(P150)
    # A market that lets positive upnl count fully toward initial margin (weight 10000, no imf, no imbalance cap):
    spec = msgspec.structs.replace(
        m.perp_market(0).spec, unrealized_pnl_initial_asset_weight=10_000, unrealized_pnl_max_imbalance=0
    )
    perp = {0: msgspec.structs.replace(m.perp_market(0), spec=spec)}
    m2 = msgspec.structs.replace(m, perp=perp)
    a = account(usdc_deposit(m2, 1000 * USDC), perps=(perp_at(10 * SOL, 100 * USDC),))
    # upnl = 10 * (150 - 100) = $500; Rust MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN caps the initial weight at $100
    assert calculate_margin(a, m2, MarginCategory.INITIAL).total_collateral == 1100 * USDC
    # maintenance has no cap: 1000 + 500
    assert calculate_margin(a, m2, MarginCategory.MAINTENANCE).total_collateral == 1500 * USDC


def test_upnl_weight_when_market_imbalanced_then_initial_weight_scaled_down() -> None:
    m = catalogue_markets(P150)
    spec = msgspec.structs.replace(
        m.perp_market(0).spec, unrealized_pnl_initial_asset_weight=10_000, unrealized_pnl_max_imbalance=50 * USDC
    )
    # net user pnl = net base * last oracle / 1e9 + cost basis = 1 SOL * $150 - $50 = $100 > $50 imbalance
    state = msgspec.structs.replace(
        m.perp_market(0),
        spec=spec,
        amm_net_base_asset_amount=SOL,
        amm_net_user_cost_basis=-50 * USDC,
        last_oracle_price=P150,
    )
    m2 = msgspec.structs.replace(m, perp={0: state})
    a = account(usdc_deposit(m2, 1000 * USDC), perps=(perp_at(1 * SOL, 140 * USDC),))
    # upnl $10; weight = 10000 * 50 / 100 = 5000 -> $5 counts toward initial collateral
    assert calculate_margin(a, m2, MarginCategory.INITIAL).total_collateral == 1005 * USDC


def test_spot_asset_weight_when_deposit_huge_then_size_discount_applies() -> None:
    m = catalogue_markets()
    sol = m.spot_market(1)
    # 10,000 SOL: 1.1e6 * 1e4 // (1e6 + isqrt(1e14 + 1) * 1250 // 1e5) = 1.1e10 // 1_125_000 = 9777 -> min(8000, .)
    assert spot_asset_weight(sol, 10_000 * SOL, P150, MarginCategory.INITIAL) == 8000
    # 1,000,000 SOL: isqrt(1e16 + 1) = 1e8 -> 1.1e10 // (1e6 + 1_250_000) = 4888
    assert spot_asset_weight(sol, 10**6 * SOL, P150, MarginCategory.INITIAL) == 4888
    assert spot_asset_weight(sol, 10**6 * SOL, P150, MarginCategory.MAINTENANCE) == 4888


def test_spot_asset_weight_when_market_deposits_above_scale_start_then_initial_weight_scaled() -> None:
    m = catalogue_markets(P150)
    # deposits of 2.4M SOL at $150 = $360M, twice the $180M scale start -> 8000 * 180 / 360 = 4000
    sol = msgspec.structs.replace(m.spot_market(1), deposit_balance=2_400_000 * SOL)
    assert spot_asset_weight(sol, 1 * SOL, P150, MarginCategory.INITIAL) == 4000
    assert spot_asset_weight(sol, 1 * SOL, P150, MarginCategory.MAINTENANCE) == 9000


def test_unsettled_funding_when_long_and_rate_rose_then_long_pays() -> None:
    m = catalogue_markets(P150)
    market = msgspec.structs.replace(m.perp_market(0), cumulative_funding_rate_long=1_000_000)
    pos = perp_at(10 * SOL, P150)
    # |delta| 1e6 * 10e9 / 1e6 / 1e3 = 1e7 -> / 1e3 = 10_000 ($0.01), longs pay a rising rate
    assert unsettled_funding(pos, market) == -10_000
    short = perp_at(-10 * SOL, P150)
    market_s = msgspec.structs.replace(m.perp_market(0), cumulative_funding_rate_short=1_000_000)
    assert unsettled_funding(short, market_s) == 10_000


def test_requirement_when_open_bids_then_worst_case_side_and_order_charge() -> None:
    m = catalogue_markets(P150)
    pos = msgspec.structs.replace(perp_at(1 * SOL, P150), open_bids=2 * SOL, open_asks=-1 * SOL, open_orders=3)
    a = account(usdc_deposit(m, 1000 * USDC), perps=(pos,))
    # all bids fill: 3 SOL ($450) > all asks fill: 0 -> 450 * 5% = $22.50, + 3 orders * $0.01
    assert calculate_margin(a, m, MarginCategory.INITIAL).margin_requirement == 22_530_000


def test_requirement_when_sol_borrowed_then_liability_weight() -> None:
    m = catalogue_markets(P150)
    borrow = SpotPosition(
        market_index=1,
        scaled_balance=scaled_balance_for(1 * SOL, m.spot_market(1), BalanceType.BORROW),
        balance_type=BalanceType.BORROW,
    )
    a = account(usdc_deposit(m, 1000 * USDC), borrow)
    # $150 borrowed: maintenance 1.1 -> $165, initial 1.2 -> $180 (size premium at 1 SOL is below the weight)
    assert calculate_margin(a, m, MarginCategory.MAINTENANCE).margin_requirement == 165 * USDC
    assert calculate_margin(a, m, MarginCategory.INITIAL).margin_requirement == 180 * USDC


def test_collateral_when_strict_then_spot_asset_at_lower_of_price_and_twap() -> None:
    m = catalogue_markets(P150)
    spot = {**m.spot, 1: msgspec.structs.replace(m.spot_market(1), oracle_price_twap_5min=140 * USDC)}
    m2 = msgspec.structs.replace(m, spot=spot)
    a = account(sol_deposit(m2, 10 * SOL))
    # 10 SOL * 0.9: at $150 -> $1350, strict at min(150, 140) -> $1260
    assert calculate_margin(a, m2, MarginCategory.MAINTENANCE).total_collateral == 1350 * USDC
    assert calculate_margin(a, m2, MarginCategory.MAINTENANCE, strict=True).total_collateral == 1260 * USDC


def test_liquidation_price_when_spot_sol_hedges_short_perp_then_price_above_by_hand() -> None:
    m = catalogue_markets(P150)
    a = account(sol_deposit(m, 10 * SOL), perps=(perp_at(-10 * SOL, P150),))
    # free(p) = 0.9 * 10 p + (1500 - 10 p) - 0.03 * 10 p = 1500 - 1.3 p  ->  p* = 1153.846153...
    assert liquidation_price(a, m, 0) == 1_153_846_154


def test_liquidation_price_when_open_bid_then_boundary_includes_worst_case_orders() -> None:
    m = catalogue_markets(P150)
    pos = msgspec.structs.replace(perp_at(10 * SOL, P150), open_bids=5 * SOL, open_orders=1)
    a = account(usdc_deposit(m, 1000 * USDC), perps=(pos,))
    # requirement on the worst case 15 SOL: free(p) = 1000 + 10 (p - 150) - 0.03 * 15 p - 0.01 = 9.55 p - 500.01
    # p* = 500.01 / 9.55 = 52.35706806... -> the largest 1e6-price with free <= 0 is 52_357_068.
    # driftpy extrapolates with the 10 SOL position only, (1 - 0.03) per SOL, from today's free
    # collateral (1000 - 67.51) -> 150 - 932.49 / 9.7 = 53.867..., a price at which the account is still solvent.
    liq = liquidation_price(a, m, 0)
    assert liq == 52_357_068
    sc = OracleScenario(a, m, 0)
    assert sc.totals(pos, liq, MarginCategory.MAINTENANCE).free <= 0
    assert sc.totals(pos, liq + 1, MarginCategory.MAINTENANCE).free > 0


def test_liquidation_price_when_flat_then_none() -> None:
    m = catalogue_markets(P150)
    assert liquidation_price(account(usdc_deposit(m, 1000 * USDC)), m, 0) is None


def test_apply_fill_when_buy_then_quote_rounds_against_account_and_entry_recorded() -> None:
    m = catalogue_markets(P150)
    a = account(usdc_deposit(m, 1000 * USDC))
    after = apply_fill(a, m, 0, 1 * SOL + 1, 150_000_001)
    pos = after.perp_position(0)
    assert pos is not None
    # (1e9 + 1) * 150_000_001 / 1e9 = 150_000_001.15 -> a buyer pays the ceiling
    assert pos.quote_asset_amount == -150_000_002
    assert entry_price(pos) == 150_000_001


def test_apply_fill_when_flip_then_new_entry_at_fill_price() -> None:
    m = catalogue_markets(P150)
    a = account(usdc_deposit(m, 1000 * USDC), perps=(perp_at(10 * SOL, 100 * USDC),))
    after = apply_fill(a, m, 0, -15 * SOL, P150)
    pos = after.perp_position(0)
    assert pos is not None
    assert pos.base_asset_amount == -5 * SOL
    assert entry_price(pos) == P150
    # realized: sold 10 bought at $100 for $150 -> +$500 kept in quote; the new short's entry is -(-5 * 150)
    assert pos.quote_asset_amount == -1000 * USDC + 2250 * USDC


def test_view_when_projecting_current_position_and_price_then_equals_current() -> None:
    a, m = _long_10_sol()
    view = AccountMarginView(a, m, 0)
    assert view.project(10 * SOL, P150) == view.current()


def test_view_when_projecting_oracle_drop_then_collateral_falls_by_position_loss() -> None:
    a, m = _long_10_sol()
    snap = AccountMarginView(a, m, 0).project(10 * SOL, 140 * USDC)
    assert snap.total_collateral_maintenance == 900 * USDC  # 1000 - 10 * $10
    assert snap.unrealized_pnl == -100 * USDC
    assert snap.margin_requirement_maintenance == 42 * USDC  # 1400 * 3%


def test_view_when_projecting_rejects_non_positive_price() -> None:
    a, m = _long_10_sol()
    with pytest.raises(ValueError, match="oracle price"):
        AccountMarginView(a, m, 0).project(SOL, 0)


def test_margin_when_market_missing_then_key_error_names_it() -> None:
    m = catalogue_markets(P150)
    a = account(perps=(PerpPosition(market_index=9, base_asset_amount=SOL),))
    with pytest.raises(KeyError, match="perp market 9"):
        calculate_margin(a, m, MarginCategory.INITIAL)


def test_positions_reject_impossible_values_at_the_boundary() -> None:
    with pytest.raises(ValueError, match="scaled_balance"):
        SpotPosition(market_index=0, scaled_balance=-1)
    with pytest.raises(ValueError, match="open_bids"):
        PerpPosition(market_index=0, open_bids=-1)


def test_liquidation_price_when_long_with_a_large_resting_ask_then_a_rise_liquidates() -> None:
    m = catalogue_markets(P150)
    pos = msgspec.structs.replace(perp_at(1 * SOL, P150), open_asks=-60 * SOL, open_orders=1)
    a = account(usdc_deposit(m, 1000 * USDC), perps=(pos,))
    # the worst case is all asks filling: a 59 SOL short. No price below liquidates the long (it is solvent at any
    # price), but a rise does: free(p) = 1000 + (p - 150) - 0.03 * 59 p - 0.01 = 849.99 - 0.77 p
    # -> p* = 1103.8831168..., the smallest 1e6-price with free <= 0 is 1_103_883_117 (one-sided: None).
    liq = liquidation_price(a, m, 0)
    assert liq == 1_103_883_117
    sc = OracleScenario(a, m, 0)
    assert sc.totals(pos, liq, MarginCategory.MAINTENANCE).free <= 0
    assert sc.totals(pos, liq - 1, MarginCategory.MAINTENANCE).free > 0
    view = AccountMarginView(a, m, 0)
    assert view.current().liquidation_price == liq  # what the Risk Governor and every report read
    # flat with the same ask: free(p) = 1000 - 0.03 * 60 p - 0.01 -> p* = 999.99 / 1.8 = 555.55
    flat = msgspec.structs.replace(pos, base_asset_amount=0, quote_asset_amount=0, quote_entry_amount=0)
    flat_account = account(usdc_deposit(m, 1000 * USDC), perps=(flat,))
    assert liquidation_price(flat_account, m, 0) == 555_550_000
    assert AccountMarginView(flat_account, m, 0).current().liquidation_price == 555_550_000


@pytest.mark.parametrize(
    ("oracle", "below", "above", "expected"),
    [
        (100, 90, 120, 90),
        (100, 80, 110, 110),
        (100, 90, 110, 90),  # a tie goes below
        (100, None, 110, 110),
        (100, 90, None, 90),
        (100, None, None, None),
    ],
)
def test_nearest_boundary_is_the_one_closer_to_the_oracle(
    oracle: int, below: int | None, above: int | None, expected: int | None
) -> None:
    assert nearest(oracle, below, above) == expected
