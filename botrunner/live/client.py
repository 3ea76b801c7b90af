"""A driftpy ``DriftClient`` that never subscribes: we fetch the accounts a bot needs ourselves and install them.

Why not ``dc.subscribe()``: every subscription mode either watches far more than one bot needs (websocket/polling
add every listed market's oracle and reconnect on their own schedule) or issues one ``getAccountInfo`` per account.
A bot needs exactly its User, its perp market, the quote spot market (plus any spot market it holds) and their
oracles. ``ChainAccounts`` names those pubkeys; the venue fetches them in ONE ``getMultipleAccounts`` per refresh
(so all readings share a slot), decodes them with ``botrunner.drift.codec`` and installs them here, where driftpy's
instruction builders (``get_remaining_accounts``) and ``DriftUser`` maths find them.

The client is built with the ``cached`` subscription and is otherwise untouched: its constructor makes no RPC call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from botrunner.drift.codec import OracleReading

if TYPE_CHECKING:  # driftpy is imported where it is used: a paper fleet never loads it
    from driftpy.accounts.types import DataAndSlot
    from driftpy.drift_client import DriftClient
    from driftpy.types import OraclePriceData, PerpMarketAccount, SpotMarketAccount, UserAccount


@dataclass(frozen=True)
class ChainAccounts:
    """The pubkeys one bot reads each refresh, in the order of the ``getMultipleAccounts`` call."""

    user: Pubkey
    perp_market: Pubkey
    spot_markets: tuple[Pubkey, ...]  # quote (index 0) first
    oracles: tuple[Pubkey, ...]

    def all(self) -> list[Pubkey]:
        return [self.user, self.perp_market, *self.spot_markets, *self.oracles]


@dataclass
class ChainState:
    """One consistent reading of a bot's accounts (decoded driftpy objects), as of ``slot``."""

    slot: int
    user: UserAccount | None  # None when the subaccount does not exist yet
    perp_market: PerpMarketAccount
    spot_markets: dict[int, SpotMarketAccount]
    oracle_prices: dict[str, OracleReading] = field(default_factory=dict)  # oracle pubkey (base58) -> reading


def drift_client(
    rpc: AsyncClient, wallet: Keypair, *, authority: Pubkey, sub_account_id: int, perp_market_index: int
) -> DriftClient:
    """A ``DriftClient`` for one bot's subaccount. ``wallet`` signs (a throwaway keypair in monitor mode, where
    ``authority`` is the watched wallet). No network call happens here."""
    from driftpy.account_subscription_config import AccountSubscriptionConfig
    from driftpy.drift_client import DriftClient

    return DriftClient(
        rpc,
        wallet,
        "mainnet",
        authority=authority,
        account_subscription=AccountSubscriptionConfig("cached"),
        perp_market_indexes=[perp_market_index],
        spot_market_indexes=[0],
        oracle_infos=[],
        active_sub_account_id=sub_account_id,
        sub_account_ids=[sub_account_id],
    )


def user_pubkey(client: DriftClient, sub_account_id: int) -> Pubkey:
    """The PDA of the authority's User account ``sub_account_id`` (pure)."""
    return client.get_user_account_public_key(sub_account_id)


def install(client: DriftClient, state: ChainState, *, sub_account_id: int) -> None:
    """Put ``state`` where driftpy reads it: the cached subscriber's markets and oracle prices, and the User."""
    from driftpy.accounts.types import DataAndSlot
    from driftpy.oracles.oracle_id import get_oracle_id
    from driftpy.types import OraclePriceData

    def price_data(reading: OracleReading) -> OraclePriceData:
        return OraclePriceData(
            price=reading.price,
            slot=reading.slot,
            confidence=reading.confidence,
            twap=reading.price,
            twap_confidence=reading.confidence,
            has_sufficient_number_of_data_points=True,
        )

    cache = client.account_subscriber.cache
    perp = state.perp_market
    cache["perp_markets"] = [DataAndSlot(state.slot, perp)]
    cache["spot_markets"] = [DataAndSlot(state.slot, state.spot_markets[i]) for i in sorted(state.spot_markets)]
    oracles: dict[str, DataAndSlot[OraclePriceData]] = {}
    for market, oracle, source in (
        (perp, perp.amm.oracle, perp.amm.oracle_source),
        *((s, s.oracle, s.oracle_source) for s in state.spot_markets.values()),
    ):
        del market
        reading = state.oracle_prices.get(str(oracle))
        if reading is not None:
            oracles[get_oracle_id(oracle, source)] = DataAndSlot(state.slot, price_data(reading))
    cache["oracle_price_data"] = oracles
    if state.user is None:  # the subaccount is gone (or not made yet): no stale User for a builder to use
        remove_user(client, sub_account_id)
    else:
        install_user(client, sub_account_id, state.user, slot=state.slot)


def remove_user(client: DriftClient, sub_account_id: int) -> None:
    """Take subaccount ``sub_account_id``'s User off the client (``install_user``'s undo)."""
    client.users.pop(sub_account_id, None)


def install_user(client: DriftClient, sub_account_id: int, user_account: UserAccount, *, slot: int) -> None:
    """Put the decoded User ``user_account`` of subaccount ``sub_account_id`` where driftpy's builders find it
    (``client.users``). Markets and oracles are left as they are."""
    from driftpy.account_subscription_config import AccountSubscriptionConfig
    from driftpy.accounts.types import DataAndSlot
    from driftpy.drift_user import DriftUser

    user = client.users.get(sub_account_id)
    if user is None:
        user = DriftUser(client, user_pubkey(client, sub_account_id), AccountSubscriptionConfig("cached"))
        client.users[sub_account_id] = user
    # update_data ignores older slots; a resync after a reconnect may legitimately go back, so replace outright.
    user.account_subscriber.user_and_slot = DataAndSlot(slot, user_account)
