"""One exception hierarchy for the whole project, rooted in ``ValueError``.

Callers catch :class:`ScamtraceError` to tell bad input apart from bugs; the CLI turns it into a
one-line message and a non-zero exit code.
"""

from __future__ import annotations


def first_problem(exc: Exception, default: str) -> str:
    """``field a.b: message`` for the first error of a pydantic ``ValidationError``."""
    errors = getattr(exc, "errors", None)
    if not callable(errors) or not errors():
        return str(exc)
    first = errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or default
    return f"field {where}: {first['msg']}"


class ScamtraceError(ValueError):
    """Base class of every error scamtrace raises on purpose."""


class UnknownCountryError(ScamtraceError):
    """A country code that the packaged reference data does not cover."""


class ScenarioError(ScamtraceError):
    """A scenario file or preset that cannot be used."""


class CaseFolderError(ScamtraceError):
    """A case folder that cannot be read or written."""


class QualityError(CaseFolderError):
    """``--strict``: a key column of a case is under the quality bar
    (:mod:`scamtrace.core.quality`)."""


class FindingsError(CaseFolderError):
    """A findings folder (or an export of one) that cannot be read or written."""
