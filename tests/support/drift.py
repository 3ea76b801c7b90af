"""Synthetic Drift accounts for offline live-mode tests: real markets, hand-built users and oracles.

* ``bundled_markets()`` / ``bundled_market_bytes()``: the real SOL-PERP PerpMarket and the USDC and SOL SpotMarket
  accounts of ``botrunner/data/accounts/drift_markets.json`` (protocol-v2 test snapshots), decoded / raw.
* ``user_bytes(...)``: a valid 4376-byte Drift ``User`` account, built with the program's own IDL layout (anchorpy's
  account coder), so every field lands where the program and driftpy read it.
* ``oracle_bytes(price, slot=...)``: a Drift ``PythLazerOracle`` account (the layout of both the ``PythLazer`` and the
  ``PythLazerStableCoin`` sources) that decodes back to exactly ``price``.
* ``chain_state(...)`` and ``offline_client(...)``: a ``ChainState`` of those accounts and a driftpy ``DriftClient``
  with it installed (``botrunner.live.client``), so driftpy's ``DriftUser`` maths and our margin engine read the
  very same accounts.

Everything here is deterministic and offline. Decoded objects are fresh per call (they are mutable dataclasses).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from botrunner.core.side import Side
from botrunner.drift.codec import OracleReading, _coder, decode_account, decode_oracle_price, variant_name
from botrunner.drift.convert import spot_state
from botrunner.live.client import ChainState, drift_client, install
from botrunner.margin import BalanceType, scaled_balance_for

MARKETS_JSON = Path(__file__).resolve().parents[2] / "botrunner" / "data" / "accounts" / "drift_markets.json"
USER_SIZE = 4376  # protocol-v2 ``impl Size for User``
ORACLE_SIZE = 48  # discriminator + PythLazerOracle (price, publish_time, posted_slot, exponent, padding, conf)
USDC = 10**6
SOL = 10**9
DEFAULT_SOL_PRICE = 150 * USDC
DEFAULT_SLOT = 1_000
# PythLazer SOL feeds publish with exponent -8; we use the same so the bytes look like the real thing.
_LAZER_EXPONENT = -8
# A fixed keypair: tests are deterministic (it signs nothing that leaves the machine).
DEFAULT_KEYPAIR_SEED = bytes(range(1, 33))

# Every key an order dict may set, with its default (``user_bytes(open_orders=[{...}])``).
ORDER_DEFAULTS: Mapping[str, Any] = {
    "status": "Open",  # Drift OrderStatus: "Open", "Filled", "Canceled" (the slot keeps a done order's fields)
    "market_index": 0,
    "market_type": "Perp",
    "order_type": "Limit",  # "Limit", "Market", "Oracle", "TriggerLimit", "TriggerMarket"
    "direction": "long",  # "long"/"short" or a botrunner ``Side``
    "base": 0,  # base_asset_amount, 1e9
    "price": 0,  # 1e6
    "base_filled": 0,  # base_asset_amount_filled
    "quote_filled": 0,  # quote_asset_amount_filled (unsigned notional, 1e6)
    "user_order_id": 0,
    "post_only": False,
    "reduce_only": False,
    "max_ts": 0,
    "oracle_price_offset": 0,
    "order_id": None,  # default: the order's position in the list + 1
    "slot": 0,  # the slot the order was placed in
}


# ---------------------------------------------------------------------------------------------------- markets


@functools.cache
def _market_b64() -> tuple[str, tuple[str, ...]]:
    doc = json.loads(MARKETS_JSON.read_text())
    return doc["perp_markets"][0]["b64"], tuple(s["b64"] for s in doc["spot_markets"])


def bundled_market_bytes() -> tuple[bytes, dict[int, bytes]]:
    """The raw SOL-PERP PerpMarket account and ``{0: USDC, 1: SOL}`` SpotMarket accounts."""
    perp, spots = _market_b64()
    return base64.b64decode(perp), {i: base64.b64decode(s) for i, s in enumerate(spots)}


def bundled_markets() -> tuple[Any, dict[int, Any]]:
    """The decoded SOL-PERP PerpMarket and ``{0: USDC, 1: SOL}`` SpotMarkets (fresh objects each call)."""
    perp_raw, spot_raw = bundled_market_bytes()
    perp = decode_account(perp_raw, expect="PerpMarket", what="bundled SOL-PERP")
    spots = {i: decode_account(raw, expect="SpotMarket", what=f"bundled spot {i}") for i, raw in spot_raw.items()}
    return perp, spots


def scaled_balance(spot_market_index: int, amount: int, *, borrow: bool = False) -> int:
    """The scaled balance whose token amount is ``amount`` in bundled spot market ``spot_market_index``
    (its real cumulative interest applies, so a scaled balance is not the token amount)."""
    _, spots = bundled_markets()
    market = spot_state(spots[spot_market_index], DEFAULT_SOL_PRICE if spot_market_index else USDC)
    return scaled_balance_for(amount, market, BalanceType.BORROW if borrow else BalanceType.DEPOSIT)


# ---------------------------------------------------------------------------------------------------- building


def _template(name: str, size: int) -> Any:
    """The IDL dataclass of account ``name`` (``size`` bytes with its discriminator), all zeros. (Its enums make
    the layout's size data-dependent, so construct cannot compute it.)"""
    coder = _coder()
    return coder.decode(coder.acc_name_to_discriminator[name] + bytes(size - 8))


def _build(name: str, data: Any) -> bytes:
    """Encode ``data`` as account ``name`` with the IDL layout.

    anchorpy encodes a dataclass with ``dataclasses.asdict``, which deep-copies leaf values, and solders' ``Pubkey``
    cannot be copied that way; a Pubkey is immutable, so for the duration of the build it is copied as itself.
    """
    from anchorpy.program.common import NamedInstruction

    with mock.patch.dict(copy._deepcopy_dispatch, {Pubkey: copy._deepcopy_atomic}):  # type: ignore[attr-defined]
        raw: bytes = _coder().build(NamedInstruction(data=data, name=name))
    return raw


def encode_user(user: Any) -> bytes:
    """The bytes of a decoded (possibly edited) User account, e.g. a real one with its stale slots cleaned."""
    return _build("User", user)


def _variant(enum_name: str, variant: str) -> Any:
    import driftpy.types as t

    return getattr(getattr(t, enum_name), variant)()


def _direction(value: str | Side) -> str:
    if isinstance(value, Side):
        return "Long" if value is Side.BUY else "Short"
    lowered = value.lower()
    if lowered not in ("long", "short"):
        raise ValueError(f"order direction must be 'long' or 'short', got {value!r}")
    return lowered.capitalize()


def _order(template: Any, spec: Mapping[str, Any], position: int) -> Any:
    unknown = set(spec) - set(ORDER_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown order keys {sorted(unknown)}; allowed: {sorted(ORDER_DEFAULTS)}")
    o = {**ORDER_DEFAULTS, **spec}
    direction = _direction(o["direction"])
    return dataclasses.replace(
        template,
        status=_variant("OrderStatus", o["status"]),
        market_index=o["market_index"],
        market_type=_variant("MarketType", o["market_type"]),
        order_type=_variant("OrderType", o["order_type"]),
        direction=_variant("PositionDirection", direction),
        existing_position_direction=_variant("PositionDirection", direction),
        base_asset_amount=o["base"],
        price=o["price"],
        base_asset_amount_filled=o["base_filled"],
        quote_asset_amount_filled=o["quote_filled"],
        user_order_id=o["user_order_id"],
        post_only=bool(o["post_only"]),
        reduce_only=bool(o["reduce_only"]),
        max_ts=o["max_ts"],
        oracle_price_offset=o["oracle_price_offset"],
        order_id=position + 1 if o["order_id"] is None else o["order_id"],
        slot=o["slot"],
    )


def user_bytes(
    *,
    authority: Pubkey,
    sub_account_id: int,
    usdc_scaled_balance: int = 0,
    usdc_borrow: bool = False,
    sol_scaled_balance: int = 0,
    perp_market_index: int = 0,
    perp_base: int = 0,
    perp_quote: int = 0,
    perp_quote_entry: int = 0,
    perp_quote_break_even: int = 0,
    perp_last_cumulative_funding_rate: int = 0,
    open_orders: Sequence[Mapping[str, Any]] = (),
    settled_perp_pnl: int = 0,
    cumulative_perp_funding: int = 0,
    being_liquidated: bool = False,
    margin_mode: str = "Default",
    name: str = "botrunner-test",
) -> bytes:
    """A valid 4376-byte Drift User account.

    Spot slot 0 holds USDC (deposit, or a borrow with ``usdc_borrow``), slot 1 SOL when ``sol_scaled_balance``;
    perp slot 0 the position in ``perp_market_index``. ``open_orders`` are dicts over ``ORDER_DEFAULTS`` placed in
    order slots 0, 1, ...; the position's ``open_bids``/``open_asks``/``open_orders`` and the user's order counters
    are derived from the orders whose status is Open, as the program keeps them. Drift's User has no fee counters
    (they live in the per-authority UserStats); ``settled_perp_pnl`` and ``cumulative_perp_funding`` are the User's
    cumulative perp counters.
    """
    user = _template("User", USER_SIZE)
    spots = list(user.spot_positions)
    if usdc_scaled_balance:
        spots[0] = dataclasses.replace(
            spots[0],
            market_index=0,
            scaled_balance=usdc_scaled_balance,
            balance_type=_variant("SpotBalanceType", "Borrow" if usdc_borrow else "Deposit"),
        )
    if sol_scaled_balance:
        spots[1] = dataclasses.replace(spots[1], market_index=1, scaled_balance=sol_scaled_balance)

    orders = list(user.orders)
    bids = asks = perp_open = 0
    for i, spec in enumerate(open_orders):
        order = _order(orders[i], spec, i)
        orders[i] = order
        if variant_name(order.status) != "Open":
            continue
        if variant_name(order.market_type) == "Perp" and order.market_index == perp_market_index:
            remaining = order.base_asset_amount - order.base_asset_amount_filled
            if variant_name(order.direction) == "Long":
                bids += remaining
            else:
                asks -= remaining
            perp_open += 1
    n_open = sum(1 for o in orders if variant_name(o.status) == "Open")

    perps = list(user.perp_positions)
    perps[0] = dataclasses.replace(
        perps[0],
        market_index=perp_market_index,
        base_asset_amount=perp_base,
        quote_asset_amount=perp_quote,
        quote_entry_amount=perp_quote_entry,
        quote_break_even_amount=perp_quote_break_even,
        last_cumulative_funding_rate=perp_last_cumulative_funding_rate,
        open_bids=bids,
        open_asks=asks,
        open_orders=perp_open,
    )
    encoded_name = name.encode()[:32]
    user = dataclasses.replace(
        user,
        authority=authority,
        name=list(encoded_name + b" " * (32 - len(encoded_name))),
        spot_positions=spots,
        perp_positions=perps,
        orders=orders,
        settled_perp_pnl=settled_perp_pnl,
        cumulative_perp_funding=cumulative_perp_funding,
        next_order_id=max([1, *(o.order_id + 1 for o in orders)]),
        sub_account_id=sub_account_id,
        status=1 if being_liquidated else 0,  # UserStatus::BeingLiquidated
        open_orders=n_open,
        has_open_order=n_open > 0,
        margin_mode=_variant("MarginMode", margin_mode),
    )
    raw = _build("User", user)
    assert len(raw) == USER_SIZE, len(raw)
    return raw


def oracle_bytes(price_1e6: int, *, slot: int, conf_1e6: int = 0, publish_time: int = 0) -> bytes:
    """A Drift ``PythLazerOracle`` account whose price decodes back to exactly ``price_1e6``.

    The same layout serves the ``PythLazer`` (SOL-PERP) and ``PythLazerStableCoin`` (USDC) sources. driftpy decodes
    the price through a float (``price / 10**8 * 1e6``), so the raw price carries half a unit of the last decoded
    digit: the float then truncates to the intended integer instead of one below it.
    """
    if price_1e6 <= 0:
        raise ValueError(f"oracle price must be > 0, got {price_1e6}")
    scale = 10 ** (-_LAZER_EXPONENT - 6)
    oracle = dataclasses.replace(
        _template("PythLazerOracle", ORACLE_SIZE),
        price=price_1e6 * scale + scale // 2,
        publish_time=publish_time,
        posted_slot=slot,
        exponent=_LAZER_EXPONENT,
        conf=conf_1e6 * scale,
    )
    raw = _build("PythLazerOracle", oracle)
    for source in ("PythLazer", "PythLazerStableCoin"):
        back = decode_oracle_price(raw, source, what="synthetic oracle").price
        if back != price_1e6 and not (source == "PythLazerStableCoin" and back == USDC):
            raise AssertionError(f"oracle_bytes({price_1e6}) decodes to {back} as {source}")
    return raw


# ---------------------------------------------------------------------------------------------------- chain state


def chain_state(
    user_raw: bytes | None,
    *,
    sol_price: int = DEFAULT_SOL_PRICE,
    usdc_price: int = USDC,
    slot: int = DEFAULT_SLOT,
) -> ChainState:
    """One reading of the bundled markets and ``user_raw`` (None: the subaccount does not exist yet).

    The SOL-PERP and USDC oracle readings go through ``oracle_bytes`` and ``decode_oracle_price``, the path the
    venue takes. The bundled SOL spot market reads an older PythPull oracle account (another pubkey); it is given
    the SOL price directly, as the same asset.
    """
    perp, spots = bundled_markets()
    perp_reading = decode_oracle_price(oracle_bytes(sol_price, slot=slot), "PythLazer", what="SOL-PERP oracle")
    usdc_reading = decode_oracle_price(oracle_bytes(usdc_price, slot=slot), "PythLazerStableCoin", what="USDC oracle")
    prices = {
        str(perp.amm.oracle): perp_reading,
        str(spots[0].oracle): usdc_reading,
        str(spots[1].oracle): OracleReading(price=sol_price, confidence=0, slot=slot),
    }
    user = None if user_raw is None else decode_account(user_raw, expect="User", what="synthetic user")
    return ChainState(slot=slot, user=user, perp_market=perp, spot_markets=spots, oracle_prices=prices)


def default_keypair() -> Keypair:
    """The fixed keypair ``offline_client`` uses when none is given."""
    return Keypair.from_seed(DEFAULT_KEYPAIR_SEED)


def offline_client(
    sub_account_id: int = 1,
    authority: Pubkey | None = None,
    keypair: Keypair | None = None,
    *,
    user: bytes | None = None,
    sol_price: int = DEFAULT_SOL_PRICE,
    usdc_price: int = USDC,
    slot: int = DEFAULT_SLOT,
) -> tuple[Any, Keypair]:
    """A driftpy ``DriftClient`` (never subscribed, RPC unreachable) with the bundled markets, the oracle prices and
    a user installed, and the keypair that signs for it.

    ``user`` defaults to a fresh subaccount holding 1,000 USDC; ``authority`` defaults to the keypair's pubkey
    (pass another authority for monitor mode).
    """
    kp = keypair or default_keypair()
    owner = authority or kp.pubkey()
    raw = user
    if raw is None:
        raw = user_bytes(
            authority=owner, sub_account_id=sub_account_id, usdc_scaled_balance=scaled_balance(0, 1_000 * USDC)
        )
    client = drift_client(
        AsyncClient("http://127.0.0.1:1"), kp, authority=owner, sub_account_id=sub_account_id, perp_market_index=0
    )
    state = chain_state(raw, sol_price=sol_price, usdc_price=usdc_price, slot=slot)
    install(client, state, sub_account_id=sub_account_id)
    return client, kp
