"""The report's header (case, inputs, figures, records read, notes), its tools bar and its
table of contents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup

from scamtrace.core import contract
from scamtrace.core.findings import table_file
from scamtrace.report.format import Money, add_money, fmt_time, to_decimal, to_int
from scamtrace.report.labels import INPUT_LABELS, absent_consequence, network_title
from scamtrace.report.query import Case, flagged_counts, ordered
from scamtrace.report.templating import render

PRINT_EVIDENCE_UP_TO = 1000
"""Evidence lists are expanded when printing by default only up to this many entities."""


@dataclass(frozen=True)
class MissingInput:
    """An input the case did not have, and what the report cannot show without it."""

    name: str
    meaning: str | None
    consequence: str | None


def render_header(case: Case) -> Markup:
    """What the case is, which inputs it had and lacked, its figures and what was not read."""
    s = case.summary
    rendered = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    absent = [n for n, ok in case.present.items() if not ok and n != "summary"]
    read = s.get("rows_read") if isinstance(s.get("rows_read"), dict) else {}
    set_aside = s.get("rows_set_aside") if isinstance(s.get("rows_set_aside"), dict) else {}
    assert isinstance(read, dict) and isinstance(set_aside, dict)
    names = list(dict.fromkeys([*map(str, read), *map(str, set_aside)]))
    counts = flagged_counts(case)
    return render(
        "header.html",
        title=case_title(case),
        created=fmt_time(s.get("created_at")),
        rendered=fmt_time(rendered),
        folder_name=case.name,
        inputs_used=_str_list(s.get("inputs_used")) if "inputs_used" in s else None,
        missing=_missing_inputs(case) if "inputs_missing" in s else None,
        figures=_figures(case),
        loss=_loss(case),
        threshold=contract.FLAG_THRESHOLD,
        flagged=[(kind, counts[kind]) for kind in ordered(counts)],
        rows_read=[(name, read.get(name, ""), set_aside.get(name, 0)) for name in names],
        total_set_aside=sum(to_int(set_aside.get(name)) or 0 for name in names),
        rejected_listed=case.rejected_listed,
        notes=case.notes,
        quality_below_bar=_str_list(s.get("quality_below_bar")),
        skipped=_str_list(s.get("skipped")),  # steps with too little in this case to learn from
        absent=", ".join(map(table_file, absent)),
        absent_consequence=absent_consequence(absent),
    )


def case_title(case: Case) -> str:
    """The case's name as ``detect`` recorded it, else the findings folder's."""
    return str(case.summary.get("case") or case.name)


def render_tools(case: Case) -> Markup:
    """Filter box and evidence buttons (screen only). Printing expands every evidence list
    unless the case is so big that the box starts unticked."""
    lists = sum(1 for ents in case.entities.values() for e in ents if e.evidence)
    return render("tools.html", lists=lists, print_all=lists <= PRINT_EVIDENCE_UP_TO)


def render_contents(case: Case) -> Markup:
    """Links to the overview and to each network's section."""
    return render(
        "contents.html",
        networks=[(case.network_anchor[nid], network_title(nid)) for nid in case.network_ids],
    )


def _missing_inputs(case: Case) -> list[MissingInput]:
    not_possible = case.summary.get("not_possible")
    consequences = not_possible if isinstance(not_possible, dict) else {}
    return [
        MissingInput(
            name,
            INPUT_LABELS.get(name),
            str(consequences[name]) if name in consequences else None,
        )
        for name in _str_list(case.summary.get("inputs_missing"))
    ]


def _shown_network_rows(case: Case) -> list[dict[str, str]]:
    return [case.network_rows[n] for n in case.network_ids if n in case.network_rows]


def _figures(case: Case) -> list[tuple[str, int]]:
    nets = _shown_network_rows(case)
    n_networks = to_int(case.summary.get("networks"))
    n_centers = to_int(case.summary.get("centers"))
    return [
        ("networks", n_networks if n_networks is not None else len(nets)),
        ("call centers", n_centers if n_centers is not None else len(case.centers)),
        ("victims called", sum(to_int(r.get("victims")) or 0 for r in nets)),
        ("victims who paid", sum(to_int(r.get("victims_paid")) or 0 for r in nets)),
    ]


def _loss(case: Case) -> Money:
    loss: Money = {}
    for r in _shown_network_rows(case):
        amount = to_decimal(r.get("loss"))
        if amount is not None:
            add_money(loss, {str(r.get("currency") or ""): amount})
    return loss


def _str_list(v: object) -> list[str]:
    if isinstance(v, str):
        return [v] if v else []
    if isinstance(v, Iterable):
        return [str(x) for x in v]
    return []
