"""Agency A's request: its suspicious calls and flagged caller IDs, every number hashed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from scamtrace import __version__
from scamtrace.core import findings as findings_folder
from scamtrace.core.casefolder import ensure_apart
from scamtrace.core.phones import calling_code, calling_code_sql
from scamtrace.core.sql import run
from scamtrace.enrich.case import open_case
from scamtrace.share.exchange.keys import HASH_HEX, key_id, phone_hashes
from scamtrace.share.exchange.messages import (
    FORMAT_VERSION,
    ExchangeError,
    check_tolerance,
    mapped,
    now,
    write_message,
)
from scamtrace.share.safeio import refuse_existing

#: The call block of a request.
REQUEST_CALLS = pa.schema({"callee": pa.string(), "t": pa.int64(), "caller": pa.string()})


def flagged(findings: Path, kind: str) -> set[str]:
    """The values of the flagged entities of ``kind`` in ``findings``, the folder ``detect``
    wrote on this side."""
    path = findings_folder.table_path(findings, "entities")
    if not path.is_file():
        raise ExchangeError(f"{path}: not found; run `scamtrace detect` on your half first")
    return findings_folder.flagged(findings, kind)


@dataclass(frozen=True)
class RequestStats:
    calls: int
    callees: int
    caller_ids: int


def build_request(
    findings: Path, case_dir: Path, key: bytes, *, tolerance_s: int = 10
) -> tuple[dict[str, Any], RequestStats]:
    """Agency A's request: its suspicious calls and flagged caller IDs, every number hashed."""
    check_tolerance(tolerance_s, "--tolerance")
    case = open_case(case_dir, tables=("carrier_cdr",))
    try:
        if not case.has("carrier_cdr"):
            raise ExchangeError(f"{case_dir}: no carrier_cdr; the request is made from the "
                                "victims' carrier records")  # fmt: skip
        home = case.table_country.get("carrier_cdr", case.country)
        victims = sorted(int(v.lstrip("+")) for v in flagged(findings, "victim_phone"))
        spoofed = sorted(int(v.lstrip("+")) for v in flagged(findings, "caller_number"))
        run(case.db, "CREATE TEMP TABLE flagged_victims (n BIGINT)")
        if victims:
            case.db.executemany("INSERT INTO flagged_victims VALUES (?)", [[v] for v in victims])
        # A local caller ID on an international trunk is the spoofing signature; a call from
        # abroad to a flagged victim matters whatever it showed.
        calls = case.db.sql(f"""
            SELECT called_number AS callee, start_time AS t, caller_number AS caller
            FROM carrier_cdr
            WHERE upper(ingress_country) <> '{home}' AND called_number IS NOT NULL
              AND ({calling_code_sql('caller_number')} = {calling_code(home)}
                   OR called_number IN (SELECT n FROM flagged_victims))
            ORDER BY t, callee
        """).to_arrow_table()  # fmt: skip
    finally:
        case.db.close()
    numbers = pc.unique(pa.concat_arrays([
        calls.column("callee").combine_chunks(), calls.column("caller").combine_chunks(),
        pa.array(spoofed, pa.int64()),
    ]).drop_null())  # fmt: skip
    h = phone_hashes(key, numbers.to_pylist())
    callees = mapped(calls.column("callee"), h).to_pylist()
    request: dict[str, Any] = {
        "scamtrace_exchange": "request",
        "version": FORMAT_VERSION,
        "scamtrace": __version__,
        "created_at": now(),
        "key_id": key_id(key),
        "hash": f"HMAC-SHA256(case key, 'phone:' + E.164), first {HASH_HEX} hex digits",
        "requesting_country": home,
        "tolerance_s": tolerance_s,
        "calls": {
            "callee": callees,
            "t": calls.column("t").to_pylist(),
            "caller": mapped(calls.column("caller"), h).to_pylist(),
        },
        "caller_ids": sorted(h[n] for n in spoofed),
    }
    stats = RequestStats(calls.num_rows, len(set(callees)), len(spoofed))
    return request, stats


def write_request(
    findings: Path, case_dir: Path, key: bytes, out: Path, *, tolerance_s: int = 10,
    overwrite: bool = False,
) -> RequestStats:
    ensure_apart(out, findings, case_dir)
    refuse_existing(out, overwrite, ExchangeError)
    request, stats = build_request(findings, case_dir, key, tolerance_s=tolerance_s)
    write_message(out, request, REQUEST_CALLS)
    return stats
