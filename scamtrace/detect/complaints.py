"""Victims' complaints (the contract's ``reports`` table): they name numbers and accounts,
strong evidence that is incomplete and sometimes wrong (a typo, an honest number the victim
blamed). A name in a complaint raises what behaviour already shows; on its own it needs a
second, independent complaint."""

from __future__ import annotations

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.phones import e164_sql
from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.settings import (
    COMPLAINT_RAISES,
    COMPLAINTS_AGREE,
    CONFIRMED_BONUS,
    MAX_TYPO,
    DetectSettings,
)
from scamtrace.enrich.case import Case

COMPLAINT_NUMBERS = TableSpec.of("complaint_numbers", report_id="VARCHAR", number="BIGINT",
                                 repaired="BOOLEAN")  # fmt: skip
COMPLAINT_ACCOUNTS = TableSpec.of("complaint_accounts", report_id="VARCHAR", account="VARCHAR",
                                  repaired="BOOLEAN")  # fmt: skip
COMPLAINT_VICTIMS = TableSpec.of("complaint_victims", report_id="VARCHAR", phone="BIGINT",
                                 lost="NUMERIC", filed_at="BIGINT")  # fmt: skip
COMPLAINT_CALLERS = TableSpec.of("complaint_callers", report_id="VARCHAR", number="BIGINT")


def read_complaints(case: Case, s: DetectSettings) -> None:
    """Create ``complaint_numbers(report_id, number, repaired)``,
    ``complaint_accounts(report_id, account, repaired)`` and
    ``complaint_victims(report_id, phone, lost, filed_at)``."""
    db = case.db
    country = case.table_country.get("reports", case.country)
    number = e164_sql("trim(item)", country)
    run(db, f"""
        CREATE OR REPLACE TABLE complaint_numbers AS
        SELECT DISTINCT report_id, TRY_CAST(substr({number}, 2) AS BIGINT) AS number
        FROM (SELECT report_id, unnest(string_split(reported_numbers, ';')) AS item FROM reports)
        WHERE {number} IS NOT NULL
    """)  # fmt: skip
    run(db, """
        CREATE OR REPLACE TABLE complaint_accounts AS
        SELECT DISTINCT report_id, upper(replace(trim(item), ' ', '')) AS account
        FROM (SELECT report_id, unnest(string_split(reported_accounts, ';')) AS item FROM reports)
        WHERE trim(item) <> ''
    """)
    # What the narrative names and the form's fields left out counts as named in the complaint.
    run(db, """
        INSERT INTO complaint_numbers SELECT * FROM narrative_numbers
        EXCEPT SELECT * FROM complaint_numbers
    """)
    run(db, """
        INSERT INTO complaint_accounts SELECT * FROM narrative_accounts
        EXCEPT SELECT * FROM complaint_accounts
    """)
    _repair(case)
    run(db, """
        CREATE OR REPLACE TABLE complaint_victims AS
        SELECT report_id, victim_phone AS phone,
               coalesce(amount_lost, n.amount, 0) AS lost, filed_at
        FROM reports LEFT JOIN narrative_amounts n USING (report_id)
        WHERE victim_phone IS NOT NULL
    """)


def _repair(case: Case) -> None:
    """Victims misremember a digit. A reported number that never called the victim, or a
    reported account the victim never paid, is replaced by the nearest one (at most two
    keystrokes away) that did; the rest are kept as reported."""
    db = case.db
    run(db, """
        CREATE OR REPLACE TABLE complaint_callers AS
        SELECT DISTINCT r.report_id, c.caller_number AS number FROM reports r
        JOIN carrier_cdr c ON c.called_number = r.victim_phone
        WHERE c.caller_number IS NOT NULL
        UNION
        SELECT DISTINCT r.report_id, v.from_number FROM reports r
        JOIN voip_cdr v ON v.to_number = r.victim_phone WHERE v.from_number IS NOT NULL
    """)  # fmt: skip
    run(db, f"""
        CREATE OR REPLACE TABLE complaint_numbers AS
        WITH fix AS (
            SELECT n.report_id, n.number,
                   arg_min(c.number, (damerau_levenshtein(CAST(c.number AS VARCHAR),
                                                          CAST(n.number AS VARCHAR)), c.number))
                       AS near,
                   min(damerau_levenshtein(CAST(c.number AS VARCHAR), CAST(n.number AS VARCHAR)))
                       AS dist
            FROM complaint_numbers n JOIN complaint_callers c USING (report_id)
            GROUP BY ALL
        )
        SELECT n.report_id, CASE WHEN f.dist BETWEEN 1 AND {MAX_TYPO} THEN f.near
                                 ELSE n.number END AS number,
               f.dist BETWEEN 1 AND {MAX_TYPO} AS repaired
        FROM complaint_numbers n LEFT JOIN fix f USING (report_id, number)
    """)  # fmt: skip
    run(db, f"""
        CREATE OR REPLACE TABLE complaint_accounts AS
        WITH paid AS (
            SELECT r.report_id, t.payee_account AS account, sum(t.amount) AS amount
            FROM reports r JOIN accounts a ON a.holder_phone = r.victim_phone
            JOIN transfers t ON t.payer_account = a.account_id AND t.payee_account <> ''
            GROUP BY ALL
        ), fix AS (
            -- the nearest account the victim paid; among equals, the one paid the most
            SELECT n.report_id, n.account,
                   arg_min(p.account, (damerau_levenshtein(p.account, n.account) * 1e15
                                       - p.amount, p.account)) AS near,
                   min(damerau_levenshtein(p.account, n.account)) AS dist
            FROM complaint_accounts n JOIN paid p USING (report_id) GROUP BY ALL
        )
        SELECT n.report_id, CASE WHEN f.dist BETWEEN 1 AND {MAX_TYPO} THEN f.near
                                 ELSE n.account END AS account,
               f.dist BETWEEN 1 AND {MAX_TYPO} AS repaired
        FROM complaint_accounts n LEFT JOIN fix f USING (report_id, account)
    """)  # fmt: skip


def combine_sql(behaviour: str, complaints: str, alone: float) -> str:
    """SQL for a score given a behavioural score (NULL when behaviour shows nothing) and the
    number of complaints naming the entity: complaints raise behaviour; alone, one complaint
    scores ``alone`` and two or more independent ones add ``COMPLAINTS_AGREE``."""
    return (f"CASE WHEN {behaviour} IS NULL THEN CASE WHEN {complaints} <= 1 THEN {alone} "
            f"ELSE least(1.0, {alone} + {COMPLAINTS_AGREE}) END "
            f"WHEN {complaints} <= 0 THEN {behaviour} "
            f"WHEN {behaviour} >= {FLAG_THRESHOLD} "
            f"THEN least(1.0, {behaviour} + {CONFIRMED_BONUS}) "
            f"ELSE least(1.0, {behaviour} + {COMPLAINT_RAISES}) END")  # fmt: skip


DETECTOR = Detector(
    name="complaints", step="reports", progress=0.7,
    needs=("reports", "carrier_cdr", "voip_cdr", "accounts", "transfers", "narrative_numbers",
           "narrative_accounts", "narrative_amounts"),
    makes=(COMPLAINT_NUMBERS, COMPLAINT_ACCOUNTS, COMPLAINT_VICTIMS, COMPLAINT_CALLERS),
    run=read_complaints,
)  # fmt: skip
