"""SIM-box lines: domestic mobile numbers that behave like slots of a gateway, not like phones.

When carriers block local caller IDs arriving from abroad, call centers route their calls
through SIM boxes in the victims' country: the call reaches the carrier on a domestic trunk
with a real prepaid SIM's own number, so nothing is spoofed and nothing comes from abroad. What
gives the SIM away is how it lives. It dials a list of strangers, each once, mostly unanswered
(like a sales line, unlike a person's phone or a courier's, whose callees expect them); it is
used for days and thrown away (a person's or a company's line is used for months); it never
answers a call (people call back a missed call; a gateway slot does not take calls); it comes
from a prepaid pack of close numbers that are used up together; and the people who answered it
are then walked through the script from other such lines, or pay money on to a collecting
account. A list alone is only what sales teams do: a line needs two more of these to be flagged,
and a line that answers the calls it receives is a person's, whatever else it does.
"""

from __future__ import annotations

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.phones import calling_code, calling_code_sql, number_facts
from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.labels import apply_scores, confirmed_numbers
from scamtrace.detect.settings import (
    LEAD_MIN,
    LINE_LIST,
    SIM_BATCH,
    SIM_BOX_MAX,
    SIM_LIST,
    SIM_SHORT_LIVED,
    SIM_SILENT,
    SIM_WALKED,
    DetectSettings,
)
from scamtrace.enrich.case import Case

SIM_LINES = TableSpec.of(
    "sim_lines", line="BIGINT", calls="BIGINT", callees="BIGINT", first_t="BIGINT",
    last_t="BIGINT", answer_rate="DOUBLE", calls_in="BIGINT", answered_in="BIGINT",
    short_lived="BOOLEAN", replaced="BOOLEAN", mates="BIGINT", walked="BIGINT", paid="BIGINT",
    score="NUMERIC", reason="VARCHAR",
)  # fmt: skip

#: Number types a GSM gateway's SIM can have (libphonenumber's names).
MOBILE_TYPES = frozenset({"mobile", "fixed_line_or_mobile"})


def score_sim_lines(case: Case, s: DetectSettings) -> None:
    """Create ``sim_lines`` (every domestic mobile line dialling a list, scored); add the lines
    at the lead floor and above to ``number_scores`` and the calls of flagged ones to
    ``scam_calls``, so victims, mules and networks follow from them as from any scam line."""
    db = case.db
    run(db, f"CREATE OR REPLACE TABLE sim_lines ({_columns()})")
    if not case.has("carrier_cdr"):
        return
    home_iso = case.table_country.get("carrier_cdr", case.country)
    home = calling_code(home_iso)
    cc = calling_code_sql("line")
    # One pass over the carrier's records: lines of the home country arriving on domestic
    # trunks that dialled a list (many strangers, each once, mostly unanswered). The country
    # of the number is read once per line, not once per call.
    run(db, f"""
        CREATE OR REPLACE TEMP TABLE sim_candidates AS
        SELECT * FROM (
            SELECT caller_number AS line, count(*) AS calls,
                   count(DISTINCT called_number) AS callees,
                   min(start_time) AS first_t, max(start_time) AS last_t,
                   avg(answered::INT) AS answer_rate
            FROM carrier_cdr
            WHERE upper(ingress_country) = '{home_iso}' AND called_number IS NOT NULL
              AND caller_number IS NOT NULL
            GROUP BY caller_number
            HAVING count(DISTINCT called_number) >= {s.fanout_min_callees}
               AND count(DISTINCT called_number) >= {s.fanout_uniqueness} * count(*)
               AND avg(answered::INT) < {s.sim_answer_rate_max}
        ) WHERE {cc} = {home}
    """)  # fmt: skip
    lines = [int(r[0]) for r in run(db, "SELECT line FROM sim_candidates")]
    facts = number_facts(f"+{n}" for n in lines)
    fixed = [[n] for n in lines if facts[f"+{n}"].number_type not in MOBILE_TYPES]
    if fixed:
        db.executemany("DELETE FROM sim_candidates WHERE line = ?", fixed)
    end = case.count("SELECT coalesce(max(start_time), 0) FROM carrier_cdr")
    life, quiet = s.sim_life_days * 86400, s.sim_quiet_days * 86400
    window, window_days = s.sim_batch_window_days * 86400, s.payment_window_days * 86400
    span = s.sim_batch_span
    run(db, f"""
        CREATE OR REPLACE TEMP TABLE sim_evidence AS
        WITH brief AS (
            SELECT *, last_t - first_t <= {life} AS brief FROM sim_candidates
        ), buckets AS (
            SELECT line, first_t, last_t, line // {span} + d AS bucket
            FROM brief, (SELECT unnest([-1, 0, 1]) AS d)
        ), next AS (
            -- a close number of its pack that began dialling after this one's last call: the
            -- SIM was swapped
            SELECT a.line FROM buckets a JOIN brief b ON b.line // {span} = a.bucket
             AND b.line <> a.line AND abs(b.line - a.line) <= {span}
             AND b.first_t > a.last_t AND b.first_t <= a.last_t + {window}
            GROUP BY a.line
        ), c AS (
            -- used for days and then gone (silent since, or swapped); a line still calling at
            -- the case's end may simply be young, as a new sales team's lines are
            SELECT b.*, b.brief AND (b.last_t <= {end} - {quiet} OR n.line IS NOT NULL)
                        AS short_lived, b.brief AND n.line IS NOT NULL AS replaced
            FROM brief b LEFT JOIN next n USING (line)
        ), incoming AS (
            SELECT called_number AS line, count(*) AS calls_in,
                   count(*) FILTER (WHERE answered) AS answered_in
            FROM carrier_cdr SEMI JOIN c ON c.line = carrier_cdr.called_number GROUP BY 1
        ), mates AS (
            -- other short-lived list lines of the same pack of numbers, used in the same weeks
            SELECT a.line, count(DISTINCT b.line) AS mates
            FROM buckets a SEMI JOIN c s ON s.line = a.line AND s.short_lived
            JOIN c b ON b.line // {span} = a.bucket AND b.short_lived
             AND b.line <> a.line AND abs(b.line - a.line) <= {span}
             AND b.first_t <= a.last_t + {window} AND b.last_t >= a.first_t - {window}
            GROUP BY a.line
        ), answered AS (
            SELECT o.caller_number AS line, o.called_number AS callee, o.start_time AS t
            FROM carrier_cdr o SEMI JOIN c ON c.line = o.caller_number
            WHERE o.answered AND o.called_number IS NOT NULL
        ), later AS (
            -- answered later calls from other short-lived list lines or from scam lines
            SELECT o.caller_number AS caller, o.called_number AS callee, o.start_time AS t
            FROM carrier_cdr o SEMI JOIN c ON c.line = o.caller_number AND c.short_lived
            WHERE o.answered
            UNION ALL
            SELECT caller, callee, t FROM scam_calls WHERE answered
        ), walked AS (
            -- only for short-lived lines: a line that talked with hundreds of people for months
            -- shares a few of them with scammers and shops by chance
            SELECT a.line, count(DISTINCT a.callee) AS walked FROM answered a
            SEMI JOIN c ON c.line = a.line AND c.short_lived
            SEMI JOIN later l ON l.callee = a.callee AND l.caller <> a.line
             AND l.t > a.t + 3600 AND l.t <= a.t + {window_days}
            GROUP BY a.line
        ), paid AS (
            -- answered callees who then paid a personal account that others of them paid too
            SELECT a.line, a.callee, t.payee_account AS payee
            FROM answered a JOIN accounts h ON h.holder_phone = a.callee
            JOIN transfers t ON t.payer_account = h.account_id
             AND t.time > a.t AND t.time <= a.t + {window_days}
            JOIN accounts p ON p.account_id = t.payee_account
            WHERE coalesce(lower(p.kind), '') <> 'business'
        ), collecting AS (
            SELECT payee FROM paid GROUP BY payee HAVING count(DISTINCT callee) >= 2
        ), paying AS (
            SELECT line, count(DISTINCT callee) AS paid FROM paid SEMI JOIN collecting USING (payee)
            SEMI JOIN c ON c.line = paid.line AND c.short_lived GROUP BY line
        )
        SELECT c.*, coalesce(i.calls_in, 0) AS calls_in, coalesce(i.answered_in, 0) AS answered_in,
               coalesce(m.mates, 0) AS mates, coalesce(w.walked, 0) AS walked,
               coalesce(p.paid, 0) AS paid
        FROM c LEFT JOIN incoming i USING (line) LEFT JOIN mates m USING (line)
        LEFT JOIN walked w USING (line) LEFT JOIN paying p USING (line)
    """)  # fmt: skip
    batch = f"(mates + 1 >= {s.sim_batch_min_lines})"
    silent = "(calls_in > 0 AND answered_in = 0)"
    behaviour = (
        f"{SIM_LIST} + {SIM_SHORT_LIVED} * short_lived::INT + {SIM_BATCH} * {batch}::INT"
        f" + {SIM_SILENT} * {silent}::INT + {SIM_WALKED} * (walked + paid > 0)::INT"
    )
    run(db, f"""
        INSERT INTO sim_lines
        SELECT line, calls, callees, first_t, last_t, answer_rate, calls_in, answered_in,
               short_lived, replaced, mates, walked, paid,
               CASE WHEN answered_in > 0 THEN least({LINE_LIST}, {behaviour})
                    ELSE least({SIM_BOX_MAX}, {behaviour}) END AS score,
               concat(printf('domestic mobile line that dialled %d numbers in %d calls, '
                             '%d%% answered', callees, calls, round(100 * answer_rate)::INT),
                      CASE WHEN short_lived THEN printf(', used for %.1f days then silent',
                                                        (last_t - first_t) / 86400) ELSE '' END,
                      CASE WHEN replaced THEN ' (a close number took over)' ELSE '' END,
                      CASE WHEN {batch} THEN printf(', one of %d such lines of close numbers',
                                                    mates + 1) ELSE '' END,
                      CASE WHEN {silent} THEN printf(', never answered the %d call%s it got',
                                                     calls_in, CASE WHEN calls_in = 1 THEN ''
                                                                    ELSE 's' END) ELSE '' END,
                      CASE WHEN answered_in > 0 THEN printf(', answers calls (%d of %d): a '
                                                            'phone in use', answered_in, calls_in)
                           ELSE '' END,
                      CASE WHEN walked > 0 THEN printf(', %d who answered were called on by '
                                                       'other such lines', walked) ELSE '' END,
                      CASE WHEN paid > 0 THEN printf(', %d who answered then paid a shared '
                                                     'account', paid) ELSE '' END) AS reason
        FROM sim_evidence
    """)  # fmt: skip
    run(db, "DROP TABLE sim_candidates")
    run(db, "DROP TABLE sim_evidence")
    apply_scores(case, "sim_lines", "caller_number", "CAST(t.line AS VARCHAR)")
    run(db, f"""
        INSERT INTO number_scores
        SELECT line, calls, callees, score, reason FROM sim_lines
        WHERE score >= {LEAD_MIN} AND line NOT IN (SELECT caller FROM number_scores)
    """)  # fmt: skip
    run(db, f"""
        INSERT INTO scam_calls
        SELECT 'carrier_cdr', o._line, o.call_id, o.caller_number, o.called_number,
               o.start_time, o.answered, o.duration_s, l.score, NULL, NULL, false
        FROM carrier_cdr o JOIN sim_lines l ON l.line = o.caller_number
        WHERE l.score >= {FLAG_THRESHOLD} AND o.called_number IS NOT NULL
          AND upper(o.ingress_country) = '{home_iso}'
          -- a confirmed number's calls are in already (spoofing.py)
          AND o.caller_number NOT IN {confirmed_numbers('caller_number')}
    """)  # fmt: skip


def _columns() -> str:
    kinds = {"NUMERIC": "DOUBLE"}
    return ", ".join(f"{name} {kinds.get(kind, kind)}" for name, kind in SIM_LINES.columns)


DETECTOR = Detector(
    name="sim_boxes", step="SIM-box lines", progress=0.52,
    needs=("carrier_cdr", "accounts", "transfers", "scam_calls", "labels"),
    makes=(SIM_LINES,), run=score_sim_lines, updates=("number_scores", "scam_calls"),
)  # fmt: skip
