"""The questions the workspace's pages ask of a case, each one page of rows from DuckDB.

Every table pages on the server (``LIMIT``/``OFFSET`` with the total from ``count(*) OVER ()``
in the same scan), so a 20-million-row carrier table is scanned by DuckDB and never loaded into
Python. Values come back as text, as the findings hold them; the templates escape them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from scamtrace.core.phones import to_e164
from scamtrace.report.query import ShownEntity
from scamtrace.workspace.data import CaseData

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EVIDENCE_SHOWN = 20
"""Evidence records listed under each entity of a network's tables (as the report does)."""

Row = dict[str, str]

NETWORK_ORDER = (
    "TRY_CAST(victims_paid AS BIGINT) DESC NULLS LAST, "
    "TRY_CAST(replace(loss, ',', '') AS DOUBLE) DESC NULLS LAST, "
    "TRY_CAST(victims AS BIGINT) DESC NULLS LAST, network_id"
)
"""Networks ranked as the contract ranks them: victims who paid, loss, victims."""
SCORE_ORDER = "TRY_CAST(score AS DOUBLE) DESC NULLS LAST, kind, value"

#: The columns of each case table that can name an entity, and whether they hold phone
#: numbers (matched in every written form), lists (``;``-separated) or plain values.
RECORD_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "carrier_cdr": (("caller_number", "phone"), ("called_number", "phone")),
    "voip_cdr": (("sip_account", "plain"), ("source_ip", "plain"), ("from_number", "phone"),
                 ("to_number", "phone")),
    "transfers": (("payer_account", "plain"), ("payee_account", "plain")),
    "reports": (("victim_phone", "phone"), ("reported_numbers", "phone_list"),
                ("reported_accounts", "list")),
}  # fmt: skip
RECORD_IDS = {"carrier_cdr": "call_id", "voip_cdr": "call_id", "transfers": "tx_id",
              "reports": "report_id", "transcripts": "call_id"}  # fmt: skip
RECORD_TIMES = {"carrier_cdr": "start_time", "voip_cdr": "start_time", "transfers": "time",
                "reports": "filed_at"}  # fmt: skip


@dataclass(frozen=True)
class Page:
    """One page of a table: its rows, where it starts and how many rows there are in all."""

    rows: list[Row]
    total: int
    offset: int
    limit: int
    columns: list[str] = field(default_factory=list)

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total

    @property
    def has_prev(self) -> bool:
        return self.offset > 0


def clamp(offset: int, limit: int) -> tuple[int, int]:
    return max(0, offset), min(max(1, limit), MAX_PAGE_SIZE)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def paged(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object], offset: int,
          limit: int) -> Page:  # fmt: skip
    """``sql`` (no LIMIT of its own) one page at a time, with its total in the same scan."""
    offset, limit = clamp(offset, limit)
    result = cur.execute(
        f"SELECT *, count(*) OVER () AS __total FROM ({sql}) LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    names = [d[0] for d in result.description]
    rows = result.fetchall()
    if not rows and offset:
        total_row = cur.execute(f"SELECT count(*) FROM ({sql})", list(params)).fetchone()
        total = int(total_row[0]) if total_row else 0
    else:
        total = int(rows[0][-1]) if rows else 0
    cols = names[:-1]
    return Page([{c: _text(v) for c, v in zip(cols, r, strict=False)} for r in rows], total,
                offset, limit, cols)  # fmt: skip


# --------------------------------------------------------------------------- networks
def networks(data: CaseData, offset: int = 0, limit: int = PAGE_SIZE) -> Page:
    with data.cursor() as cur:
        return paged(cur, f"SELECT * FROM networks ORDER BY {NETWORK_ORDER}", [], offset, limit)


def network_row(data: CaseData, network_id: str) -> Row | None:
    with data.cursor() as cur:
        result = cur.execute("SELECT * FROM networks WHERE network_id = ?", [network_id])
        names = [d[0] for d in result.description]
        row = result.fetchone()
    return None if row is None else {n: _text(v) for n, v in zip(names, row, strict=True)}


def network_known(data: CaseData, network_id: str) -> bool:
    """Whether the network is named anywhere in the findings ("" is the unlinked entities)."""
    with data.cursor() as cur:
        row = cur.execute(
            "SELECT 1 FROM networks WHERE network_id = ? UNION ALL "
            "SELECT 1 FROM entities WHERE coalesce(network_id, '') = ? UNION ALL "
            "SELECT 1 FROM centers WHERE coalesce(network_id, '') = ? LIMIT 1",
            [network_id] * 3,
        ).fetchone()
    return row is not None


def centers(data: CaseData, network_id: str | None = None) -> list[Row]:
    """Centers (of one network), in id order; a case has tens of them, never millions."""
    sql = "SELECT * FROM centers"
    params: list[object] = []
    if network_id is not None:
        sql += " WHERE coalesce(network_id, '') = ?"
        params.append(network_id)
    with data.cursor() as cur:
        result = cur.execute(sql + " ORDER BY center_id", params)
        names = [d[0] for d in result.description]
        return [{n: _text(v) for n, v in zip(names, r, strict=True)} for r in result.fetchall()]


def entity_kind_counts(data: CaseData, network_id: str) -> dict[str, int]:
    with data.cursor() as cur:
        return {str(k): int(n) for k, n in cur.execute(
            "SELECT kind, count(*) FROM entities WHERE coalesce(network_id, '') = ? GROUP BY kind",
            [network_id]).fetchall()}  # fmt: skip


def network_entities(data: CaseData, network_id: str, kind: str, offset: int,
                     limit: int) -> tuple[list[ShownEntity], int]:  # fmt: skip
    """One page of a network's entities of one kind, highest score first, each with its first
    :data:`EVIDENCE_SHOWN` evidence records: the report's :class:`ShownEntity`."""
    with data.cursor() as cur:
        page = paged(cur, "SELECT kind, value, score, coalesce(center_id, '') AS center_id, "
                     "coalesce(reason, '') AS reason FROM entities "
                     f"WHERE coalesce(network_id, '') = ? AND kind = ? ORDER BY {SCORE_ORDER}",
                     [network_id, kind], offset, limit)  # fmt: skip
        shown = [ShownEntity(r["kind"], r["value"], r["score"], r["center_id"], r["reason"])
                 for r in page.rows]  # fmt: skip
        if shown:
            keys = pa.table({"k": [e.kind for e in shown], "v": [e.value for e in shown]})
            cur.register("_shown", keys)
            by_key = {(e.kind, e.value): e for e in shown}
            for k, v, t, s, rid, d, n in cur.execute(
                """SELECT kind, value, time, source, record_id, detail,
                          count(*) OVER (PARTITION BY kind, value)
                   FROM evidence SEMI JOIN _shown ON kind = k AND value = v
                   QUALIFY row_number() OVER (PARTITION BY kind, value
                                              ORDER BY time, record_id, detail) <= ?
                   ORDER BY kind, value, time, record_id, detail""",
                [EVIDENCE_SHOWN],
            ).fetchall():
                ent = by_key[(k, v)]
                ent.evidence.append((_text(t), _text(s), _text(rid), _text(d)))
                ent.evidence_total = int(n)
            cur.unregister("_shown")
    return shown, page.total


# --------------------------------------------------------------------------- entities
def entity_rows(data: CaseData, kind: str, value: str) -> list[Row]:
    """The entity as flagged (``entities``) and as a lead (``leads``), with its table."""
    with data.cursor() as cur:
        result = cur.execute(
            "SELECT 'flagged' AS listed, * FROM entities WHERE kind = ? AND value = ? "
            "UNION ALL BY NAME "
            "SELECT 'lead' AS listed, * FROM leads WHERE kind = ? AND value = ?",
            [kind, value, kind, value],
        )
        names = [d[0] for d in result.description]
        return [{n: _text(v) for n, v in zip(names, r, strict=True)} for r in result.fetchall()]


def evidence(data: CaseData, kind: str, value: str, offset: int, limit: int) -> Page:
    with data.cursor() as cur:
        return paged(cur, "SELECT time, source, record_id, detail FROM evidence "
                     "WHERE kind = ? AND value = ? ORDER BY time, record_id, detail",
                     [kind, value], offset, limit)  # fmt: skip


def evidence_span(data: CaseData, kind: str, value: str) -> tuple[int, str]:
    """How many records of the case are behind an entity and the newest one's time, as
    ``detect`` counted them (``evidence_count``, ``evidence_last`` of entities.csv or
    leads.csv): what a verdict was given on. ``evidence.csv`` lists only the first records of
    each entity, so it is the fallback for findings written before those columns, never the
    source: a rejection recorded on fewer records than detect counts would reopen at once."""
    with data.cursor() as cur:
        for table in ("entities", "leads"):
            columns = {str(r[0]) for r in cur.execute(f"DESCRIBE {table}").fetchall()}
            if not {"evidence_count", "evidence_last"} <= columns:
                continue
            row = cur.execute(
                f"SELECT evidence_count, evidence_last FROM {table} WHERE kind = ? AND value = ? "
                "AND coalesce(evidence_count, '') <> '' LIMIT 1", [kind, value]).fetchone()
            if row is not None:
                return int(float(row[0])), _text(row[1])
        row = cur.execute("SELECT count(*), max(time) FROM evidence WHERE kind = ? AND value = ?",
                          [kind, value]).fetchone()  # fmt: skip
    return (int(row[0]), _text(row[1])) if row else (0, "")


def value_forms(value: str, country: str) -> list[str]:
    """Every written form a case table may hold of an entity's value: a number's E.164, its
    digits, 00-international and national forms (with and without spaces), an account with
    and without spaces."""
    from scamtrace.share.export.base import victim_number_forms

    forms = {value}
    if re.fullmatch(r"\+[1-9][0-9]{6,14}", value):
        forms |= victim_number_forms([value])
    compact = re.sub(r"\s+", "", value)
    forms.add(compact)
    return sorted(f for f in forms if f)


def _columns(data: CaseData, cur: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [str(r[0]) for r in cur.execute(f"DESCRIBE case_{table}").fetchall()]


def records(data: CaseData, table: str, kind: str, value: str, offset: int,
            limit: int) -> Page | None:  # fmt: skip
    """One page of the rows of case table ``table`` that name the entity in any column that can
    (:data:`RECORD_COLUMNS`), in time order; None when the case does not hold the table."""
    if table not in data.case_tables or table not in RECORD_COLUMNS:
        return None
    forms = value_forms(value, data.holder_country)
    with data.cursor() as cur:
        present = _columns(data, cur, table)
        tests: list[str] = []
        params: list[object] = []
        for column, how in RECORD_COLUMNS[table]:
            if column not in present:
                continue
            col = f'CAST("{column}" AS VARCHAR)'
            if how in ("phone", "plain"):
                tests.append(f"{col} IN (SELECT unnest(?))")
            else:
                tests.append(f"list_has_any(list_transform(string_split({col}, ';'), "
                             "lambda x: trim(x)), ?)")  # fmt: skip
            params.append(forms)
        if not tests:
            return Page([], 0, offset, limit)
        select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in present)
        order = RECORD_TIMES.get(table)
        sql = (f"SELECT {select} FROM case_{table} WHERE {' OR '.join(tests)}"
               + (f' ORDER BY "{order}", "{RECORD_IDS[table]}"' if order in present else ""))
        return paged(cur, sql, params, offset, limit)


def transcripts_of(data: CaseData, call_ids: Sequence[str]) -> list[Row]:
    """The transcripts of ``call_ids`` (the calls shown on a page)."""
    if "transcripts" not in data.case_tables or not call_ids:
        return []
    with data.cursor() as cur:
        present = _columns(data, cur, "transcripts")
        select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in present)
        result = cur.execute(f"SELECT {select} FROM case_transcripts WHERE "
                             "CAST(call_id AS VARCHAR) IN (SELECT unnest(?)) ORDER BY call_id",
                             [list(call_ids)])  # fmt: skip
        names = [d[0] for d in result.description]
        return [{n: _text(v) for n, v in zip(names, r, strict=True)} for r in result.fetchall()]


# --------------------------------------------------------------------------- search
@dataclass
class SearchResult:
    query: str
    forms: list[str]
    entities: list[Row]
    evidence: list[Row]
    records: dict[str, list[Row]]


SEARCH_LIMIT = 50


def search_forms(query: str, country: str) -> list[str]:
    """What a query may be written as in the findings: as typed, without spaces, an account
    upper-cased (an IBAN with or without spaces), a number in E.164 (national numbers read in
    the case holder's country, ``00`` and ``+`` forms everywhere)."""
    q = query.strip()
    forms = [q, re.sub(r"\s+", "", q)]
    forms.append(forms[1].upper())
    if re.fullmatch(r"[+0-9 ()./-]{5,}", q) and sum(ch.isdigit() for ch in q) >= 6:
        for c in ([country] if country else []) + ["ZZ"]:
            e164 = None
            if c == "ZZ":  # no country: only the forms that say theirs
                digits = re.sub(r"[^0-9]", "", q)
                if q.lstrip().startswith("+"):
                    e164 = "+" + digits
                elif digits.startswith("00"):
                    e164 = "+" + digits[2:]
            else:
                try:
                    e164 = to_e164(q, c)
                except ValueError:
                    e164 = None
            if e164:
                forms.append(e164)
    return list(dict.fromkeys(f for f in forms if f))


def search(data: CaseData, query: str) -> SearchResult:
    """Entities (flagged or leads) by value, evidence by record id, and case records by call,
    transfer or report id, or by any value they hold (numbers in every form, IPs, accounts)."""
    forms = search_forms(query, data.holder_country)
    with data.cursor() as cur:
        ents = _rows(cur, f"""
            SELECT * FROM (
              SELECT 'flagged' AS listed, kind, value, score, network_id, center_id, reason
              FROM entities WHERE value IN (SELECT unnest($1))
              UNION ALL
              SELECT 'lead', kind, value, score, network_id, center_id, reason
              FROM leads WHERE value IN (SELECT unnest($1)))
            ORDER BY {SCORE_ORDER} LIMIT {SEARCH_LIMIT}""", [forms])  # fmt: skip
        if not ents and len(query.strip()) >= 4:
            # nothing exact: values holding what was typed (a number's tail, part of an id)
            needle = re.sub(r"\s+", "", query.strip())
            ents = _rows(cur, f"""
                SELECT 'flagged' AS listed, kind, value, score, network_id, center_id, reason
                FROM entities WHERE contains(value, $1)
                ORDER BY {SCORE_ORDER} LIMIT {SEARCH_LIMIT}""", [needle])  # fmt: skip
        ev = _rows(cur, "SELECT kind, value, source, record_id, time, detail FROM evidence "
                   f"WHERE record_id IN (SELECT unnest($1)) ORDER BY time LIMIT {SEARCH_LIMIT}",
                   [forms])  # fmt: skip
        found: dict[str, list[Row]] = {}
        for table, id_column in RECORD_IDS.items():
            if table not in data.case_tables or table == "transcripts":
                continue
            present = _columns(data, cur, table)
            tests = [f'CAST("{id_column}" AS VARCHAR) IN (SELECT unnest($1))']
            tests += [f'CAST("{c}" AS VARCHAR) IN (SELECT unnest($1))'
                      for c, how in RECORD_COLUMNS.get(table, ()) if how == "plain" and c in present
                      ]  # fmt: skip
            select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in present)
            rows = _rows(cur, f"SELECT {select} FROM case_{table} WHERE {' OR '.join(tests)} "
                         f"LIMIT {SEARCH_LIMIT}", [forms])  # fmt: skip
            if rows:
                found[table] = rows
    return SearchResult(query, forms, ents, ev, found)


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[Row]:
    result = cur.execute(sql, params)
    names = [d[0] for d in result.description]
    return [{n: _text(v) for n, v in zip(names, r, strict=True)} for r in result.fetchall()]


# --------------------------------------------------------------------------- triage
def triage(data: CaseData, table: str, decided: pa.Table, *, kind: str, status: str,
           offset: int, limit: int) -> Page:  # fmt: skip
    """One page of leads or flagged entities (``table``), highest score first, with the verdict
    in force on each (``decided``: kind, value, verdict, assignee of the case's entities with
    one) and filtered by kind and status (``all``, ``open``, ``confirmed``, ``rejected``,
    ``assigned``)."""
    assert table in ("leads", "entities")
    where, params = ["TRUE"], []
    if kind:
        where.append("e.kind = ?")
        params.append(kind)
    if status == "open":
        where.append("d.verdict IS NULL")
    elif status in ("confirmed", "rejected"):
        where.append("d.verdict = ?")
        params.append(status)
    elif status == "assigned":
        where.append("coalesce(d.assignee, '') <> ''")
    with data.cursor() as cur:
        cur.register("_decided", decided)
        try:
            return paged(cur, f"""
                SELECT e.kind, e.value, e.score, coalesce(e.network_id, '') AS network_id,
                       coalesce(e.center_id, '') AS center_id, coalesce(e.reason, '') AS reason,
                       coalesce(d.verdict, '') AS verdict, coalesce(d.assignee, '') AS assignee
                FROM {table} e LEFT JOIN _decided d ON e.kind = d.kind AND e.value = d.value
                WHERE {' AND '.join(where)}
                ORDER BY TRY_CAST(e.score AS DOUBLE) DESC NULLS LAST, e.kind, e.value""",
                params, offset, limit)  # fmt: skip
        finally:
            cur.unregister("_decided")


def kinds(data: CaseData, table: str) -> list[str]:
    assert table in ("leads", "entities")
    with data.cursor() as cur:
        return [str(r[0]) for r in cur.execute(
            f"SELECT DISTINCT kind FROM {table} WHERE kind IS NOT NULL ORDER BY kind").fetchall()]
