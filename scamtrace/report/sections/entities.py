"""A network's flagged entities, kind by kind, highest score first, each with the evidence
records behind it (collapsed)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from scamtrace.report.query import Case, ShownEntity, ordered
from scamtrace.report.templating import render


@dataclass(frozen=True)
class KindShown:
    """The entities of one kind shown for a network, and how many are flagged in all."""

    kind: str
    total: int
    shown: list[ShownEntity]


def render_entities(case: Case, network_id: str) -> Markup:
    """One table per kind of entity flagged in the network."""
    kinds = [k for (n, k) in case.entity_counts if n == network_id]
    return render(
        "entities.html",
        kinds=[
            KindShown(
                kind,
                case.entity_counts[(network_id, kind)],
                case.entities.get((network_id, kind), []),
            )
            for kind in ordered(dict.fromkeys(kinds))
        ],
        center_anchor=case.center_anchor,
        evidence_file=case.present.get("evidence", False),
        entity_href=None,
        paged=False,
    )
