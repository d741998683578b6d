"""Local times a clock repeats: the hour after clocks go back each autumn.

A time logged by a local clock without an offset (``2016-10-30 02:30`` in Madrid) names two
instants an hour apart in that hour. The readers take the later one (DuckDB's choice, and the
one a switch that logs after the change most often means); this module counts the times read
that way, so that ingest can say so instead of guessing silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from scamtrace.core import contract
from scamtrace.core.sql import literal
from scamtrace.ingest.mapped import load_mapping


def zone_in_effect(options: Mapping[str, Any]) -> str | None:
    """The IANA zone times without an offset are read in: the mapping's, else ``--timezone``;
    None for UTC or a fixed offset (neither repeats an hour)."""
    zone = options.get("timezone")
    mapping = options.get("mapping")
    if mapping:
        zone = load_mapping(Path(str(mapping))).timezone or zone
    zone = str(zone or "").strip()
    # the options were checked before reading: an IANA name, or an offset that starts +/-
    return zone if zone and zone[0] not in "+-" else None


def repeated_hour_count(data: pa.Table, table: str, zone: str) -> int:
    """How many time values of ``data`` (a typed batch of contract ``table``) fall in an hour
    ``zone``'s clock shows twice, read as its second occurrence: the local time an hour
    earlier reads the same on the clock."""
    columns = [c.name for c in contract.INPUT_TABLES[table].columns
               if c.kind == "time" and c.name in data.column_names]  # fmt: skip
    if not columns or data.num_rows == 0:
        return 0
    db = duckdb.connect()
    try:
        db.execute("SET TimeZone = 'UTC'").fetchall()
        db.register("batch", data.select(columns))
        z = literal(zone)
        counts = " + ".join(
            f"count(*) FILTER (WHERE timezone({z}, \"{c}\") = "
            f"timezone({z}, \"{c}\" - INTERVAL 1 HOUR))" for c in columns
        )
        row = db.execute(f"SELECT {counts} FROM batch").fetchone()
    finally:
        db.close()
    return int(row[0]) if row else 0
