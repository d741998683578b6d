"""The selections and sums behind the report's sections.

The bulk work is done once by DuckDB over the Arrow tables read by :mod:`scamtrace.report.load`:
the top entities per network and kind, the evidence of the entities shown (evidence of entities
not shown is never turned into Python objects) and the money moved per account. The rest are
small selections over what is shown: the order of the networks, where the centers are, the
layers and chains of mule accounts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import duckdb

from scamtrace.report.format import Money, add_money, money_size, parse_time, plural, to_int
from scamtrace.report.labels import KIND_ORDER
from scamtrace.report.load import Findings

MAX_CHAIN_NODES = 150
"""Accounts drawn in the money-flow tree of one network."""
MAX_CHAIN_DEPTH = 12
"""Moves followed from a first-layer account in the money-flow tree."""

Row = dict[str, str]
"""One row of a findings table: column to text."""


@dataclass
class TransferGroup:
    """Transfers grouped under one key: how many, how much, when, which channels."""

    n: int = 0
    parties: int = 0
    money: Money = field(default_factory=dict)
    first: str = ""
    last: str = ""
    channels: str = ""


@dataclass
class ShownEntity:
    """A flagged entity shown in the report, with the first of its evidence records."""

    kind: str
    value: str
    score: str
    center_id: str
    reason: str
    evidence: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(time, source, record_id, detail), earliest first."""
    evidence_total: int = 0


@dataclass
class NetworkMoney:
    """One network's flagged transfers, grouped for the mule-chain section."""

    totals: dict[str, TransferGroup] = field(default_factory=dict)  # by transfer kind
    paid_in: dict[str, TransferGroup] = field(default_factory=dict)  # victim payments by payee
    moves: dict[tuple[str, str], TransferGroup] = field(default_factory=dict)  # (payer, payee)
    cash_out: dict[str, TransferGroup] = field(default_factory=dict)  # by payer

    @property
    def empty(self) -> bool:
        return not self.totals


@dataclass
class Case:
    """What the report shows of one findings folder."""

    name: str
    """The findings folder's name as the reader knows it."""
    summary: dict[str, Any]
    notes: list[str]
    """What could not be read or added up, one sentence each."""
    present: dict[str, bool]
    rejected_listed: bool
    networks: list[Row]
    centers: list[Row]
    entity_counts: dict[tuple[str, str], int]
    """Flagged entities per (network, kind)."""
    entities: dict[tuple[str, str], list[ShownEntity]]
    """Entities shown per (network, kind), highest score first."""
    money: dict[str, NetworkMoney]
    scripts: list[Row]
    max_entities: int
    max_evidence: int
    network_ids: list[str] = field(init=False)
    """Sections in order: ranked networks, networks named only elsewhere, then ""."""
    network_anchor: dict[str, str] = field(init=False)
    center_anchor: dict[str, str] = field(init=False)
    centers_by_network: dict[str, list[Row]] = field(init=False)
    network_rows: dict[str, Row] = field(init=False)
    axis: tuple[dt.datetime, dt.datetime] | None = field(init=False)
    """The time span every network's timeline is drawn on."""

    def __post_init__(self) -> None:
        self.network_ids = network_order(
            self.networks, self.entity_counts, self.centers, self.money
        )
        self.network_anchor = {nid: f"net-{i + 1}" for i, nid in enumerate(self.network_ids)}
        self.center_anchor = {
            str(c["center_id"]): f"center-{i + 1}" for i, c in enumerate(self.centers)
        }
        self.centers_by_network = defaultdict(list)
        for c in self.centers:
            self.centers_by_network[str(c["network_id"])].append(c)
        self.network_rows = {str(r["network_id"]): r for r in self.networks}
        self.axis = time_axis(self.centers)


def select_case(findings: Findings, *, name: str, max_entities: int, max_evidence: int) -> Case:
    """Group the findings for the report: counts, the entities shown, the money per network."""
    notes = findings.notes
    con = duckdb.connect(":memory:")
    try:
        with contextlib.suppress(duckdb.Error):
            con.execute("SET threads TO 4")
        for table_name, read in findings.tables().items():
            con.register(f"{table_name}_in", read.table)
        counts = {
            (str(network_id), str(kind)): int(n)
            for network_id, kind, n in con.execute(
                "SELECT network_id, kind, count(*) AS n FROM entities_in GROUP BY ALL"
            ).fetchall()
        }
        entities = _top_entities(con, max_entities, max_evidence)
        money = _group_money(con, notes)
    finally:
        con.close()
    return Case(
        name=name,
        summary=findings.summary.summary,
        notes=notes,
        present=findings.present,
        rejected_listed=findings.rejected_listed,
        networks=findings.networks.table.to_pylist(),
        centers=findings.centers.table.to_pylist(),
        entity_counts=counts,
        entities=entities,
        money=money,
        scripts=findings.scripts.table.to_pylist(),
        max_entities=max_entities,
        max_evidence=max_evidence,
    )


def _top_entities(
    con: Any, max_entities: int, max_evidence: int
) -> dict[tuple[str, str], list[ShownEntity]]:
    """The ``max_entities`` highest-scoring entities of each (network, kind), with their first
    ``max_evidence`` evidence records; evidence of entities not shown is never materialised."""
    con.execute(
        """
        CREATE TEMP TABLE shown AS
        SELECT kind, value, score, network_id, center_id, reason,
               row_number() OVER (PARTITION BY network_id, kind
                                  ORDER BY TRY_CAST(score AS DOUBLE) DESC NULLS LAST, value) AS rn
        FROM entities_in
        QUALIFY rn <= ?
        """,
        [max_entities],
    )
    out: dict[tuple[str, str], list[ShownEntity]] = defaultdict(list)
    by_key: dict[tuple[str, str], list[ShownEntity]] = defaultdict(list)
    rows = con.execute(
        "SELECT network_id, kind, value, score, center_id, reason FROM shown "
        "ORDER BY network_id, kind, rn"
    ).fetchall()
    for network_id, kind, value, score, center_id, reason in rows:
        ent = ShownEntity(kind, value, score, center_id, reason)
        out[(network_id, kind)].append(ent)
        by_key[(kind, value)].append(ent)
    if not rows or max_evidence <= 0:
        if rows:
            for kind, value, n in con.execute(
                "SELECT e.kind, e.value, count(*) FROM evidence_in e "
                "SEMI JOIN (SELECT DISTINCT kind, value FROM shown) s "
                "ON e.kind = s.kind AND e.value = s.value GROUP BY ALL"
            ).fetchall():
                for ent in by_key.get((kind, value), ()):
                    ent.evidence_total = int(n)
        return dict(out)
    cur = con.execute(
        """
        WITH s AS (SELECT DISTINCT kind, value FROM shown),
        ev AS (SELECT e.* FROM evidence_in e SEMI JOIN s ON e.kind = s.kind AND e.value = s.value)
        SELECT kind, value, time, source, record_id, detail,
               count(*) OVER (PARTITION BY kind, value) AS n
        FROM ev
        QUALIFY row_number() OVER (PARTITION BY kind, value ORDER BY time, record_id, detail) <= ?
        ORDER BY kind, value, time, record_id, detail
        """,
        [max_evidence],
    )
    while batch := cur.fetchmany(100_000):
        for kind, value, time, source, record_id, detail, n in batch:
            for ent in by_key.get((kind, value), ()):
                ent.evidence.append((time, source, record_id, detail))
                ent.evidence_total = int(n)
    return dict(out)


def _group_money(con: Any, notes: list[str]) -> dict[str, NetworkMoney]:
    """Group the flagged transfers of each network for the mule-chain tables."""
    con.execute(
        """
        CREATE TEMP TABLE tx AS
        SELECT network_id, kind, payer_account AS payer, payee_account AS payee,
               TRY_CAST(trim(replace(amount, ',', '')) AS DECIMAL(38, 2)) AS amt,
               trim(currency) AS currency, trim(channel) AS channel,
               nullif(trim(time), '') AS time, amount AS raw_amount
        FROM transfers_in
        """
    )
    bad = con.execute(
        "SELECT count(*) FROM tx WHERE amt IS NULL AND trim(raw_amount) <> ''"
    ).fetchone()[0]
    if bad:
        notes.append(
            f"{plural(int(bad), 'transfer')} in transfers.csv had an amount that is not a "
            "number; they are counted but their amounts are not added up."
        )
    money: dict[str, NetworkMoney] = defaultdict(NetworkMoney)

    def grouped(where: str, keys: str, parties: str) -> dict[tuple[Any, ...], TransferGroup]:
        groups: dict[tuple[Any, ...], TransferGroup] = {}
        for r in con.execute(
            f"""SELECT {keys}, count(*), count(DISTINCT nullif({parties}, '')), min(time),
                       max(time), string_agg(DISTINCT nullif(channel, ''), ', ' ORDER BY
                                             nullif(channel, ''))
                FROM tx WHERE {where} GROUP BY ALL"""
        ).fetchall():
            *key, n, n_parties, first, last, channels = r
            groups[tuple(key)] = TransferGroup(
                int(n), int(n_parties), {}, first or "", last or "", channels or ""
            )
        for r in con.execute(
            f"SELECT {keys}, currency, sum(amt) FROM tx WHERE {where} AND amt IS NOT NULL "
            "GROUP BY ALL"
        ).fetchall():
            *key, currency, total = r
            group = groups.get(tuple(key))
            if group is not None:
                add_money(group.money, {currency or "": total or Decimal(0)})
        return groups

    for (net, kind), group in grouped("true", "network_id, kind", "payer").items():
        money[net].totals[kind] = group
    for (net, payee), group in grouped(
        "kind = 'victim_payment'", "network_id, payee", "payer"
    ).items():
        money[net].paid_in[payee] = group
    for (net, payer, payee), group in grouped(
        "kind NOT IN ('victim_payment', 'cash_out')", "network_id, payer, payee", "payer"
    ).items():
        money[net].moves[(payer, payee)] = group
    for (net, payer), group in grouped("kind = 'cash_out'", "network_id, payer", "payee").items():
        money[net].cash_out[payer] = group
    return dict(money)


# --------------------------------------------------------------------------------------------
# Selections over what is shown


def natural(s: str) -> tuple[Any, ...]:
    """Sort key putting N2 before N10."""
    head = s.rstrip("0123456789")
    tail = s[len(head) :]
    return (head, int(tail) if tail else -1, s)


def ordered(items: Mapping[str, object], order: Sequence[str] = KIND_ORDER) -> list[str]:
    """The keys of ``items``: those named in ``order`` first, in that order, then the rest."""
    first = [k for k in order if k in items]
    return first + sorted(k for k in items if k not in order)


def network_order(
    networks: list[Row],
    entity_counts: Mapping[tuple[str, str], int],
    centers: list[Row],
    money: Mapping[str, NetworkMoney],
) -> list[str]:
    """networks.csv order (ranked, biggest first), then networks only seen in other files,
    then "" (entities, centers or transfers not linked to any network)."""
    order: list[str] = []
    seen: set[str] = set()
    for r in networks:
        nid = str(r["network_id"])
        if nid not in seen:
            seen.add(nid)
            order.append(nid)
    extra: set[str] = {net for net, _ in entity_counts}
    extra |= {str(c["network_id"]) for c in centers}
    extra |= set(money)
    order += sorted(extra - seen - {""}, key=natural)
    if "" in extra and "" not in seen:
        order.append("")
    return order


def time_axis(centers: list[Row]) -> tuple[dt.datetime, dt.datetime] | None:
    """From the first to the last time any center was seen (at least an hour); None if no
    center has a readable time."""
    times = [
        t
        for c in centers
        for t in (parse_time(c["first_seen"]), parse_time(c["last_seen"]))
        if t is not None
    ]
    if not times:
        return None
    lo, hi = min(times), max(times)
    if hi - lo < dt.timedelta(hours=1):
        hi = lo + dt.timedelta(hours=1)
    return lo, hi


def flagged_counts(case: Case) -> dict[str, int]:
    """Flagged entities per kind: as the summary records them, else counted in entities.csv."""
    flagged = case.summary.get("flagged")
    counts: dict[str, int] = defaultdict(int)
    if isinstance(flagged, dict):
        for k, v in flagged.items():
            counts[str(k)] = to_int(v) or 0
    else:
        for (_, kind), n in case.entity_counts.items():
            counts[kind] += n
    return counts


@dataclass(frozen=True)
class Place:
    """The centers of one network in one country and region."""

    country: str
    region: str
    centers: int
    calls: int
    victims: int
    center_ids: str


def places(centers: list[Row]) -> list[Place]:
    """Centers grouped by country and region, the most centers first."""
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for c in centers:
        groups[(str(c["country"]).strip(), str(c["region"]).strip())].append(c)
    return [
        Place(
            country,
            region,
            len(cs),
            sum(to_int(c["calls"]) or 0 for c in cs),
            sum(to_int(c["victims"]) or 0 for c in cs),
            ", ".join(str(c["center_id"]) for c in cs),
        )
        for (country, region), cs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]


def place_summary(centers: list[Row]) -> str:
    """``ES Madrid (2), PT Lisboa``: where a network's centers are."""
    counts: dict[str, int] = defaultdict(int)
    for c in centers:
        place = " ".join(p for p in (str(c["country"]).strip(), str(c["region"]).strip()) if p)
        counts[place or "unknown"] += 1
    return ", ".join(
        f"{p} ({n})" if n > 1 else p for p, n in sorted(counts.items(), key=lambda kv: -kv[1])
    )


def active_span(centers: list[Row]) -> tuple[str, str]:
    """The first and last time (as written) any of ``centers`` was seen."""
    firsts = [str(c["first_seen"]) for c in centers if str(c["first_seen"]).strip()]
    lasts = [str(c["last_seen"]) for c in centers if str(c["last_seen"]).strip()]
    return (min(firsts) if firsts else "", max(lasts) if lasts else "")


def layers(m: NetworkMoney) -> dict[str, int]:
    """Layer of each account: 1 for accounts victims paid, k+1 for accounts layer k paid."""
    layer: dict[str, int] = {acc: 1 for acc in m.paid_in if acc}
    out: dict[str, list[str]] = defaultdict(list)
    for payer, payee in m.moves:
        if payer and payee:
            out[payer].append(payee)
    frontier = list(layer)
    while frontier:
        nxt: list[str] = []
        for acc in frontier:
            for payee in out.get(acc, ()):
                if payee not in layer:
                    layer[payee] = layer[acc] + 1
                    nxt.append(payee)
        frontier = nxt
    return layer


@dataclass(frozen=True)
class LayerTotals:
    """The accounts of one layer (0: not traced to a victim payment) and the money through
    them."""

    layer: int
    accounts: int
    money_in: Money
    money_out: Money
    cashed_out: Money


def layer_totals(m: NetworkMoney, layer: Mapping[str, int]) -> list[LayerTotals]:
    """One row per layer, in layer order, untraced accounts last."""
    by_layer: dict[int, list[str]] = defaultdict(list)
    accounts = set(m.paid_in) | {a for k in m.moves for a in k if a} | set(m.cash_out)
    for acc in accounts:
        by_layer[layer.get(acc, 0)].append(acc)
    received: dict[str, Money] = defaultdict(dict)
    sent: dict[str, Money] = defaultdict(dict)
    for acc, a in m.paid_in.items():
        add_money(received[acc], a.money)
    for (payer, payee), a in m.moves.items():
        add_money(received[payee], a.money)
        add_money(sent[payer], a.money)
    for acc, a in m.cash_out.items():
        add_money(sent[acc], a.money)
    rows: list[LayerTotals] = []
    for lv in sorted(by_layer, key=lambda v: (v == 0, v)):
        accs = by_layer[lv]
        money_in: Money = {}
        money_out: Money = {}
        cashed: Money = {}
        for acc in accs:
            add_money(money_in, received.get(acc, {}))
            add_money(money_out, sent.get(acc, {}))
            if acc in m.cash_out:
                add_money(cashed, m.cash_out[acc].money)
        rows.append(LayerTotals(lv, len(accs), money_in, money_out, cashed))
    return rows


@dataclass
class ChainNode:
    """An account in the money-flow tree and what was done with the money there."""

    leaf: ClassVar[bool] = False
    account: str
    layer: int
    move: TransferGroup | None
    """The transfers that brought the money here from the parent; None for a root."""
    paid_in: TransferGroup | None
    cash_out: TransferGroup | None
    children: list[ChainNode | ChainLeaf] = field(default_factory=list)


@dataclass(frozen=True)
class ChainLeaf:
    """A move to an account not drawn again: drawn above, or the tree is full."""

    leaf: ClassVar[bool] = True
    account: str
    move: TransferGroup
    shown_above: bool


@dataclass(frozen=True)
class Chains:
    """The money-flow tree of one network and how many chains did not fit."""

    roots: list[ChainNode]
    left: int


def chains(m: NetworkMoney, layer: Mapping[str, int]) -> Chains | None:
    """The chains as a tree from each first-layer account (biggest first), then from accounts
    not traced to a victim payment; each account drawn once, at most ``MAX_CHAIN_NODES``.
    None when there is no account to start from."""
    out_edges: dict[str, list[tuple[str, TransferGroup]]] = defaultdict(list)
    for (payer, payee), a in m.moves.items():
        out_edges[payer].append((payee, a))
    for edges in out_edges.values():
        edges.sort(key=lambda e: (-money_size(e[1].money), e[0]))
    starts = sorted(m.paid_in, key=lambda acc: (-money_size(m.paid_in[acc].money), acc))
    starts += sorted(
        {p for p, _ in m.moves if p and layer.get(p, 0) == 0}
        | {p for p in m.cash_out if p and p not in layer},
        key=natural,
    )
    if not starts:
        return None
    drawn: set[str] = set()
    budget = MAX_CHAIN_NODES

    def node(acc: str, depth: int, move: TransferGroup | None) -> ChainNode:
        nonlocal budget
        budget -= 1
        drawn.add(acc)
        here = ChainNode(acc, layer.get(acc, 0), move, m.paid_in.get(acc), m.cash_out.get(acc))
        kids = out_edges.get(acc, [])
        if kids and depth < MAX_CHAIN_DEPTH:
            for payee, a in kids:
                if payee in drawn or budget <= 0:
                    here.children.append(ChainLeaf(payee, a, payee in drawn))
                else:
                    here.children.append(node(payee, depth + 1, a))
        return here

    roots: list[ChainNode] = []
    for acc in starts:
        if acc in drawn:
            continue
        if budget <= 0:
            break
        roots.append(node(acc, 0, None))
    return Chains(roots, len([r for r in starts if r not in drawn]))
