"""A live or monitor bot's connection and safety settings: the ``live:`` section of its YAML.

Integers in the units their names say (``_quote`` USDC 1e6, ``_lamports`` 1e9 per SOL, ``_ms``, ``_s``). The YAML
takes human units for the money fields (``confirm_above_usd``, ``max_order_notional_usd``, ``gas_reserve_sol``,
``settle_threshold_usd``), converted exactly by ``botrunner.config``.

Defaults and where they come from (``../shared/seeds/delta-neutral-engine-live-mode-requirements.md`` = REQ):

* ``refresh_s`` 10: REQ 2.8 "polling interval ... default: 10 seconds".
* ``confirm_above_quote`` $100: REQ 6.10 and the security NFRs ("explicit user confirmation for trades > $100").
* ``gas_reserve_lamports`` 0.017 SOL: REQ 6.6.
* ``max_latency_ms`` 500: REQ 6.5.
* ``confirm_timeout_s`` 30 / ``status_timeout_s`` 60: REQ 3.5 and 9.3.
* ``rpc_retry_delays_s`` (1, 2, 4): REQ 9.1. ``reconnect_every_s`` 10: REQ 9.5.
* ``settle_threshold_quote`` $1: REQ 4.10.
* ``breaker_failures`` 5 / ``breaker_cool_down_s`` 300: funding-bot-technical-documentation.md (circuit breaker
  ``failure_threshold = 5``, ``cooldown = 300.0``).
* ``compute_unit_limit`` 300_000 and ``max_priority_fee_micro_lamports`` 1_000_000: our reasoning. A Drift
  cancel-and-place of a 10-order ladder consumes well under 300k CU; the fee cap bounds what a fee spike can cost
  (1e6 micro-lamports/CU x 300k CU = 0.3 SOL is the absolute worst case per transaction).
* Jito ``tip_lamports`` 10_000 (0.00001 SOL), ``attempts`` 3: REQ 4.6 ("fails after 3 retries").
* ``assumed_priority_fee_micro_lamports`` 10_000: an assumption, not a measurement (the shared data has no fee
  series). It is what paper runs and backtests charge per compute unit; a live bot pays the chain's recent average
  (``PriorityFeeSubscriber``), capped by ``max_priority_fee_micro_lamports``.

A transaction's cost (:func:`transaction_cost_lamports`): Solana's base fee of 5,000 lamports per signature (the
bot's key signs alone), plus the priority fee = compute-unit price x the compute-unit LIMIT the transaction requests
(Solana charges the requested limit, not the units consumed), plus the Jito tip when bundles are on.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from botrunner.core.precision import QUOTE_PRECISION

# Solana's fee per signature (solana-sdk fee_calculator DEFAULT_TARGET_LAMPORTS_PER_SIGNATURE): fixed since launch.
BASE_FEE_LAMPORTS_PER_SIGNATURE: Final = 5_000
MICRO_LAMPORTS_PER_LAMPORT: Final = 1_000_000
# Jito block-engine docs (jito-labs/jito-docs lowlatencytxnsend.md): the engine ignores bundles tipping less.
JITO_MIN_TIP_LAMPORTS: Final = 1_000
DEFAULT_KEY_ENV = "DRIFT_PRIVATE_KEY"
DEFAULT_RPC_ENV = "BOTRUNNER_RPC_URL"


class JitoSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Optional Jito bundle submission (off by default): tip transfer + block-engine ``sendBundle``."""

    enabled: bool = False
    block_engine_url: str = "https://mainnet.block-engine.jito.wtf/api/v1/bundles"
    tip_lamports: int = 10_000
    attempts: int = 3  # then fall back to standard RPC


class FulfillmentVenue(enum.Enum):
    """Where Drift fills a live bot's spot taker order (``place_and_take_spot_order``'s ``SpotFulfillmentType``).
    Drift's own spot book has no resting makers to take from in a single transaction, so an IOC taker order with no
    external venue fills nothing; the external book does the filling. Phoenix is the venue driftpy builds the
    remaining accounts for (``add_phoenix_remaining_accounts``, protocol-v2 ``PhoenixFulfillmentParams::new``)."""

    PHOENIX_V1 = "phoenix"


class SpotFulfillment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The external venue a live two-leg bot's spot leg fills on, and Drift's fulfilment config account for it (the
    PDA ``["phoenix_fulfillment_config", phoenix market]`` of the Drift program; read and checked at connect)."""

    venue: FulfillmentVenue = FulfillmentVenue.PHOENIX_V1
    config_account: str  # base58 public key of Drift's PhoenixV1FulfillmentConfig for the SOL/USDC market


class LiveSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a live (or monitor) bot reaches Drift and the limits its transactions obey."""

    rpc_url: str = ""  # empty: from the environment variable named by rpc_env
    rpc_env: str = DEFAULT_RPC_ENV
    key_env: str = DEFAULT_KEY_ENV  # names the variable holding the key (file path, base58, or JSON byte array)
    refresh_s: int = 10
    dry_run: bool = False  # build and simulate everything, send nothing
    confirm_above_quote: int = 100 * QUOTE_PRECISION  # orders above this notional need `ctl confirm`
    max_order_notional_quote: int | None = None  # a per-order cap that pre-approves orders up to it
    gas_reserve_lamports: int = 17_000_000
    max_latency_ms: int = 500
    compute_unit_limit: int = 300_000
    max_priority_fee_micro_lamports: int = 1_000_000
    assumed_priority_fee_micro_lamports: int = 10_000  # what paper and backtests charge per CU (see above)
    confirm_timeout_s: int = 30
    status_timeout_s: int = 60
    rpc_timeout_s: int = 10
    rpc_retry_delays_s: tuple[int, ...] = (1, 2, 4)
    reconnect_every_s: int = 10
    breaker_failures: int = 5
    breaker_cool_down_s: int = 300
    settle_threshold_quote: int = QUOTE_PRECISION
    settle_every_s: int = 3600
    jito: JitoSettings = JitoSettings()
    # a live two-leg (delta-neutral) bot's spot fulfilment venue; required for one, ignored by a perp-only bot
    spot_fulfillment: SpotFulfillment | None = None

    def validate(self) -> None:
        """Raise ``ValueError`` ("LiveSettings.field must ...") for an impossible value."""

        def need(ok: bool, field: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"LiveSettings.{field} must {rule}")

        need(self.refresh_s >= 1, "refresh_s", "be >= 1 s")
        need(self.confirm_above_quote >= 0, "confirm_above_usd", "be >= 0")
        need(
            self.max_order_notional_quote is None or self.max_order_notional_quote > 0,
            "max_order_notional_usd",
            "be > 0 when set",
        )
        need(self.gas_reserve_lamports >= 0, "gas_reserve_sol", "be >= 0")
        need(self.max_latency_ms > 0, "max_latency_ms", "be > 0")
        need(0 < self.compute_unit_limit <= 1_400_000, "compute_unit_limit", "be in 1..1400000 (Solana's cap)")
        need(self.max_priority_fee_micro_lamports >= 0, "max_priority_fee_micro_lamports", "be >= 0")
        need(self.assumed_priority_fee_micro_lamports >= 0, "assumed_priority_fee_micro_lamports", "be >= 0")
        need(self.confirm_timeout_s > 0, "confirm_timeout_s", "be > 0")
        need(self.status_timeout_s >= 0, "status_timeout_s", "be >= 0")
        need(self.rpc_timeout_s > 0, "rpc_timeout_s", "be > 0")
        need(all(d >= 0 for d in self.rpc_retry_delays_s), "rpc_retry_delays_s", "hold delays >= 0")
        need(self.reconnect_every_s > 0, "reconnect_every_s", "be > 0")
        need(self.breaker_failures >= 1, "breaker_failures", "be >= 1")
        need(self.breaker_cool_down_s >= 0, "breaker_cool_down_s", "be >= 0")
        need(self.settle_threshold_quote >= 0, "settle_threshold_usd", "be >= 0")
        need(self.settle_every_s >= 60, "settle_every_s", "be >= 60 s")
        need(
            self.jito.tip_lamports >= JITO_MIN_TIP_LAMPORTS,
            "jito",
            f"tip at least {JITO_MIN_TIP_LAMPORTS} lamports (Jito's minimum)",
        )
        need(self.jito.attempts >= 1, "jito", "make at least 1 attempt")
        need(not self.rpc_url or self.rpc_url.startswith(("http://", "https://")), "rpc_url", "be an http(s) URL")


def transaction_cost_lamports(settings: LiveSettings, signatures: int = 1) -> int:
    """What one transaction of a bot costs in lamports, as paper and backtests charge it: the base fee per
    signature, the priority fee (the assumed compute-unit price x the compute-unit limit requested, rounded up as
    the runtime does) and the Jito tip when bundles are on."""
    priority = -(
        -settings.assumed_priority_fee_micro_lamports * settings.compute_unit_limit // MICRO_LAMPORTS_PER_LAMPORT
    )
    tip = settings.jito.tip_lamports if settings.jito.enabled else 0
    return BASE_FEE_LAMPORTS_PER_SIGNATURE * signatures + priority + tip
