"""The venue's answer when it accepts every command: each placement acknowledged, each cancel confirmed.

Used where no venue exists yet to answer (the decision demo) and by tests; a real venue reports acks, rejects,
fills and expiries one by one through ``apply_event``.
"""

from __future__ import annotations

from botrunner.connector.commands import Command, cancelled_ids, placed_orders
from botrunner.connector.lifecycle import OrderEvent
from botrunner.connector.state import ConnectorState, OrderUpdate, apply_event


def accept_all(state: ConnectorState, commands: tuple[Command, ...]) -> ConnectorState:
    """Apply the acks and cancel confirmations a venue that accepts everything would send."""
    for cmd in commands:
        for uid in cancelled_ids(cmd):
            state = apply_event(state, OrderUpdate(uid, OrderEvent.CANCEL))
        for order in placed_orders(cmd):
            state = apply_event(state, OrderUpdate(order.user_order_id, OrderEvent.ACK))
    return state
