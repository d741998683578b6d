"""DuckDB helpers every stage shares: one way to connect, run a statement and quote a value."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb

from scamtrace.core.errors import CaseFolderError

Rows = list[tuple[Any, ...]]


def run(db: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> Rows:
    """Execute one statement and fetch its whole result (DuckDB wants results consumed)."""
    rows: Rows = db.execute(sql, params or []).fetchall()
    return rows


def insert_rows(db: duckdb.DuckDBPyConnection, table: str, rows: list[list[Any]]) -> None:
    """Insert Python rows (small results of graph work) into ``table``; nothing when empty."""
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def connect(
    memory_limit: str | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-process DuckDB set up for case work: UTC, bounded memory, spills to disk;
    ``SCAMTRACE_THREADS`` and ``SCAMTRACE_MEMORY`` set the defaults."""
    db = duckdb.connect()
    run(db, "SET TimeZone = 'UTC'")
    try:
        threads = threads or int(os.environ.get("SCAMTRACE_THREADS") or 0)
    except ValueError as exc:
        raise CaseFolderError("SCAMTRACE_THREADS: expected a whole number of threads") from exc
    run(db, f"SET threads = {max(1, threads or os.cpu_count() or 1)}")
    run(db, f"SET memory_limit = '{memory_limit or os.environ.get('SCAMTRACE_MEMORY', '5GB')}'")
    return db


def quote(text: str | Path) -> str:
    """``text`` ready to sit between single quotes in SQL (a path, a pattern, a value)."""
    return str(text).replace("'", "''")


def literal(text: str | Path) -> str:
    """``text`` as a quoted SQL string literal."""
    return "'" + quote(text) + "'"
