"""Assemble the detectors' tables into the contract's findings and write them out.

Scores from behaviour and from complaints meet here, every entity gets its center and network
label, networks are ranked by victims and loss, and the tables are written into the findings
folder being built (``entities.csv``, ``leads.csv``, ``transfers.csv``, ``centers.csv``,
``networks.csv``, ``scripts.csv``, ``evidence.csv``, ``rejected.csv``; ``runner`` adds
``summary.json``).
"""

from __future__ import annotations

from pathlib import Path

from scamtrace.core import contract
from scamtrace.core import findings as findings_folder
from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.sql import run
from scamtrace.detect.complaints import combine_sql
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.labels import evidence_sql
from scamtrace.detect.settings import (
    COMPLAINTS_AGREE,
    CONFIRMED_BONUS,
    LEAD_MIN,
    PAID_COMPLAINED,
    VICTIM_COMPLAINED,
    DetectSettings,
)
from scamtrace.detect.texts import script_table_sql
from scamtrace.enrich.case import Case

ISO = "'%Y-%m-%dT%H:%M:%SZ'"

SCORED = TableSpec.of("scored", kind="VARCHAR", key="VARCHAR", score="DOUBLE", reason="VARCHAR")
GROUPED = SCORED.plus("grouped", center="INTEGER", network="INTEGER")
NETWORK_RANK = TableSpec.of(
    "network_rank", network="INTEGER", victims="BIGINT", victims_paid="BIGINT",
    members="BIGINT", loss="NUMERIC", currency="VARCHAR", network_id="VARCHAR",
)  # fmt: skip
CENTER_RANK = TableSpec.of("center_rank", center="INTEGER", network="INTEGER",
                           center_id="VARCHAR")  # fmt: skip
FOUND = TableSpec.of("found", kind="VARCHAR", value="VARCHAR", key="VARCHAR", score="DOUBLE",
                     network_id="VARCHAR", center_id="VARCHAR", reason="VARCHAR",
                     evidence_count="BIGINT", evidence_last="BIGINT")  # fmt: skip
#: What a rejection that holds leaves of an entity's score: neither a finding nor a lead.
REJECTED_SCORE = 0.0


def iso(t: str) -> str:
    """SQL: epoch seconds to ISO 8601 UTC text."""
    return f"strftime(to_timestamp({t}), {ISO})"


def assemble(case: Case, s: DetectSettings) -> None:
    """Create ``found(kind, value, score, reason, center, network)`` and the labelled
    ``found_*`` tables that are written out."""
    db = case.db
    alone = s.report_alone_score
    scam = s.transcript_scam_score
    run(db, f"""
        CREATE OR REPLACE TABLE scored AS
        WITH heard AS (
            SELECT * FROM transcript_calls WHERE scam_score >= {scam}
        ), heard_numbers AS (
            SELECT caller AS number, count(*) AS calls,
                   mode(scam_type ORDER BY scam_type) AS type FROM heard
            WHERE caller IS NOT NULL GROUP BY 1
        ), heard_accounts AS (
            SELECT sip_account, count(*) AS calls,
                   mode(scam_type ORDER BY scam_type) AS type FROM heard
            WHERE coalesce(sip_account, '') <> '' GROUP BY 1
        ), heard_victims AS (
            SELECT callee AS phone, max(scam_score) AS score,
                   arg_max(call_id, (scam_score, call_id)) AS call,
                   arg_max(scam_type, (scam_score, call_id)) AS type
            FROM heard WHERE callee IS NOT NULL GROUP BY 1
        ), voip_numbers AS (
            SELECT caller, max(score) AS score, count(*) AS calls,
                   mode(sip_account ORDER BY sip_account) AS account
            FROM scam_calls WHERE source = 'voip_cdr' AND NOT unallocated AND caller IS NOT NULL
            GROUP BY caller
        ), numbers AS (
            SELECT caller, max(score) AS score, arg_max(reason, (score, reason)) AS reason FROM (
                SELECT caller, score, printf('presented on %d calls placed by dialling account %s',
                                             calls, account) AS reason FROM voip_numbers
                UNION ALL SELECT caller, score, reason FROM number_scores
            ) GROUP BY caller
        ), named AS (
            SELECT number, count(DISTINCT report_id) AS reports FROM complaint_numbers GROUP BY 1
        ), complained AS (
            SELECT phone, count(*) AS reports, max(lost) AS lost, min(report_id) AS first
            FROM complaint_victims GROUP BY 1
        ), accounts_named AS (
            SELECT account, count(DISTINCT report_id) AS reports FROM complaint_accounts GROUP BY 1
        )
        SELECT 'caller_number' AS kind,
               CAST(coalesce(n.caller, r.number, h.number) AS VARCHAR) AS key,
               {heard_sql(combine_sql('n.score', 'coalesce(r.reports, 0) + coalesce(h.calls, 0)',
                                      alone), 'h.calls', alone)} AS score,
               concat(coalesce(n.reason, 'not seen presenting a local number from abroad'),
                      CASE WHEN r.reports > 0 THEN printf('; named in %d complaint(s)', r.reports)
                           ELSE '' END,
                      CASE WHEN h.calls > 0 THEN printf('; %d transcribed call(s) read as a scam '
                                                        '(%s)', h.calls, h.type)
                           ELSE '' END) AS reason
        FROM numbers n FULL JOIN named r ON r.number = n.caller
        FULL JOIN heard_numbers h ON h.number = coalesce(n.caller, r.number)
        UNION ALL
        SELECT 'sip_account', coalesce(a.sip_account, h.sip_account),
               CASE WHEN h.calls IS NULL THEN a.score
                    ELSE {heard_sql(combine_sql('a.score', 'h.calls', alone), 'h.calls', alone)}
                    END,
               concat(coalesce(a.reason, 'not seen dialling like a call center'),
                      CASE WHEN h.calls > 0 THEN printf('; %d transcribed call(s) read as a scam '
                                                        '(%s)', h.calls, h.type)
                           ELSE '' END)
        FROM sip_scores a FULL JOIN heard_accounts h ON h.sip_account = a.sip_account
        UNION ALL
        SELECT 'source_ip', source_ip, score, reason FROM ip_scores
        UNION ALL
        SELECT 'victim_phone', CAST(coalesce(v.phone, c.phone, h.phone) AS VARCHAR),
               CASE WHEN v.phone IS NULL AND c.phone IS NULL THEN {s.transcript_victim_score}
                    WHEN v.phone IS NULL THEN {VICTIM_COMPLAINED}
                    WHEN c.phone IS NULL AND h.phone IS NULL
                    THEN v.score ELSE least(1.0, v.score + {CONFIRMED_BONUS}) END,
               concat(coalesce(v.reason || CASE WHEN c.phone IS NOT NULL
                                               THEN printf('; filed complaint %s', c.first)
                                               ELSE '' END,
                               printf('filed complaint %s about scam calls', c.first),
                               printf('took call %s, whose transcript reads as a scam (%s)',
                                      h.call, h.type)),
                      CASE WHEN h.phone IS NOT NULL AND (v.phone IS NOT NULL OR c.phone IS NOT NULL)
                           THEN printf('; the transcript of call %s reads as a scam (%s)',
                                       h.call, h.type) ELSE '' END)
        FROM victims v FULL JOIN complained c ON c.phone = v.phone
        FULL JOIN heard_victims h ON h.phone = coalesce(v.phone, c.phone)
        UNION ALL
        SELECT 'victim_paid', CAST(coalesce(p.phone, c.phone) AS VARCHAR),
               CASE WHEN p.phone IS NULL THEN {PAID_COMPLAINED} WHEN c.phone IS NULL THEN p.score
                    ELSE least(1.0, p.score + {CONFIRMED_BONUS}) END,
               coalesce(p.reason, printf('reported losing %s in complaint %s',
                                         format('{{:,.2f}}', c.lost), c.first))
        FROM paid p FULL JOIN (SELECT * FROM complained WHERE lost > 0) c ON c.phone = p.phone
        UNION ALL
        SELECT 'mule_account', coalesce(m.account, a.account),
               {combine_sql('m.score', 'coalesce(a.reports, 0)', alone)},
               concat(coalesce(m.reason, 'not seen receiving money from victims of these calls'),
                      CASE WHEN a.reports > 0 THEN printf('; named in %d complaint(s)', a.reports)
                           ELSE '' END)
        FROM mules m FULL JOIN accounts_named a ON a.account = m.account
    """)  # fmt: skip
    _verdicts(case)
    run(db, """
        CREATE OR REPLACE TABLE grouped AS
        SELECT s.*,
            CASE s.kind WHEN 'sip_account' THEN lc.center WHEN 'source_ip' THEN lc.center
                        WHEN 'caller_number' THEN ng.center WHEN 'victim_phone' THEN vg.center
                        END AS center,
            CASE s.kind WHEN 'sip_account' THEN cn.network WHEN 'source_ip' THEN cn.network
                        WHEN 'caller_number' THEN ng.network WHEN 'victim_phone' THEN vg.network
                        WHEN 'mule_account' THEN mg.network
                        WHEN 'victim_paid' THEN coalesce(pg.network, vg.network) END AS network
        FROM scored s
        LEFT JOIN line_center lc ON lc.key_kind = s.kind AND lc.key = s.key
        LEFT JOIN center_network cn ON cn.center = lc.center
        LEFT JOIN number_group ng ON s.kind = 'caller_number' AND CAST(ng.value AS VARCHAR) = s.key
        LEFT JOIN victim_group vg ON s.kind IN ('victim_phone', 'victim_paid')
                                 AND CAST(vg.value AS VARCHAR) = s.key
        LEFT JOIN mule_group mg ON s.kind = 'mule_account' AND mg.value = s.key
        LEFT JOIN (
            SELECT CAST(p.phone AS VARCHAR) AS key,
                   arg_max(g.network, (p.amount, g.network)) AS network
            FROM victim_payments p JOIN mule_group g ON g.value = p.payee GROUP BY 1
        ) pg ON s.kind = 'victim_paid' AND pg.key = s.key
    """)
    _label(case)


def _verdicts(case: Case) -> None:
    """Analysts' verdicts have the last word (labels.py): a confirmed entity is a finding at
    1, a rejection that holds leaves neither finding nor lead, and each says so first in its
    reason (a reopened one keeps the score the detectors gave it)."""
    db = case.db
    run(db, f"""
        UPDATE scored SET score = CASE l.state WHEN 'confirmed' THEN 1.0
                                               WHEN 'rejected_held' THEN {REJECTED_SCORE}
                                               ELSE scored.score END,
                          reason = l.said || '; ' || scored.reason
        FROM labels l
        WHERE l.kind = scored.kind AND l.key = scored.key AND l.state <> 'unknown'
    """)  # fmt: skip
    run(db, """
        INSERT INTO scored
        SELECT kind, key, 1.0, said FROM labels l WHERE state = 'confirmed'
          AND NOT EXISTS (SELECT 1 FROM scored s WHERE s.kind = l.kind AND s.key = l.key)
    """)


DETECTOR = Detector(
    name="assemble", step="findings", progress=0.85,
    needs=("transcript_calls", "scam_calls", "number_scores", "complaint_numbers",
           "complaint_victims", "complaint_accounts", "sip_scores", "ip_scores", "victims", "paid",
           "mules", "line_center", "center_network", "number_group", "victim_group", "mule_group",
           "victim_payments", "fraud_transfers", "network_joins", "labels", "voip_cdr",
           "carrier_cdr", "transfers", "accounts", "reports"),
    makes=(SCORED, GROUPED, NETWORK_RANK, CENTER_RANK, FOUND), run=assemble,
)  # fmt: skip


def heard_sql(score: str, calls: str, alone: float) -> str:
    """SQL: ``score`` raised by transcripts that read as scams. Like complaints, one alone is a
    lead (``alone``) and two or more independent ones a finding, whatever behaviour showed: a
    line heard reading the script twice is no honest line."""
    return (f"CASE WHEN coalesce({calls}, 0) >= 2 "
            f"THEN greatest({score}, {alone} + {COMPLAINTS_AGREE}) "
            f"WHEN {calls} = 1 THEN greatest({score}, {alone}) ELSE {score} END")  # fmt: skip


def _label(case: Case) -> None:
    """Rank networks by victims who paid, loss and victims; label N1.. and C01.. ."""
    db = case.db
    run(db, f"""
        CREATE OR REPLACE TABLE network_rank AS
        WITH flagged AS (
            SELECT * FROM grouped WHERE score >= {FLAG_THRESHOLD} AND network IS NOT NULL
        ),
        loss AS (
            SELECT g.network, sum(p.amount) AS loss,
                   mode(p.currency ORDER BY p.currency) AS currency
            FROM fraud_transfers f JOIN victim_payments p ON p.line = f.line
            JOIN mule_group g ON g.value = f.mule WHERE f.kind = 'victim_payment'
            GROUP BY g.network
        ), stats AS (
            SELECT network, count(*) FILTER (WHERE kind = 'victim_phone') AS victims,
                   count(*) FILTER (WHERE kind = 'victim_paid') AS victims_paid,
                   count(*) AS members
            FROM flagged GROUP BY network
        )
        SELECT s.*, coalesce(l.loss, 0) AS loss, coalesce(l.currency, '') AS currency,
               'N' || row_number() OVER (ORDER BY s.victims_paid DESC, coalesce(l.loss, 0) DESC,
                                         s.victims DESC, s.members DESC, s.network) AS network_id
        FROM stats s LEFT JOIN loss l USING (network)
    """)  # fmt: skip
    run(db, """
        CREATE OR REPLACE TABLE center_rank AS
        SELECT lc.center, cn.network,
               printf('C%02d', row_number() OVER (
                   ORDER BY cast(substr(r.network_id, 2) AS INTEGER) NULLS LAST,
                            count(*) DESC, lc.center)) AS center_id
        FROM line_center lc JOIN center_network cn USING (center)
        LEFT JOIN network_rank r ON r.network = cn.network
        GROUP BY lc.center, cn.network, r.network_id
    """)
    # the records behind each finding and lead, all of them (evidence.csv lists the first):
    # what an analyst's verdict records having seen (labels.py)
    records = evidence_sql(f"(SELECT kind, key, NULL::BIGINT AS cutoff FROM grouped "
                           f"WHERE score >= {LEAD_MIN})",
                           case.table_country.get("reports", case.country))  # fmt: skip
    run(db, f"""
        CREATE OR REPLACE TABLE found AS
        WITH e AS ({records})
        SELECT g.kind,
               CASE WHEN g.kind IN ('caller_number', 'victim_phone', 'victim_paid')
                    THEN '+' || g.key ELSE g.key END AS value,
               g.key, round(g.score, 3) AS score, coalesce(r.network_id, '') AS network_id,
               coalesce(c.center_id, '') AS center_id, g.reason,
               coalesce(e.records, 0) AS evidence_count, e.newest AS evidence_last
        FROM grouped g
        LEFT JOIN network_rank r ON r.network = g.network
        LEFT JOIN center_rank c ON c.center = g.center
        LEFT JOIN e ON e.kind = g.kind AND e.key = g.key
        WHERE g.key IS NOT NULL
    """)  # fmt: skip


def write_tables(case: Case, folder: Path, s: DetectSettings) -> dict[str, int]:
    """Write the CSV findings into ``folder`` (already the temp folder); return row counts."""
    db = case.db
    counts: dict[str, int] = {}

    def copy(name: str, sql: str) -> None:
        counts[name] = findings_folder.copy_query(db, folder, name, sql)

    cols = (", ".join(contract.FINDINGS_ENTITIES)
            + f", evidence_count, {iso('evidence_last')} AS evidence_last")
    copy("entities", f"SELECT {cols} FROM found WHERE score >= {contract.FLAG_THRESHOLD} "
                     "ORDER BY kind, network_id, center_id, score DESC, value")  # fmt: skip
    copy("leads", f"SELECT {cols} FROM found WHERE score < {contract.FLAG_THRESHOLD} "
                  f"AND score >= {LEAD_MIN} ORDER BY kind, score DESC, value")  # fmt: skip
    transfers_cols = (
        f"f.tx_id, round(f.score, 3) AS score, coalesce(r.network_id, '') AS network_id, f.kind, "
        f"{iso('t.time')} AS time, t.payer_account, t.payee_account, t.amount, t.currency, "
        "t.channel, CASE f.kind WHEN 'victim_payment' THEN 'a victim paid a mule account after '"
        "|| 'scam calls' WHEN 'layering' THEN 'a mule account moved money to another mule' "
        "ELSE 'money left the mule accounts' END AS reason"
    )
    transfers_from = (
        "FROM fraud_transfers f JOIN transfers t ON t._line = f.line "
        "LEFT JOIN mule_group g ON g.value = f.mule LEFT JOIN network_rank r "
        "ON r.network = g.network"
    )
    copy("transfers", f"SELECT {transfers_cols} {transfers_from} ORDER BY t.time, f.tx_id")
    copy("centers", f"""
        WITH calls AS (
            SELECT c.center, min(c.t) AS first_t, max(c.t) AS last_t, count(*) AS calls,
                   count(DISTINCT CASE WHEN c.answered THEN c.callee END) AS victims
            FROM call_center c WHERE c.center IS NOT NULL AND (c.source = 'voip_cdr' OR
                 (c.sip_account IS NULL AND c.caller IN (SELECT CAST(key AS BIGINT)
                                                          FROM line_center
                                                          WHERE key_kind = 'sim_line')))
            GROUP BY 1
        ), lines AS (
            SELECT center, count(*) FILTER (WHERE key_kind = 'sip_account') AS sip_accounts,
                   count(*) FILTER (WHERE key_kind = 'source_ip') AS source_ips,
                   count(*) FILTER (WHERE key_kind = 'sim_line') AS sim_lines
            FROM line_center GROUP BY 1
        )
        SELECT cr.center_id, coalesce(r.network_id, '') AS network_id,
               coalesce(p.country, '') AS country, '' AS region,
               {iso('calls.first_t')} AS first_seen, {iso('calls.last_t')} AS last_seen,
               l.sip_accounts + l.sim_lines AS lines, calls.calls, calls.victims, l.sip_accounts,
               l.source_ips, coalesce(p.asn, '') AS asn
        FROM center_rank cr JOIN lines l USING (center) LEFT JOIN calls USING (center)
        LEFT JOIN center_place p USING (center) LEFT JOIN network_rank r USING (network)
        ORDER BY cr.center_id
    """)  # fmt: skip
    copy("networks", f"""
        WITH c AS (SELECT network, count(*) AS centers FROM center_rank GROUP BY 1),
        m AS (SELECT network, count(*) FILTER (WHERE kind = 'mule_account') AS mules,
                     count(*) FILTER (WHERE kind IN ('sip_account')) AS accounts,
                     count(*) FILTER (WHERE kind IN ('caller_number')) AS numbers
              FROM grouped WHERE score >= {FLAG_THRESHOLD} GROUP BY 1),
        -- the evidence that joined the centers of a network, strongest tie per pair
        j AS (SELECT n.network, string_agg(CASE n.kind
                  WHEN 'mule' THEN CASE WHEN n.weight = 1
                      THEN 'mule account ' || n.example || ' shared by '
                      ELSE n.weight || ' mule accounts (' || n.example || '...) shared by ' END
                      || a.center_id || ' and ' || b.center_id
                  WHEN 'money' THEN 'no center in the records: mule accounts ('
                      || n.example || '...) that the money connects'
                  -- victims are not named: networks.csv travels in exports
                  ELSE n.weight || ' victims handed on ' || a.center_id || '->' || b.center_id
                  END,
                  '; ' ORDER BY a.center_id, b.center_id, n.kind) AS joined_by
              FROM network_joins n LEFT JOIN center_rank a ON a.center = n.a
              LEFT JOIN center_rank b ON b.center = n.b GROUP BY 1)
        SELECT r.network_id, coalesce(c.centers, 0) AS centers,
               CASE WHEN coalesce(m.accounts, 0) > 0 THEN m.accounts ELSE coalesce(m.numbers, 0)
                    END AS lines,
               r.victims, r.victims_paid, round(r.loss, 2) AS loss, r.currency,
               coalesce(m.mules, 0) AS mule_accounts, coalesce(j.joined_by, '') AS joined_by
        FROM network_rank r LEFT JOIN c USING (network) LEFT JOIN m USING (network)
        LEFT JOIN j USING (network)
        ORDER BY CAST(substr(r.network_id, 2) AS INTEGER)
    """)  # fmt: skip
    copy("scripts", f"""
        SELECT printf('S%02d', row_number() OVER (ORDER BY s.calls DESC, s.script_group))
                   AS script_id,
               coalesce(r.network_id, '') AS network_id, s.scam_type, s.calls, s.numbers,
               s.sip_accounts, s.centers, s.languages, {iso('s.first_t')} AS first_seen,
               {iso('s.last_t')} AS last_seen, s.example, s.call_ids
        FROM ({script_table_sql()}) s LEFT JOIN network_rank r ON r.network = s.network
        ORDER BY s.calls DESC, s.script_group
    """)  # fmt: skip
    copy("evidence", _evidence_sql(s.evidence_per_entity, s.evidence_per_call_entity,
                                   s.transcript_scam_score))
    copy("rejected", "SELECT tbl AS \"table\", file, line, field, value, reason FROM rejected "
                     "ORDER BY tbl, line")  # fmt: skip
    return counts


def _evidence_sql(per_entity: int, per_call_entity: int, scam_score: float) -> str:
    """The records behind each flagged entity, the first ``per_entity`` of each kind of record
    in time order (``per_call_entity`` for presented numbers and victims, which number in the
    hundreds of thousands in a big case)."""
    call = ("concat(CASE WHEN c.answered THEN printf('answered %d s', c.duration_s) "
            "ELSE 'not answered' END, ': ', coalesce('+' || c.caller, 'withheld'), ' -> +', "
            "c.callee, coalesce(' via ' || c.sip_account || ' from ' || c.source_ip, ''))"
            )  # fmt: skip
    money = ("printf('%s %s from %s to %s by %s', format('{:,.2f}', t.amount), t.currency, "
             "coalesce(nullif(t.payer_account, ''), 'cash'), "
             "coalesce(nullif(t.payee_account, ''), 'cash'), t.channel)")  # fmt: skip
    return f"""
        WITH flagged AS (SELECT kind, key, value FROM found WHERE score >= {FLAG_THRESHOLD}),
        heard AS (
            SELECT call_id, t, caller, callee, sip_account,
                   printf('transcript of %s call %s reads as a scam (%s, score %.2f)',
                          source, call_id, scam_type, scam_score) AS detail
            FROM transcript_calls WHERE scam_score >= {scam_score}
        ),
        rows AS (
            SELECT f.kind, f.value, c.source, c.call_id AS record_id, c.t, {call} AS detail
            FROM flagged f JOIN scam_calls c ON f.kind = 'caller_number'
                 AND c.caller = TRY_CAST(f.key AS BIGINT)
            UNION ALL
            SELECT f.kind, f.value, c.source, c.call_id, c.t, {call}
            FROM flagged f JOIN scam_calls c ON f.kind = 'victim_phone' AND c.answered
                 AND c.callee = TRY_CAST(f.key AS BIGINT)
            UNION ALL
            SELECT f.kind, f.value, c.source, c.call_id, c.t, {call}
            FROM flagged f JOIN scam_calls c ON c.source = 'voip_cdr' AND (
                 (f.kind = 'sip_account' AND c.sip_account = f.key)
                 OR (f.kind = 'source_ip' AND c.source_ip = f.key))
            UNION ALL
            SELECT f.kind, f.value, 'transfers', t.tx_id, t.time, {money}
            FROM flagged f JOIN fraud_transfers x ON f.kind = 'mule_account'
            JOIN transfers t ON t._line = x.line
                 AND (t.payee_account = f.key OR t.payer_account = f.key)
            UNION ALL
            SELECT f.kind, f.value, 'transfers', t.tx_id, t.time, {money}
            FROM flagged f JOIN victim_payments p ON f.kind = 'victim_paid'
                 AND p.phone = TRY_CAST(f.key AS BIGINT)
            JOIN fraud_transfers x ON x.line = p.line JOIN transfers t ON t._line = p.line
            UNION ALL
            SELECT f.kind, f.value, 'transcripts', h.call_id, h.t, h.detail
            FROM flagged f JOIN heard h ON f.kind = 'caller_number'
                 AND h.caller = TRY_CAST(f.key AS BIGINT)
            UNION ALL
            SELECT f.kind, f.value, 'transcripts', h.call_id, h.t, h.detail
            FROM flagged f JOIN heard h ON f.kind = 'victim_phone'
                 AND h.callee = TRY_CAST(f.key AS BIGINT)
            UNION ALL
            SELECT f.kind, f.value, 'transcripts', h.call_id, h.t, h.detail
            FROM flagged f JOIN heard h ON f.kind = 'sip_account' AND h.sip_account = f.key
            UNION ALL
            SELECT f.kind, f.value, 'reports', r.report_id, r.filed_at,
                   'named in complaint ' || r.report_id
            FROM flagged f JOIN complaint_numbers n ON f.kind = 'caller_number'
                 AND n.number = TRY_CAST(f.key AS BIGINT)
            JOIN reports r ON r.report_id = n.report_id
            UNION ALL
            SELECT f.kind, f.value, 'reports', r.report_id, r.filed_at,
                   'named in complaint ' || r.report_id
            FROM flagged f JOIN complaint_accounts a ON f.kind = 'mule_account'
                 AND a.account = f.key
            JOIN reports r ON r.report_id = a.report_id
            UNION ALL
            SELECT f.kind, f.value, 'reports', r.report_id, r.filed_at,
                   printf('filed complaint, lost %s %s', format('{{:,.2f}}', r.amount_lost),
                          r.currency)
            FROM flagged f JOIN reports r ON f.kind IN ('victim_phone', 'victim_paid')
                 AND r.victim_phone = TRY_CAST(f.key AS BIGINT)
        )
        SELECT kind, value, source, record_id, {iso('t')} AS time, detail FROM rows
        QUALIFY row_number() OVER (PARTITION BY kind, value, source
                                   ORDER BY t, record_id, detail)
                <= CASE WHEN kind IN ('caller_number', 'victim_phone') THEN {per_call_entity}
                        ELSE {per_entity} END
        ORDER BY kind, value, t, record_id, source, detail
    """  # fmt: skip
