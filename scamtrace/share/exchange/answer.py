"""Agency B's answer to a request, from its own ``voip_cdr``: the lines it flags, in full; the
others, only as pseudonyms with the calls A asked about."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from scamtrace import __version__
from scamtrace.core import contract
from scamtrace.core.casefolder import ensure_apart
from scamtrace.core.ips import ip_facts
from scamtrace.core.sql import run
from scamtrace.detect.labels import no_labels
from scamtrace.detect.lines import score_lines
from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case, open_case
from scamtrace.share.exchange.keys import (
    KEY_BYTES,
    check_key,
    keyed,
    line_pseudonym_key,
    phone_hashes,
)
from scamtrace.share.exchange.messages import (
    FORMAT_VERSION,
    ExchangeError,
    check_tolerance,
    columns_of,
    iso,
    now,
    read_message,
    write_message,
)
from scamtrace.share.exchange.request import REQUEST_CALLS
from scamtrace.share.safeio import refuse_existing


@dataclass(frozen=True)
class AnswerStats:
    requested: int
    matched: int
    lines_disclosed: int
    lines_pseudonymous: int
    calls_returned: int
    numbers_returned: int


ANSWER_CALL_COLUMNS = ("call_id", "t", "line", "source_ip", "user_agent", "to", "from",
                       "duration_s", "sip_status", "item")  # fmt: skip
ANSWER_CALLS = pa.schema({
    "call_id": pa.string(), "t": pa.int64(), "line": pa.string(), "source_ip": pa.string(),
    "user_agent": pa.string(), "to": pa.string(), "from": pa.string(),
    "duration_s": pa.int64(), "sip_status": pa.int64(), "item": pa.int64(),
})  # fmt: skip


def build_answer(
    request_path: Path, case_dir: Path, key: bytes, *, settings: DetectSettings | None = None,
    line_key: bytes | None = None,
) -> tuple[dict[str, Any], AnswerStats]:
    """Agency B's answer to a request, from its own ``voip_cdr``. Its unflagged lines are
    pseudonymised with ``line_key`` (:func:`load_line_key`; a fresh random one when None, so
    the pseudonyms then differ from one answer to the next)."""
    raw = read_message(request_path, "request")
    check_key(raw, key, request_path)
    req = columns_of(raw, "calls", REQUEST_CALLS, request_path)
    tolerance = check_tolerance(raw.get("tolerance_s", 10), f"{request_path}: field tolerance_s")
    asked = raw.get("caller_ids") or []
    if not isinstance(asked, list) or not all(isinstance(c, str) for c in asked):
        raise ExchangeError(f"{request_path}: field caller_ids: expected a list of hashes")
    caller_ids = list(asked)
    lines_key = line_pseudonym_key(line_key or secrets.token_bytes(KEY_BYTES), key)
    case = open_case(case_dir, tables=("voip_cdr",))
    try:
        if not case.has("voip_cdr"):
            raise ExchangeError(f"{case_dir}: no voip_cdr; the answer comes from the VoIP "
                                "provider's records")  # fmt: skip
        return _answer(case, raw, req, caller_ids, tolerance, key, settings or DetectSettings(),
                       lines_key)
    finally:
        case.db.close()


def _answer(
    case: Case, raw: dict[str, Any], req: pa.Table, caller_ids: list[str], tolerance: int,
    key: bytes, settings: DetectSettings, lines_key: bytes,
) -> tuple[dict[str, Any], AnswerStats]:
    db = case.db
    numbers = run(db, "SELECT to_number FROM voip_cdr WHERE to_number IS NOT NULL UNION "
                      "SELECT from_number FROM voip_cdr WHERE from_number IS NOT NULL")  # fmt: skip
    hashed = phone_hashes(key, (r[0] for r in numbers))
    db.register("_phone_hash", pa.table({"n": list(hashed), "h": list(hashed.values())}))
    run(db, "CREATE TEMP TABLE phone_hash AS SELECT * FROM _phone_hash")
    db.unregister("_phone_hash")
    run(db, """
        CREATE TEMP TABLE voip_h AS
        SELECT v.*, ht.h AS to_h, hf.h AS from_h FROM voip_cdr v
        LEFT JOIN phone_hash ht ON ht.n = v.to_number
        LEFT JOIN phone_hash hf ON hf.n = v.from_number
    """)
    items = req.append_column("item", pa.array(range(req.num_rows), pa.int64()))
    db.register("_req", items)
    run(db, "CREATE TEMP TABLE req AS SELECT * FROM _req")
    db.unregister("_req")
    db.register("_ids", pa.table({"h": pa.array(caller_ids, pa.string())}))
    run(db, "CREATE TEMP TABLE asked_ids AS SELECT * FROM _ids")
    db.unregister("_ids")
    # Each requested call takes B's record of a call to the same number within the tolerance
    # that showed the same caller ID (transit may rewrite it, so that only breaks ties),
    # nearest in time.
    run(db, f"""
        CREATE TEMP TABLE matched AS
        SELECT item, v_line FROM (
            SELECT r.item, v._line AS v_line,
                   row_number() OVER (PARTITION BY r.item
                                      ORDER BY (v.from_h IS NOT DISTINCT FROM r.caller) DESC,
                                               abs(v.start_time - r.t), v._line) AS k
            FROM req r JOIN voip_h v
              ON v.to_h = r.callee AND v.start_time BETWEEN r.t - {tolerance} AND r.t + {tolerance}
        ) WHERE k = 1
    """)  # fmt: skip
    run(db, """
        CREATE TEMP TABLE asked_lines AS
        SELECT DISTINCT v.sip_account FROM matched m JOIN voip_h v ON v._line = m.v_line
        UNION SELECT DISTINCT sip_account FROM voip_h WHERE from_h IN (SELECT h FROM asked_ids)
    """)
    no_labels(case)
    score_lines(case, settings)
    lines = run(db, f"""
        SELECT a.sip_account, coalesce(s.score, 0), coalesce(s.reason, ''),
               coalesce(s.calls, 0), coalesce(s.callees, 0), coalesce(s.ids, 0),
               coalesce(s.score, 0) >= {contract.FLAG_THRESHOLD} AS disclosed
        FROM asked_lines a LEFT JOIN sip_scores s USING (sip_account) ORDER BY 1
    """)  # fmt: skip
    # Keyed with B's own secret, not the case key: A holds the case key and could otherwise
    # hash every account name B's provider could issue and unmask its customers.
    pseudonym = keyed(lines_key, "line", (r[0] for r in lines if not r[6]))
    label = {r[0]: (r[0] if r[6] else f"line-{pseudonym[r[0]][:16]}") for r in lines}
    db.register("_label", pa.table({"sip_account": list(label), "line": list(label.values()),
                                    "disclosed": [bool(r[6]) for r in lines]}))  # fmt: skip
    run(db, "CREATE TEMP TABLE line_label AS SELECT * FROM _label")
    db.unregister("_label")
    # A flagged line's every call is evidence against it; an unflagged line's calls are its
    # customers' private business, so only the calls A asked about go back, without address.
    calls = db.sql("""
        SELECT v.call_id, v.start_time AS t, l.line,
               CASE WHEN l.disclosed THEN v.source_ip ELSE '' END AS source_ip,
               CASE WHEN l.disclosed THEN v.user_agent ELSE '' END AS user_agent,
               v.to_h AS "to", v.from_h AS "from", v.duration_s, v.sip_status, m.item
        FROM voip_h v JOIN line_label l USING (sip_account)
        LEFT JOIN matched m ON m.v_line = v._line
        WHERE l.disclosed OR m.item IS NOT NULL
        ORDER BY t, v._line
    """).to_arrow_table()  # fmt: skip
    ips = run(db, """
        SELECT v.source_ip, count(*), count(DISTINCT v.sip_account), min(v.start_time),
               max(v.start_time)
        FROM voip_h v JOIN line_label l USING (sip_account)
        WHERE l.disclosed AND v.source_ip <> '' GROUP BY 1 ORDER BY 1
    """)
    line_ips = run(db, """
        SELECT v.sip_account, string_agg(DISTINCT v.source_ip, ';' ORDER BY v.source_ip),
               min(v.start_time), max(v.start_time)
        FROM voip_h v JOIN line_label l USING (sip_account) WHERE l.disclosed GROUP BY 1
    """)
    matched = case.count("SELECT count(*) FROM matched")
    where = {r[0]: r for r in line_ips}
    facts = ip_facts(r[0] for r in ips)
    answer = {
        "scamtrace_exchange": "answer",
        "version": FORMAT_VERSION,
        "scamtrace": __version__,
        "created_at": now(),
        "key_id": raw["key_id"],
        "hash": raw.get("hash", ""),
        "requesting_country": raw.get("requesting_country", ""),
        "answering_country": case.table_country.get("voip_cdr", case.country),
        "tolerance_s": tolerance,
        "line_pseudonym": "line- + HMAC-SHA256(a key only the answering agency holds, "
                          "'line:' + account), first 16 hex digits",
        "requested_calls": req.num_rows,
        "matched_calls": matched,
        "lines": [
            {"line": label[a], "disclosed": bool(d), "score": round(float(sc), 3),
             "reason": reason if d else "not a dialling line by the provider's records",
             "calls": int(n), "callees": int(nc), "caller_ids": int(ni),
             "source_ips": (where[a][1] or "").split(";") if d and a in where else [],
             "first_seen": iso(where[a][2]) if d and a in where else None,
             "last_seen": iso(where[a][3]) if d and a in where else None}
            for a, sc, reason, n, nc, ni, d in lines
        ],
        "source_ips": [
            {"ip": ip, "country": facts[ip].country, "network": facts[ip].network,
             "cidr": facts[ip].cidr, "calls": int(n), "lines": int(nl),
             "first_seen": iso(t0), "last_seen": iso(t1)}
            for ip, n, nl, t0, t1 in ips
        ],
        "calls": {c: calls.column(c).to_pylist() for c in ANSWER_CALL_COLUMNS},
    }
    returned = {h for c in ("to", "from") for h in answer["calls"][c] if h}
    disclosed = sum(1 for r in lines if r[6])
    stats = AnswerStats(req.num_rows, matched, disclosed, len(lines) - disclosed,
                        calls.num_rows, len(returned))  # fmt: skip
    return answer, stats


def write_answer(
    request_path: Path, case_dir: Path, key: bytes, out: Path,
    *, settings: DetectSettings | None = None, line_key: bytes | None = None,
    overwrite: bool = False,
) -> AnswerStats:
    ensure_apart(out, request_path, case_dir)
    refuse_existing(out, overwrite, ExchangeError)
    answer, stats = build_answer(request_path, case_dir, key, settings=settings,
                                 line_key=line_key)  # fmt: skip
    write_message(out, answer, ANSWER_CALLS)
    return stats
