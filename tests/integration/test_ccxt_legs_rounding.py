"""The external leg through ccxt (``botrunner.live.ccxt_legs``) when the machine asks for a size off the venue's
step: the Drift leg fills in Drift's finer steps, the follow order is rounded down to the venue's step, and the
unsent remainder is reported dead, so the machine can level and finish instead of waiting on it forever."""

from __future__ import annotations

from botrunner.core.side import Side
from botrunner.live.ccxt_legs import ExternalLeg
from governors.leg_out import ArbLeg, Filled, LegOutConfig, Outcome, PairExecution, PlaceOrder, Tick
from tests.integration.test_ccxt_venue import BTC, Clock, pump, run, session

VENUE_STEP = 1_000_000  # the fake's BTCUSDT step: 0.001 BTC
DRIFT_PRICE = 100_000_000_000
EXTERNAL_PRICE = 100_000_000_000


def test_a_follow_order_rounded_to_the_venues_step_lets_the_machine_finish() -> None:
    async def body() -> None:
        clock = Clock()
        async with session(clock=clock) as (fake, venue):
            machine = PairExecution(
                LegOutConfig(bound_ms=500, step_base=VENUE_STEP),
                drift_side=Side.BUY,
                drift_size=0,
                external_size=0,
                target=2 * VENUE_STEP,
                drift_price=DRIFT_PRICE,
                external_price=EXTERNAL_PRICE,
                first_order_id=1,
            )
            leg = ExternalLeg(venue, BTC, client_prefix="pair9", clock_ms=clock, resolve_pause_s=0.01)
            seen = await pump(machine, leg, machine.start(clock.ms), clock)
            (drift_order,) = [o for o in seen if isinstance(o, PlaceOrder)]
            clock.ms += 100
            # Drift fills 0.0015 BTC (its own step is finer): the follow order asks 0.0015, the venue takes 0.001
            partial = Filled(drift_order.order_id, 3 * VENUE_STEP // 2, DRIFT_PRICE, clock.ms)
            seen += await pump(machine, leg, machine.on_event(partial), clock)
            clock.ms += 2_000  # the Drift order's window ends: its rest is cancelled
            seen += await pump(machine, leg, machine.on_event(Tick(clock.ms)), clock)
            sent = fake.orders_received
            assert [o["quantity"] for o in sent] == ["0.001"]
            assert machine.external_size == VENUE_STEP
            assert machine.finished is not None, f"the machine waits on {machine.open_order_ids()} forever"
            assert machine.finished.outcome is Outcome.COMPLETED  # the legs are within one step of the target
            assert all(o.leg is ArbLeg.EXTERNAL for o in seen if isinstance(o, PlaceOrder) and o.order_id > 1)

    run(body)
