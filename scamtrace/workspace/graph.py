"""The graph of one network, as Cytoscape.js draws it, with positions computed here.

A network of the seed case holds dozens of centers, hundreds of lines, tens of thousands of
presented numbers and hundreds of thousands of victims: far more than a browser can draw in a
second or a reader can follow. So the graph shows the network's structure and aggregates its
mass. The network, its centers, its lines (``sip_account``), addresses (``source_ip``), mule
accounts and the highest-scoring presented numbers are nodes, shared out round-robin over the
(center, kind) groups until ``max_nodes`` is reached; the rest of each group, and every victim,
is one *aggregate* node per (center, kind) carrying a count. Expanding an aggregate opens its
members a page at a time; expanding an entity adds the neighbours the case's records tie to
it (calls of ``voip_cdr`` and ``carrier_cdr``, payments of ``transfers``), a page at a time.

Edges come from the findings (center membership; the flagged transfers between victims' and
mule accounts) and from the case tables (a line's addresses and presented numbers, counted over
its calls), all inside the time window. Within a window, an entity is drawn when its evidence
(:mod:`scamtrace.detect`'s ``evidence`` table) holds a record inside it.

The layout is layered by kind (addresses, lines, centers, presented numbers, victims, mule
accounts, other accounts from left to right) and ordered within a layer by center, score and
value, so the same question always draws the same picture, and a reader finds each kind in the
same column of every network.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import duckdb

from scamtrace.core.contract import SIP_TABLES
from scamtrace.core.errors import ScamtraceError
from scamtrace.core.phones import e164_sql
from scamtrace.workspace.data import CaseData

#: Left-to-right column of each kind in the layered layout.
LAYER = {
    "source_ip": 0,
    "sip_account": 1,
    "network": 2,
    "center": 2,
    "caller_number": 3,
    "victim_phone": 4,
    "victim_paid": 4,
    "number": 4,
    "mule_account": 5,
    "account": 6,
    "more": 7,
}
#: Kinds of the findings drawn one node per entity while the budget lasts, in priority order.
ENTITY_KINDS = ("sip_account", "source_ip", "mule_account", "caller_number")
#: Kinds always drawn as counts until an analyst opens them: there are too many to draw.
AGGREGATED_KINDS = ("victim_phone", "victim_paid")
#: Kinds that are phone numbers (matched against the case tables after normalisation).
PHONE_KINDS = frozenset({"caller_number", "victim_phone", "victim_paid"})
#: Neighbours or members added by one expansion.
PAGE_SIZE = 50
#: Spacing of the layered layout, in Cytoscape model units.
LAYER_GAP = 260.0
ROW_GAP = 46.0
COLUMN_GAP = 150.0
#: Rows of one column of the layout before a layer wraps into another column.
MAX_ROWS = 24
#: Digits at the end of a number used to find its rows in a case table before normalising:
#: a hash join on a plain suffix, so 20 million rows are not normalised for one number.
TAIL = 7


class GraphError(ScamtraceError):
    """A graph request the workspace cannot answer (unknown network, malformed expansion)."""


@dataclass(frozen=True)
class Expansion:
    """One parsed ``expand`` item: what to open and from which row on."""

    what: str
    """``entity`` (an entity's neighbours) or ``aggregate`` (an aggregate's members)."""
    kind: str
    value: str
    offset: int = 0
    center_id: str = ""


def parse_expand(kind: str, value: str) -> Expansion:
    """One ``expand`` pair as the JSON's ``expand`` fields write it.

    ``(kind, value)`` opens an entity; ``("page", "OFFSET|kind|value")`` the next page of its
    neighbours; ``("aggregate", "OFFSET|center_id|kind")`` a page of an aggregate's members.
    """
    if kind == "aggregate":
        parts = value.split("|", 2)
        if len(parts) != 3 or not parts[0].isdigit():
            raise GraphError(f"expand aggregate: {value!r} is not OFFSET|center|kind")
        return Expansion("aggregate", parts[2], "", int(parts[0]), parts[1])
    if kind == "page":
        parts = value.split("|", 2)
        if len(parts) != 3 or not parts[0].isdigit():
            raise GraphError(f"expand page: {value!r} is not OFFSET|kind|value")
        return Expansion("entity", parts[1], parts[2], int(parts[0]))
    if not kind or not value:
        raise GraphError("expand: an entity needs a kind and a value")
    return Expansion("entity", kind, value)


def parse_time(text: str | None, name: str = "time") -> datetime | None:
    """A query's time: ISO 8601 date or date-time (what ``<input type=datetime-local>`` sends);
    without a zone it is UTC. ``None`` or ``""`` is no bound."""
    if text is None or not text.strip():
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise GraphError(f"{name}: {text!r} is not a date or a date and time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def graph_query(params: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The keyword arguments of :func:`network_graph` from a request's query parameters
    (``request.query_params.multi_items()``): ``expand`` (repeated, ``kind:value``), ``kinds``
    (comma-separated, ``none`` for none), ``since``, ``until``."""
    expand: list[tuple[str, str]] = []
    out: dict[str, Any] = {}
    for key, value in params:
        if key == "expand":
            kind, sep, rest = value.partition(":")
            if not sep:
                raise GraphError(f"expand: {value!r} is not kind:value")
            expand.append((kind, rest))
        elif key == "kinds":
            out["kinds"] = [k for k in value.split(",") if k and k != "none"]
        elif key in ("since", "until"):
            out[key] = parse_time(value, key)
    out["expand"] = expand
    return out


def entity_href(case_id: str, kind: str, value: str) -> str:
    """The workspace's page of one entity, every part URL-encoded."""
    return "/cases/{}/entities/{}/{}".format(*(quote(p, safe="") for p in (case_id, kind, value)))


def _href(case_id: str, kind: str, value: str, network_id: str) -> str:
    """Where a node leads: an entity's page; a center's is its network's page, at the center's
    row (centers have no entity page)."""
    if kind == "network":
        return ""
    if kind == "center":
        segment = quote(network_id, safe="") if network_id else "-"
        return f"/cases/{quote(case_id, safe='')}/networks/{segment}"
    return entity_href(case_id, kind, value)


def node_id(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def table_country(data: CaseData, table: str) -> str:
    """The country whose dial plan a case table's numbers were written in (``holder.json``)."""
    return data.table_country(table)


def number_candidates_sql(column: str, table: str, country: str) -> str:
    """SQL list of the E.164 forms a logged number may stand for: the holder's reading and,
    in SIP tables where switches log international numbers as bare digits, ``+digits``."""
    text = f"CAST({column} AS VARCHAR)"
    forms = [e164_sql(text, country)]
    if table in SIP_TABLES:
        forms.append(f"'+' || regexp_replace(coalesce({text}, ''), '[^0-9]', '', 'g')")
    return "[" + ", ".join(forms) + "]"


def window_sql(
    column: str, since: datetime | None, until: datetime | None
) -> tuple[str, list[Any]]:
    """SQL condition keeping ``column`` (a time, or ISO text) inside ``[since, until)``."""
    cond, params = "TRUE", []
    t = f"TRY_CAST({column} AS TIMESTAMPTZ)"
    if since is not None:
        cond += f" AND {t} >= ?"
        params.append(since)
    if until is not None:
        cond += f" AND {t} < ?"
        params.append(until)
    return cond, params


@dataclass
class _Builder:
    """Nodes and edges gathered for one answer, keyed by id so nothing is drawn twice."""

    case_id: str
    nodes: dict[str, dict[str, Any]]
    edges: dict[str, dict[str, Any]]

    def entity(self, kind: str, value: str, *, score: str = "", center_id: str = "",
               network_id: str = "", label: str | None = None) -> str:
        nid = node_id(kind, value)
        if nid not in self.nodes:
            self.nodes[nid] = {
                "id": nid, "kind": kind, "value": value, "score": score,
                "center_id": center_id, "network_id": network_id,
                "label": value if label is None else label,
                "href": _href(self.case_id, kind, value, network_id),
                "expand": f"{kind}:{value}", "aggregate": False, "count": 1,
            }  # fmt: skip
        return nid

    def aggregate(self, center_id: str, kind: str, count: int, offset: int,
                  more: bool = False) -> str:
        nid = f"aggregate:{center_id}|{kind}"
        label = f"{count:,} {'more ' if more or offset else ''}{kind.replace('_', ' ')}"
        self.nodes[nid] = {
            "id": nid, "kind": kind, "value": "", "score": "", "center_id": center_id,
            "network_id": "", "label": label, "href": "",
            "expand": f"aggregate:{offset}|{center_id}|{kind}", "aggregate": True,
            "count": count,
        }  # fmt: skip
        return nid

    def remove(self, nid: str) -> None:
        """Drop a node and its edges."""
        self.nodes.pop(nid, None)
        self.edges = {k: e for k, e in self.edges.items() if nid not in (e["source"], e["target"])}

    def edge(self, source: str, target: str, relation: str, weight: int = 1) -> None:
        if source == target or source not in self.nodes or target not in self.nodes:
            return
        eid = f"{source}->{target}:{relation}"
        if eid in self.edges:
            # the same tie counted twice (the default view and an expansion) is one tie
            self.edges[eid]["weight"] = max(self.edges[eid]["weight"], weight)
        else:
            self.edges[eid] = {"id": eid, "source": source, "target": target,
                               "relation": relation, "weight": weight}


def network_graph(
    data: CaseData,
    network_id: str,
    *,
    expand: Sequence[tuple[str, str]] = (),
    kinds: Collection[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    max_nodes: int = 400,
) -> dict[str, Any]:
    """The Cytoscape.js elements of one network (see the module's docstring).

    ``max_nodes`` bounds the nodes drawn before expansions, above a floor: the network, its
    centers and one aggregate per (center, kind) are always drawn. ``kinds`` keeps only those
    kinds (centers and the network are always drawn); ``expand`` is a sequence of
    ``(kind, value)`` pairs as the nodes' ``expand`` field writes them (``kind:value``, split
    at the first colon). Returns ``{"elements": {"nodes", "edges"},
    "aggregates", "truncated", "network_id", "window"}``; every node has a ``position``.
    """
    expansions = [parse_expand(k, v) for k, v in expand]
    wanted = None if kinds is None else frozenset(kinds)
    with data.cursor() as cur:
        known = cur.execute(
            "SELECT count(*) FROM (SELECT network_id FROM networks UNION ALL "
            "SELECT network_id FROM centers UNION ALL SELECT network_id FROM entities) "
            "WHERE network_id = ?",
            [network_id],
        ).fetchall()[0][0]
        if not known:
            raise GraphError(f"no network {network_id!r} in the findings")
        b = _Builder(data.case_id, {}, {})
        truncated = _structure(cur, b, network_id, wanted, since, until, max_nodes)
        _money_edges(cur, b, network_id, since, until)
        if "voip_cdr" in data.case_tables:
            _line_edges(cur, b, data, network_id, since, until)
        for ex in expansions:
            if ex.what == "aggregate":
                truncated |= _open_aggregate(cur, b, network_id, ex, since, until)
            else:
                truncated |= _open_entity(cur, b, data, ex, since, until)
    if wanted is not None:
        keep = wanted | {"network", "center"}
        b.nodes = {k: n for k, n in b.nodes.items() if n["kind"] in keep}
        b.edges = {k: e for k, e in b.edges.items()
                   if e["source"] in b.nodes and e["target"] in b.nodes}
    positions = layout(list(b.nodes.values()))
    nodes = [{"data": n, "position": positions[n["id"]]}
             for n in sorted(b.nodes.values(), key=_layer_key)]
    edges = [{"data": e} for _, e in sorted(b.edges.items())]
    return {
        "network_id": network_id,
        "elements": {"nodes": nodes, "edges": edges},
        "aggregates": [
            {"id": n["id"], "center_id": n["center_id"], "kind": n["kind"], "count": n["count"],
             "expand": n["expand"]}
            for n in sorted(b.nodes.values(), key=_layer_key) if n["aggregate"]
        ],
        "truncated": truncated,
        "window": {"since": since.isoformat() if since else None,
                   "until": until.isoformat() if until else None},
    }


def _active_sql(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    """A condition on ``e`` (an entities row): it has evidence inside the window."""
    if since is None and until is None:
        return "TRUE", []
    cond, params = window_sql("v.time", since, until)
    return (f"EXISTS (SELECT 1 FROM evidence v WHERE v.kind = e.kind AND v.value = e.value "
            f"AND {cond})", params)


def _structure(cur: duckdb.DuckDBPyConnection, b: _Builder, network_id: str,
               wanted: frozenset[str] | None, since: datetime | None, until: datetime | None,
               max_nodes: int) -> bool:
    """The network, its centers, the entities within the budget and one aggregate per
    (center, kind) for the rest; True when anything was aggregated past the budget."""
    net = b.entity("network", network_id, network_id=network_id, label=f"network {network_id}")
    for (center_id,) in cur.execute(
        "SELECT DISTINCT center_id FROM (SELECT center_id FROM centers WHERE network_id = ? "
        "UNION ALL SELECT center_id FROM entities WHERE network_id = ?) "
        "WHERE coalesce(center_id, '') <> '' ORDER BY 1",
        [network_id, network_id],
    ).fetchall():
        c = b.entity("center", center_id, center_id=center_id, network_id=network_id,
                     label=f"center {center_id}")
        b.edge(net, c, "member")
    active, params = _active_sql(since, until)
    drawn_kinds = [k for k in ENTITY_KINDS if wanted is None or k in wanted]
    priority = " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(ENTITY_KINDS))
    kinds_list = ", ".join(f"'{k}'" for k in (*ENTITY_KINDS, *AGGREGATED_KINDS))
    drawn_list = ", ".join(f"'{k}'" for k in drawn_kinds) or "NULL"
    cur.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _graph_members AS
        SELECT e.kind, e.value, coalesce(e.score, '') AS score,
               coalesce(e.center_id, '') AS center_id,
               row_number() OVER (PARTITION BY coalesce(e.center_id, ''), e.kind
                                  ORDER BY TRY_CAST(e.score AS DOUBLE) DESC NULLS LAST, e.value)
                   AS rn
        FROM entities e
        WHERE e.network_id = ? AND e.kind IN ({kinds_list}) AND {active}
        """,
        [network_id, *params],
    )
    # every (center, kind) group may need an aggregate node: the budget leaves room for them
    groups = cur.execute(
        "SELECT count(*) FROM (SELECT DISTINCT center_id, kind FROM _graph_members)"
    ).fetchall()[0][0]
    budget = max(0, max_nodes - len(b.nodes) - int(groups))
    shown = cur.execute(
        f"""
        SELECT kind, value, score, center_id FROM _graph_members
        WHERE kind IN ({drawn_list})
        ORDER BY rn, CASE kind {priority} END, center_id, value
        LIMIT ?
        """,
        [budget],
    ).fetchall()
    for kind, value, score, center_id in shown:
        n = b.entity(kind, value, score=score, center_id=center_id, network_id=network_id)
        b.edge(node_id("center", center_id) if center_id else net, n, "member")
    truncated = False
    for center_id, kind, count in cur.execute(
        "SELECT center_id, kind, count(*) FROM _graph_members GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        if wanted is not None and kind not in wanted:
            continue
        drawn = 0
        if kind not in AGGREGATED_KINDS:
            # the drawn members are the group's first ranks: its pages start after them
            drawn = sum(1 for k, _, _, c in shown if k == kind and c == center_id)
        rest = int(count) - drawn
        truncated |= rest > 0 and kind not in AGGREGATED_KINDS
        if rest > 0:
            a = b.aggregate(center_id, kind, rest, drawn, more=drawn > 0)
            b.edge(node_id("center", center_id) if center_id else net, a, "member")
    return truncated


def _money_edges(cur: duckdb.DuckDBPyConnection, b: _Builder, network_id: str,
                 since: datetime | None, until: datetime | None) -> None:
    """The flagged payments between the network's mule accounts, and from its victims (as
    their aggregate, or themselves where drawn) into them, inside the window."""
    cond, params = window_sql("t.time", since, until)
    rows = cur.execute(
        f"""
        SELECT t.kind, coalesce(t.payer_account, ''), coalesce(t.payee_account, ''),
               count(*) AS n
        FROM transfers t WHERE t.network_id = ? AND {cond}
        GROUP BY ALL ORDER BY ALL LIMIT 5000
        """,
        [network_id, *params],
    ).fetchall()
    # victims' accounts are not entities: their payments start at the aggregate of the
    # victims who paid (detect keeps those per network, with no center)
    paid = sorted(nid for nid, n in b.nodes.items()
                  if n["aggregate"] and n["kind"] == "victim_paid")
    for kind, payer, payee, n in rows:
        target = node_id("mule_account", payee)
        if kind == "victim_payment":
            if paid:
                b.edge(paid[0], target, "paid", int(n))
        else:
            b.edge(node_id("mule_account", payer), target, "paid", int(n))


def _line_edges(cur: duckdb.DuckDBPyConnection, b: _Builder, data: CaseData, network_id: str,
                since: datetime | None, until: datetime | None) -> None:
    """Each drawn line's addresses and presented numbers, counted over its calls."""
    lines = [n["value"] for n in b.nodes.values()
             if n["kind"] == "sip_account" and not n["aggregate"]]
    if not lines:
        return
    cond, params = window_sql("c.start_time", since, until)
    country = table_country(data, "voip_cdr")
    cands = number_candidates_sql("c.from_number", "voip_cdr", country)
    tails = sorted({re.sub(r"\D", "", n["value"])[-TAIL:] for n in b.nodes.values()
                    if n["kind"] == "caller_number" and not n["aggregate"]})
    rows = cur.execute(
        f"""
        WITH calls AS (
            SELECT CAST(c.sip_account AS VARCHAR) AS line, CAST(c.source_ip AS VARCHAR) AS ip,
                   CAST(c.from_number AS VARCHAR) AS shown
            FROM case_voip_cdr c
            WHERE CAST(c.sip_account AS VARCHAR) IN (SELECT unnest(?)) AND {cond}
        ), by_ip AS (
            SELECT line, 'source_ip' AS kind, ip AS value, count(*) AS n FROM calls
            WHERE ip IS NOT NULL GROUP BY ALL
        ), shown AS (
            -- only numbers that may be a drawn node are normalised: a line shows a million
            -- numbers, the graph draws a few hundred
            SELECT line, shown, count(*) AS n FROM calls
            WHERE shown IS NOT NULL
              AND right(regexp_replace(shown, '[^0-9]', '', 'g'), {TAIL}) IN (SELECT unnest(?))
            GROUP BY ALL
        ), by_number AS (
            SELECT line, 'caller_number' AS kind, cand AS value, sum(n) AS n FROM (
                SELECT s.line, s.n, unnest({cands.replace('c.from_number', 's.shown')}) AS cand
                FROM shown s
            ) WHERE cand IS NOT NULL GROUP BY ALL
        )
        SELECT * FROM by_ip UNION ALL SELECT * FROM by_number ORDER BY ALL LIMIT 50000
        """,
        [lines, *params, tails],
    ).fetchall()
    for line, kind, value, n in rows:
        target = node_id(kind, value)
        if target in b.nodes:
            b.edge(node_id("sip_account", line), target, "called_from" if kind == "source_ip"
                   else "presented", int(n))


def _open_aggregate(cur: duckdb.DuckDBPyConnection, b: _Builder, network_id: str,
                    ex: Expansion, since: datetime | None, until: datetime | None) -> bool:
    """A page of an aggregate's members drawn as nodes; the aggregate keeps the rest."""
    agg_id = f"aggregate:{ex.center_id}|{ex.kind}"
    agg = b.nodes.get(agg_id)
    if agg is None:
        return False
    rows = cur.execute(
        """
        SELECT kind, value, score, center_id FROM _graph_members
        WHERE center_id = ? AND kind = ? ORDER BY rn
        """,
        [ex.center_id, ex.kind],
    ).fetchall()
    # the page is ranks [offset, offset + PAGE_SIZE) of the group, so a request holding every
    # page opened so far draws the same nodes whatever its order; members drawn already stay
    page = rows[ex.offset:ex.offset + PAGE_SIZE]
    parent = node_id("center", ex.center_id) if ex.center_id else node_id("network", network_id)
    for kind, value, score, center_id in page:
        n = b.entity(kind, value, score=score, center_id=center_id, network_id=network_id)
        b.edge(parent, n, "member")
    drawn_now = {n["value"] for n in b.nodes.values()
                 if n["kind"] == ex.kind and not n["aggregate"] and n["center_id"] == ex.center_id}
    left = sum(1 for r in rows if r[1] not in drawn_now)
    # the next page starts at the first rank not drawn
    next_offset = next((i for i, r in enumerate(rows) if r[1] not in drawn_now), len(rows))
    if left > 0:
        b.aggregate(ex.center_id, ex.kind, left, next_offset, more=True)
    else:
        b.remove(agg_id)
    return left > 0


def _phone_match_sql(table: str, column: str, country: str) -> tuple[str, str]:
    """Two conditions: ``column`` of ``table`` ends like the number (bound first as ``tail``),
    then stands for it (bound second). The plain suffix test runs on every row, with no regular
    expression over 20 million rows; callers run the second only on the rows the first kept
    (behind ``OFFSET 0``, which DuckDB does not reorder). A number logged with separators
    inside its last digits is not found this way."""
    cands = number_candidates_sql(column, table, country)
    return (f"right(rtrim(CAST({column} AS VARCHAR)), {TAIL}) = ?",
            f"list_contains({cands}, ?)")


#: The flagged entities, one row per (kind, value), for naming the neighbours found.
_ENTITY_ONCE = """
    SELECT kind, value, score, center_id, network_id FROM entities
    QUALIFY row_number() OVER (PARTITION BY kind, value
                               ORDER BY TRY_CAST(score AS DOUBLE) DESC NULLS LAST) = 1
"""


def _open_entity(cur: duckdb.DuckDBPyConnection, b: _Builder, data: CaseData, ex: Expansion,
                 since: datetime | None, until: datetime | None) -> bool:
    """The neighbours the case's records tie to one entity, strongest first, one page."""
    queries = _neighbour_queries(data, ex.kind, ex.value, since, until)
    if not queries:
        return False
    union = " UNION ALL ".join(sql for sql, _ in queries)
    params: list[Any] = [p for _, ps in queries for p in ps]
    rows = cur.execute(
        f"""
        WITH n AS ({union}),
        g AS (SELECT kind, raw, relation, sum(weight) AS weight, any_value(cands) AS cands
              FROM n WHERE raw IS NOT NULL AND raw <> '' GROUP BY kind, raw, relation),
        u AS (SELECT kind, raw, relation, weight, cands[1] AS cand, 1 AS pos FROM g
              UNION ALL
              SELECT kind, raw, relation, weight, cands[2], 2 FROM g WHERE len(cands) > 1),
        ent AS ({_ENTITY_ONCE}),
        -- a logged number may read two ways; the reading that names a flagged entity wins
        m AS (SELECT u.kind, u.cand AS value, u.relation, u.weight, e.kind AS flagged_kind,
                     e.score, e.center_id, e.network_id
              FROM u LEFT JOIN ent e ON e.value = u.cand
                   AND (e.kind = u.kind OR (u.kind = 'account' AND e.kind = 'mule_account'))
              WHERE u.cand IS NOT NULL AND u.cand <> ''
              QUALIFY row_number() OVER (PARTITION BY u.kind, u.raw, u.relation
                                         ORDER BY e.kind IS NULL, u.pos) = 1),
        f AS (SELECT coalesce(flagged_kind, CASE WHEN kind = 'victim_phone' THEN 'number'
                                                  ELSE kind END) AS kind,
                     value, relation, sum(weight) AS weight,
                     coalesce(any_value(score), '') AS score,
                     coalesce(any_value(center_id), '') AS center_id,
                     coalesce(any_value(network_id), '') AS network_id
              FROM m GROUP BY ALL)
        SELECT kind, value, relation, weight, score, center_id, network_id,
               count(*) OVER () AS total
        FROM f ORDER BY weight DESC, kind, value, relation
        LIMIT ? OFFSET ?
        """,
        [*params, PAGE_SIZE, ex.offset],
    ).fetchall()
    if not rows and node_id(ex.kind, ex.value) not in b.nodes:
        return False  # nothing ties to it: an entity with no record is not drawn alone
    centre = b.entity(ex.kind, ex.value)
    more = f"more:{ex.kind}:{ex.value}"
    b.remove(more)
    total = int(rows[0][-1]) if rows else 0
    for kind, value, relation, weight, score, center_id, network_id, _ in rows:
        n = b.entity(kind, value, score=score, center_id=center_id, network_id=network_id)
        source, target = (n, centre) if relation.startswith("<") else (centre, n)
        b.edge(source, target, relation.lstrip("<"), int(weight))
    left = total - ex.offset - len(rows)
    if left > 0:
        b.nodes[more] = {
            "id": more, "kind": "more", "value": "", "score": "", "center_id": "",
            "network_id": "", "label": f"{left:,} more", "href": "",
            "expand": f"page:{ex.offset + len(rows)}|{ex.kind}|{ex.value}", "aggregate": True,
            "count": left,
        }  # fmt: skip
        b.edge(centre, more, "more", left)
    return left > 0


def _neighbour_queries(data: CaseData, kind: str, value: str, since: datetime | None,
                       until: datetime | None) -> list[tuple[str, list[Any]]]:
    """SQL selects of ``(kind, raw, cands, relation, weight)``: the neighbour's kind, its
    value as logged, the values it may stand for, the tie, and how many records make it. A
    relation written ``<rel`` points from the neighbour to the entity."""
    have = set(data.case_tables)
    out: list[tuple[str, list[Any]]] = []
    tail = "".join(ch for ch in value if ch.isdigit())[-TAIL:]

    def ties(table: str, time_col: str, where: str | tuple[str, str], where_params: list[Any],
             selects: list[tuple[str, str, str, bool]]) -> None:
        cond, params = window_sql(time_col, since, until)
        country = table_country(data, table)
        pre, post = (where, "TRUE") if isinstance(where, str) else where
        post_params = where_params[1:] if isinstance(where, tuple) else []
        pre_params = where_params[:1]
        for n_kind, column, relation, is_phone in selects:
            raw = f"CAST({column} AS VARCHAR)"
            cands = number_candidates_sql(column, table, country) if is_phone else f"[{raw}]"
            out.append((
                f"SELECT '{n_kind}' AS kind, {raw} AS raw, {cands} AS cands, "
                f"'{relation}' AS relation, count(*) AS weight FROM ("
                f"SELECT * FROM case_{table} WHERE {pre} AND {cond} OFFSET 0) "
                f"WHERE {post} GROUP BY ALL",
                [*pre_params, *params, *post_params],
            ))

    def number(table: str, column: str) -> tuple[str, str]:
        return _phone_match_sql(table, column, table_country(data, table))

    if kind == "sip_account" and "voip_cdr" in have:
        ties("voip_cdr", "start_time", "CAST(sip_account AS VARCHAR) = ?", [value], [
            ("source_ip", "source_ip", "called_from", False),
            ("caller_number", "from_number", "presented", True),
            ("victim_phone", "to_number", "called", True),
        ])
    elif kind == "source_ip" and "voip_cdr" in have:
        ties("voip_cdr", "start_time", "CAST(source_ip AS VARCHAR) = ?", [value],
             [("sip_account", "sip_account", "<called_from", False)])
    elif kind == "caller_number":
        if "voip_cdr" in have:
            ties("voip_cdr", "start_time", number("voip_cdr", "from_number"), [tail, value],
                 [("sip_account", "sip_account", "<presented", False)])
        if "carrier_cdr" in have:
            ties("carrier_cdr", "start_time", number("carrier_cdr", "caller_number"),
                 [tail, value], [("victim_phone", "called_number", "called", True)])
    elif kind in ("victim_phone", "victim_paid", "number"):
        if "voip_cdr" in have:
            ties("voip_cdr", "start_time", number("voip_cdr", "to_number"), [tail, value],
                 [("sip_account", "sip_account", "<called", False)])
        if "carrier_cdr" in have:
            ties("carrier_cdr", "start_time", number("carrier_cdr", "called_number"),
                 [tail, value], [("caller_number", "caller_number", "<called", True)])
        if "accounts" in have and "transfers" in have:
            cond, params = window_sql("t.time", since, until)
            pre, post = number("accounts", "holder_phone")
            out.append((
                "SELECT 'account' AS kind, CAST(t.payee_account AS VARCHAR) AS raw, "
                "[CAST(t.payee_account AS VARCHAR)] AS cands, 'paid' AS relation, "
                "count(*) AS weight FROM case_transfers t "
                "WHERE CAST(t.payer_account AS VARCHAR) IN (SELECT CAST(account_id AS VARCHAR) "
                f"FROM (SELECT * FROM case_accounts WHERE {pre} OFFSET 0) WHERE {post}) "
                f"AND {cond} GROUP BY ALL",
                [tail, value, *params],
            ))
    elif kind in ("mule_account", "account") and "transfers" in have:
        for mine, theirs, relation in (("payer_account", "payee_account", "paid"),
                                       ("payee_account", "payer_account", "<paid")):
            ties("transfers", "time", f"CAST({mine} AS VARCHAR) = ?", [value],
                 [("account", theirs, relation, False)])
    return out


def _layer_key(node: dict[str, Any]) -> tuple[int, str, bool, float, str, str]:
    """Order within the layout: layer, then center, drawn entities before aggregates,
    highest score first, then kind and value."""
    try:
        score = -float(node["score"])
    except (TypeError, ValueError):
        score = 0.0
    return (LAYER.get(node["kind"], len(LAYER)), node["center_id"], bool(node["aggregate"]),
            score, node["kind"], node["value"])


def layout(nodes: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Deterministic layered positions: one band per layer, left to right. A layer of more
    than :data:`MAX_ROWS` nodes wraps into several columns, so a network of hundreds of
    numbers draws as blocks the eye can read rather than one line the screen cannot hold."""
    columns: dict[int, list[dict[str, Any]]] = {}
    for n in sorted(nodes, key=_layer_key):
        columns.setdefault(LAYER.get(n["kind"], len(LAYER)), []).append(n)
    out: dict[str, dict[str, float]] = {}
    x = 0.0
    for layer in sorted(columns):
        members = columns[layer]
        rows = min(len(members), MAX_ROWS)
        top = -(rows - 1) * ROW_GAP / 2
        for i, n in enumerate(members):
            column, row = divmod(i, MAX_ROWS)
            out[n["id"]] = {"x": x + column * COLUMN_GAP, "y": top + row * ROW_GAP}
        x += ((len(members) - 1) // MAX_ROWS) * COLUMN_GAP + LAYER_GAP
    return out
