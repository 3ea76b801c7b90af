"""The store's schema as an ordered list of migrations; the schema version is the number of migrations applied.

Rules for changing it: never edit a migration that has shipped; append a new one. Each migration is a tuple of SQL
statements that :class:`botrunner.store.store.Store` applies in ONE transaction together with its
``schema_version`` row, so a crash mid-migration leaves the previous version intact.

Conventions: amounts are INTEGER in Drift precisions (price 1e6, base 1e9, quote 1e6, funding rate 1e9, leverage
1e4 = 1x), times are INTEGER unix seconds, booleans INTEGER 0/1, lists of reasons or prices JSON arrays in TEXT.
Every per-bot table references ``perps_accounts(bot)`` (foreign keys are on), so a row for an unregistered bot is
refused. STRICT tables: SQLite refuses a value of the wrong type instead of storing it as given.
"""

from __future__ import annotations

from typing import Final

Migration = tuple[str, ...]

_V1: Final[Migration] = (
    """
    CREATE TABLE perps_accounts (
        bot TEXT PRIMARY KEY,
        authority TEXT NOT NULL,
        subaccount_id INTEGER NOT NULL,
        market TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('paper', 'live')),
        created_ts INTEGER NOT NULL,
        config_digest TEXT NOT NULL,
        UNIQUE (authority, subaccount_id)
    ) STRICT
    """,
    # the position after a change (a fill, funding, a settlement), Drift's own bookkeeping fields
    """
    CREATE TABLE perps_positions (
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        base INTEGER NOT NULL,
        quote INTEGER NOT NULL,
        quote_entry INTEGER NOT NULL,
        quote_break_even INTEGER NOT NULL,
        entry_price INTEGER NOT NULL,
        break_even_price INTEGER NOT NULL,
        last_cumulative_funding_rate INTEGER NOT NULL,
        PRIMARY KEY (bot, ts)
    ) STRICT, WITHOUT ROWID
    """,
    # SnapshotRow, column for column
    """
    CREATE TABLE perps_margin_snapshots (
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        mark INTEGER NOT NULL,
        oracle INTEGER NOT NULL,
        position_base INTEGER NOT NULL,
        entry_price INTEGER NOT NULL,
        collateral INTEGER NOT NULL,
        unrealized_pnl INTEGER NOT NULL,
        unsettled_pnl INTEGER NOT NULL,
        settled_pnl INTEGER NOT NULL,
        equity INTEGER NOT NULL,
        health INTEGER NOT NULL,
        leverage INTEGER NOT NULL,
        liq_price INTEGER,
        risk_state TEXT NOT NULL,
        range_low INTEGER NOT NULL,
        range_high INTEGER NOT NULL,
        band_min INTEGER NOT NULL,
        band_max INTEGER NOT NULL,
        bid_prices TEXT NOT NULL,
        ask_prices TEXT NOT NULL,
        realized INTEGER NOT NULL,
        funding INTEGER NOT NULL,
        fees INTEGER NOT NULL,
        PRIMARY KEY (bot, ts)
    ) STRICT, WITHOUT ROWID
    """,
    # one row per funding payment; Drift settles funding once per market update, so (bot, ts) is unique
    """
    CREATE TABLE perps_funding_snapshots (
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        position_base INTEGER NOT NULL,
        rate INTEGER NOT NULL,
        payment INTEGER NOT NULL,
        PRIMARY KEY (bot, ts)
    ) STRICT, WITHOUT ROWID
    """,
    # the approved exposure objective, when it changes
    """
    CREATE TABLE perps_objectives (
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        band_min INTEGER NOT NULL,
        band_max INTEGER NOT NULL,
        band_preferred INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        reasons TEXT NOT NULL,
        PRIMARY KEY (bot, ts)
    ) STRICT, WITHOUT ROWID
    """,
    # order lifecycle rows (OrderRow); order_id is the bot-wide order counter (user_order_ids are recycled)
    """
    CREATE TABLE orders (
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        order_id INTEGER NOT NULL,
        user_order_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        event TEXT NOT NULL,
        side TEXT NOT NULL,
        price INTEGER NOT NULL,
        base INTEGER NOT NULL,
        post_only INTEGER NOT NULL,
        reduce_only INTEGER NOT NULL,
        reason TEXT NOT NULL,
        UNIQUE (bot, order_id, event)
    ) STRICT
    """,
    # FillRow plus the bot-wide fill counter
    """
    CREATE TABLE fills (
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        fill_seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        order_id INTEGER NOT NULL,
        side TEXT NOT NULL,
        price INTEGER NOT NULL,
        base INTEGER NOT NULL,
        quote INTEGER NOT NULL,
        fee INTEGER NOT NULL,
        liquidity TEXT NOT NULL,
        reduce_only INTEGER NOT NULL,
        PRIMARY KEY (bot, fill_seq)
    ) STRICT, WITHOUT ROWID
    """,
    """
    CREATE TABLE risk_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        reasons TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX risk_events_bot ON risk_events (bot, id)",
    # operator commands, reconciliation and adoption records; not tied to one bot
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        actor TEXT NOT NULL,
        cmd TEXT NOT NULL,
        args_json TEXT NOT NULL,
        outcome TEXT NOT NULL
    ) STRICT
    """,
    # the latest venue checkpoint and feed cursor, one row per bot, upserted with every step
    """
    CREATE TABLE bot_checkpoints (
        bot TEXT PRIMARY KEY REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        cursor INTEGER NOT NULL,
        venue_state BLOB,
        order_seq INTEGER NOT NULL,
        fill_seq INTEGER NOT NULL
    ) STRICT
    """,
)

# v2: monitor-mode bots (read-only live). SQLite cannot alter a CHECK constraint, so the table is rebuilt; the
# children's foreign keys name the table, not its storage, and are checked at COMMIT (deferred), when the rebuilt
# table holds every row again.
_V2: Final[Migration] = (
    "PRAGMA defer_foreign_keys = ON",
    """
    CREATE TABLE perps_accounts_v2 (
        bot TEXT PRIMARY KEY,
        authority TEXT NOT NULL,
        subaccount_id INTEGER NOT NULL,
        market TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('paper', 'live', 'monitor')),
        created_ts INTEGER NOT NULL,
        config_digest TEXT NOT NULL,
        UNIQUE (authority, subaccount_id)
    ) STRICT
    """,
    "INSERT INTO perps_accounts_v2 SELECT bot, authority, subaccount_id, market, mode, created_ts, config_digest "
    "FROM perps_accounts",
    "DROP TABLE perps_accounts",
    "ALTER TABLE perps_accounts_v2 RENAME TO perps_accounts",
)

# v3: the prices a live bot's strategy observed, one per strategy sample bucket (its last observation), so a
# restarted live bot replays its price history instead of starting its lookback windows empty (a paper bot replays
# its feed instead). Pruned to the strategy's longest lookback as it goes.
_V3: Final[Migration] = (
    """
    CREATE TABLE price_samples (
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        price INTEGER NOT NULL,
        PRIMARY KEY (bot, ts)
    ) STRICT, WITHOUT ROWID
    """,
)

# v4: causes. Every order row carries the number of the decision whose command placed it (a placed row's reason is
# that command's PlanReason), and each decision that sent a command is a ``decisions`` row, so "why is this order
# resting?" is one join on (bot, decision_seq). The checkpoint keeps the decision counter, so numbers never repeat
# across restarts. Rows written before v4 keep decision_seq 0: no decision row matches them.
_V4: Final[Migration] = (
    "ALTER TABLE orders ADD COLUMN decision_seq INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE bot_checkpoints ADD COLUMN decision_seq INTEGER NOT NULL DEFAULT 0",
    # DecisionRow: a decision that sent the venue a command (the approved band, verdict and reasons it acted on)
    """
    CREATE TABLE decisions (
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        decision_seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        mark INTEGER NOT NULL,
        position_base INTEGER NOT NULL,
        band_min INTEGER NOT NULL,
        band_max INTEGER NOT NULL,
        band_preferred INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        reasons TEXT NOT NULL,
        mode TEXT NOT NULL,
        plan_reason TEXT NOT NULL,
        note TEXT NOT NULL,
        PRIMARY KEY (bot, decision_seq)
    ) STRICT, WITHOUT ROWID
    """,
)

# v5: PnL settlements (SettleRow), written in the same step transaction as the fills and funding that made the PnL.
# Before v5 they were only logged and published; their effect was (and is) in the snapshots' unsettled / settled PnL.
# A bot may settle more than once in a second (a flatten's close, then the schedule), hence a row id.
_V5: Final[Migration] = (
    """
    CREATE TABLE settlements (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        reason TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX settlements_bot ON settlements (bot, ts)",
)

# v6: the delta-neutral engine's rows (issue 19): spot leg fills, interest accrued on spot balances, and one row per
# two-leg decision (both legs, drift, correction, carry, reason and the gate that blocked it). Perp-only bots write
# none; older stores gain three empty tables.
_V6: Final[Migration] = (
    """
    CREATE TABLE spot_fills (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        market_index INTEGER NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
        price INTEGER NOT NULL,
        base INTEGER NOT NULL,
        quote INTEGER NOT NULL,
        fee INTEGER NOT NULL
    ) STRICT
    """,
    "CREATE INDEX spot_fills_bot ON spot_fills (bot, ts)",
    """
    CREATE TABLE interest (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        market_index INTEGER NOT NULL,
        amount INTEGER NOT NULL
    ) STRICT
    """,
    "CREATE INDEX interest_bot ON interest (bot, ts)",
    """
    CREATE TABLE legs_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot TEXT NOT NULL REFERENCES perps_accounts (bot),
        ts INTEGER NOT NULL,
        decision_seq INTEGER NOT NULL,
        mark INTEGER NOT NULL,
        oracle INTEGER NOT NULL,
        spot_base INTEGER NOT NULL,
        perp_base INTEGER NOT NULL,
        net_delta INTEGER NOT NULL,
        drift_bps INTEGER,
        tolerance_bps INTEGER NOT NULL,
        correction_base INTEGER NOT NULL,
        target_spot INTEGER NOT NULL,
        target_perp INTEGER NOT NULL,
        carry_apr_bps INTEGER NOT NULL,
        smoothed_carry_apr_bps INTEGER NOT NULL,
        in_market INTEGER NOT NULL,
        reason TEXT NOT NULL,
        blocked TEXT NOT NULL,
        sent INTEGER NOT NULL
    ) STRICT
    """,
    "CREATE INDEX legs_decisions_bot ON legs_decisions (bot, ts)",
)

# The carry engine's figures of each two-leg decision (botrunner.core.records.LegsRow): its time to break even (s;
# NULL = never or no estimate) and its stance reason (strategies.carry.StanceReason; '' on rows written before).
_V7: Final[Migration] = (
    "ALTER TABLE legs_decisions ADD COLUMN break_even_s INTEGER",
    "ALTER TABLE legs_decisions ADD COLUMN stance TEXT NOT NULL DEFAULT ''",
)

MIGRATIONS: Final[tuple[Migration, ...]] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7)
SCHEMA_VERSION: Final = len(MIGRATIONS)

# Created before any migration (it records them): one row per applied version.
SCHEMA_VERSION_TABLE: Final = """
    CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER PRIMARY KEY,
        applied_ts INTEGER NOT NULL
    ) STRICT
"""
