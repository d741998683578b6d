"""The footer: what a flag means, what the report leaves out, how long detection took."""

from __future__ import annotations

from markupsafe import Markup

from scamtrace.core import contract
from scamtrace.report.query import Case
from scamtrace.report.templating import render


def render_footer(case: Case, *, max_rows: int) -> Markup:
    """The flag threshold, the report's limits and the processing times of ``detect``."""
    timings = case.summary.get("timings_s")
    return render(
        "footer.html",
        threshold=contract.FLAG_THRESHOLD,
        max_entities=case.max_entities,
        max_evidence=case.max_evidence,
        max_rows=max_rows,
        timings=", ".join(
            f"{k} {v:.1f} s" if isinstance(v, int | float) else f"{k} {v}"
            for k, v in timings.items()
        )
        if isinstance(timings, dict)
        else "",
    )
