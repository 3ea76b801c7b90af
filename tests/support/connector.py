"""Shared builders for the connector tests (a SOL-PERP-like market, policies, a fill simulator)."""

from __future__ import annotations

from botrunner.bench.stand_in import accept_all
from botrunner.core.catalogue import load_catalogue
from botrunner.core.policy import ExecutionPolicy, PostOnlyMode, RampInPolicy
from botrunner.core.precision import BASE_PRECISION, PRICE_PRECISION

SOL = load_catalogue().perp("SOL-PERP")  # the real spec: tick 0.0001, step = min size 0.01 SOL

# The R1 reference policy: 5 rungs a side of 0.1 SOL, 30 bps apart, requote at 10 bps; no ramp-in.
R1_POLICY = ExecutionPolicy(
    grid_levels=5,
    step_bps=30,
    base_size_per_level=BASE_PRECISION // 10,
    post_only=PostOnlyMode.MUST_POST_ONLY,
    requote_threshold_bps=10,
    ttl_s=3_600,
    ramp_in=RampInPolicy(duration_s=0, initial_fraction_bps=10_000),
)

PRICE_150 = 150 * PRICE_PRECISION
SOL_1 = BASE_PRECISION


ack_all = accept_all  # the bench's stand-in venue: it accepted every placement and cancel
