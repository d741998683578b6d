"""Call centers: the dialling lines and addresses that act as one operation, and where it is.

Flagged SIP accounts and the source IPs their calls came from form a bipartite graph; the
accounts of one center share its internet connection (or its succession of connections, when
the center rotates addresses), so each connected component is one center. Presented numbers
and victims belong to the center whose lines used or called them. A center is located by the
offline IP database: country and network of its addresses.

Centers that call through SIM boxes (or from local SIMs inside the victims' country) show no
line or address at the provider. Their flagged SIM lines (sim_boxes.py) are grouped the way a
gateway uses them: SIMs of one prepaid pack used in the same weeks are one center (a gateway
may go through several packs, each then a center of its own until evidence ties them: see
networks.py), located in the country whose SIMs it used.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import igraph as ig

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.ips import ip_facts
from scamtrace.core.sql import insert_rows, run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case

LINE_CENTER = TableSpec.of("line_center", key_kind="VARCHAR", key="VARCHAR", center="INTEGER")
CENTER_PLACE = TableSpec.of("center_place", center="INTEGER", country="VARCHAR", asn="VARCHAR",
                            addresses="VARCHAR")  # fmt: skip


def find_centers(case: Case, settings: DetectSettings) -> int:
    """Create ``line_center(key_kind, key, center)`` for SIP accounts and IPs (and SIM-box
    lines, key kind ``sim_line``, where VoIP centers are known), and ``center_place``; returns
    the number of centers."""
    db = case.db
    edges = run(db, """
        SELECT sip_account, source_ip, count(*) FROM voip_scam GROUP BY ALL
    """) if case.has("voip_cdr") else []  # fmt: skip
    run(db, "CREATE OR REPLACE TABLE line_center (key_kind VARCHAR, key VARCHAR, center INTEGER)")
    run(db, "CREATE OR REPLACE TABLE center_place (center INTEGER, country VARCHAR, "
            "asn VARCHAR, addresses VARCHAR)")  # fmt: skip
    if not edges:
        return 0
    voip = _voip_centers(case, edges)
    return voip + _sim_box_centers(case, settings, first=voip + 1)


def _voip_centers(case: Case, edges: list[tuple[Any, ...]]) -> int:
    db = case.db
    accounts = sorted({a for a, _, _ in edges})
    ips = sorted({i for _, i, _ in edges if i})
    index = {("sip_account", a): n for n, a in enumerate(accounts)}
    index.update({("source_ip", ip): len(accounts) + n for n, ip in enumerate(ips)})
    graph = ig.Graph(n=len(index), edges=[
        (index[("sip_account", a)], index[("source_ip", i)]) for a, i, _ in edges if i
    ])  # fmt: skip
    members = graph.connected_components().membership
    # Number centers by size, biggest first, so labels are stable for a given case.
    sizes = Counter(members)
    ranked = sorted(sizes.items(), key=lambda x: (-x[1], x[0]))
    order = {c: n + 1 for n, (c, _) in enumerate(ranked)}
    rows = [[kind, key, order[members[n]]] for (kind, key), n in index.items()]
    insert_rows(db, "line_center", rows)
    facts = ip_facts(ips)
    places: dict[int, Counter[tuple[str, str]]] = {}
    for kind, key, center in rows:
        if kind == "source_ip":
            f = facts[key]
            places.setdefault(center, Counter())[(f.country, f.network)] += 1
    insert_rows(db, "center_place", [
        [c, cnt.most_common(1)[0][0][0], cnt.most_common(1)[0][0][1], str(sum(cnt.values()))]
        for c, cnt in places.items()
    ])  # fmt: skip
    return len(order)


def _sim_box_centers(case: Case, s: DetectSettings, first: int) -> int:
    """Group flagged SIM-box lines into centers numbered from ``first``; returns how many.

    Only where VoIP centers are known: without them the networks are found from the entity
    graph (networks.py), and a carrier's view alone keeps that shape."""
    db = case.db
    packs = sim_packs(case, s)
    if not packs:
        return 0
    sizes = Counter(packs.values())
    ranked = sorted(sizes.items(), key=lambda x: (-x[1], x[0]))
    order = {c: first + n for n, (c, _) in enumerate(ranked)}
    insert_rows(db, "line_center", [["sim_line", str(line), order[pack]]
                                    for line, pack in packs.items()])  # fmt: skip
    home = case.table_country.get("carrier_cdr", case.country)
    insert_rows(db, "center_place", [[c, home, "SIM box", "0"] for c in order.values()])
    return len(order)


def sim_packs(case: Case, s: DetectSettings) -> dict[int, int]:
    """The flagged SIM-box lines, each with its pack: close numbers of one prepaid batch used in
    the same weeks, one gateway's SIMs (numbered by connected component, in line order)."""
    db = case.db
    lines = [int(r[0]) for r in run(db, f"""
        SELECT line FROM sim_lines WHERE score >= {FLAG_THRESHOLD} ORDER BY line
    """)]  # fmt: skip
    if not lines:
        return {}
    span, window = s.sim_batch_span, int(s.sim_batch_window_days * 86400)
    pairs = run(db, f"""
        -- close numbers of one prepaid pack, used in the same weeks: one gateway's SIMs. Lines
        -- that merely dialled one list are not joined: two gangs buy the same leaked lists.
        WITH s AS (SELECT line, first_t, last_t FROM sim_lines WHERE score >= {FLAG_THRESHOLD})
        SELECT a.line AS a, b.line AS b
        FROM s a JOIN (VALUES (-1), (0), (1)) o(d) ON true
        JOIN s b ON b.line // {span} = a.line // {span} + o.d AND b.line > a.line
         AND b.line - a.line <= {span}
         AND b.first_t <= a.last_t + {window} AND b.last_t >= a.first_t - {window}
    """)  # fmt: skip
    index = {line: n for n, line in enumerate(lines)}
    graph = ig.Graph(n=len(lines), edges=[(index[a], index[b]) for a, b in pairs])
    members = graph.connected_components().membership
    return {line: members[index[line]] for line in lines}


DETECTOR = Detector(
    name="centers", step="centers", progress=0.75,
    needs=("voip_cdr", "voip_scam", "sim_lines"),
    makes=(LINE_CENTER, CENTER_PLACE), run=find_centers,
)  # fmt: skip
