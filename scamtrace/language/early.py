"""Early warning: score a call as it unfolds, turn by turn, and measure how early an alert fires.

A call's turns are its lines (``caller:`` / ``callee:`` prefixes allowed; a one-line transcript
with inline ``caller:`` / ``receiver:`` labels is split at the labels). After each turn the
classifier scores everything heard so far; an alert fires at the first turn whose score reaches the
threshold. The threshold is chosen on normal calls so that a given share of them (1 % by default)
would ever raise an alert.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from scamtrace.core.errors import ScamtraceError
from scamtrace.language.classifier import ScamClassifier, load_classifier
from scamtrace.language.features import split_turns

__all__ = [
    "alert_timing",
    "false_alarm_threshold",
    "first_alert",
    "prefixes",
    "score_calls",
    "score_turns",
]

TurnScores = Sequence[float]


def prefixes(text: str) -> list[str]:
    """What has been heard after each turn: turns ``1..k`` joined by newlines, for every ``k``."""
    turns = split_turns(text)
    return ["\n".join(turns[: k + 1]) for k in range(len(turns))]


def score_calls(
    texts: Sequence[str],
    languages: Sequence[str | None] | None = None,
    classifier: ScamClassifier | None = None,
) -> list[list[float]]:
    """:func:`score_turns` for many calls, in one batch."""
    if isinstance(texts, str):
        raise ScamtraceError("texts must be a sequence of strings, not one string")
    clf = classifier or load_classifier()
    heard = [prefixes(t) for t in texts]
    flat = [p for ps in heard for p in ps]
    langs: list[str | None] | None = None
    if languages is not None:
        if len(languages) != len(texts):
            raise ScamtraceError(f"{len(texts)} texts but {len(languages)} languages")
        langs = [lang for lang, ps in zip(languages, heard, strict=True) for _ in ps]
    scores, _ = clf.predict(flat, langs)
    out: list[list[float]] = []
    start = 0
    for ps in heard:
        out.append([float(s) for s in scores[start : start + len(ps)]])
        start += len(ps)
    return out


def score_turns(
    text: str, language: str | None = None, classifier: ScamClassifier | None = None
) -> list[float]:
    """The scam score after each turn of ``text`` (one score per turn; none for an empty text)."""
    return score_calls([text], None if language is None else [language], classifier)[0]


def first_alert(turn_scores: TurnScores, threshold: float) -> int | None:
    """How many turns were heard when the score first reached ``threshold`` (``None``: never)."""
    for k, s in enumerate(turn_scores, 1):
        if s >= threshold:
            return k
    return None


def _turn_scores(
    calls: Sequence[str] | Sequence[TurnScores],
    languages: Sequence[str | None] | None,
    classifier: ScamClassifier | None,
) -> list[list[float]]:
    if isinstance(calls, str):
        raise ScamtraceError("calls must be a sequence of transcripts or of turn scores")
    if all(isinstance(c, str) for c in calls):
        return score_calls([str(c) for c in calls], languages, classifier)
    if any(isinstance(c, str) for c in calls):
        raise ScamtraceError("calls mixes transcripts and turn scores")
    return [[float(s) for s in c] for c in calls]


def alert_timing(
    calls: Sequence[str] | Sequence[TurnScores],
    threshold: float,
    languages: Sequence[str | None] | None = None,
    classifier: ScamClassifier | None = None,
) -> npt.NDArray[np.float64]:
    """For each (scam) call, the share of its turns heard when the alert fires: ``k / n`` where the
    alert fires after turn ``k`` of ``n``; NaN where it never fires.

    ``calls`` are transcripts, or turn scores already computed with :func:`score_calls`.
    """
    out = np.full(len(calls), np.nan)
    for i, scores in enumerate(_turn_scores(calls, languages, classifier)):
        k = first_alert(scores, threshold)
        if k is not None:
            out[i] = k / len(scores)
    return out


def false_alarm_threshold(
    normal_calls: Sequence[str] | Sequence[TurnScores],
    rate: float = 0.01,
    languages: Sequence[str | None] | None = None,
    classifier: ScamClassifier | None = None,
) -> float:
    """The lowest threshold at which at most ``rate`` of ``normal_calls`` ever raise an alert
    (an alert on any turn counts)."""
    if not 0 <= rate < 1:
        raise ScamtraceError(f"rate must be in [0, 1), got {rate}")
    peaks = np.sort([max(s, default=0.0)
                     for s in _turn_scores(normal_calls, languages, classifier)])[::-1]  # fmt: skip
    if len(peaks) == 0:
        raise ScamtraceError("no normal calls to set a threshold on")
    allowed = math.floor(rate * len(peaks))
    if allowed >= len(peaks):
        return 0.0
    return float(np.nextafter(peaks[allowed], np.inf))
