"""The case report: one self-contained ``report.html`` rendered from a findings folder.

``render_report`` returns the document as text; ``write_report`` writes it next to the findings
as ``report.html`` (atomically). Both only read the folder's CSV files and ``summary.json``.
"""

from __future__ import annotations

from scamtrace.report.render import (
    DEFAULT_MAX_ENTITIES,
    DEFAULT_MAX_EVIDENCE,
    REPORT_NAME,
    render_report,
    write_report,
)

__all__ = [
    "DEFAULT_MAX_ENTITIES",
    "DEFAULT_MAX_EVIDENCE",
    "REPORT_NAME",
    "render_report",
    "write_report",
]
