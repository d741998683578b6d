"""Render a findings folder as one self-contained HTML case report.

The report is written for the people who act on the findings — an investigator, a prosecutor — so
it says in words what was found and on which records, and prints well. It is a single file:
inline CSS, inline SVG and a few lines of inline JavaScript (a filter box, expand/collapse), no
external URL of any kind. Every value taken from the findings is HTML-escaped by the templates:
they come from case files nobody controls.

The pieces: :mod:`~scamtrace.report.load` reads the folder, :mod:`~scamtrace.report.query`
groups what is shown, :mod:`~scamtrace.report.sections` renders each part with its template,
and this module puts the document together. On big cases the report shows at most
``max_entities`` entities per kind per network (highest score first) and ``max_evidence``
records per entity, and says how many more are in the CSV files.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from markupsafe import Markup

from scamtrace.report.load import load_findings
from scamtrace.report.query import Case, select_case
from scamtrace.report.sections.footer import render_footer
from scamtrace.report.sections.header import (
    case_title,
    render_contents,
    render_header,
    render_tools,
)
from scamtrace.report.sections.network import render_network
from scamtrace.report.sections.overview import render_overview
from scamtrace.report.templating import render, static_text

DEFAULT_MAX_ENTITIES = 200
"""Entities shown per kind per network (highest score first)."""
DEFAULT_MAX_EVIDENCE = 20
"""Evidence records shown per entity (earliest first)."""
DEFAULT_MAX_ROWS = 200
"""Rows shown per money table (accounts, moves) per network."""

REPORT_NAME = "report.html"


def render_report(
    findings_dir: Path,
    *,
    max_entities: int = DEFAULT_MAX_ENTITIES,
    max_evidence: int = DEFAULT_MAX_EVIDENCE,
    max_rows: int = DEFAULT_MAX_ROWS,
    name: str | None = None,
) -> str:
    """Return the case report of ``findings_dir`` as one self-contained HTML document.

    Any findings file may be absent or hold only its header; the report says so instead of
    failing. ``max_entities`` caps the entities listed per kind per network, ``max_evidence``
    the records listed per entity and ``max_rows`` the rows of each money table. ``name`` is
    the findings folder's name as the reader will know it (``detect`` renders the report in
    the folder it is still writing aside).
    """
    folder = Path(findings_dir)
    case = select_case(
        load_findings(folder),
        name=name or folder.name,
        max_entities=max(0, max_entities),
        max_evidence=max(0, max_evidence),
    )
    return str(render_document(case, max_rows=max(0, max_rows)))


def render_document(case: Case, *, max_rows: int) -> Markup:
    """The whole report: header, tools, contents, overview, one section per network, footer."""
    return render(
        "document.html",
        title=case_title(case),
        # safe: the report's own package files, not data from the case; inlined as written
        # (escaping would break CSS selectors like ``a>b`` and the script's quotes)
        css=Markup(static_text("report.css")),
        js=Markup(static_text("report.js")),
        header=render_header(case),
        tools=render_tools(case),
        contents=render_contents(case),
        overview=render_overview(case),
        networks=[
            render_network(case, nid, i, max_rows=max_rows)
            for i, nid in enumerate(case.network_ids)
        ],
        footer=render_footer(case, max_rows=max_rows),
    )


def write_report(
    findings_dir: Path,
    *,
    max_entities: int = DEFAULT_MAX_ENTITIES,
    max_evidence: int = DEFAULT_MAX_EVIDENCE,
    max_rows: int = DEFAULT_MAX_ROWS,
    name: str | None = None,
) -> Path:
    """Render the report of ``findings_dir`` and write it to ``findings_dir/report.html``.

    The file is written to a temporary sibling and moved into place with ``os.replace``, so a
    reader never sees half a report. Returns the path written.
    """
    folder = Path(findings_dir)
    text = render_report(
        folder,
        max_entities=max_entities,
        max_evidence=max_evidence,
        max_rows=max_rows,
        name=name,
    )
    target = folder / REPORT_NAME
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html.tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target
