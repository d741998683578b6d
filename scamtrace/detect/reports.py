"""Victim reports: complaints name numbers and accounts, strong evidence that is incomplete
and sometimes wrong (a typo, an honest number the victim blamed). A name in a complaint
raises what behaviour already shows; on its own it needs a second, independent complaint."""

from __future__ import annotations

from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case, run
from scamtrace.enrich.phones import e164_sql


def read_reports(case: Case, s: DetectSettings) -> None:
    """Create ``report_numbers(report_id, number)``, ``report_accounts(report_id, account)``
    and ``report_victims(report_id, phone, lost)``."""
    db = case.db
    if not case.has("reports"):
        run(db, "CREATE OR REPLACE TABLE report_numbers (report_id VARCHAR, number BIGINT)")
        run(db, "CREATE OR REPLACE TABLE report_accounts (report_id VARCHAR, account VARCHAR)")
        run(db, "CREATE OR REPLACE TABLE report_victims (report_id VARCHAR, phone BIGINT, "
                "lost DOUBLE, filed_at BIGINT)")  # fmt: skip
        return
    country = case.table_country.get("reports", case.country)
    number = e164_sql("trim(item)", country)
    run(db, f"""
        CREATE OR REPLACE TABLE report_numbers AS
        SELECT DISTINCT report_id, TRY_CAST(substr({number}, 2) AS BIGINT) AS number
        FROM (SELECT report_id, unnest(string_split(reported_numbers, ';')) AS item FROM reports)
        WHERE {number} IS NOT NULL
    """)  # fmt: skip
    run(db, """
        CREATE OR REPLACE TABLE report_accounts AS
        SELECT DISTINCT report_id, upper(replace(trim(item), ' ', '')) AS account
        FROM (SELECT report_id, unnest(string_split(reported_accounts, ';')) AS item FROM reports)
        WHERE trim(item) <> ''
    """)
    run(db, """
        CREATE OR REPLACE TABLE report_victims AS
        SELECT report_id, victim_phone AS phone, coalesce(amount_lost, 0) AS lost, filed_at
        FROM reports WHERE victim_phone IS NOT NULL
    """)


def combine_sql(behaviour: str, reports: str, alone: float) -> str:
    """SQL for a score given a behavioural score (NULL when behaviour shows nothing) and the
    number of complaints naming the entity: complaints raise behaviour; alone, one complaint
    scores ``alone`` and two or more independent ones add 0.2."""
    return (f"CASE WHEN {behaviour} IS NULL THEN CASE WHEN {reports} <= 1 THEN {alone} "
            f"ELSE least(1.0, {alone} + 0.2) END "
            f"WHEN {behaviour} >= 0.5 THEN least(1.0, {behaviour} + 0.05) "
            f"ELSE least(1.0, {behaviour} + 0.1) END")  # fmt: skip
