"""PlaceLegs -> ONE Drift transaction (botrunner.live.instructions.legs_transaction), offline.

Both instructions are decoded back through Drift's IDL and checked: accounts, market indexes, directions, sizes,
worst-price limits, immediate-or-cancel on the spot leg and the FullFill success condition on the perp leg; and the
signed transaction's size is measured for entry, rebalance and exit on a User holding USDC, SOL and a SOL-PERP
position.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from driftpy.addresses import (
    get_spot_market_public_key,
    get_state_public_key,
    get_user_account_public_key,
    get_user_stats_account_public_key,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botrunner.connector.orders import OrderIntent, OrderType
from botrunner.core.policy import PostOnlyMode
from botrunner.core.side import Side
from botrunner.live.instructions import PERP_FULL_FILL, InstructionError, legs_transaction, transaction_size
from botrunner.venue.port import PlaceLegs, SpotOrder
from tests.unit.live.test_instructions import (
    LIMIT,
    NOW,
    PAYER,
    PERP,
    SOL,
    SUB,
    USDC,
    _client,
    _parse,
    _program_id,
    _shared_client,
    _variant,
)

SOL_MARK = 150_000_000


def _perp(side: Side, base: int, price: int, uid: int = 9) -> OrderIntent:
    return OrderIntent(
        user_order_id=uid,
        side=side,
        price=price,
        base=base,
        post_only=PostOnlyMode.NONE,
        reduce_only=False,
        max_ts=0,
        placed_at=NOW,
        anchor_price=SOL_MARK,
        order_type=OrderType.MARKET,
    )


def _spot(side: Side, base: int, price: int) -> SpotOrder:
    return SpotOrder(spot_market_index=SOL, side=side, base=base, limit_price=price)


ENTRY = PlaceLegs(
    spot=_spot(Side.BUY, 2_000_000_000, 150_750_000),
    perp=_perp(Side.SELL, 2_000_000_000, 149_250_000),
    reason="enter",
)
REBALANCE = PlaceLegs(spot=None, perp=_perp(Side.SELL, 50_000_000, 149_250_000), reason="rebalance_expand_short")
EXIT = PlaceLegs(
    spot=_spot(Side.SELL, 2_000_000_000, 149_250_000),
    perp=_perp(Side.BUY, 2_000_000_000, 150_750_000),
    reason="exit",
)


def test_legs_when_entry_then_spot_then_perp_in_one_transaction_decoding_to_the_terms() -> None:
    client = _client(busy=True)
    plan = legs_transaction(client, ENTRY, market_index=PERP, sub_account_id=SUB, limit=LIMIT)
    assert len(plan.instructions) == 2
    assert plan.places == (9,)
    spot_ix, perp_ix = plan.instructions
    pid = _program_id(client)

    spot = _parse(client, spot_ix)
    assert spot.name == "place_and_take_spot_order"
    sp = spot.data["params"]
    assert _variant(sp.market_type) == "Spot" and sp.market_index == SOL
    assert _variant(sp.direction) == "Long" and _variant(sp.order_type) == "Limit"
    assert (sp.base_asset_amount, sp.price) == (2_000_000_000, 150_750_000)
    assert sp.bit_flags & 1 and _variant(sp.post_only) == "None"
    assert _variant(spot.data["fulfillment_type"]) in {"Match", "MATCH"}

    perp = _parse(client, perp_ix)
    assert perp.name == "place_and_take_perp_order"
    pp = perp.data["params"]
    assert _variant(pp.market_type) == "Perp" and pp.market_index == PERP
    assert _variant(pp.direction) == "Short" and _variant(pp.order_type) == "Market"
    assert (pp.base_asset_amount, pp.price, pp.user_order_id) == (2_000_000_000, 149_250_000, 9)
    assert pp.bit_flags & 1  # immediate-or-cancel
    assert perp.data["success_condition"] == PERP_FULL_FILL
    assert PERP_FULL_FILL & 0xFF == 2  # PlaceAndTakeOrderSuccessCondition::FullFill

    for ix in (spot_ix, perp_ix):  # PlaceAndTake's accounts: state, user, user_stats, authority (the signer)
        state, user, stats, authority = ix.accounts[:4]
        assert ix.program_id == pid
        assert state.pubkey == get_state_public_key(pid)
        assert user.pubkey == get_user_account_public_key(pid, PAYER, SUB) and user.is_writable
        assert stats.pubkey == get_user_stats_account_public_key(pid, PAYER) and stats.is_writable
        assert authority.pubkey == PAYER and authority.is_signer
    # The spot leg writes both spot markets it trades between (SOL and the USDC quote).
    writable = {a.pubkey for a in spot_ix.accounts if a.is_writable}
    assert {get_spot_market_public_key(pid, SOL), get_spot_market_public_key(pid, USDC)} <= writable


@pytest.mark.parametrize(("name", "command"), [("entry", ENTRY), ("rebalance", REBALANCE), ("exit", EXIT)])
def test_legs_when_built_then_one_transaction_within_the_limit_measured(name: str, command: PlaceLegs) -> None:
    client = _client(busy=True)
    plan = legs_transaction(client, command, market_index=PERP, sub_account_id=SUB, limit=LIMIT)
    size = transaction_size(PAYER, plan.instructions)
    # Measured (busy User: USDC + SOL + SOL-PERP): entry 622, rebalance (perp leg only) 566, exit 622 bytes.
    assert size <= LIMIT


def test_legs_when_over_the_byte_limit_then_refused_whole_never_split() -> None:
    client = _client(busy=True)
    size = transaction_size(
        PAYER, legs_transaction(client, ENTRY, market_index=PERP, sub_account_id=SUB, limit=LIMIT).instructions
    )
    with pytest.raises(InstructionError, match="over the"):
        legs_transaction(client, ENTRY, market_index=PERP, sub_account_id=SUB, limit=size - 1)


def test_legs_when_perp_leg_not_market_then_refused() -> None:
    bad = PlaceLegs(
        spot=None, perp=msgspec.structs.replace(_perp(Side.SELL, 10**9, 1), order_type=OrderType.LIMIT), reason="x"
    )
    with pytest.raises(InstructionError, match="MARKET"):
        legs_transaction(_client(), bad, market_index=PERP, sub_account_id=SUB, limit=LIMIT)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    spot_base=st.integers(1, 10**12),
    perp_base=st.integers(1, 10**12),
    side=st.sampled_from(list(Side)),
)
def test_legs_when_any_terms_then_both_decode_back_exactly(spot_base: int, perp_base: int, side: Side) -> None:
    client: Any = _shared_client(True)
    other = Side.SELL if side is Side.BUY else Side.BUY
    command = PlaceLegs(
        spot=_spot(side, spot_base, 151_000_000), perp=_perp(other, perp_base, 149_000_000), reason="enter"
    )
    plan = legs_transaction(client, command, market_index=PERP, sub_account_id=SUB, limit=LIMIT)
    sp, pp = (_parse(client, ix) for ix in plan.instructions)
    assert sp.data["params"].base_asset_amount == spot_base
    assert pp.data["params"].base_asset_amount == perp_base
    assert _variant(sp.data["params"].direction) == ("Long" if side is Side.BUY else "Short")
    assert _variant(pp.data["params"].direction) == ("Short" if side is Side.BUY else "Long")
    assert pp.data["success_condition"] == PERP_FULL_FILL
