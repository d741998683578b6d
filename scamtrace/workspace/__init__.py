"""The investigator workspace (``scamtrace app``): a local web application over cases and findings.

It shows findings through the report's view layer (:mod:`scamtrace.report`), keeps analysts'
verdicts, notes and an audit log in its own store (SQLite by default, PostgreSQL given a URL),
and hands a case over through :mod:`scamtrace.share`. It never runs the detectors: ``detect
--verdicts`` reads the verdicts it exports.
"""
