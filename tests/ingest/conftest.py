"""Shared helpers for reader tests."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from scamtrace.enrich.case import Case, open_case
from scamtrace.ingest.base import Batch


def case_from_batches(batches: Iterable[Batch], folder: Path, country: str) -> Case:
    """Write a reader's batches as a case folder (one Parquet file a table) and open it the way
    ``detect`` does: the proof that a format's rows are the contract's."""
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[pa.Table]] = defaultdict(list)
    for batch in batches:
        tables[batch.table].append(batch.data)
    for name, parts in tables.items():
        pq.write_table(pa.concat_tables(parts), folder / f"{name}.parquet")
    (folder / "holder.json").write_text(json.dumps({"country": country}))
    return open_case(folder)
