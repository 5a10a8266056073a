"""The ledgers out: CSV files (UTF-8, a header line, `\\n` line endings, rows already sorted, so
two replays of the same stores give byte-identical files) and a fresh PostgreSQL projection
(database `Settings.database("finance")`, its tables dropped, re-created and filled with COPY
from the same CSV bytes in one transaction)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from psycopg import sql

from finance.ledger import (
    ADJUSTMENTS,
    CAPTURES,
    COLUMNS,
    CURRENCIES,
    DEBITS,
    EXPERT_WEEKS,
    SESSIONS,
    TRANSFERS,
    Row,
)
from headstore.postgres import connect
from headstore.settings import Settings
from headstore.store import create_database

# Column types of the projection; text columns never hold NULL (blank is ''), other blanks
# (a week start that the events do not tell) are NULL.
SQL_TYPES: dict[str, dict[str, str]] = {
    SESSIONS: {
        "session_id": "text PRIMARY KEY",
        "client_id": "text",
        "expert_id": "text",
        "currency": "text",
        "minutes": "integer",
        "billed_minutes": "integer",
        "rate_minor": "bigint",
        "total_minor": "bigint",
        "captured_minor": "bigint",
        "expert_share_minor": "bigint",
        "commission_minor": "bigint",
        "ambassador_id": "text",
        "ambassador_share_minor": "bigint",
        "platform_net_minor": "bigint",
        "charged_at": "timestamptz",
        "payment_intents": "text",
    },
    CAPTURES: {
        "session_id": "text",
        "block": "integer",
        "payment_intent_id": "text",
        "currency": "text",
        "amount_minor": "bigint",
        "captured_at": "timestamptz",
    },
    EXPERT_WEEKS: {
        "payee_id": "text",
        "week": "integer",
        "week_start": "timestamptz",
        "currency": "text",
        "earnings_minor": "bigint",
        "ambassador_shares_minor": "bigint",
        "transferred_minor": "bigint",
        "failed_minor": "bigint",
        "transfer_ids": "text",
    },
    CURRENCIES: {
        "currency": "text PRIMARY KEY",
        "sessions": "integer",
        "captured_minor": "bigint",
        "expert_earnings_minor": "bigint",
        "commission_minor": "bigint",
        "ambassador_shares_minor": "bigint",
        "platform_net_minor": "bigint",
        "transferred_minor": "bigint",
        "unpaid_minor": "bigint",
    },
    TRANSFERS: {
        "payee_id": "text",
        "week": "integer",
        "currency": "text",
        "amount_minor": "bigint",
        "status": "text",
        "transfer_id": "text",
        "transfer_group": "text",
        "reason": "text",
        "recorded_at": "timestamptz",
    },
    ADJUSTMENTS: {
        "kind": "text",
        "reference": "text PRIMARY KEY",
        "session_id": "text",
        "expert_id": "text",
        "currency": "text",
        "amount_minor": "bigint",
        "expert_share_minor": "bigint",
        "commission_minor": "bigint",
        "ambassador_share_minor": "bigint",
        "platform_net_minor": "bigint",
        "payment_intents": "text",
        "refund_ids": "text",
        "recorded_at": "timestamptz",
    },
    DEBITS: {
        "payee_id": "text",
        "week": "integer",
        "currency": "text",
        "reference": "text",
        "amount_minor": "bigint",
        "recorded_at": "timestamptz",
    },
}
PROJECTION_KEYS = {
    CAPTURES: ("session_id", "block"),
    EXPERT_WEEKS: ("payee_id", "week", "currency"),
    TRANSFERS: ("payee_id", "week", "currency", "status", "transfer_id"),
    DEBITS: ("payee_id", "reference"),
}


def csv_bytes(name: str, rows: Iterable[Row]) -> bytes:
    """A table as CSV: header, then the rows, `\\n` after each line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS[name])
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write_csvs(tables: dict[str, list[Row]], out: Path) -> dict[str, bytes]:
    """Write `<table>.csv` for every table into `out` (each replaced whole); returns the bytes."""
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in COLUMNS:
        data = csv_bytes(name, tables[name])
        path = out / f"{name}.csv"
        partial = path.with_suffix(".csv.partial")
        partial.write_bytes(data)
        os.replace(partial, path)
        written[name] = data
    return written


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a ledger CSV, as text."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _create_table(name: str) -> sql.Composed:
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(SQL_TYPES[name][column]))
        for column in COLUMNS[name]
    ]
    if name in PROJECTION_KEYS:
        columns.append(
            sql.SQL("PRIMARY KEY ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, PROJECTION_KEYS[name]))
            )
        )
    return sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(name), sql.SQL(", ").join(columns))


def _text_columns(name: str) -> Sequence[str]:
    return [c for c in COLUMNS[name] if SQL_TYPES[name][c].startswith("text")]


def load_projection(settings: Settings, csvs: dict[str, bytes]) -> str:
    """Drop, re-create and fill the finance database's tables from the CSV bytes, in one
    transaction (readers see the old tables until the new ones are complete). Returns the
    database name; the database is created if missing."""
    dbname = settings.database("finance")
    create_database("finance", settings)
    with connect(settings, dbname) as conn, conn.transaction(), conn.cursor() as cursor:
        for name in COLUMNS:
            cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
            cursor.execute(_create_table(name))
            copy = sql.SQL(
                "COPY {} FROM STDIN WITH (FORMAT csv, HEADER true, FORCE_NOT_NULL ({}))"
            ).format(
                sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, _text_columns(name)))
            )
            with cursor.copy(copy) as load:
                load.write(csvs[name])
    return dbname


def projection_counts(settings: Settings) -> dict[str, Any]:
    """Rows per table of the finance projection (for tests and the bench)."""
    with connect(settings, settings.database("finance")) as conn:
        return {
            name: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))
            ).fetchone()[0]  # type: ignore[index]
            for name in COLUMNS
        }
