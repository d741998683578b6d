"""Dialling lines on the VoIP side: SIP accounts and source IPs that act as a call center.

A call center's account does what no household and no honest company does: it presents many
different caller IDs (local to the people it calls, or, where local ones from abroad are
blocked, any others), and dials a list, each number once.
Households call a small circle again and again; honest call centers abroad present their own
one number. Each account gets a score and a reason; each source IP inherits the scores of the
accounts whose calls came from it, weighted by calls.
"""

from __future__ import annotations

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.phones import BUSINESS_TYPES, calling_code, calling_code_sql, number_facts
from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.labels import apply_scores
from scamtrace.detect.settings import (
    HOTLINE_MAX_IDS,
    HOTLINE_SHARE,
    LINE_HEAVY_ROTATION,
    LINE_LIST,
    LINE_LIST_SPOOFED,
    LINE_LOCAL_SHARE,
    LINE_NOTHING,
    LINE_ROTATING_LIST,
    LINE_SPOOF_BONUS,
    DetectSettings,
)
from scamtrace.enrich.case import Case

SIP_FEATURES = TableSpec.of(
    "sip_features", only_with="voip_cdr", sip_account="VARCHAR", calls="BIGINT",
    callees="BIGINT", ids="BIGINT", local_ids="BIGINT", local_ranges="BIGINT",
    local_share="DOUBLE", answer_rate="DOUBLE", median_talk="DOUBLE", repeat_share="DOUBLE",
    hotlines="BOOLEAN",
)  # fmt: skip
SIP_SCORES = TableSpec.of("sip_scores", sip_account="VARCHAR", calls="BIGINT", callees="BIGINT",
                          ids="BIGINT", score="NUMERIC", reason="VARCHAR")  # fmt: skip
IP_SCORES = TableSpec.of("ip_scores", source_ip="VARCHAR", calls="BIGINT", score="DOUBLE",
                         bad_accounts="BIGINT", reason="VARCHAR")  # fmt: skip
VOIP_SCAM = TableSpec.of("voip_scam", v_line="BIGINT", sip_account="VARCHAR",
                         source_ip="VARCHAR", score="NUMERIC")  # fmt: skip


def score_lines(case: Case, s: DetectSettings) -> None:
    """Create ``sip_scores``, ``ip_scores`` and ``voip_scam`` (the calls of flagged accounts)."""
    db = case.db
    if not case.has("voip_cdr"):
        run(db, "CREATE OR REPLACE TABLE sip_scores (sip_account VARCHAR, calls BIGINT, "
                "callees BIGINT, ids BIGINT, score DOUBLE, reason VARCHAR)")  # fmt: skip
        run(db, "CREATE OR REPLACE TABLE ip_scores (source_ip VARCHAR, calls BIGINT, "
                "score DOUBLE, bad_accounts BIGINT, reason VARCHAR)")  # fmt: skip
        run(db, "CREATE OR REPLACE TABLE voip_scam (v_line BIGINT, sip_account VARCHAR, "
                "source_ip VARCHAR, score DOUBLE)")  # fmt: skip
        return
    home = calling_code(case.table_country.get("voip_cdr", case.country))
    to_cc = calling_code_sql("to_number")
    from_cc = calling_code_sql("from_number")
    run(db, f"""
        CREATE OR REPLACE TABLE sip_features AS
        WITH calls AS (
            SELECT sip_account, to_number, from_number, sip_status, duration_s,
                   ({from_cc} = {to_cc} AND {to_cc} <> {home}) AS local_abroad,
                   from_number IS NOT NULL AND count(*) OVER (
                       PARTITION BY sip_account, from_number, to_number) >= 2 AS again
            FROM voip_cdr WHERE to_number IS NOT NULL
        )
        SELECT sip_account, count(*) AS calls, count(DISTINCT to_number) AS callees,
               count(DISTINCT from_number) AS ids,
               count(DISTINCT CASE WHEN local_abroad THEN from_number END) AS local_ids,
               count(DISTINCT CASE WHEN local_abroad THEN from_number // {s.did_range_size}
                     END) AS local_ranges,
               avg(local_abroad::INT) AS local_share,
               avg((sip_status = 200)::INT) AS answer_rate,
               median(CASE WHEN sip_status = 200 THEN duration_s END) AS median_talk,
               avg(again::INT) AS repeat_share
        FROM calls GROUP BY sip_account
    """)  # fmt: skip
    _mark_hotlines(case)
    # Honest accounts with many caller IDs present the numbers of the people behind them: a
    # company's direct numbers (one range of DIDs) or a reseller's customers' own numbers (each
    # keeps calling the same people), and their calls are conversations: answered as often as
    # ordinary routes are, and minutes long. A dialler fails the last test whatever IDs it shows.
    talks = (f"(answer_rate >= {s.conversation_answer_rate} "
             f"AND coalesce(median_talk, 0) >= {s.conversation_talk_s})")  # fmt: skip
    did_range = f"(local_ids >= {s.did_ids_per_range} * local_ranges)"
    own_numbers = f"(repeat_share >= {s.own_number_repeat_share})"
    own = f"({talks} AND ({did_range} OR {own_numbers}))"
    # Rotation counts every caller ID, local or not: once the victims' carrier blocks local
    # numbers arriving from abroad, a dialler rotates numbers of other countries instead.
    rotation = f"(ids >= {s.rotation_min_ids} AND NOT hotlines AND NOT {own})"
    heavy = f"(local_ids >= {s.heavy_rotation_ids} AND NOT hotlines AND NOT {own})"
    fanout = (f"(callees >= {s.fanout_min_callees} "
              f"AND callees >= {s.fanout_uniqueness} * calls)")  # fmt: skip
    spoof = f"(local_share >= {LINE_LOCAL_SHARE})"
    run(db, f"""
        CREATE OR REPLACE TABLE sip_scores AS
        SELECT sip_account, calls, callees, local_ids AS ids,
            CASE WHEN {rotation} AND {fanout}
                    THEN {LINE_ROTATING_LIST} + {LINE_SPOOF_BONUS} * {spoof}::INT
                 WHEN {heavy} AND {spoof} THEN {LINE_HEAVY_ROTATION}
                 WHEN {fanout} AND {spoof} AND NOT hotlines AND NOT {own}
                    THEN {LINE_LIST_SPOOFED}
                 WHEN {fanout} THEN {LINE_LIST} ELSE {LINE_NOTHING} END AS score,
            CASE WHEN {rotation} AND {fanout} AND local_ids = ids THEN
                    printf('presented %d different caller IDs local to the people it called and '
                           'dialled %d numbers once each in %d calls', local_ids, callees, calls)
                 WHEN {rotation} AND {fanout} THEN
                    printf('presented %d different caller IDs (%d of them local to the people it '
                           'called) and dialled %d numbers once each in %d calls', ids,
                           local_ids, callees, calls)
                 WHEN {heavy} AND {spoof} THEN
                    printf('presented %d different caller IDs local to the people it called from '
                           'abroad', local_ids)
                 WHEN hotlines THEN printf('presented %d hotline numbers of its own',
                                           local_ids)
                 WHEN {own} AND {did_range} AND local_ids >= {s.rotation_min_ids} THEN
                    printf('presented %d direct numbers of one company''s ranges (%d) in '
                           'conversations, %.0f%% answered', local_ids, local_ranges,
                           100 * answer_rate)
                 WHEN {own} AND local_ids >= {s.rotation_min_ids} THEN
                    printf('presented %d callers'' own numbers, each calling the same people '
                           'again (%.0f%% of %d calls), %.0f%% answered', local_ids,
                           100 * repeat_share, calls, 100 * answer_rate)
                 WHEN {fanout} THEN printf('dialled %d numbers in %d calls with one caller ID',
                                           callees, calls)
                 ELSE printf('called %d numbers in %d calls', callees, calls) END AS reason
        FROM sip_features
    """)  # fmt: skip
    # Analysts' verdicts, before anything follows from the scores: a confirmed account's calls
    # are scam calls, a rejected one's support no address, number or victim (labels.py).
    apply_scores(case, "sip_scores", "sip_account", "t.sip_account")
    flag = FLAG_THRESHOLD
    run(db, f"""
        CREATE OR REPLACE TABLE ip_scores AS
        SELECT v.source_ip, count(*) AS calls,
               sum(CASE WHEN a.score >= {flag} THEN a.score ELSE {LINE_NOTHING} END) / count(*)
                   AS score,
               count(DISTINCT CASE WHEN a.score >= {flag} THEN v.sip_account END) AS bad_accounts,
               printf('%d of its %d calls came from %d dialling accounts',
                      count(*) FILTER (WHERE a.score >= {flag}), count(*),
                      count(DISTINCT CASE WHEN a.score >= {flag} THEN v.sip_account END)) AS reason
        FROM voip_cdr v JOIN sip_scores a USING (sip_account)
        WHERE v.source_ip <> ''
        GROUP BY v.source_ip
    """)  # fmt: skip
    # An address is shared by whoever is behind it: a confirmed one is flagged, not a seed.
    apply_scores(case, "ip_scores", "source_ip", "t.source_ip")
    run(db, f"""
        CREATE OR REPLACE TABLE voip_scam AS
        SELECT v._line AS v_line, v.sip_account, v.source_ip, a.score
        FROM voip_cdr v JOIN sip_scores a USING (sip_account) WHERE a.score >= {flag}
    """)  # fmt: skip


def _mark_hotlines(case: Case, most: int = HOTLINE_MAX_IDS) -> None:
    """Add ``hotlines`` to ``sip_features``: the account's few presented IDs are business
    numbers (toll-free, shared-cost, UAN), as an honest company's support line presents."""
    db = case.db
    rows = run(db, f"""
        SELECT DISTINCT v.sip_account, v.from_number FROM voip_cdr v
        JOIN sip_features f USING (sip_account)
        WHERE f.local_ids BETWEEN 1 AND {most} AND v.from_number IS NOT NULL
    """)  # fmt: skip
    facts = number_facts(f"+{n}" for _, n in rows)
    per_account: dict[str, list[bool]] = {}
    for account, number in rows:
        business = facts[f"+{number}"].number_type in BUSINESS_TYPES
        per_account.setdefault(account, []).append(business)
    hotline = [a for a, flags in per_account.items() if sum(flags) >= HOTLINE_SHARE * len(flags)]
    run(db, "ALTER TABLE sip_features ADD COLUMN hotlines BOOLEAN DEFAULT false")
    if hotline:
        db.executemany("UPDATE sip_features SET hotlines = true WHERE sip_account = ?",
                       [[a] for a in hotline])  # fmt: skip


DETECTOR = Detector(
    name="lines", step="scoring dialling lines", progress=0.4, needs=("voip_cdr", "labels"),
    makes=(SIP_FEATURES, SIP_SCORES, IP_SCORES, VOIP_SCAM), run=score_lines,
)  # fmt: skip
