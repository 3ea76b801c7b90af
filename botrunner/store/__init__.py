"""SQLite persistence of the runtime: the store (schema, records, atomic step writes) and its single writer."""

from botrunner.store.store import (
    AuditRow,
    BotAccount,
    Checkpoint,
    DecisionRow,
    ObjectiveRow,
    PositionRow,
    RiskEventRow,
    StepRecord,
    Store,
    StoreError,
)
from botrunner.store.writer import StoreWriteError, StoreWriter

__all__ = [
    "AuditRow",
    "BotAccount",
    "Checkpoint",
    "DecisionRow",
    "ObjectiveRow",
    "PositionRow",
    "RiskEventRow",
    "StepRecord",
    "Store",
    "StoreError",
    "StoreWriteError",
    "StoreWriter",
]
