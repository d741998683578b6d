"""Spoofed caller IDs: numbers presented as local on calls that came in from abroad.

A number of the victims' own country that arrives on an international trunk is either a
traveller, an emigrant calling home, a company's hotline routed abroad, or a forgery. Forged
numbers behave like a dialling list: each callee is called once, most calls go unanswered or are
short, and the same number may also be in use at home by the subscriber it belongs to. Where
the VoIP provider's record of the call is linked, the line that really placed it decides.
"""

from __future__ import annotations

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.phones import BUSINESS_TYPES, calling_code, calling_code_sql, number_facts
from scamtrace.core.sql import insert_rows, run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.labels import apply_scores, confirmed_numbers
from scamtrace.detect.settings import (
    HOTLINE_CAP,
    NUMBER_ANSWER_RATE,
    NUMBER_AT_HOME,
    NUMBER_BASE,
    NUMBER_FAMILY,
    NUMBER_FAMILY_REPEAT,
    NUMBER_LIST_ONCE,
    NUMBER_LOOKUP_MIN_CALLS,
    NUMBER_OWN_CIRCLE_SHARE,
    NUMBER_SHORT,
    DetectSettings,
)
from scamtrace.enrich.case import Case

NUMBER_SCORES = TableSpec.of("number_scores", caller="BIGINT", calls="BIGINT", callees="BIGINT",
                             score="NUMERIC", reason="VARCHAR")  # fmt: skip
#: Without VoIP records the line behind a call is unknown: its columns are untyped NULLs.
CARRIER_CALLS = TableSpec.of(
    "carrier_calls", only_with="carrier_cdr", _line="BIGINT", call_id="VARCHAR",
    start_time="BIGINT", caller_number="BIGINT", called_number="BIGINT", answered="BOOLEAN",
    duration_s="BIGINT", ingress_trunk="VARCHAR", ingress_country="VARCHAR",
    line_score="NUMERIC", sip_account="VARCHAR", source_ip="VARCHAR",
)  # fmt: skip
NUMBER_FEATURES = TableSpec.of(
    "number_features", only_with="carrier_cdr", caller="BIGINT", calls="BIGINT",
    callees="BIGINT", answer_rate="DOUBLE", median_talk="DOUBLE", linked="BIGINT",
    line_score="NUMERIC",
)  # fmt: skip
HOME_USE = TableSpec.of("home_use", only_with="carrier_cdr", caller="BIGINT")
OWN_CIRCLE = TableSpec.of("own_circle", only_with="carrier_cdr", caller="BIGINT", known="BIGINT")
BUSINESS_NUMBERS = TableSpec.of("business_numbers", only_with="carrier_cdr", caller="BIGINT")
COMPANY_NUMBERS = TableSpec.of("company_numbers", only_with="carrier_cdr", caller="BIGINT",
                               range_numbers="BIGINT")  # fmt: skip
SCAM_CALLS = TableSpec.of(
    "scam_calls", source="VARCHAR", line="BIGINT", call_id="VARCHAR", caller="BIGINT",
    callee="BIGINT", t="BIGINT", answered="BOOLEAN", duration_s="BIGINT", score="NUMERIC",
    sip_account="VARCHAR", source_ip="VARCHAR", unallocated="BOOLEAN",
)  # fmt: skip


def score_presented_numbers(case: Case, s: DetectSettings) -> None:
    """Create ``carrier_calls`` (carrier rows with their linked line), ``number_scores``
    (carrier-side verdict per presented number) and ``scam_calls`` (every call judged scam,
    from either view, with the line behind it where known)."""
    db = case.db
    run(db, "CREATE OR REPLACE TABLE number_scores (caller BIGINT, calls BIGINT, callees BIGINT, "
            "score DOUBLE, reason VARCHAR)")  # fmt: skip
    scam_parts = []
    if case.has("voip_cdr"):
        scam_parts.append("""
            SELECT 'voip_cdr' AS source, v._line AS line, v.call_id, v.from_number AS caller,
                   v.to_number AS callee, v.start_time AS t, v.sip_status = 200 AS answered,
                   v.duration_s, s.score, v.sip_account, v.source_ip,
                   v.sip_status = 404 AS unallocated
            FROM voip_scam s JOIN voip_cdr v ON v._line = s.v_line
        """)
    if case.has("carrier_cdr"):
        _carrier_calls(case, s)
        # before any call is judged by a number's own score (labels.py)
        apply_scores(case, "number_scores", "caller_number", "CAST(t.caller AS VARCHAR)")
        scam_parts.append(f"""
            SELECT 'carrier_cdr' AS source, c._line AS line, c.call_id,
                   c.caller_number AS caller, c.called_number AS callee, c.start_time AS t,
                   c.answered, c.duration_s,
                   greatest(coalesce(c.line_score, 0), coalesce(n.score, 0)) AS score,
                   c.sip_account, c.source_ip, false AS unallocated
            FROM carrier_calls c LEFT JOIN number_scores n ON n.caller = c.caller_number
            WHERE c.line_score >= {FLAG_THRESHOLD}
               OR (c.line_score IS NULL AND n.score >= {FLAG_THRESHOLD})
        """)  # fmt: skip
    if scam_parts:
        run(db, "CREATE OR REPLACE TABLE scam_calls AS " + " UNION ALL ".join(scam_parts))
    else:
        run(db, "CREATE OR REPLACE TABLE scam_calls (source VARCHAR, line BIGINT, "
                "call_id VARCHAR, caller BIGINT, callee BIGINT, t BIGINT, answered BOOLEAN, "
                "duration_s BIGINT, score DOUBLE, sip_account VARCHAR, source_ip VARCHAR, "
                "unallocated BOOLEAN)")  # fmt: skip
    _confirmed_numbers(case)


def _confirmed_numbers(case: Case) -> None:
    """Numbers analysts confirmed: in ``number_scores`` at 1, and their calls scam calls, as
    if a dialling line placed them. Where the number also came in from abroad, only those
    calls: its subscriber's own calls at home are not the forger's."""
    db = case.db
    run(db, """
        INSERT INTO number_scores
        SELECT CAST(l.key AS BIGINT), l.records, NULL, 1.0,
               printf('seen on %d records of the case', l.records) FROM labels l
        WHERE l.kind = 'caller_number' AND l.state = 'confirmed'
          AND CAST(l.key AS BIGINT) NOT IN (SELECT caller FROM number_scores)
    """)  # fmt: skip
    home_iso = case.table_country.get("carrier_cdr", case.country)
    run(db, f"""
        INSERT INTO scam_calls
        WITH c AS (
            SELECT * FROM carrier_cdr
            WHERE caller_number IN {confirmed_numbers('caller_number')}
              AND called_number IS NOT NULL
        ), abroad AS (
            SELECT DISTINCT caller_number FROM c WHERE upper(ingress_country) <> '{home_iso}'
        )
        SELECT 'carrier_cdr', c._line, c.call_id, c.caller_number, c.called_number,
               c.start_time, c.answered, c.duration_s, 1.0, NULL, NULL, false
        FROM c LEFT JOIN abroad a USING (caller_number)
        WHERE (a.caller_number IS NULL OR upper(c.ingress_country) <> '{home_iso}')
          AND c._line NOT IN (SELECT line FROM scam_calls WHERE source = 'carrier_cdr')
        UNION ALL
        SELECT 'voip_cdr', v._line, v.call_id, v.from_number, v.to_number, v.start_time,
               v.sip_status = 200, v.duration_s, 1.0, v.sip_account, v.source_ip,
               v.sip_status = 404
        FROM voip_cdr v
        WHERE v.from_number IN {confirmed_numbers('caller_number')}
          AND v._line NOT IN (SELECT line FROM scam_calls WHERE source = 'voip_cdr')
    """)  # fmt: skip


def _carrier_calls(case: Case, s: DetectSettings) -> None:
    db = case.db
    home_iso = case.table_country.get("carrier_cdr", case.country)
    home = calling_code(home_iso)
    cc = calling_code_sql("c.caller_number")
    linked = case.has("voip_cdr")
    line = (
        "LEFT JOIN call_link l ON l.c_line = c._line "
        "LEFT JOIN voip_cdr v ON v._line = l.v_line "
        "LEFT JOIN sip_scores a ON a.sip_account = v.sip_account"
        if linked
        else ""
    )
    cols = "a.score, v.sip_account, v.source_ip" if linked else "NULL, NULL, NULL"
    # Only calls from abroad that present a local number are candidates; the rest of the
    # carrier's traffic (the bulk of a terabyte) is read once and never materialised.
    run(db, f"""
        CREATE OR REPLACE TABLE carrier_calls AS
        SELECT c._line, c.call_id, c.start_time, c.caller_number, c.called_number,
               c.answered, c.duration_s, c.ingress_trunk, c.ingress_country,
               {cols.split(',')[0]} AS line_score, {cols.split(',')[1]} AS sip_account,
               {cols.split(',')[2]} AS source_ip
        FROM carrier_cdr c {line}
        WHERE upper(c.ingress_country) <> '{home_iso}' AND {cc} = {home}
          AND c.called_number IS NOT NULL
    """)  # fmt: skip
    run(db, """
        CREATE OR REPLACE TABLE number_features AS
        SELECT caller_number AS caller, count(*) AS calls,
               count(DISTINCT called_number) AS callees,
               avg(answered::INT) AS answer_rate,
               median(CASE WHEN answered THEN duration_s END) AS median_talk,
               count(line_score) AS linked, max(line_score) AS line_score
        FROM carrier_calls GROUP BY caller_number
    """)
    run(db, f"""
        CREATE OR REPLACE TABLE home_use AS
        SELECT DISTINCT c.caller_number AS caller FROM carrier_cdr c
        SEMI JOIN number_features f ON f.caller = c.caller_number
        WHERE upper(c.ingress_country) = '{home_iso}'
    """)  # fmt: skip
    # The people a number talks with at home (either way): a subscriber abroad calls them.
    run(db, f"""
        CREATE OR REPLACE TABLE own_circle AS
        WITH home AS (
            SELECT caller_number AS a, called_number AS b FROM carrier_cdr c
            SEMI JOIN number_features f ON f.caller = c.caller_number
            WHERE upper(c.ingress_country) = '{home_iso}'
            UNION
            SELECT called_number, caller_number FROM carrier_cdr c
            SEMI JOIN number_features f ON f.caller = c.called_number
            WHERE upper(c.ingress_country) = '{home_iso}' AND c.caller_number IS NOT NULL
        )
        SELECT a.caller_number AS caller, count(DISTINCT a.called_number) AS known
        FROM carrier_calls a JOIN home h ON h.a = a.caller_number AND h.b = a.called_number
        GROUP BY 1
    """)  # fmt: skip
    rows = run(db, f"SELECT caller FROM number_features WHERE calls >= {NUMBER_LOOKUP_MIN_CALLS}")
    facts = number_facts(f"+{r[0]}" for r in rows)
    business = [[int(n[1:])] for n, f in facts.items() if f.number_type in BUSINESS_TYPES]
    run(db, "CREATE OR REPLACE TABLE business_numbers (caller BIGINT)")
    if business:
        insert_rows(db, "business_numbers", business)
    # A company's direct numbers: several numbers of one range of consecutive DIDs arrive from
    # abroad (a branch's numbers on a PBX abroad), and their calls are conversations.
    size = s.did_range_size
    run(db, f"""
        CREATE OR REPLACE TABLE company_numbers AS
        WITH r AS (
            SELECT caller_number // {size} AS did_range,
                   count(DISTINCT caller_number) AS range_numbers,
                   avg(answered::INT) AS answer_rate,
                   median(CASE WHEN answered THEN duration_s END) AS median_talk
            FROM carrier_calls GROUP BY 1
        )
        SELECT f.caller, r.range_numbers FROM number_features f
        JOIN r ON r.did_range = f.caller // {size}
        WHERE r.range_numbers >= {s.did_ids_per_range}
          AND r.answer_rate >= {s.conversation_answer_rate}
          AND coalesce(r.median_talk, 0) >= {s.conversation_talk_s}
    """)  # fmt: skip
    once = f"(f.callees >= {s.fanout_uniqueness} * f.calls)"
    short = (f"(f.answer_rate < {NUMBER_ANSWER_RATE} "
             f"OR coalesce(f.median_talk, 0) < {s.short_call_s})")  # fmt: skip
    family = (f"(f.callees <= {s.family_max_callees} "
              f"AND f.callees < {NUMBER_FAMILY_REPEAT} * f.calls)")  # fmt: skip
    circle = f"(known >= {NUMBER_OWN_CIRCLE_SHARE} * callees)"
    run(db, f"""
        CREATE OR REPLACE TABLE number_scores AS
        WITH x AS (
            SELECT f.*, b.caller IS NOT NULL AS business, h.caller IS NOT NULL AS at_home,
                   coalesce(d.range_numbers, 0) AS range_numbers, coalesce(o.known, 0) AS known
            FROM number_features f
            LEFT JOIN business_numbers b USING (caller) LEFT JOIN home_use h USING (caller)
            LEFT JOIN company_numbers d USING (caller) LEFT JOIN own_circle o USING (caller)
        )
        SELECT caller, calls, callees,
            CASE WHEN linked > 0 THEN line_score
                 WHEN {circle} THEN {NUMBER_FAMILY}
                 WHEN {family} THEN {NUMBER_FAMILY}
                 WHEN business OR range_numbers > 0 THEN {HOTLINE_CAP}
                 ELSE least(1.0, {NUMBER_BASE} + {NUMBER_LIST_ONCE} * {once}::INT
                                 + {NUMBER_AT_HOME} * at_home::INT
                                 + {NUMBER_SHORT} * {short}::INT) END AS score,
            CASE WHEN linked > 0 THEN printf('shown on %d calls from abroad placed by a VoIP '
                                             'line scored %.2f', calls, line_score)
                 WHEN {circle} THEN printf('calls from abroad %d of the people it talks with at '
                                           'home: a subscriber travelling', known)
                 WHEN {family} THEN printf('calls a circle of %d people from abroad, again and '
                                           'again, like a family member', callees)
                 ELSE concat(printf('local number presented on %d calls from abroad', calls),
                      CASE WHEN business THEN ' as a company hotline' ELSE '' END,
                      CASE WHEN range_numbers > 0 AND NOT business THEN printf(
                          ' as one of %d direct numbers of one company''s range, in '
                          'conversations', range_numbers) ELSE '' END,
                      CASE WHEN {once} THEN printf(', each of %d callees called once', callees)
                           ELSE '' END,
                      CASE WHEN at_home THEN ', also in use at home at the same time' ELSE '' END,
                      CASE WHEN {short} THEN ', mostly unanswered or short' ELSE '' END) END
                AS reason
        FROM x f
    """)  # fmt: skip


DETECTOR = Detector(
    name="spoofing", step="spoofed caller IDs", progress=0.5,
    needs=("carrier_cdr", "voip_cdr", "call_link", "sip_scores", "voip_scam", "labels"),
    makes=(NUMBER_SCORES, CARRIER_CALLS, NUMBER_FEATURES, HOME_USE, OWN_CIRCLE, BUSINESS_NUMBERS,
           COMPANY_NUMBERS, SCAM_CALLS),
    run=score_presented_numbers,
)  # fmt: skip
