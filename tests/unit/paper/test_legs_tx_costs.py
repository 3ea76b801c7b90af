"""Transaction costs of two-leg trades on the paper venue (``botrunner.paper.legs``, issue 19 (e)): each booked
``PlaceLegs`` is one transaction whose base fee, priority fee (compute-unit price x limit) and Jito tip are charged
to the USDC balance at the SOL price of the moment; a refused one sent nothing and costs nothing."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from botrunner.config.live import JitoSettings, LiveSettings, transaction_cost_lamports
from botrunner.core.side import Side
from botrunner.paper.config import PaperConfig
from botrunner.paper.legs import tx_cost_quote
from botrunner.venue.port import CommandRejected, PlaceLegs, SpotFill
from tests.unit.paper.test_legs import SOL_1, T0, USDC, perp, spot, venue


def test_transaction_cost_is_base_fee_plus_cu_price_times_limit_plus_the_tip_when_bundles_are_on() -> None:
    settings = LiveSettings(compute_unit_limit=300_000, assumed_priority_fee_micro_lamports=10_000)
    assert transaction_cost_lamports(settings) == 5_000 + 3_000  # 10,000 micro-lamports x 300,000 CU = 3,000
    with_tip = msgspec.structs.replace(settings, jito=JitoSettings(enabled=True, tip_lamports=10_000))
    assert transaction_cost_lamports(with_tip) == 18_000
    odd = msgspec.structs.replace(settings, compute_unit_limit=1, assumed_priority_fee_micro_lamports=1)
    assert transaction_cost_lamports(odd) == 5_001  # the priority fee rounds up, as the runtime charges it
    assert transaction_cost_lamports(settings, signatures=2) == 13_000


def test_place_legs_when_booked_then_the_transaction_cost_is_charged_at_the_oracle() -> None:
    free, charged = venue(), venue(config=PaperConfig(tx_cost_lamports=8_000))
    command = PlaceLegs(spot=spot(Side.BUY), perp=perp(Side.SELL), reason="enter")
    assert free.submit(command, T0)[1:] == charged.submit(command, T0)[1:]  # the same fills
    # 8,000 lamports x $150 per SOL = $0.0012
    assert tx_cost_quote(8_000, 150 * USDC) == 1_200
    assert charged.ledger.tx_costs == 1_200 and free.ledger.tx_costs == 0
    assert charged.usdc == free.usdc - 1_200
    assert charged.equity() == free.equity() - 1_200


def test_place_legs_when_refused_then_nothing_is_charged() -> None:
    v = venue(deposit=100 * USDC, config=PaperConfig(tx_cost_lamports=8_000))
    before = v.usdc
    events = v.submit(PlaceLegs(spot=spot(Side.BUY, base=10 * SOL_1), perp=perp(Side.SELL), reason="enter"), T0)
    assert isinstance(events[0], CommandRejected)
    assert v.usdc == before and v.ledger.tx_costs == 0


def test_place_legs_when_usdc_pays_the_buy_but_not_also_the_cost_then_refused() -> None:
    # the exact USDC a 1 SOL buy needs: the same buy with a transaction cost on top must be refused whole
    probe = venue()
    (_, fill) = probe.submit(PlaceLegs(spot=spot(Side.BUY), perp=perp(Side.SELL), reason="enter"), T0)
    assert isinstance(fill, SpotFill)
    need = -fill.quote + fill.fee
    exact = venue(deposit=need, config=PaperConfig(tx_cost_lamports=0))
    booked = exact.submit(PlaceLegs(spot=spot(Side.BUY), perp=None, reason="enter"), T0)
    assert not isinstance(booked[0], CommandRejected)
    short = venue(deposit=need, config=PaperConfig(tx_cost_lamports=8_000))
    refused = short.submit(PlaceLegs(spot=spot(Side.BUY), perp=None, reason="enter"), T0)
    assert isinstance(refused[0], CommandRejected) and "transaction cost 1200" in refused[0].detail


@given(lamports=st.integers(0, 10**8), oracle=st.integers(1, 10**10))
def test_tx_cost_quote_never_undercharges(lamports: int, oracle: int) -> None:
    quote = tx_cost_quote(lamports, oracle)
    assert quote * 10**9 >= lamports * oracle > (quote - 1) * 10**9
