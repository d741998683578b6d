"""Every ingest format, registered in one place: name -> reader, in the order formats are
tried when a file's format is not named (the most specific first)."""

from __future__ import annotations

from functools import cache

from scamtrace.ingest.base import Reader


@cache
def readers() -> dict[str, Reader]:
    from scamtrace.ingest import contract_tables

    found: list[Reader] = [contract_tables.READER]
    return {r.name: r for r in found}
