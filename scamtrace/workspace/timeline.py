"""The timeline of an entity or a network: its calls, payments, complaints and transcripts.

The events are the case's own records, read where they lie (the ``case_*`` views of
:class:`~scamtrace.workspace.data.CaseData`), chosen in SQL and paged on the server:

- calls of ``voip_cdr`` placed by a network's lines, or by/to/from the entity;
- calls of ``carrier_cdr`` presenting a network's numbers, or from/to the entity's number;
- payments of ``transfers``: a network's flagged transfers, or those into/out of an account
  (a victim's: those of the accounts held by the victim's phone);
- complaints (``reports``) and ``transcripts`` named in the findings' evidence of the entity or
  of the network's entities.

Only the page asked for is turned into Python: its one-line details and the entities each
event involves are written for at most ``limit`` rows. A per-day count by source, over the
whole selection, feeds the histogram.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from scamtrace.core.phones import to_e164
from scamtrace.workspace.data import CaseData
from scamtrace.workspace.graph import (
    TAIL,
    GraphError,
    number_candidates_sql,
    parse_time,
    table_country,
    window_sql,
)

#: Sources in the order events at the same instant are listed.
SOURCES = ("voip_cdr", "carrier_cdr", "transfers", "reports", "transcripts")
MAX_LIMIT = 1000
#: Days of histogram returned at most (the newest are dropped past it).
MAX_DAYS = 3660

#: Columns every source is selected into: ``a`` and ``b`` are the two parties, ``via`` the
#: line or channel, ``extra`` the address or status, ``amount`` money or talk time.
_COLUMNS = "time, source, record_id, a, b, via, extra, amount"


#: Kinds whose value is a phone number (a victim's timeline also holds their payments).
_VICTIM_KINDS = ("victim_phone", "victim_paid", "number")


def _selects(data: CaseData, network_id: str | None,
             entity: tuple[str, str] | None) -> list[tuple[str, list[Any]]]:
    """One ``SELECT {_COLUMNS}`` per source for the entity or the network."""
    have = set(data.case_tables)
    out: list[tuple[str, list[Any]]] = []

    def voip(where: str, params: list[Any], post: str = "TRUE",
             post_params: list[Any] | None = None) -> None:
        if "voip_cdr" not in have:
            return
        out.append((
            "SELECT TRY_CAST(start_time AS TIMESTAMPTZ) AS time, 'voip_cdr' AS source, "
            "CAST(call_id AS VARCHAR) AS record_id, CAST(from_number AS VARCHAR) AS a, "
            "CAST(to_number AS VARCHAR) AS b, CAST(sip_account AS VARCHAR) AS via, "
            "CAST(source_ip AS VARCHAR) AS extra, "
            "CAST(duration_s AS VARCHAR) || ' s, SIP ' || coalesce(CAST(sip_status AS VARCHAR), "
            "'?') AS amount "
            f"FROM (SELECT * FROM case_voip_cdr WHERE {where} OFFSET 0) WHERE {post}",
            [*params, *(post_params or [])],
        ))

    def carrier(where: str, params: list[Any], post: str = "TRUE",
                post_params: list[Any] | None = None, rows: str = "") -> None:
        if "carrier_cdr" not in have:
            return
        rows = rows or f"(SELECT * FROM case_carrier_cdr WHERE {where} OFFSET 0) WHERE {post}"
        out.append((
            "SELECT TRY_CAST(start_time AS TIMESTAMPTZ), 'carrier_cdr', CAST(call_id AS VARCHAR), "
            "CAST(caller_number AS VARCHAR), CAST(called_number AS VARCHAR), "
            "CAST(ingress_trunk AS VARCHAR), "
            "CASE WHEN TRY_CAST(answered AS BOOLEAN) THEN 'answered' ELSE 'not answered' END, "
            f"CAST(duration_s AS VARCHAR) || ' s' FROM {rows}",
            [*params, *(post_params or [])],
        ))

    def transfers(where: str, params: list[Any]) -> None:
        if "transfers" not in have:
            return
        out.append((
            "SELECT TRY_CAST(time AS TIMESTAMPTZ), 'transfers', CAST(tx_id AS VARCHAR), "
            "CAST(payer_account AS VARCHAR), CAST(payee_account AS VARCHAR), "
            "CAST(channel AS VARCHAR), CAST(currency AS VARCHAR), CAST(amount AS VARCHAR) "
            f"FROM case_transfers WHERE {where}",
            params,
        ))

    def evidence_records(source: str, entities_sql: str, params: list[Any]) -> None:
        """Complaints and transcripts the evidence of the entities names."""
        ids = (f"SELECT DISTINCT record_id FROM evidence v SEMI JOIN ({entities_sql}) x "
               f"ON v.kind = x.kind AND v.value = x.value WHERE v.source = '{source}'")
        if source == "reports" and "reports" in have:
            out.append((
                "SELECT TRY_CAST(filed_at AS TIMESTAMPTZ), 'reports', CAST(report_id AS VARCHAR), "
                "CAST(victim_phone AS VARCHAR), CAST(reported_numbers AS VARCHAR), "
                "CAST(reported_accounts AS VARCHAR), CAST(currency AS VARCHAR), "
                "CAST(amount_lost AS VARCHAR) "
                f"FROM case_reports WHERE CAST(report_id AS VARCHAR) IN ({ids})",
                params,
            ))
        elif source == "transcripts" and "transcripts" in have:
            # transcripts hold no time: the call's, as the evidence recorded it
            out.append((
                "SELECT min(TRY_CAST(v.time AS TIMESTAMPTZ)), 'transcripts', v.record_id, "
                "any_value(CAST(t.language AS VARCHAR)), '', any_value(CAST(t.source AS VARCHAR)),"
                " left(any_value(CAST(t.text AS VARCHAR)), 160), '' "
                "FROM evidence v JOIN case_transcripts t ON CAST(t.call_id AS VARCHAR) = "
                f"v.record_id WHERE v.source = 'transcripts' AND v.record_id IN ({ids}) "
                "GROUP BY v.record_id",
                params,
            ))

    if entity is None:
        assert network_id is not None
        lines = "SELECT value FROM entities WHERE network_id = ? AND kind = 'sip_account'"
        voip(f"CAST(sip_account AS VARCHAR) IN ({lines})", [network_id])
        if "carrier_cdr" in have:
            country = table_country(data, "carrier_cdr")
            cands = number_candidates_sql("caller_number", "carrier_cdr", country)
            numbers = ("SELECT value FROM entities WHERE network_id = ? "
                       "AND kind = 'caller_number'")
            tails = f"SELECT DISTINCT right(value, {TAIL}) FROM ({numbers})"
            # rows ending like a network number, then those whose reading is one: a hash join
            # on the readings (the carrier's table is read in its holder's dial plan only)
            carrier("", [network_id, network_id], rows=(
                f"(SELECT *, ({cands})[1] AS _number FROM (SELECT * FROM case_carrier_cdr "
                f"WHERE right(rtrim(CAST(caller_number AS VARCHAR)), {TAIL}) IN ({tails}) "
                f"OFFSET 0)) c SEMI JOIN ({numbers}) n ON c._number = n.value"))
        transfers("CAST(tx_id AS VARCHAR) IN (SELECT tx_id FROM transfers WHERE network_id = ?)",
                  [network_id])
        members = "SELECT kind, value FROM entities WHERE network_id = ?"
        evidence_records("reports", members, [network_id])
        evidence_records("transcripts", members, [network_id])
        return out

    kind, value = entity
    tail = "".join(ch for ch in value if ch.isdigit())[-TAIL:]

    def number(table: str, column: str) -> tuple[str, str]:
        cands = number_candidates_sql(column, table, table_country(data, table))
        return (f"right(rtrim(CAST({column} AS VARCHAR)), {TAIL}) = ?",
                f"list_contains({cands}, ?)")

    if kind == "sip_account":
        voip("CAST(sip_account AS VARCHAR) = ?", [value])
    elif kind == "source_ip":
        voip("CAST(source_ip AS VARCHAR) = ?", [value])
    elif kind == "caller_number":
        pre, post = number("voip_cdr", "from_number")
        voip(pre, [tail], post, [value])
        pre, post = number("carrier_cdr", "caller_number")
        carrier(pre, [tail], post, [value])
    elif kind in _VICTIM_KINDS:
        pre, post = number("voip_cdr", "to_number")
        voip(pre, [tail], post, [value])
        pre, post = number("carrier_cdr", "called_number")
        carrier(pre, [tail], post, [value])
        if "accounts" in have:
            pre, post = number("accounts", "holder_phone")
            held = (f"SELECT CAST(account_id AS VARCHAR) FROM (SELECT * FROM case_accounts "
                    f"WHERE {pre} OFFSET 0) WHERE {post}")
            transfers(f"CAST(payer_account AS VARCHAR) IN ({held})", [tail, value])
    elif kind in ("mule_account", "account"):
        transfers("CAST(payer_account AS VARCHAR) = ? OR CAST(payee_account AS VARCHAR) = ?",
                  [value, value])
    the_entity = "SELECT ? AS kind, ? AS value"
    evidence_records("reports", the_entity, [kind, value])
    evidence_records("transcripts", the_entity, [kind, value])
    return out


def timeline_query(params: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The paging and window arguments of :func:`timeline` from a request's query parameters:
    ``since``, ``until``, ``limit``, ``offset``."""
    out: dict[str, Any] = {}
    for key, value in params:
        if key in ("since", "until"):
            out[key] = parse_time(value, key)
        elif key in ("limit", "offset"):
            if not value.strip().isdigit():
                raise GraphError(f"{key}: {value!r} is not a whole number")
            out[key] = int(value)
    return out


def timeline(
    data: CaseData,
    *,
    network_id: str | None = None,
    entity: tuple[str, str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of the events of ``entity`` (``(kind, value)``) or of ``network_id``, oldest
    first, inside ``[since, until)``.

    Returns ``{"events": [{"time", "source", "record_id", "detail", "entities"}], "total",
    "limit", "offset", "days": [{"day", "source", "count"}], "sources"}``.
    """
    if (network_id is None) == (entity is None):
        raise GraphError("timeline: give a network or an entity, not both or neither")
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    with data.cursor() as cur:
        selects = _selects(data, network_id, entity)
        empty = {"events": [], "total": 0, "limit": limit, "offset": offset, "days": [],
                 "sources": list(SOURCES)}
        if not selects:
            return empty
        union = " UNION ALL ".join(f"SELECT * FROM ({sql})" for sql, _ in selects)
        params: list[Any] = [p for _, ps in selects for p in ps]
        cond, wparams = window_sql("time", since, until)
        order = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SOURCES))
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE _timeline AS SELECT DISTINCT * FROM "
            f"(SELECT * FROM ({union}) AS u({_COLUMNS})) WHERE time IS NOT NULL AND {cond}",
            [*params, *wparams],
        )
        total = int(cur.execute("SELECT count(*) FROM _timeline").fetchall()[0][0])
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM _timeline "
            f"ORDER BY time, CASE source {order} END, record_id LIMIT ? OFFSET ?",
            [limit, offset],
        ).fetchall()
        days = cur.execute(
            "SELECT strftime(time AT TIME ZONE 'UTC', '%Y-%m-%d') AS day, source, count(*) "
            "FROM _timeline GROUP BY ALL ORDER BY day, source LIMIT ?",
            [MAX_DAYS * len(SOURCES)],
        ).fetchall()
        cur.execute("DROP TABLE _timeline")
    countries = {t: table_country(data, t) for t in ("voip_cdr", "carrier_cdr", "reports")}
    events = [_event(row, countries) for row in rows]
    return {
        **empty,
        "events": events,
        "total": total,
        "days": [{"day": d, "source": s, "count": int(n)} for d, s, n in days],
    }


def _number(text: str | None, country: str) -> str:
    if not text:
        return ""
    if text.startswith("+"):
        return "+" + "".join(ch for ch in text if ch.isdigit())
    return to_e164(text, country) or text


def _event(row: tuple[Any, ...], countries: dict[str, str]) -> dict[str, Any]:
    """One event of the page: a one-line detail and the entities it involves."""
    time, source, record_id, a, b, via, extra, amount = row
    when = (time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(time, datetime)
            else str(time))
    entities: list[dict[str, str]] = []

    def add(kind: str, value: str | None) -> None:
        if value:
            entities.append({"kind": kind, "value": value})

    if source == "voip_cdr":
        caller, callee = _number(a, countries["voip_cdr"]), _number(b, countries["voip_cdr"])
        detail = f"call {caller or 'withheld'} -> {callee} via {via or '?'} from {extra or '?'}" \
                 f" ({amount or '?'})"
        add("sip_account", via)
        add("source_ip", extra)
        add("caller_number", caller)
        add("victim_phone", callee)
    elif source == "carrier_cdr":
        caller, callee = _number(a, countries["carrier_cdr"]), _number(b, countries["carrier_cdr"])
        detail = f"call {caller or 'withheld'} -> {callee}, {extra}, {amount or '?'}" \
                 f" (trunk {via or '?'})"
        add("caller_number", caller)
        add("victim_phone", callee)
    elif source == "transfers":
        detail = f"{amount or '?'} {extra or ''} from {a or 'cash'} to {b or 'cash'}" \
                 f" by {via or '?'}"
        add("account", a)
        add("account", b)
    elif source == "reports":
        victim = _number(a, countries["reports"])
        detail = f"complaint by {victim or '?'}, lost {amount or '0'} {extra or ''}; " \
                 f"numbers: {b or '-'}; accounts: {via or '-'}"
        add("victim_phone", victim)
        for number in (b or "").split(";"):
            add("caller_number", _number(number.strip(), countries["reports"]))
        for account in (via or "").split(";"):
            add("account", account.strip())
    else:
        detail = f"transcript ({a or '?'}) of a {via or ''} call: {extra or ''}"
    return {"time": when, "source": source, "record_id": record_id or "", "detail": detail,
            "entities": entities}
