"""Language: which transcripts are scam calls, of what type, and how early a call gives itself away.

* :class:`ScamClassifier` / :func:`load_classifier`: scam score and type for transcripts in
  Chinese, Spanish and English (character n-gram TF-IDF, logistic regression; the trained model
  ships with the package, see :mod:`scamtrace.language.training`).
* :func:`classify_rows`: ``scam_score`` and ``scam_type`` columns for a table with ``text``.
* :func:`score_turns`, :func:`alert_timing`, :func:`false_alarm_threshold`: early warning.

The names above are imported on first use, so that importing another module of this package
does not load scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scamtrace.language.classifier import (
        SCAM_TYPES,
        THRESHOLD,
        TYPES,
        ScamClassifier,
        classify_rows,
        load_classifier,
    )
    from scamtrace.language.early import (
        alert_timing,
        false_alarm_threshold,
        score_calls,
        score_turns,
    )

_LAZY = {
    "SCAM_TYPES": "classifier",
    "THRESHOLD": "classifier",
    "TYPES": "classifier",
    "ScamClassifier": "classifier",
    "classify_rows": "classifier",
    "load_classifier": "classifier",
    "alert_timing": "early",
    "false_alarm_threshold": "early",
    "score_calls": "early",
    "score_turns": "early",
}

__all__ = [
    "SCAM_TYPES",
    "THRESHOLD",
    "TYPES",
    "ScamClassifier",
    "alert_timing",
    "classify_rows",
    "false_alarm_threshold",
    "load_classifier",
    "score_calls",
    "score_turns",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scamtrace.language' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"scamtrace.language.{module}"), name)
    globals()[name] = value
    return value
