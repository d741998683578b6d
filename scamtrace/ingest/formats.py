"""Every ingest format, registered in one place: name -> reader, in the order formats are
tried when a file's format is not named (the most specific first: AMLSim claims its own
``accounts.csv`` before the contract reader would)."""

from __future__ import annotations

from functools import cache

from scamtrace.ingest.base import Reader


@cache
def readers() -> dict[str, Reader]:
    from scamtrace.ingest import (
        amlsim,
        asterisk,
        contract_tables,
        freeswitch,
        iso20022,
        mapped,
        pcap,
    )

    ordered: list[Reader] = [pcap.READER, iso20022.READER, freeswitch.READER, asterisk.READER,
                             amlsim.READER, contract_tables.READER, mapped.READER]  # fmt: skip
    return {r.name: r for r in ordered}
