"""The scam scripts read on a network's calls, with example lines: the same words on many
lines tie them into one campaign."""

from __future__ import annotations

from markupsafe import Markup

from scamtrace.report.query import Case
from scamtrace.report.templating import render

CALLS_SHOWN = 5
"""Call ids listed per script."""


def render_scripts(case: Case, network_id: str, *, max_rows: int) -> Markup:
    """The first ``max_rows`` scripts of the network; nothing when it has none."""
    rows = [r for r in case.scripts if str(r.get("network_id") or "") == network_id]
    if not rows:
        return Markup()  # safe: empty
    scripts = []
    for r in rows[:max_rows]:
        calls = str(r.get("call_ids") or "").split(";")
        scripts.append(
            {
                "row": r,
                "example_lines": [x for x in str(r.get("example") or "").split(" / ") if x],
                "first_calls": ", ".join(calls[:CALLS_SHOWN]),
                "more_calls": len(calls) > CALLS_SHOWN,
            }
        )
    return render("scripts.html", scripts=scripts)
