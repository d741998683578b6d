"""One network's section: what it is, then its centers, victims, money, scripts and entities."""

from __future__ import annotations

from markupsafe import Markup

from scamtrace.report.format import to_int
from scamtrace.report.query import Case
from scamtrace.report.sections.centers import render_centers
from scamtrace.report.sections.entities import render_entities
from scamtrace.report.sections.money import render_chains, render_victims
from scamtrace.report.sections.scripts import render_scripts
from scamtrace.report.templating import render

COUNTED = ("centers", "lines", "victims", "victims_paid", "mule_accounts")
"""networks.csv columns said in words at the top of a network's section."""


def render_network(case: Case, network_id: str, index: int, *, max_rows: int) -> Markup:
    """The section of ``network_id`` (``""``: what is tied to no network), the ``index``-th."""
    row = case.network_rows.get(network_id)
    centers = case.centers_by_network.get(network_id, [])
    linked = network_id != ""  # the unlinked section shows only what it has
    victims = any(case.entity_counts.get((network_id, k)) for k in ("victim_phone", "victim_paid"))
    parts: list[Markup] = []
    if linked or centers:
        parts.append(render_centers(case, centers, index))
    if linked or victims or network_id in case.money:
        parts.append(render_victims(case, network_id, row))
    if linked or network_id in case.money:
        parts.append(render_chains(case, network_id, max_rows=max_rows))
    parts.append(render_scripts(case, network_id, max_rows=max_rows))
    parts.append(render_entities(case, network_id))
    counts = None if row is None else {col: to_int(row.get(col)) or 0 for col in COUNTED}
    return render(
        "network.html",
        anchor=case.network_anchor[network_id],
        network_id=network_id,
        counts=counts,
        joined_by="" if row is None else str(row.get("joined_by") or ""),
        parts=parts,
    )
