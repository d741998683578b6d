"""Networks: one entity graph of centers, lines, victims and accounts, split into the
operations that run them.

Centers of one network hand victims to each other (the 'policeman' calls from another villa)
and send them to the same mule accounts; centers of different networks share neither, beyond
chance. The center graph is weighted by shared victims and shared mule accounts and split into
communities with Leiden (modularity). Every other entity takes the network of the centers
behind its calls, or of the money that reached it. Without VoIP data there are no centers; the
graph of presented numbers, victims and accounts is split the same way.
"""

from __future__ import annotations

from collections import Counter

import igraph as ig
import leidenalg

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.sql import insert_rows, run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.settings import (
    ENGAGED_S,
    LIST_GAP,
    LIST_WINDOW_S,
    MIN_COMMUNITY,
    RESOLUTION,
    TIMING_SHARE,
    DetectSettings,
)
from scamtrace.detect.spoofing import SCAM_CALLS
from scamtrace.enrich.case import Case

#: Leiden's random seed: the same case gives the same networks, run after run.
SEED = 20160701

CALL_CENTER = SCAM_CALLS.plus("call_center", center="INTEGER", network="INTEGER")
CENTER_NETWORK = TableSpec.of("center_network", center="INTEGER", network="INTEGER")
NUMBER_GROUP = TableSpec.of("number_group", value="BIGINT", center="INTEGER", network="INTEGER")
VICTIM_GROUP = NUMBER_GROUP.plus("victim_group")
MULE_GROUP = TableSpec.of("mule_group", value="VARCHAR", network="INTEGER")
SCRIPT_NETWORK = TableSpec.of("script_network", script_group="BIGINT", network="INTEGER")
HEARD_NETWORK = TableSpec.of("heard_network", temporary=True, value="BIGINT", network="INTEGER")
#: A SIM box's calls are its gateway's: they are not a hidden VoIP line of the center dialling
#: the neighbouring numbers (SIM packs dial lists too), and the hour's busiest network would
#: take over a whole network that calls only through SIM boxes.
NOT_SIM_BOX = (f"coalesce({{c}}.caller, 0) NOT IN "
               f"(SELECT line FROM sim_lines WHERE score >= {FLAG_THRESHOLD})")  # fmt: skip
#: Filled only when there are no centers (networks of numbers, victims and accounts instead).
ENTITY_NETWORK = TableSpec.of("entity_network", kind="VARCHAR", value="VARCHAR",
                              network="INTEGER")  # fmt: skip


def assign_networks(case: Case, _settings: DetectSettings) -> None:
    """Create ``call_center`` (scam calls with their center), ``center_network``,
    ``number_group``, ``victim_group`` and ``mule_group`` (center and network per entity)."""
    db = case.db
    run(db, "CREATE OR REPLACE TABLE entity_network (kind VARCHAR, value VARCHAR, network INTEGER)")
    run(db, """
        CREATE OR REPLACE TABLE call_center AS
        SELECT s.*, lc.center FROM scam_calls s
        LEFT JOIN line_center lc ON lc.key_kind = 'sip_account' AND lc.key = s.sip_account
    """)
    has_centers = case.count("SELECT count(*) FROM line_center") > 0
    if has_centers:
        _infer_unlinked_centers(case)
        _center_communities(case)
    else:
        _entity_communities(case)
    _call_networks(case)
    # Numbers and victims: the center (and network) behind most of their calls.
    run(db, """
        CREATE OR REPLACE TABLE number_group AS
        SELECT caller AS value, mode(center ORDER BY center) AS center,
               mode(network ORDER BY network) AS network
        FROM call_center WHERE caller IS NOT NULL AND NOT unallocated GROUP BY caller
    """)
    run(db, """
        CREATE OR REPLACE TABLE victim_group AS
        SELECT callee AS value,
               CASE WHEN count(DISTINCT center) = 1 THEN min(center) END AS center,
               mode(network ORDER BY network) AS network
        FROM call_center WHERE answered GROUP BY callee
    """)
    if not has_centers:
        run(db, """
            UPDATE number_group SET network = e.network FROM entity_network e
            WHERE e.kind = 'caller_number' AND e.value = CAST(number_group.value AS VARCHAR)
        """)
        run(db, """
            UPDATE victim_group SET network = e.network FROM entity_network e
            WHERE e.kind = 'victim_phone' AND e.value = CAST(victim_group.value AS VARCHAR)
        """)
    # Numbers seen only where no line is known borrow the network of the victims they reached.
    run(db, """
        UPDATE number_group SET network = x.network FROM (
            SELECT c.caller, mode(v.network ORDER BY v.network) AS network FROM scam_calls c
            JOIN victim_group v ON v.value = c.callee WHERE v.network IS NOT NULL
            GROUP BY c.caller) x
        WHERE number_group.network IS NULL AND x.caller = number_group.value
    """)
    _script_networks(case)
    # Money: first-layer mules take the network of the victims who paid them; later layers
    # that of the mules that fed them.
    run(db, """
        CREATE OR REPLACE TABLE mule_group AS
        SELECT f.mule AS value, mode(v.network ORDER BY v.network) AS network
        FROM fraud_transfers f JOIN victim_payments p ON p.line = f.line
        JOIN victim_group v ON v.value = p.phone
        WHERE f.kind = 'victim_payment' GROUP BY f.mule
    """)
    layers = run(db, "SELECT DISTINCT layer FROM mules WHERE layer > 1 ORDER BY layer")
    for (layer,) in layers:
        run(db, f"""
            INSERT INTO mule_group
            SELECT m.account, mode(g.network ORDER BY g.network) FROM mules m
            JOIN transfers t ON t.payee_account = m.account
            JOIN mule_group g ON g.value = t.payer_account
            WHERE m.layer = {layer} AND m.account NOT IN (SELECT value FROM mule_group)
            GROUP BY m.account
        """)  # fmt: skip


def _script_networks(case: Case) -> None:
    """A script is an operation's own: numbers and subscribers heard on calls reading a script
    take the network that placed that script's other calls, where nothing else gave them one."""
    db = case.db
    run(db, """
        CREATE OR REPLACE TABLE script_network AS
        SELECT t.script_group, mode(cc.network ORDER BY cc.network) AS network
        FROM transcript_calls t
        JOIN call_center cc ON cc.source = t.source AND cc.call_id = t.call_id
        WHERE t.script_group >= 0 AND cc.network IS NOT NULL GROUP BY 1
    """)
    for table, column in (("number_group", "caller"), ("victim_group", "callee")):
        run(db, f"""
            CREATE OR REPLACE TEMP TABLE heard_network AS
            SELECT t.{column} AS value, mode(n.network ORDER BY n.network) AS network
            FROM transcript_calls t
            JOIN script_network n USING (script_group) WHERE t.{column} IS NOT NULL GROUP BY 1
        """)  # fmt: skip
        run(db, f"""
            UPDATE {table} SET network = h.network FROM heard_network h
            WHERE {table}.network IS NULL AND h.value = {table}.value
        """)  # fmt: skip
        run(db, f"""
            INSERT INTO {table} SELECT value, NULL, network FROM heard_network
            WHERE value NOT IN (SELECT value FROM {table})
        """)  # fmt: skip


def _call_networks(case: Case) -> None:
    """Each scam call's network: its center's; for a call no center explains, the network
    that placed nearly all (``TIMING_SHARE``) of the explained scam calls in the same hour."""
    db = case.db
    run(db, "ALTER TABLE call_center ADD COLUMN network INTEGER")
    run(db, """
        UPDATE call_center SET network = n.network FROM center_network n
        WHERE n.center = call_center.center
    """)
    run(db, f"""
        UPDATE call_center SET network = x.network FROM (
            WITH hourly AS (
                SELECT t // 3600 AS h, network, count(*) AS n FROM call_center
                WHERE network IS NOT NULL GROUP BY ALL
            )
            SELECT h, arg_max(network, (n, network)) AS network FROM hourly GROUP BY h
            HAVING max(n) >= {TIMING_SHARE} * sum(n)
        ) x WHERE call_center.network IS NULL AND call_center.t // 3600 = x.h
          AND {NOT_SIM_BOX.format(c='call_center')}
    """)  # fmt: skip


def _infer_unlinked_centers(case: Case) -> None:
    """Give carrier-side scam calls that no VoIP record explains (the center used another
    provider) the center that placed them where the records show it: the one dialling the
    neighbouring numbers of the same list within the hour."""
    db = case.db
    run(db, f"""
        UPDATE call_center SET center = x.center FROM (
            SELECT u.line,
                   arg_min(a.center, (abs(a.callee - u.callee) * 3600 + abs(a.t - u.t), a.center))
                   AS center
            FROM call_center u
            JOIN (VALUES (-1), (0), (1)) o(d) ON true
            JOIN call_center a ON a.center IS NOT NULL
             AND a.callee // {LIST_GAP} = u.callee // {LIST_GAP} + o.d
             AND abs(a.callee - u.callee) <= {LIST_GAP}
             AND abs(a.t - u.t) <= {LIST_WINDOW_S}
            WHERE u.center IS NULL AND u.source = 'carrier_cdr' AND {NOT_SIM_BOX.format(c='u')}
            GROUP BY u.line
        ) x WHERE call_center.source = 'carrier_cdr' AND call_center.line = x.line
    """)  # fmt: skip
    # A number that only hidden lines presented (rotating or fixed for days) carries the
    # center found for some of its calls to the rest. Numbers that several centers show
    # (the official look-alikes) never do.
    run(db, """
        UPDATE call_center SET center = x.center FROM (
            SELECT caller, min(center) AS center FROM call_center
            WHERE caller IS NOT NULL GROUP BY caller
            HAVING count(DISTINCT center) = 1 AND count(sip_account) = 0
        ) x WHERE call_center.center IS NULL AND call_center.caller = x.caller
    """)


def _center_communities(case: Case) -> None:
    """Centers that share more victims and mule accounts than their sizes explain are one
    network: Leiden communities under the configuration null model, which is blind to the
    case's scale (a month or a year of records weigh the same)."""
    db = case.db
    centers = [r[0] for r in run(db, "SELECT DISTINCT center FROM line_center ORDER BY 1")]
    # Shared victims count when both centers held them on the line (a handoff in the script,
    # not two lists that happened to hold the same number); a shared mule account counts when
    # different victims of the two centers paid it.
    links = run(db, f"""
        WITH vc AS (
            SELECT callee AS phone, center, max(duration_s) AS talk FROM call_center
            WHERE answered AND center IS NOT NULL GROUP BY ALL
        ), engaged AS (SELECT * FROM vc WHERE talk >= {ENGAGED_S}),
        mc AS (
            SELECT DISTINCT f.mule, vc.center, vc.phone FROM fraud_transfers f
            JOIN victim_payments p ON p.line = f.line JOIN vc ON vc.phone = p.phone
            WHERE f.kind = 'victim_payment'
        ), sc AS (
            SELECT DISTINCT t.script_group AS script, cc.center FROM transcript_calls t
            JOIN call_center cc ON cc.source = t.source AND cc.call_id = t.call_id
            WHERE t.script_group >= 0 AND cc.center IS NOT NULL
        ), pairs AS (
            SELECT a.center AS a, b.center AS b, count(*) AS w FROM engaged a JOIN engaged b
              ON a.phone = b.phone AND a.center < b.center GROUP BY ALL
            UNION ALL
            -- centers reading one script are one campaign: a light tie, next to shared victims
            SELECT a.center, b.center, count(*) FROM sc a JOIN sc b
              ON a.script = b.script AND a.center < b.center GROUP BY ALL
            UNION ALL
            SELECT a.center, b.center, count(DISTINCT a.mule) FROM mc a JOIN mc b
              ON a.mule = b.mule AND a.center < b.center AND a.phone <> b.phone GROUP BY ALL
        )
        SELECT a, b, sum(w) FROM pairs GROUP BY a, b
    """)  # fmt: skip
    membership = _leiden(len(centers), [(centers.index(a), centers.index(b), w)
                                        for a, b, w in links])  # fmt: skip
    run(db, "CREATE OR REPLACE TABLE center_network (center INTEGER, network INTEGER)")
    insert_rows(db, "center_network", [[c, membership[n]] for n, c in enumerate(centers)])


def _entity_communities(case: Case) -> None:
    """Without centers: presented numbers, victims and mule accounts that meet."""
    db = case.db
    run(db, "CREATE OR REPLACE TABLE center_network (center INTEGER, network INTEGER)")
    edges = run(db, """
        SELECT 'caller_number', CAST(caller AS VARCHAR), 'victim_phone', CAST(callee AS VARCHAR),
               count(*)
        FROM scam_calls WHERE answered AND caller IS NOT NULL GROUP BY ALL
        UNION ALL
        SELECT 'victim_phone', CAST(p.phone AS VARCHAR), 'mule_account', f.mule, count(*)
        FROM fraud_transfers f JOIN victim_payments p ON p.line = f.line GROUP BY ALL
        UNION ALL
        -- numbers whose calls read one script belong to one campaign
        SELECT 'script', CAST(t.script_group AS VARCHAR), 'caller_number',
               CAST(t.caller AS VARCHAR), count(*)
        FROM transcript_calls t JOIN scam_calls c ON c.source = t.source AND c.call_id = t.call_id
        WHERE t.script_group >= 0 AND t.caller IS NOT NULL GROUP BY ALL
        ORDER BY 1, 2, 3, 4  -- components are numbered in the order their nodes are met
    """)
    nodes: dict[tuple[str, str], int] = {}
    pairs = []
    for ka, a, kb, b, w in edges:
        i = nodes.setdefault((ka, a), len(nodes))
        j = nodes.setdefault((kb, b), len(nodes))
        pairs.append((i, j, w))
    # Without centers nothing tells two operations apart but whether their calls and money
    # ever meet: connected components.
    graph = ig.Graph(n=len(nodes), edges=[(a, b) for a, b, _ in pairs])
    membership = list(graph.connected_components().membership)
    # A spoofed number and the one person who answered it are not a network: without lines
    # or centers to tie them, only communities of some size are named.
    sizes = Counter(membership)
    membership = [m if sizes[m] >= MIN_COMMUNITY else -1 for m in membership]
    insert_rows(db, "entity_network", [[k, v, membership[n]] for (k, v), n in nodes.items()
                    if membership[n] >= 0])  # fmt: skip


def _leiden(n: int, weighted: list[tuple[int, int, int]]) -> list[int]:
    """Leiden communities (configuration model, weighted, fixed seed) of a small graph."""
    if n == 0:
        return []
    graph = ig.Graph(n=n, edges=[(a, b) for a, b, _ in weighted])
    graph.es["weight"] = [float(w) for _, _, w in weighted]
    if not weighted:
        return list(range(n))
    part = leidenalg.find_partition(graph, leidenalg.RBConfigurationVertexPartition,
                                    weights="weight", resolution_parameter=RESOLUTION,
                                    seed=SEED)  # fmt: skip
    return list(part.membership)


DETECTOR = Detector(
    name="networks", step="networks", progress=0.8,
    needs=("transfers", "scam_calls", "line_center", "transcript_calls", "fraud_transfers",
           "victim_payments", "mules", "sim_lines"),
    makes=(CALL_CENTER, CENTER_NETWORK, NUMBER_GROUP, VICTIM_GROUP, MULE_GROUP, SCRIPT_NETWORK,
           HEARD_NETWORK, ENTITY_NETWORK),
    run=assign_networks,
)  # fmt: skip
