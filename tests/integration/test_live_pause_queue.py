"""A pause's cancel while a placement confirms and a second placement waits its turn behind it: the waiting
placement is never sent (it was decided before the pause), the pause's cancel of orders the confirming transaction
does not touch goes at once, and nothing is sent twice."""

from __future__ import annotations

import asyncio
from typing import Any

from botrunner.connector.commands import CancelOrders, PlaceOrders, PlanReason
from botrunner.live.venue import DriftVenue
from botrunner.venue.port import OrderRejected
from tests.integration.test_live_commands import _places
from tests.integration.test_live_venue import funded_user, order, run, serve_chain
from tests.support.fake_rpc import FakeRpc


def test_venue_when_paused_while_a_placement_confirms_then_the_placement_queued_behind_it_is_never_sent(
    fake: FakeRpc,
) -> None:
    serve_chain(fake, user=funded_user())
    fake.confirm_after_s(1.5)

    async def body(venue: DriftVenue) -> Any:
        await venue.connect()
        first = asyncio.ensure_future(venue.execute(PlaceOrders((order(1),), PlanReason.LADDER_EMPTY)))
        while not fake.sent:
            await asyncio.sleep(0.01)
        second = asyncio.ensure_future(venue.execute(PlaceOrders((order(2),), PlanReason.BAND_CHANGED)))
        await asyncio.sleep(0.05)
        pause = asyncio.ensure_future(venue.execute(CancelOrders((1, 2, 3), PlanReason.VERDICT_PAUSE)))
        return await asyncio.gather(first, second, pause)

    _, second, _ = run(fake, body)
    fake.assert_no_double_send()
    assert sum(1 for tx in fake.sent if _places(tx)) == 1  # only the placement already confirming
    assert [type(e) for e in second] == [OrderRejected] and "pause" in second[0].detail
