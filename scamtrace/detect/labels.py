"""Analysts' verdicts as labels (``detect --verdicts``): what the workspace's analysts decided
about entities, read on the next run (``docs/adr/0017-verdicts-as-labels.md``).

The verdict in force on each entity (the latest decided) becomes a row of ``labels`` with its
*state*:

- ``confirmed``: flagged whatever the detectors find (score 1), and a seed: the detectors
  follow it as they follow what they flag themselves (a line's calls are scam calls and its
  callees who answered are victims; a mule account's payers who were scam-called are victims
  who paid, and its onward transfers lead to further mules);
- ``rejected_held``: rejected, and the case holds no new evidence since (no more records than
  the analyst saw, none newer than the newest they saw): never flagged, and none of the
  support it gave others counts (a rejected line's calls are no scam calls, a rejected
  number's own score judges no call, a rejected victim's payments make no mule);
- ``rejected_reopened``: rejected, but records appeared since: judged as if unlabelled, its
  reason saying so;
- ``unknown``: the case holds no record of the entity (or the kind is not one ``detect``
  finds): counted in the summary, otherwise ignored.

An entity's *evidence records* are the case's records it takes part in (:func:`evidence_sql`),
the same for every run whatever the detectors make of them, so the counts a workspace takes
from ``entities.csv`` (``evidence_count``, ``evidence_last``) are compared like with like.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from scamtrace.core import contract
from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.phones import e164_sql
from scamtrace.core.sql import run
from scamtrace.core.verdicts import Verdict, latest
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.settings import LINE_NOTHING, DetectSettings
from scamtrace.enrich.case import Case

#: Kinds whose values are phone numbers: ``+`` and E.164 digits in findings, digits as keys.
PHONE_KINDS = ("caller_number", "victim_phone", "victim_paid")
#: What a held rejection leaves of a score before the findings are assembled: a line seen,
#: nothing shown, so that nothing downstream counts it as a finding.
HELD_SCORE = LINE_NOTHING

LABELS = TableSpec.of(
    "labels", kind="VARCHAR", key="VARCHAR", value="VARCHAR", verdict="VARCHAR",
    analyst="VARCHAR", decided_on="VARCHAR", evidence_last="BIGINT", evidence_count="BIGINT",
    records="BIGINT", newest="BIGINT", new_records="BIGINT", state="VARCHAR", said="VARCHAR",
)  # fmt: skip


def read_labels(case: Case, _settings: DetectSettings) -> None:
    """Create ``labels``: the verdicts in force (``case.verdicts``), each with the evidence the
    case holds of its entity now and its state."""
    db = case.db
    batch = pa.Table.from_pylist(_rows(case.verdicts), schema=_BATCH_SCHEMA)
    db.register("verdicts_batch", batch)
    try:
        run(db, "CREATE OR REPLACE TEMP TABLE verdict_keys AS SELECT * FROM verdicts_batch")
    finally:
        db.unregister("verdicts_batch")
    stats = evidence_sql("(SELECT kind, key, cutoff FROM verdict_keys)",
                         case.table_country.get("reports", case.country))  # fmt: skip
    kinds = ", ".join(f"'{k}'" for k in contract.TRUTH_ENTITY_KINDS)
    who = "coalesce(nullif(v.analyst, ''), 'an analyst')"
    run(db, f"""
        CREATE OR REPLACE TABLE labels AS
        WITH e AS ({stats}), judged AS (
            SELECT v.*, coalesce(e.records, 0) AS records, e.newest,
                   greatest(coalesce(e.after, 0),
                            CASE WHEN v.evidence_count > 0
                                 THEN coalesce(e.records, 0) - v.evidence_count ELSE 0 END)
                       AS new_records
            FROM verdict_keys v LEFT JOIN e ON e.kind = v.kind AND e.key = v.key
        )
        SELECT kind, key, value, verdict, analyst, decided_on, evidence_last, evidence_count,
               records, newest, new_records,
               CASE WHEN kind NOT IN ({kinds}) OR key IS NULL OR records = 0 THEN 'unknown'
                    WHEN verdict = 'confirmed' THEN 'confirmed'
                    WHEN new_records > 0 THEN 'rejected_reopened'
                    ELSE 'rejected_held' END AS state,
               CASE WHEN verdict = 'confirmed' THEN printf('Confirmed by %s on %s', {who},
                                                           decided_on)
                    WHEN new_records > 0 THEN printf(
                        'An analyst (%s) rejected this on %s; %d new record%s appeared since',
                        {who}, decided_on, new_records, CASE WHEN new_records = 1 THEN ''
                                                             ELSE 's' END)
                    ELSE printf('Rejected by %s on %s; no new records since', {who}, decided_on)
                    END AS said
        FROM judged v
        ORDER BY kind, value
    """)  # fmt: skip
    run(db, "DROP TABLE verdict_keys")


def no_labels(case: Case) -> None:
    """An empty ``labels`` table, for callers that run single detectors outside ``detect``
    (the exchange's answer scores the asked lines with no analysts' verdicts)."""
    run(case.db, """
        CREATE OR REPLACE TABLE labels (kind VARCHAR, key VARCHAR, value VARCHAR,
            verdict VARCHAR, analyst VARCHAR, decided_on VARCHAR, evidence_last BIGINT,
            evidence_count BIGINT, records BIGINT, newest BIGINT, new_records BIGINT,
            state VARCHAR, said VARCHAR)
    """)


_BATCH_SCHEMA = pa.schema([
    ("kind", pa.string()), ("key", pa.string()), ("value", pa.string()),
    ("verdict", pa.string()), ("analyst", pa.string()), ("decided_on", pa.string()),
    ("evidence_last", pa.int64()), ("evidence_count", pa.int64()), ("cutoff", pa.int64()),
])  # fmt: skip


def _rows(verdicts: Iterable[Verdict]) -> list[dict[str, Any]]:
    """One row per entity: the verdict in force (a handful per case, decided by people), the
    latest decided of those naming one entity however its value was written."""
    in_force: dict[tuple[str, str], Verdict] = {}
    for v in latest(verdicts).values():
        key = entity_key(v.kind, v.value)
        held = in_force.get((v.kind, key or v.value))
        if held is None or held.decided_at <= v.decided_at:
            in_force[(v.kind, key or v.value)] = v
    rows = []
    for v in in_force.values():
        last = _epoch(v.evidence_last)
        decided = _epoch(v.decided_at) or None  # the epoch itself: not said
        rows.append({
            "kind": v.kind, "key": entity_key(v.kind, v.value), "value": v.value,
            "verdict": v.verdict, "analyst": v.analyst,
            "decided_on": v.decided_at.astimezone(dt.UTC).strftime("%Y-%m-%d")
                          if decided else "an unknown date",
            "evidence_last": last, "evidence_count": v.evidence_count,
            # without the newest record the analyst saw, what came after the decision is new;
            # without either, only more records than they saw are
            "cutoff": last if last is not None else decided,
        })  # fmt: skip
    return rows


def _epoch(t: dt.datetime | None) -> int | None:
    return None if t is None else int(t.timestamp())


def entity_key(kind: str, value: str) -> str | None:
    """The key ``detect`` holds an entity by: E.164 digits for phone kinds (None when the value
    is not a number), the value itself otherwise."""
    if kind not in PHONE_KINDS:
        return value
    digits = value[1:] if value.startswith("+") else value
    return digits if digits.isdigit() and len(digits) <= 18 else None


def evidence_sql(keys: str, reports_country: str) -> str:
    """SQL: ``(kind, key, cutoff, records, newest, after)`` for each row of ``keys`` (a relation
    of ``kind, key, cutoff``): how many of the case's records the entity takes part in, the
    newest one's time and how many are later than ``cutoff`` (epoch seconds, or NULL).

    The records: for a SIP account or source IP the VoIP calls it placed; for a caller number
    the calls presenting it (either view) and the complaints naming it; for a victim the calls
    to it that were answered and the complaints it filed; for a mule account the transfers into
    and out of it and the complaints naming it; for a victim who paid the transfers from the
    accounts it holds and the complaints it filed."""
    number = e164_sql("trim(item)", reports_country)
    phones = ", ".join(f"'{k}'" for k in PHONE_KINDS)
    return f"""
        WITH k AS (SELECT DISTINCT kind, key, cutoff FROM {keys} WHERE key IS NOT NULL),
        t AS (SELECT kind, key, cutoff FROM k WHERE kind NOT IN ({phones})),
        n AS (SELECT kind, TRY_CAST(key AS BIGINT) AS n, cutoff FROM k
              WHERE kind IN ({phones})),
        named_number AS (
            SELECT report_id, filed_at, TRY_CAST(substr({number}, 2) AS BIGINT) AS number
            FROM (SELECT report_id, filed_at, unnest(string_split(reported_numbers, ';')) AS item
                  FROM reports)
        ), named_account AS (
            SELECT report_id, filed_at, upper(replace(trim(item), ' ', '')) AS account
            FROM (SELECT report_id, filed_at,
                         unnest(string_split(reported_accounts, ';')) AS item FROM reports)
        ), text_records AS (
            SELECT t.kind, t.key, t.cutoff, v.start_time AS seen FROM voip_cdr v
            JOIN t ON t.kind = 'sip_account' AND t.key = v.sip_account
            UNION ALL
            SELECT t.kind, t.key, t.cutoff, v.start_time FROM voip_cdr v
            JOIN t ON t.kind = 'source_ip' AND t.key = v.source_ip
            UNION ALL
            SELECT t.kind, t.key, t.cutoff, x.time FROM transfers x
            JOIN t ON t.kind = 'mule_account' AND t.key = x.payee_account
            UNION ALL
            SELECT t.kind, t.key, t.cutoff, x.time FROM transfers x
            JOIN t ON t.kind = 'mule_account' AND t.key = x.payer_account
            UNION ALL
            SELECT t.kind, t.key, t.cutoff, r.filed_at FROM named_account r
            JOIN t ON t.kind = 'mule_account' AND t.key = r.account
        ), number_records AS (
            SELECT n.kind, n.n, n.cutoff, c.start_time AS seen FROM carrier_cdr c
            JOIN n ON n.kind = 'caller_number' AND n.n = c.caller_number
            UNION ALL
            SELECT n.kind, n.n, n.cutoff, v.start_time FROM voip_cdr v
            JOIN n ON n.kind = 'caller_number' AND n.n = v.from_number
            UNION ALL
            SELECT n.kind, n.n, n.cutoff, r.filed_at FROM named_number r
            JOIN n ON n.kind = 'caller_number' AND n.n = r.number
            UNION ALL
            SELECT n.kind, n.n, n.cutoff, c.start_time FROM carrier_cdr c
            JOIN n ON n.kind = 'victim_phone' AND n.n = c.called_number AND c.answered
            UNION ALL
            SELECT n.kind, n.n, n.cutoff, v.start_time FROM voip_cdr v
            JOIN n ON n.kind = 'victim_phone' AND n.n = v.to_number AND v.sip_status = 200
            UNION ALL
            SELECT n.kind, n.n, n.cutoff, x.time FROM transfers x
            JOIN accounts a ON a.account_id = x.payer_account
            JOIN n ON n.kind = 'victim_paid' AND n.n = a.holder_phone
            UNION ALL
            SELECT n.kind, n.n, n.cutoff, r.filed_at FROM reports r
            JOIN n ON n.kind IN ('victim_phone', 'victim_paid') AND n.n = r.victim_phone
        )
        SELECT kind, key, cutoff, count(*) AS records, max(seen) AS newest,
               count(*) FILTER (WHERE seen > cutoff) AS after
        FROM text_records GROUP BY ALL
        UNION ALL
        SELECT kind, CAST(n AS VARCHAR), cutoff, count(*), max(seen),
               count(*) FILTER (WHERE seen > cutoff)
        FROM number_records GROUP BY ALL
    """  # fmt: skip


# ---------------------------------------------------------------- SQL for the detectors
def held(kind: str) -> str:
    """SQL: the keys (text) of entities of ``kind`` whose rejection holds."""
    return f"(SELECT key FROM labels WHERE kind = '{kind}' AND state = 'rejected_held')"


def held_numbers(kind: str) -> str:
    """SQL: ``held`` for a phone kind, as E.164 digits (``BIGINT``)."""
    return (f"(SELECT CAST(key AS BIGINT) FROM labels WHERE kind = '{kind}' "
            f"AND state = 'rejected_held')")  # fmt: skip


def confirmed(kind: str) -> str:
    """SQL: the keys (text) of confirmed entities of ``kind``."""
    return f"(SELECT key FROM labels WHERE kind = '{kind}' AND state = 'confirmed')"


def confirmed_numbers(kind: str) -> str:
    """SQL: ``confirmed`` for a phone kind, as E.164 digits (``BIGINT``)."""
    return (f"(SELECT CAST(key AS BIGINT) FROM labels WHERE kind = '{kind}' "
            f"AND state = 'confirmed')")  # fmt: skip


def apply_scores(case: Case, table: str, kind: str, key: str) -> None:
    """Set the score of labelled rows of ``table`` (a behavioural score table; ``key`` the SQL
    of a row ``t``'s key as text): 1 for a confirmed entity, at most :data:`HELD_SCORE` for a
    held rejection. Reasons are left as they are: the findings say the verdict once
    (``assemble``)."""
    run(case.db, f"""
        UPDATE {table} AS t SET score = CASE WHEN l.state = 'confirmed' THEN 1.0
                                             ELSE least(t.score, {HELD_SCORE}) END
        FROM labels l
        WHERE l.kind = '{kind}' AND l.key = {key}
          AND l.state IN ('confirmed', 'rejected_held')
    """)  # fmt: skip


def summary(case: Case, source: str | None) -> dict[str, Any]:
    """What the verdicts did, for ``summary.json``: how many in force per state, the unknown
    ones named, and ``seeded``: flagged entities, not themselves labelled, that rest on
    confirmed ones only (victims every scam call of whom came from a confirmed line or number;
    victims who paid whose every payment went to a confirmed mule account, or who are such a
    victim)."""
    db = case.db
    states: dict[str, int] = {str(k): int(n) for k, n in run(
        db, "SELECT state, count(*) FROM labels GROUP BY state")}
    unknown = [f"{k} {v}" for k, v in run(db, """
        SELECT kind, value FROM labels WHERE state = 'unknown' ORDER BY kind, value LIMIT 50
    """)]  # fmt: skip
    seeded = case.count(f"""
        WITH lines AS (
            SELECT c.callee,
                   bool_and(coalesce(c.sip_account IN {confirmed('sip_account')}, false)
                            OR coalesce(c.caller IN {confirmed_numbers('caller_number')},
                                        false)) AS sole
            FROM scam_calls c WHERE c.answered GROUP BY c.callee
        ), victims AS (
            SELECT CAST(callee AS VARCHAR) AS key FROM lines WHERE sole
        ), payers AS (
            SELECT CAST(p.phone AS VARCHAR) AS key,
                   bool_and(f.mule IN {confirmed('mule_account')}) AS sole
            FROM victim_payments p JOIN fraud_transfers f ON f.line = p.line
            WHERE f.kind = 'victim_payment' AND p.phone IS NOT NULL GROUP BY 1
        )
        SELECT count(*) FROM found f
        WHERE f.score >= {FLAG_THRESHOLD}
          AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.kind = f.kind AND l.key = f.key)
          AND ((f.kind = 'victim_phone' AND f.key IN (SELECT key FROM victims))
               OR (f.kind = 'victim_paid' AND (f.key IN (SELECT key FROM payers WHERE sole)
                                               OR f.key IN (SELECT key FROM victims))))
    """) if case.verdicts else 0  # fmt: skip
    return {
        "source": source or "",
        "in_force": sum(states.values()),
        "confirmed": states.get("confirmed", 0),
        "rejected_held": states.get("rejected_held", 0),
        "rejected_reopened": states.get("rejected_reopened", 0),
        "unknown": states.get("unknown", 0),
        "unknown_entities": unknown,
        "seeded": seeded,
    }


DETECTOR = Detector(
    name="labels", step="analysts' verdicts", progress=0.25,
    needs=("voip_cdr", "carrier_cdr", "transfers", "accounts", "reports"),
    makes=(LABELS,), run=read_labels,
)  # fmt: skip
