"""Networks: one entity graph of centers, lines, victims and accounts, split into the
operations that run them.

Centers of one network hand victims to each other (the 'policeman' calls from another villa)
and send them to the same mule accounts; centers of different networks share neither, beyond
chance. The center graph holds only that evidence (``center_ties``: victims handed on, mule
accounts paid by victims of both; never victims both merely dialled from one leaked list) and
is split into communities with Leiden (modularity); ``networks.csv`` names the ties that
joined each network. Every other entity takes the network of the centers behind its calls, or
of the money that reached it; money no known center's victims paid is an operation of its own
(centers at providers the case lacks). Without VoIP data there are no centers; the graph of
presented numbers, victims and accounts is split the same way.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import igraph as ig
import leidenalg

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.sql import insert_rows, run
from scamtrace.detect.centers import sim_packs
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.settings import (
    ENGAGED_S,
    HANDOFF_MIN_VICTIMS,
    HANDOFF_TALK_S,
    HANDOFF_WINDOW_S,
    LIST_GAP,
    LIST_RUN_MIN,
    LIST_WINDOW_S,
    MIN_COMMUNITY,
    RESOLUTION,
    TIMING_SHARE,
    UNKNOWN_RUN_SHARE,
    DetectSettings,
)
from scamtrace.detect.spoofing import SCAM_CALLS
from scamtrace.enrich.case import Case

#: Without centers, a number (or an unpaid victim) joins the operation that holds at least this
#: share of the victims (numbers) it met: a number two gangs both present, as a police
#: station's number is, joins neither; one stray call does not move a number's operation.
NUMBER_MAJORITY = 2 / 3
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
#: A call placed by a center's own line: a SIP account of the center, or one of its SIM-box
#: lines (centers.py). Only such calls are evidence that ties two centers.
OWN_LINE = ("({c}sip_account IS NOT NULL OR ({c}source = 'carrier_cdr' AND {c}caller IN "
            "(SELECT CAST(key AS BIGINT) FROM line_center WHERE key_kind = 'sim_line')))")
CENTER_TIES = TableSpec.of("center_ties", a="INTEGER", b="INTEGER", kind="VARCHAR",
                           weight="BIGINT", example="VARCHAR")  # fmt: skip
PAYER_NETWORK = TableSpec.of("payer_network", line="BIGINT", phone="BIGINT", time="BIGINT",
                             network="INTEGER")  # fmt: skip
UNKNOWN_RUN = TableSpec.of("unknown_run", temporary=True, line="BIGINT")
HIDDEN_MULE = TableSpec.of("hidden_mule", temporary=True, mule="VARCHAR", network="INTEGER")
NETWORK_JOINS = TableSpec.of("network_joins", network="INTEGER", a="INTEGER", b="INTEGER",
                             kind="VARCHAR", weight="BIGINT", example="VARCHAR")  # fmt: skip
#: Without centers: the operation of each entity the money ties (grp NULL: contested), and the
#: unit a number votes in (a SIM box's pack, else the number itself).
MONEY_GROUP = TableSpec.of("money_group", temporary=True, kind="VARCHAR", value="VARCHAR",
                           grp="INTEGER")  # fmt: skip
NUMBER_UNIT = TableSpec.of("number_unit", temporary=True, caller="BIGINT", unit="VARCHAR")
#: Filled only when there are no centers (networks of numbers, victims and accounts instead).
ENTITY_NETWORK = TableSpec.of("entity_network", kind="VARCHAR", value="VARCHAR",
                              network="INTEGER")  # fmt: skip


def assign_networks(case: Case, settings: DetectSettings) -> None:
    """Create ``call_center`` (scam calls with their center), ``center_network``,
    ``number_group``, ``victim_group`` and ``mule_group`` (center and network per entity)."""
    db = case.db
    run(db, "CREATE OR REPLACE TABLE entity_network (kind VARCHAR, value VARCHAR, network INTEGER)")
    run(db, "CREATE OR REPLACE TABLE center_ties (a INTEGER, b INTEGER, kind VARCHAR, "
            "weight BIGINT, example VARCHAR)")  # fmt: skip
    run(db, "CREATE OR REPLACE TABLE network_joins (network INTEGER, a INTEGER, b INTEGER, "
            "kind VARCHAR, weight BIGINT, example VARCHAR)")  # fmt: skip
    # filled only where part of the gang is unseen (_money_networks, _unknown_dialler)
    run(db, "CREATE OR REPLACE TEMP TABLE hidden_mule (mule VARCHAR, network INTEGER)")
    run(db, "CREATE OR REPLACE TEMP TABLE unknown_run (line BIGINT)")
    # filled only without centers (_entity_communities)
    run(db, "CREATE OR REPLACE TEMP TABLE money_group (kind VARCHAR, value VARCHAR, grp INTEGER)")
    run(db, "CREATE OR REPLACE TEMP TABLE number_unit (caller BIGINT, unit VARCHAR)")
    run(db, """
        CREATE OR REPLACE TABLE call_center AS
        SELECT s.*, coalesce(lc.center, sc.center) AS center FROM scam_calls s
        LEFT JOIN line_center lc ON lc.key_kind = 'sip_account' AND lc.key = s.sip_account
        LEFT JOIN line_center sc ON sc.key_kind = 'sim_line' AND s.sip_account IS NULL
         AND s.source = 'carrier_cdr' AND sc.key = CAST(s.caller AS VARCHAR)
    """)
    has_centers = case.count(
        "SELECT count(*) FROM line_center WHERE key_kind = 'sip_account'") > 0
    if has_centers:
        _infer_unlinked_centers(case)
        _center_communities(case)
    else:
        _entity_communities(case, settings)
    _call_networks(case)
    _payer_networks(case, settings)
    hidden = _money_networks(case, settings) if has_centers else 0
    unseen = has_centers and (hidden > 0 or _unknown_dialler(case))
    if has_centers and not unseen:
        _timing_networks(case)
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
    # Where an operation beyond the known centers is at work, only of the victims they walked
    # through the script (a long call: the 'policeman' or 'official'): a number that only
    # dialled a victim of another operation (one leaked list, two gangs) borrows nothing.
    script_only = f"AND c.answered AND c.duration_s >= {HANDOFF_TALK_S}" if unseen else ""
    run(db, f"""
        UPDATE number_group SET network = x.network FROM (
            SELECT c.caller, mode(v.network ORDER BY v.network) AS network FROM scam_calls c
            JOIN victim_group v ON v.value = c.callee
            WHERE v.network IS NOT NULL {script_only}
            GROUP BY c.caller) x
        WHERE number_group.network IS NULL AND x.caller = number_group.value
    """)  # fmt: skip
    _script_networks(case)
    # Money: first-layer mules take the network of the victims who paid them; later layers
    # that of the mules that fed them.
    payer = "p" if has_centers else "v"  # without centers, victims have their networks
    run(db, f"""
        CREATE OR REPLACE TABLE mule_group AS
        SELECT f.mule AS value, mode({payer}.network ORDER BY {payer}.network) AS network
        FROM fraud_transfers f JOIN victim_payments vp ON vp.line = f.line
        LEFT JOIN payer_network p ON p.line = f.line LEFT JOIN victim_group v ON v.value = vp.phone
        WHERE f.kind = 'victim_payment' GROUP BY f.mule
    """)  # fmt: skip
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
    """Each scam call's network: its center's."""
    db = case.db
    run(db, "ALTER TABLE call_center ADD COLUMN network INTEGER")
    run(db, """
        UPDATE call_center SET network = n.network FROM center_network n
        WHERE n.center = call_center.center
    """)


def _unknown_dialler(case: Case) -> bool:
    """Whether a dialler no known center explains is at work: carrier-side scam calls to
    neighbouring numbers of one list within the hour (``LIST_GAP``, ``LIST_WINDOW_S``) that
    none of the known centers dialled near (a center spreads its list over all its lines, so
    its lines at other providers dial among the ones the records show), more than
    ``UNKNOWN_RUN_SHARE`` of the carrier's scam calls."""
    run(case.db, f"""
        CREATE OR REPLACE TEMP TABLE unknown_run AS
        SELECT DISTINCT u.line FROM call_center u
        JOIN (VALUES (-1), (0), (1)) o(d) ON true
        JOIN call_center a ON a.line <> u.line AND a.center IS NULL AND a.source = 'carrier_cdr'
         AND a.callee // {LIST_GAP} = u.callee // {LIST_GAP} + o.d
         AND abs(a.callee - u.callee) <= {LIST_GAP} AND abs(a.t - u.t) <= {LIST_WINDOW_S}
        WHERE u.center IS NULL AND u.source = 'carrier_cdr'
    """)  # fmt: skip
    carrier = case.count("SELECT count(*) FROM call_center WHERE source = 'carrier_cdr'")
    return case.count("SELECT count(*) FROM unknown_run") > UNKNOWN_RUN_SHARE * carrier


def _timing_networks(case: Case) -> None:
    """A call no center explains takes the network that placed nearly all (``TIMING_SHARE``)
    of the explained scam calls in the same hour: the lines of known centers at other
    providers. Only when the money shows no operation beyond the known centers: the hour then
    tells nothing of which operation placed a call."""
    run(case.db, f"""
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


def _payer_networks(case: Case, settings: DetectSettings) -> None:
    """``payer_network``: each victim's payment belongs to the operation that placed the
    victim's last answered scam call in the days before it (the 'official' asks for the
    deposit and the victim pays within hours), not to every operation that ever dialled the
    victim (two gangs may dial one leaked list)."""
    window = int(settings.payment_window_days * 86400)
    run(case.db, f"""
        CREATE OR REPLACE TABLE payer_network AS
        SELECT line, phone, time, network FROM (
            SELECT p.line, p.phone, p.time, c.network,
                   row_number() OVER (PARTITION BY p.line ORDER BY c.t DESC, c.network) AS k
            FROM victim_payments p JOIN call_center c
              ON c.callee = p.phone AND c.answered AND c.t <= p.time AND c.t >= p.time - {window}
        ) WHERE k = 1
    """)  # fmt: skip


def _money_networks(case: Case, settings: DetectSettings) -> int:
    """Money ties victims to operations the calls alone do not show; returns the number of
    operations found that no known center runs.

    First-layer mules paid only by victims of no known center, with the
    mules their money went on to, are operations of their own, one per group of mules that
    money connects (centers at providers the case lacks); their victims' calls in the days
    before paying take that network."""
    db = case.db
    window = int(settings.payment_window_days * 86400)
    # Mules no known center's victim paid, and the money between mules.
    unplaced = run(db, """
        WITH first_layer AS (
            SELECT f.mule, count(p.network) AS placed FROM fraud_transfers f
            JOIN payer_network p ON p.line = f.line WHERE f.kind = 'victim_payment'
            GROUP BY f.mule
        )
        SELECT mule FROM first_layer WHERE placed = 0 ORDER BY mule
    """)
    if not unplaced:
        return 0
    moves = run(db, """
        SELECT DISTINCT t.payer_account, t.payee_account FROM fraud_transfers f
        JOIN transfers t ON t._line = f.line
        WHERE f.kind = 'layering' AND t.payer_account <> '' AND t.payee_account <> ''
        ORDER BY 1, 2
    """)
    index: dict[str, int] = {m: n for n, (m,) in enumerate(unplaced)}
    for a, b in moves:
        index.setdefault(a, len(index))
        index.setdefault(b, len(index))
    graph = ig.Graph(n=len(index), edges=[(index[a], index[b]) for a, b in moves])
    membership = graph.connected_components().membership
    # A group of mules any known center's victims paid into is that center's operation.
    placed = {index[m] for (m,) in run(db, """
        SELECT DISTINCT f.mule FROM fraud_transfers f JOIN payer_network p ON p.line = f.line
        WHERE f.kind = 'victim_payment' AND p.network IS NOT NULL
    """) if m in index}  # fmt: skip
    tainted = {membership[n] for n in placed}
    first = case.count("SELECT coalesce(max(network), -1) + 1 FROM center_network")
    groups = sorted({membership[index[m]] for (m,) in unplaced} - tainted)
    number = {g: first + n for n, g in enumerate(groups)}
    rows = [[m, number[membership[index[m]]]] for (m,) in unplaced
            if membership[index[m]] in number]  # fmt: skip
    if not rows:
        return 0
    insert_rows(db, "hidden_mule", rows)
    # What joined such an operation: its mule accounts, connected by the money between them.
    insert_rows(db, "network_joins", [
        [number[g], None, None, "money", sum(1 for m in index if membership[index[m]] == g),
         min(m for (m,) in unplaced if membership[index[m]] == g)]
        for g in groups
    ])  # fmt: skip
    run(db, """
        UPDATE payer_network SET network = h.network FROM fraud_transfers f, hidden_mule h
        WHERE f.line = payer_network.line AND f.kind = 'victim_payment' AND h.mule = f.mule
    """)  # fmt: skip
    run(db, f"""
        UPDATE call_center SET network = x.network FROM (
            SELECT c.source, c.call_id, min(p.network) AS network FROM call_center c
            JOIN payer_network p ON p.phone = c.callee
             AND c.t <= p.time AND c.t >= p.time - {window}
            WHERE c.network IS NULL AND p.network >= {first} GROUP BY ALL
            HAVING count(DISTINCT p.network) = 1
        ) x WHERE call_center.network IS NULL AND call_center.source = x.source
          AND call_center.call_id = x.call_id
    """)  # fmt: skip
    return len(number)


def _infer_unlinked_centers(case: Case) -> None:
    """Give carrier-side scam calls that no VoIP record explains (the center used another
    provider) the center that placed them where the records show it: the one dialling the
    neighbouring numbers of the same list within the hour."""
    db = case.db
    run(db, f"""
        UPDATE call_center SET center = x.center FROM (
            WITH near AS (
                SELECT u.line, a.center, count(DISTINCT a.callee) AS numbers,
                       min(abs(a.callee - u.callee) * 3600 + abs(a.t - u.t)) AS distance
                FROM call_center u
                JOIN (VALUES (-1), (0), (1)) o(d) ON true
                JOIN call_center a ON a.center IS NOT NULL
                 AND a.callee // {LIST_GAP} = u.callee // {LIST_GAP} + o.d
                 AND abs(a.callee - u.callee) <= {LIST_GAP}
                 AND abs(a.t - u.t) <= {LIST_WINDOW_S}
                WHERE u.center IS NULL AND u.source = 'carrier_cdr'
                  AND {NOT_SIM_BOX.format(c='u')}
                GROUP BY u.line, a.center
            )
            SELECT line, arg_min(center, (distance, center)) AS center FROM near
            WHERE numbers >= {LIST_RUN_MIN} GROUP BY line
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
    """Centers tied by evidence are one network: Leiden communities (configuration null model,
    blind to the case's scale) of the graph of ties in ``center_ties``. Centers with no tie
    are networks of their own; victims both centers merely dialled never tie them."""
    db = case.db
    centers = [r[0] for r in run(db, "SELECT DISTINCT center FROM line_center ORDER BY 1")]
    _center_ties(case)
    links = run(db, """
        SELECT least(a, b), greatest(a, b), sum(weight) FROM center_ties GROUP BY 1, 2 ORDER BY 1, 2
    """)
    membership = _leiden(len(centers), [(centers.index(a), centers.index(b), w)
                                        for a, b, w in links])  # fmt: skip
    # A pack of SIMs that nothing ties to any center is no operation of its own (a gateway goes
    # through several packs): it gets no network here, and its numbers take that of the
    # victims they reached, as numbers of unknown lines do.
    tied = {a for a, _, _ in links} | {b for _, b, _ in links}
    sim_only = {r[0] for r in run(db, """
        SELECT center FROM line_center GROUP BY center
        HAVING bool_and(key_kind = 'sim_line')
    """)}  # fmt: skip
    run(db, "CREATE OR REPLACE TABLE center_network (center INTEGER, network INTEGER)")
    insert_rows(db, "center_network", [[c, membership[n]] for n, c in enumerate(centers)
                                       if c in tied or c not in sim_only])  # fmt: skip
    _network_joins(case, centers, membership, links)


def _center_ties(case: Case) -> None:
    """``center_ties(a, b, kind, weight, example)``: the evidence that two centers work for one
    operation. Only what ties the two centers themselves counts:

    - ``mule``: one mule account was paid by victims that each center walked through the
      script (the center of a victim's last answered scam call before paying), different
      victims; weight: the mule accounts shared.
    - ``handoff`` (``a`` handed on to ``b``): ``b``'s first call ever to a victim came within
      ``HANDOFF_WINDOW_S`` after ``a`` held that victim on the line, and ``b`` kept the victim
      on that first call for ``HANDOFF_TALK_S`` or more: the 'policeman' or 'official' of the
      script, not a cold call; weight: such victims less those met in the other order (two
      gangs on one list meet a victim in either order, the script only runs forward),
      counted from ``HANDOFF_MIN_VICTIMS``.

    Only calls of the centers' own lines count: a call given a center because it dialled near
    the center's list (``_infer_unlinked_centers``) is a guess, never evidence. Victims two
    centers both dialled (a leaked list sold to both, neighbouring blocks) are no
    tie, nor are scripts read (gangs copy scripts) or forged caller IDs (everyone forges the
    same police lines). Shared SIP accounts and source addresses make one center already
    (centers.py)."""
    run(case.db, f"""
        CREATE OR REPLACE TABLE center_ties AS
        WITH firsts AS (
            SELECT callee AS phone, center, min(t) AS first_t,
                   arg_min(CASE WHEN answered THEN duration_s ELSE 0 END, t) AS first_talk,
                   min(t) FILTER (WHERE answered AND duration_s >= {ENGAGED_S}) AS held_t
            FROM call_center WHERE center IS NOT NULL AND callee IS NOT NULL
              AND {OWN_LINE.format(c='')} GROUP BY ALL
        ), timed AS (
            SELECT a.center AS a, b.center AS b, a.phone,
                   b.first_t > a.held_t AS forward
            FROM firsts a JOIN firsts b ON a.phone = b.phone AND a.center <> b.center
            WHERE abs(b.first_t - a.held_t) <= {HANDOFF_WINDOW_S} AND b.first_t <> a.held_t
              AND b.first_talk >= {HANDOFF_TALK_S}
        ), handoffs AS (
            -- two gangs dialling one list meet a victim in either order; the script only
            -- runs forward: what the backward order counts is chance, taken off
            SELECT a, b, count(*) FILTER (forward) - count(*) FILTER (NOT forward) AS weight,
                   '+' || min(phone) FILTER (forward) AS example
            FROM timed GROUP BY ALL
            HAVING count(*) FILTER (forward) - count(*) FILTER (NOT forward)
                   >= {HANDOFF_MIN_VICTIMS}
        ), payer_center AS (
            -- the 'official' who asked for the deposit called last; only calls of a center's
            -- own lines count (a center guessed from neighbouring numbers is no evidence)
            SELECT p.line, p.phone, arg_max(c.center, (c.t, c.center)) AS center
            FROM victim_payments p JOIN call_center c
              ON c.callee = p.phone AND c.answered AND c.center IS NOT NULL AND c.t <= p.time
             AND {OWN_LINE.format(c='c.')}
            GROUP BY ALL
        ), paid_mule AS (
            SELECT DISTINCT f.mule, pc.center, pc.phone FROM fraud_transfers f
            JOIN payer_center pc ON pc.line = f.line WHERE f.kind = 'victim_payment'
        ), mules AS (
            SELECT a.center AS a, b.center AS b, count(DISTINCT a.mule) AS weight,
                   min(a.mule) AS example
            FROM paid_mule a JOIN paid_mule b
              ON a.mule = b.mule AND a.center < b.center AND a.phone <> b.phone
            GROUP BY ALL
        )
        SELECT a, b, 'handoff' AS kind, weight, example FROM handoffs
        UNION ALL SELECT a, b, 'mule', weight, example FROM mules
    """)  # fmt: skip


def _network_joins(
    case: Case, centers: list[int], membership: list[int], pairs: list[tuple[Any, ...]]
) -> None:
    """``network_joins(network, a, b, kind, weight, example)``: for each network of several
    centers, the ties along a maximum spanning tree of its centers (the strongest evidence that
    joins each center to the rest), for ``networks.csv`` to name; ``pairs`` are the summed
    ties per pair of centers, as the communities were drawn from. (Operations no known center
    runs add a ``money`` row each, without centers: ``_money_networks``.)"""
    db = case.db
    network_of = dict(zip(centers, membership, strict=True))
    inside = [(a, b, w) for a, b, w in pairs if network_of[a] == network_of[b]]
    if not inside:
        return
    graph = ig.Graph(n=len(centers), edges=[(centers.index(a), centers.index(b))
                                            for a, b, _ in inside])  # fmt: skip
    tree = graph.spanning_tree(weights=[-float(w) for _, _, w in inside], return_tree=False)
    joined = {(inside[e][0], inside[e][1]) for e in tree}
    rows = run(db, "SELECT a, b, kind, weight, example FROM center_ties ORDER BY a, b, kind")
    insert_rows(db, "network_joins", [
        [network_of[a], a, b, kind, w, example] for a, b, kind, w, example in rows
        if (min(a, b), max(a, b)) in joined
    ])  # fmt: skip


def _entity_communities(case: Case, settings: DetectSettings) -> None:
    """Without centers: operations told apart by their money first, then by their calls.

    A gang controls its mule accounts, so victims who paid the same accounts, and accounts
    that pass money on to each other, belong to one operation. A presented number is no such
    evidence: two gangs spoof the same police station's number, and after the carriers' block
    a line shows each victim a new foreign number. So numbers take the operation of the paying
    victims they reached when one operation holds at least :data:`NUMBER_MAJORITY` of them,
    victims nobody paid take the operation of the numbers that called them the same way, and
    calls join entities into operations of their own only where no money ties them (the
    carrier's records alone). A number shared by two operations joins neither."""
    db = case.db
    run(db, "CREATE OR REPLACE TABLE center_network (center INTEGER, network INTEGER)")
    money = run(db, """
        SELECT 'victim_phone', CAST(p.phone AS VARCHAR), 'mule_account', f.mule
        FROM fraud_transfers f JOIN victim_payments p ON p.line = f.line
        WHERE f.mule IS NOT NULL GROUP BY ALL
        UNION ALL
        -- accounts of one operation pass the money on to each other
        SELECT 'mule_account', t.payer_account, 'mule_account', t.payee_account
        FROM transfers t JOIN mules a ON a.account = t.payer_account
        JOIN mules b ON b.account = t.payee_account GROUP BY ALL
        ORDER BY 1, 2, 3, 4  -- components are numbered in the order their nodes are met
    """)
    groups = _components(money)
    run(db, "CREATE OR REPLACE TEMP TABLE money_group (kind VARCHAR, value VARCHAR, grp INTEGER)")
    insert_rows(db, "money_group", [[k, v, g] for (k, v), g in groups.items()])
    # Numbers, then the victims nobody paid, take the operation most of their contacts are in.
    # (a number no operation holds the majority of is contested: it joins none and ties
    # nothing below; grp NULL)
    # A SIM box's lines vote as one: a pack of close prepaid numbers is one gateway's, one
    # gang's, though each line reaches only a few victims.
    run(db, "CREATE OR REPLACE TEMP TABLE number_unit (caller BIGINT, unit VARCHAR)")
    insert_rows(db, "number_unit", [[line, f"pack {pack}"]
                                    for line, pack in sim_packs(case, settings).items()])
    run(db, f"""
        INSERT INTO money_group
        SELECT 'caller_number', CAST(u.caller AS VARCHAR), v.grp FROM (
            SELECT DISTINCT c.caller, coalesce(nu.unit, CAST(c.caller AS VARCHAR)) AS unit
            FROM scam_calls c LEFT JOIN number_unit nu ON nu.caller = c.caller
            WHERE c.answered AND c.caller IS NOT NULL) u
        JOIN (
            SELECT unit,
                   CASE WHEN max(n) >= {NUMBER_MAJORITY} * sum(n) THEN arg_max(grp, n) END AS grp
            FROM (
                SELECT coalesce(nu.unit, CAST(c.caller AS VARCHAR)) AS unit, m.grp,
                       count(DISTINCT c.callee) AS n
                FROM scam_calls c LEFT JOIN number_unit nu ON nu.caller = c.caller
                JOIN money_group m
                  ON m.kind = 'victim_phone' AND m.value = CAST(c.callee AS VARCHAR)
                WHERE c.answered AND c.caller IS NOT NULL GROUP BY ALL)
            GROUP BY unit) v ON v.unit = u.unit
    """)  # fmt: skip
    run(db, f"""
        INSERT INTO money_group
        SELECT 'victim_phone', CAST(callee AS VARCHAR), arg_max(grp, n) FROM (
            SELECT c.callee, m.grp, count(*) AS n FROM scam_calls c
            JOIN money_group m ON m.kind = 'caller_number' AND m.value = CAST(c.caller AS VARCHAR)
            WHERE c.answered AND m.grp IS NOT NULL AND CAST(c.callee AS VARCHAR) NOT IN (
                SELECT value FROM money_group WHERE kind = 'victim_phone')
            GROUP BY ALL)
        GROUP BY callee HAVING max(n) >= {NUMBER_MAJORITY} * sum(n)
    """)  # fmt: skip
    # Without money (the carrier's records alone): numbers and victims whose calls meet, and
    # the numbers whose calls read one script (one campaign), among entities none above holds.
    calls = run(db, """
        WITH held AS (SELECT kind, value FROM money_group),
        edges AS (
            SELECT 'caller_number' AS ka, CAST(caller AS VARCHAR) AS a,
                   'victim_phone' AS kb, CAST(callee AS VARCHAR) AS b
            FROM scam_calls WHERE answered AND caller IS NOT NULL GROUP BY ALL
            UNION ALL
            SELECT 'script', CAST(t.script_group AS VARCHAR), 'caller_number',
                   CAST(t.caller AS VARCHAR)
            FROM transcript_calls t
            JOIN scam_calls c ON c.source = t.source AND c.call_id = t.call_id
            WHERE t.script_group >= 0 AND t.caller IS NOT NULL GROUP BY ALL)
        SELECT e.ka, e.a, e.kb, e.b FROM edges e
        WHERE (e.ka, e.a) NOT IN (SELECT * FROM held) AND (e.kb, e.b) NOT IN (SELECT * FROM held)
        ORDER BY 1, 2, 3, 4
    """)
    # Where money shows the operations, calls that reach none of them stay unplaced, as the
    # unseen centers' list calls do when there are centers: two gangs' cold calls of one
    # leaked list meet in the victims, and a network named from them would be a guess.
    rest = {} if groups else _components(calls)
    members = {(str(k), str(v)): int(g)
               for k, v, g in run(db, "SELECT * FROM money_group WHERE grp IS NOT NULL")}
    members.update(rest)
    # A spoofed number and the one person who answered it are not a network: without lines
    # or centers to tie them, only communities of some size are named.
    sizes = Counter(g for (kind, _), g in members.items() if kind != "script")
    insert_rows(db, "entity_network", [[k, v, g] for (k, v), g in members.items()
                                       if sizes[g] >= MIN_COMMUNITY])  # fmt: skip
    # What joined each operation the money names: its mule accounts, connected by the money.
    mules: dict[int, list[str]] = {}
    for (kind, value), g in members.items():
        if kind == "mule_account" and sizes[g] >= MIN_COMMUNITY:
            mules.setdefault(g, []).append(value)
    insert_rows(db, "network_joins", [[g, None, None, "money", len(m), min(m)]
                                      for g, m in sorted(mules.items())])  # fmt: skip


def _components(edges: list[tuple[Any, ...]]) -> dict[tuple[str, str], int]:
    """Connected components of a graph given as (kind, value, kind, value) edges, numbered in
    the order their nodes are first met."""
    nodes: dict[tuple[str, str], int] = {}
    pairs = []
    for ka, a, kb, b in edges:
        i = nodes.setdefault((str(ka), str(a)), len(nodes))
        j = nodes.setdefault((str(kb), str(b)), len(nodes))
        pairs.append((i, j))
    graph = ig.Graph(n=len(nodes), edges=pairs)
    membership = graph.connected_components().membership
    order: dict[int, int] = {}
    return {node: order.setdefault(membership[i], len(order)) for node, i in nodes.items()}


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
           HEARD_NETWORK, ENTITY_NETWORK, CENTER_TIES, NETWORK_JOINS, PAYER_NETWORK, HIDDEN_MULE,
           UNKNOWN_RUN, MONEY_GROUP, NUMBER_UNIT),
    run=assign_networks,
)  # fmt: skip
