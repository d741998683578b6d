"""What the text templates cover: transcript kinds, languages and the scam stages a complaint
can mention. Every template file must cover all of them."""

from __future__ import annotations

from scamtrace.core.errors import ScamtraceError

__all__ = [
    "LANGUAGES",
    "NARRATIVE_STAGES",
    "NORMAL_KINDS",
    "SCAM_KINDS",
    "SPEAKERS",
    "TRANSCRIPT_KINDS",
    "check_language",
]

TRANSCRIPT_KINDS: tuple[str, ...] = (
    "neighbor",
    "police",
    "official",
    "followup",
    "list_dial",
    "normal_family",
    "normal_friend",
    "normal_business",
    "normal_bank_service",
    "normal_delivery",
    "normal_telemarketing",
    "normal_callcenter",
    "normal_diaspora",
)
"""Every transcript kind, scam kinds first."""

SCAM_KINDS: tuple[str, ...] = TRANSCRIPT_KINDS[:5]
"""The kinds that are (part of) a fraud: label 1 for a classifier."""

NORMAL_KINDS: tuple[str, ...] = TRANSCRIPT_KINDS[5:]
"""Ordinary calls: label 0 for a classifier."""

LANGUAGES: tuple[str, ...] = ("zh", "es", "en")
"""Template languages: Simplified Chinese, Castilian Spanish, English."""

NARRATIVE_STAGES: tuple[str, ...] = ("neighbor", "police", "official")
"""Scam stages a victim can mention in a complaint."""

SPEAKERS: tuple[str, str] = ("caller", "callee")
"""Who says a transcript's turn."""


def check_language(language: str) -> None:
    """:class:`ScamtraceError` naming ``language`` unless templates exist for it."""
    if language not in LANGUAGES:
        raise ScamtraceError(
            f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}"
        )
