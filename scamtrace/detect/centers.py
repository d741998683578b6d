"""Call centers: the dialling lines and addresses that act as one operation, and where it is.

Flagged SIP accounts and the source IPs their calls came from form a bipartite graph; the
accounts of one center share its internet connection (or its succession of connections, when
the center rotates addresses), so each connected component is one center. Presented numbers
and victims belong to the center whose lines used or called them. A center is located by the
offline IP database: country and network of its addresses.
"""

from __future__ import annotations

from collections import Counter

import igraph as ig

from scamtrace.core.ips import ip_facts
from scamtrace.core.sql import insert_rows, run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case

LINE_CENTER = TableSpec.of("line_center", key_kind="VARCHAR", key="VARCHAR", center="INTEGER")
CENTER_PLACE = TableSpec.of("center_place", center="INTEGER", country="VARCHAR", asn="VARCHAR",
                            addresses="VARCHAR")  # fmt: skip


def find_centers(case: Case, _settings: DetectSettings) -> int:
    """Create ``line_center(key_kind, key, center)`` for SIP accounts and IPs, and
    ``center_place``; returns the number of centers."""
    db = case.db
    edges = run(db, """
        SELECT sip_account, source_ip, count(*) FROM voip_scam GROUP BY ALL
    """) if case.has("voip_cdr") else []  # fmt: skip
    run(db, "CREATE OR REPLACE TABLE line_center (key_kind VARCHAR, key VARCHAR, center INTEGER)")
    run(db, "CREATE OR REPLACE TABLE center_place (center INTEGER, country VARCHAR, "
            "asn VARCHAR, addresses VARCHAR)")  # fmt: skip
    if not edges:
        return 0
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


DETECTOR = Detector(
    name="centers", step="centers", progress=0.75, needs=("voip_cdr", "voip_scam"),
    makes=(LINE_CENTER, CENTER_PLACE), run=find_centers,
)  # fmt: skip
