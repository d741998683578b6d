"""Victims' complaints to the police, worded from the templates: first person, one to four
sentences, from the facts in a :class:`NarrativeDetails`. Numbers and accounts are quoted verbatim
or left out; every digit comes from the details."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from scamtrace.core.errors import ScamtraceError
from scamtrace.simulate.text.expander import Expander, group_digits, text_rng
from scamtrace.simulate.text.kinds import NARRATIVE_STAGES
from scamtrace.simulate.text.template_file import NarrativeFile
from scamtrace.simulate.text.templates import Templates, load_templates

__all__ = ["NarrativeDetails", "format_amount", "render_narratives"]


@dataclass(frozen=True)
class NarrativeDetails:
    """What a victim can tell the police; :func:`render_narratives` words it.

    ``amount`` is the sum lost, as a string; a plain run of ASCII digits (``"35000"``) is grouped
    in the language's style (``"35.000"`` in Spanish, ``"35,000"`` in English), anything else is
    used verbatim. ``currency`` is an ISO 4217 code. ``numbers`` are phone numbers as the victim
    remembers them and ``accounts`` the accounts they paid into (both may be empty; either is
    quoted verbatim or left out, never altered). ``stages`` lists which of ``neighbor``,
    ``police`` and ``official`` the victim went through, in order; ``days`` is how many days the
    scam lasted (at least 1).
    """

    amount: str
    currency: str
    numbers: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    days: int = 1


def format_amount(amount: str, currency: str, language: str) -> str:
    """``amount`` with ``currency`` the way a complaint in ``language`` writes it.

    A plain run of ASCII digits is grouped in the language's style; anything else is kept as is.
    ``format_amount("35000", "CNY", "zh") == "35000元"``, ``("35000", "EUR", "es")`` gives
    ``"35.000 euros"`` and ``("35000", "CNY", "en")`` gives ``"35,000 CNY"``.
    """
    tpl = load_templates(language)
    code = currency.strip().upper()
    shown = group_digits(amount, tpl.style) if re.fullmatch(r"[0-9]+", amount) else amount
    pattern = tpl.narrative.currency.get(code, tpl.narrative.currency["*"])
    return pattern.replace("{code}", code).replace("{amount}", shown)


def _check_details(d: NarrativeDetails) -> None:
    if not isinstance(d, NarrativeDetails):
        raise ScamtraceError(f"expected NarrativeDetails, got {type(d).__name__}")
    if not d.amount.strip():
        raise ScamtraceError("NarrativeDetails.amount is empty")
    if not re.fullmatch(r"[A-Za-z]{3}", d.currency.strip()):
        raise ScamtraceError(f"NarrativeDetails.currency {d.currency!r} is not an ISO 4217 code")
    if isinstance(d.days, bool) or not isinstance(d.days, int) or d.days < 1:
        raise ScamtraceError(f"NarrativeDetails.days must be a positive int, got {d.days!r}")
    for stage in d.stages:
        if stage not in NARRATIVE_STAGES:
            raise ScamtraceError(
                f"unknown scam stage {stage!r}; expected one of {', '.join(NARRATIVE_STAGES)}"
            )
    for field, items in (("numbers", d.numbers), ("accounts", d.accounts)):
        if any(not isinstance(x, str) or not x.strip() for x in items):
            raise ScamtraceError(f"NarrativeDetails.{field} must hold non-empty strings")


def _join_list(items: Sequence[str], nar: NarrativeFile) -> str:
    if len(items) == 1:
        return items[0]
    return nar.list_sep.join(items[:-1]) + nar.list_last + items[-1]


def _sentence(text: str, nar: NarrativeFile) -> str:
    text = text.strip()
    if nar.capitalize and text:
        text = text[0].upper() + text[1:]
    return text + nar.sentence_end


def _render_narrative(tpl: Templates, d: NarrativeDetails, rng: random.Random) -> str:
    nar = tpl.narrative
    ns = nar.slots
    ex = Expander(rng, tpl, (ns,))

    def one(slot: str, **values: str) -> str:
        ex.values.update(values)
        try:
            return ex.expand(ex.pick(ns[slot]))
        finally:
            for key in values:
                del ex.values[key]

    stages = list(dict.fromkeys(d.stages))
    if len(stages) > 1 and rng.random() < 0.4:  # mention only some of them, in order
        keep = sorted(rng.sample(range(len(stages)), rng.randint(1, len(stages) - 1)))
        stages = [stages[i] for i in keep]
    if not stages:
        story = one("stage_none")
    elif len(stages) == 1:
        story = one("stage_single") + one(f"stage_{stages[0]}")
    else:
        story = one("stage_first") + one(f"stage_{stages[0]}")
        for s in stages[1:-1]:
            story += one("stage_then") + one(f"stage_{s}")
        story += one("stage_last") + one(f"stage_{stages[-1]}")

    n = nar.number_words.get(d.days, str(d.days))
    size = "one" if d.days == 1 else "many"
    # A victim who paid nothing says so, rather than "I transferred 0".
    money = one("no_money") if re.fullmatch(r"0+(\.0*)?", d.amount.strip()) else one(
        "money",
        amount=format_amount(d.amount, d.currency, tpl.language),
        days_lead=one(f"days_lead_{size}", n=n),
        days_tail=one(f"days_tail_{size}", n=n),
    )

    extras: list[str] = []
    for field, items in (("numbers", d.numbers), ("accounts", d.accounts)):
        if items and rng.random() < 0.65:
            chosen = list(dict.fromkeys(items))
            if len(chosen) > 1 and rng.random() < 0.3:
                chosen = chosen[:1]
            plural = "one" if len(chosen) == 1 else "many"
            extras.append(one(f"{field}_{plural}", **{field: _join_list(chosen, nar)}))
    rng.shuffle(extras)
    if len(extras) == 2 and rng.random() < 0.5:
        extras = [extras[0] + one("clause_join") + extras[1]]

    core = [story, money] if rng.random() < 0.8 else [money, story]
    if rng.random() < 0.3:
        core = [core[0] + one("clause_join") + core[1]]
    sentences = core + extras
    if len(sentences) < 4 and rng.random() < 0.25:
        sentences.insert(0, one("opener"))
    if len(sentences) < 4 and rng.random() < 0.35:
        sentences.append(one("closing"))
    # No contractions here: they could alter the verbatim numbers and accounts.
    return nar.sentence_sep.join(_sentence(s, nar) for s in sentences)


def render_narratives(details: Sequence[NarrativeDetails], language: str, seed: int) -> list[str]:
    """One victim's complaint (first person, 1-4 sentences) per entry of ``details``.

    Each mentions the amount (see :func:`format_amount`), how many days the scam lasted and some
    of the stages; phone numbers and accounts are quoted verbatim from the details or left out.
    The ``i``-th narrative depends only on ``(details[i], language, seed, i)``. Raises
    :class:`ValueError` (a :class:`~scamtrace.core.errors.ScamtraceError`) naming an unknown
    language or stage, or an invalid field.
    """
    tpl = load_templates(language)
    for d in details:
        _check_details(d)
    return [
        _render_narrative(tpl, d, text_rng("narrative", language, seed, i))
        for i, d in enumerate(details)
    ]
