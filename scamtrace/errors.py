"""One exception hierarchy for the whole project, rooted in ``ValueError``.

Callers catch :class:`ScamtraceError` to tell bad input apart from bugs; the CLI turns it into a
one-line message and a non-zero exit code.
"""

from __future__ import annotations


class ScamtraceError(ValueError):
    """Base class of every error scamtrace raises on purpose."""


class UnknownCountryError(ScamtraceError):
    """A country code that the packaged reference data does not cover."""


class ScenarioError(ScamtraceError):
    """A scenario file or preset that cannot be used."""


class CaseFolderError(ScamtraceError):
    """A case folder that cannot be read or written."""
