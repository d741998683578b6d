"""Words as evidence: call transcripts and the narratives of victims' complaints.

A transcript that reads as a scam call is strong evidence against the line that placed it and
for the subscriber who took it; the same script read on many lines ties them into one
campaign. A complaint's narrative names numbers, accounts and sums that the form's own fields
may lack. Both are optional: without transcripts or narratives every table here is empty and
the other detectors work as before.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from scamtrace.core.phones import e164_sql
from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.settings import SCRIPT_MIN_CALLS, DetectSettings
from scamtrace.enrich.case import Case

#: Caller sentences shown as a script group's example.
EXAMPLE_LINES = 3
#: Calls listed behind each script group (the first ones in time).
EXAMPLE_CALLS = 20

TRANSCRIPT_SCORES = TableSpec.of(
    "transcript_scores", _line="BIGINT", call_id="VARCHAR", source="VARCHAR", language="VARCHAR",
    scam_score="DOUBLE", scam_type="VARCHAR", script_group="BIGINT", example="VARCHAR",
)  # fmt: skip
TRANSCRIPT_CALLS = TRANSCRIPT_SCORES.plus("transcript_calls", caller="BIGINT", callee="BIGINT",
                                          t="BIGINT", sip_account="VARCHAR")  # fmt: skip
NARRATIVE_INDICATORS = TableSpec.of("narrative_indicators", report_id="VARCHAR", kind="VARCHAR",
                                    value="VARCHAR")  # fmt: skip
NARRATIVE_NUMBERS = TableSpec.of("narrative_numbers", report_id="VARCHAR", number="BIGINT")
NARRATIVE_ACCOUNTS = TableSpec.of("narrative_accounts", report_id="VARCHAR", account="VARCHAR")
NARRATIVE_AMOUNTS = TableSpec.of("narrative_amounts", report_id="VARCHAR", amount="DOUBLE")


def read_texts(case: Case, s: DetectSettings) -> int:
    """Create ``transcript_calls`` (each transcript's scam score, type, script group and the
    call it belongs to), ``narrative_numbers(report_id, number)``,
    ``narrative_accounts(report_id, account)`` and ``narrative_amounts(report_id, amount)``.
    Returns how many transcripts read as scam calls."""
    _transcripts(case, s)
    _narratives(case)
    return case.count(f"SELECT count(*) FROM transcript_calls WHERE scam_score >= "
                      f"{s.transcript_scam_score}")  # fmt: skip


def _transcripts(case: Case, s: DetectSettings) -> None:
    db = case.db
    rows = db.sql(
        "SELECT _line, call_id, source, language, text FROM transcripts ORDER BY _line"
    ).to_arrow_table()
    scored = _score(rows, s)
    db.register("transcript_scores_arrow", scored)
    run(db, "CREATE OR REPLACE TABLE transcript_scores AS SELECT * FROM transcript_scores_arrow")
    db.unregister("transcript_scores_arrow")
    # The call behind each transcript, on either side; a carrier call linked to the VoIP
    # provider's record also names the SIP account that placed it.
    run(db, """
        CREATE OR REPLACE TABLE transcript_calls AS
        SELECT s.*, c.caller_number AS caller, c.called_number AS callee, c.start_time AS t,
               v.sip_account
        FROM transcript_scores s JOIN carrier_cdr c
          ON s.source = 'carrier_cdr' AND c.call_id = s.call_id
        LEFT JOIN call_link l ON l.c_line = c._line LEFT JOIN voip_cdr v ON v._line = l.v_line
        UNION ALL
        SELECT s.*, v.from_number, v.to_number, v.start_time, v.sip_account
        FROM transcript_scores s JOIN voip_cdr v ON s.source = 'voip_cdr' AND v.call_id = s.call_id
    """)  # fmt: skip


def _score(rows: pa.Table, s: DetectSettings) -> pa.Table:
    """Scam score, type and script group of every transcript (empty table when none)."""
    n = rows.num_rows
    schema = pa.schema([("_line", pa.int64()), ("call_id", pa.string()), ("source", pa.string()),
                        ("language", pa.string()), ("scam_score", pa.float64()),
                        ("scam_type", pa.string()), ("script_group", pa.int64()),
                        ("example", pa.string())])  # fmt: skip
    if n == 0:
        return schema.empty_table()
    from scamtrace.language.classifier import load_classifier
    from scamtrace.language.scripts import script_groups, script_lines

    texts = [t or "" for t in rows.column("text").to_pylist()]
    languages = [v or None for v in rows.column("language").to_pylist()]
    scores, types = load_classifier().predict(texts, languages)
    # Honest callers read scripts too (a bank's service line): only calls that read as scams
    # are grouped, so a group is one fraud script and never a help-desk greeting.
    scam = [i for i in range(n) if scores[i] >= s.transcript_scam_score]
    groups = [-1] * n
    for i, g in zip(scam, script_groups([texts[i] for i in scam]), strict=True):
        groups[i] = g
    examples = [
        " / ".join(script_lines(texts[i])[:EXAMPLE_LINES]) if groups[i] >= 0 else ""
        for i in range(n)
    ]
    return pa.table(
        [rows.column("_line").cast(pa.int64()), rows.column("call_id"), rows.column("source"),
         rows.column("language"), pa.array(scores, pa.float64()), pa.array(types, pa.string()),
         pa.array(groups, pa.int64()), pa.array(examples, pa.string())],
        schema=schema,
    )  # fmt: skip


def _narratives(case: Case) -> None:
    """Numbers, accounts and sums a complaint's narrative names (the victim's own number is
    not a lead)."""
    db = case.db
    rows = db.sql(
        "SELECT report_id, language, narrative AS text, victim_phone FROM reports "
        "WHERE coalesce(narrative, '') <> ''"
    ).to_arrow_table()
    from scamtrace.language.indicators import extract_table

    region = case.table_country.get("reports", case.country)
    found = extract_table(rows, region=region)
    ids = rows.column("report_id").take(found.column("row")) if rows.num_rows else pa.array(
        [], pa.string())  # fmt: skip
    table = pa.table({"report_id": ids, "kind": found.column("kind"),
                      "value": found.column("value")})  # fmt: skip
    db.register("narrative_arrow", table)
    run(db, "CREATE OR REPLACE TABLE narrative_indicators AS SELECT * FROM narrative_arrow")
    db.unregister("narrative_arrow")
    number = e164_sql("value", region)
    run(db, f"""
        CREATE OR REPLACE TABLE narrative_numbers AS
        SELECT DISTINCT n.report_id, TRY_CAST(substr({number}, 2) AS BIGINT) AS number
        FROM narrative_indicators n JOIN reports r USING (report_id)
        WHERE n.kind = 'phone' AND {number} IS NOT NULL
          AND TRY_CAST(substr({number}, 2) AS BIGINT) IS DISTINCT FROM r.victim_phone
    """)  # fmt: skip
    run(db, """
        CREATE OR REPLACE TABLE narrative_accounts AS
        SELECT DISTINCT report_id, upper(replace(value, ' ', '')) AS account
        FROM narrative_indicators WHERE kind IN ('iban', 'account', 'card')
    """)
    run(db, """
        CREATE OR REPLACE TABLE narrative_amounts AS
        SELECT report_id, max(TRY_CAST(split_part(value, ' ', 1) AS DOUBLE)) AS amount
        FROM narrative_indicators WHERE kind = 'amount' GROUP BY report_id
    """)


def script_table_sql() -> str:
    """SQL for the script groups found, one row per group: what was read, where and by whom
    (run after networks are assigned)."""
    return f"""
        WITH g AS (
            SELECT t.script_group, t.call_id, t.source, t.scam_type, t.language, t.example,
                   t.scam_score, t.caller, t.sip_account, t.t, cc.center, cc.network
            FROM transcript_calls t
            LEFT JOIN call_center cc ON cc.source = t.source AND cc.call_id = t.call_id
            WHERE t.script_group >= 0
        )
        SELECT script_group, count(*) AS calls, mode(scam_type ORDER BY scam_type) AS scam_type,
               string_agg(DISTINCT language, ';') AS languages,
               count(DISTINCT caller) AS numbers, count(DISTINCT sip_account) AS sip_accounts,
               count(DISTINCT center) AS centers, mode(network ORDER BY network) AS network,
               min(t) AS first_t, max(t) AS last_t,
               arg_max(example, (length(example), example)) AS example,
               array_to_string(list(call_id ORDER BY t, call_id)[:{EXAMPLE_CALLS}], ';')
                   AS call_ids
        FROM g GROUP BY script_group HAVING count(*) >= {SCRIPT_MIN_CALLS}
    """


def scripts_found(case: Case) -> list[tuple[Any, ...]]:
    """The script groups, biggest first (for summaries and tests)."""
    return run(case.db, f"SELECT * FROM ({script_table_sql()}) ORDER BY calls DESC")


DETECTOR = Detector(
    name="texts", step="transcripts and narratives", progress=0.65,
    needs=("transcripts", "reports", "carrier_cdr", "voip_cdr", "call_link"),
    makes=(TRANSCRIPT_SCORES, TRANSCRIPT_CALLS, NARRATIVE_INDICATORS, NARRATIVE_NUMBERS,
           NARRATIVE_ACCOUNTS, NARRATIVE_AMOUNTS),
    run=read_texts,
)  # fmt: skip
