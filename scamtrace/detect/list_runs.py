"""Dialling runs from abroad: foreign numbers shown on a few calls each, working through a list.

Once the victims' carrier blocks local caller IDs arriving from abroad, a center calling from
abroad presents numbers of other countries instead, a new one every call or every few calls.
Seen by that carrier alone (its own records, no VoIP provider's), each such number is a
stranger's call from abroad, and one stranger's call says nothing. What gives them away is
the list: within the hour, numbers that each appear on a handful of calls ring neighbouring
subscribers of one block, one after the other. A person abroad calls the few people they know,
again and again; an honest call center abroad presents its own one number; neither walks a
block of numbers with a new caller ID each time. Local numbers from abroad are judged by
spoofing.py, domestic lines by sim_boxes.py.
"""

from __future__ import annotations

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.phones import calling_code, calling_code_sql
from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector
from scamtrace.detect.labels import held_numbers
from scamtrace.detect.settings import (
    LIST_GAP,
    LIST_WINDOW_S,
    RUN_NEIGHBOURS,
    RUN_NUMBER,
    RUN_NUMBER_MAX_CALLS,
    RUN_SHARE,
    DetectSettings,
)
from scamtrace.enrich.case import Case


def score_list_runs(case: Case, _settings: DetectSettings) -> None:
    """Add numbers of other countries that dialled lists from abroad to ``number_scores``, and
    their calls to ``scam_calls``, so that victims, mules and networks follow from them."""
    if not case.has("carrier_cdr"):
        return
    db = case.db
    home_iso = case.table_country.get("carrier_cdr", case.country)
    home = calling_code(home_iso)
    cc = calling_code_sql("caller_number")
    # A call the VoIP provider's records explain is judged by the line that placed it.
    unlinked = ("AND a._line NOT IN (SELECT c_line FROM call_link)"
                if case.has("voip_cdr") else "")  # fmt: skip
    run(db, f"""
        CREATE OR REPLACE TEMP TABLE run_calls AS
        WITH abroad AS (
            SELECT _line, call_id, start_time, caller_number, called_number, answered,
                   duration_s
            FROM carrier_cdr
            WHERE upper(ingress_country) <> '{home_iso}' AND caller_number IS NOT NULL
              AND called_number IS NOT NULL
        ), few AS (
            -- each shown on a handful of calls, each to someone else
            SELECT caller_number FROM abroad GROUP BY caller_number
            HAVING count(*) <= {RUN_NUMBER_MAX_CALLS}
               AND count(DISTINCT called_number) = count(*)
        )
        SELECT a.* FROM abroad a SEMI JOIN few USING (caller_number)
        WHERE {cc.replace('caller_number', 'a.caller_number')} <> {home} {unlinked}
    """)  # fmt: skip
    run(db, f"""
        CREATE OR REPLACE TEMP TABLE run_numbers AS
        WITH near AS (
            -- other such numbers ringing neighbouring subscribers within the hour
            SELECT a._line, count(DISTINCT b.caller_number) AS others
            FROM run_calls a JOIN (VALUES (-1), (0), (1)) o(d) ON true
            JOIN run_calls b ON b.called_number // {LIST_GAP} = a.called_number // {LIST_GAP} + o.d
             AND abs(b.called_number - a.called_number) <= {LIST_GAP}
             AND abs(b.start_time - a.start_time) <= {LIST_WINDOW_S}
             AND b.caller_number <> a.caller_number
            GROUP BY a._line
        )
        SELECT c.caller_number AS caller, count(*) AS calls,
               count(DISTINCT c.called_number) AS callees,
               count(n._line) FILTER (WHERE n.others >= {RUN_NEIGHBOURS}) AS in_runs
        FROM run_calls c LEFT JOIN near n USING (_line)
        GROUP BY c.caller_number
        HAVING count(n._line) FILTER (WHERE n.others >= {RUN_NEIGHBOURS})
               >= {RUN_SHARE} * count(*)
    """)  # fmt: skip
    run(db, "DELETE FROM run_numbers WHERE caller IN (SELECT caller FROM number_scores)")
    run(db, f"DELETE FROM run_numbers WHERE caller IN {held_numbers('caller_number')}")
    run(db, f"""
        INSERT INTO number_scores
        SELECT caller, calls, callees, {RUN_NUMBER},
               printf('number of another country shown from abroad on %d call%s, each to '
                      'someone else, ringing neighbouring numbers of one list within the hour '
                      'as other such numbers did (%d of its calls)', calls,
                      CASE WHEN calls = 1 THEN '' ELSE 's' END, in_runs)
        FROM run_numbers
    """)  # fmt: skip
    if RUN_NUMBER >= FLAG_THRESHOLD:
        run(db, f"""
            INSERT INTO scam_calls
            SELECT 'carrier_cdr', c._line, c.call_id, c.caller_number, c.called_number,
                   c.start_time, c.answered, c.duration_s, {RUN_NUMBER}, NULL, NULL, false
            FROM run_calls c SEMI JOIN run_numbers n ON n.caller = c.caller_number
        """)  # fmt: skip
    run(db, "DROP TABLE run_calls")
    run(db, "DROP TABLE run_numbers")


DETECTOR = Detector(
    name="list_runs", step="dialling runs from abroad", progress=0.53,
    # After sim_boxes (it reads the numbers that step judged), which then reads the scam calls
    # without these runs: a SIM line's evidence is its own victims, walked on by other lines.
    needs=("carrier_cdr", "call_link", "sim_lines", "labels"),
    makes=(), run=score_list_runs, updates=("number_scores", "scam_calls"),
)  # fmt: skip
