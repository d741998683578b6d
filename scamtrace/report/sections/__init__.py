"""One renderer per part of the report, each filling its template under ``report/templates``.

Each ``render_*`` function takes the :class:`~scamtrace.report.query.Case` (and the network
it is about), picks what its part shows and returns the rendered HTML.
"""
