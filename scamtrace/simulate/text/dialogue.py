"""Call transcripts drawn from the templates: a kind's script, its turns expanded, then noise
(interruptions, "can you hear me?", stutters, fillers, unfinished turns).

Output format: one turn per line, each line starting ``"caller: "`` or ``"callee: "``, lines
joined with ``"\\n"``. The ``i``-th transcript of a call depends only on its kind, the language,
the seed, ``i`` and its script variant.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache
from typing import Any

from scamtrace.core.errors import ScamtraceError
from scamtrace.simulate.text.expander import Expander, text_rng
from scamtrace.simulate.text.kinds import SCAM_KINDS, SPEAKERS, TRANSCRIPT_KINDS
from scamtrace.simulate.text.templates import (
    Block,
    Kind,
    Style,
    TemplateError,
    Templates,
    Turn,
    load_templates,
)

__all__ = ["SCRIPT_VARIANTS", "render_transcripts"]

_CUT_STRIP = " ,.;:!?，。；：、！？"
_MAX_ATTEMPTS = 50


def _merge(turns: list[Turn], joiner: str) -> list[Turn]:
    out: list[Turn] = []
    for t in turns:
        if out and out[-1].speaker == t.speaker:
            out[-1] = Turn(t.speaker, out[-1].text + joiner + t.text)
        else:
            out.append(t)
    return out


def _script_turns(kind: Kind, ex: Expander) -> list[Turn]:
    rng = ex.rng
    blocks: list[Block] = []
    i = 0
    script = rng.choices(kind.scripts, weights=kind.script_weights)[0]
    while i < len(script):  # consecutive blocks sharing a group come in random order
        j = i + 1
        if script[i].group is not None:
            while j < len(script) and script[j].group == script[i].group:
                j += 1
        run = list(script[i:j])
        rng.shuffle(run)
        blocks.extend(run)
        i = j
    turns: list[Turn] = []
    for block in blocks:
        if block.p < 1 and rng.random() >= block.p:
            continue
        option = block.options[rng.randrange(len(block.options))]
        for t in option:
            text = ex.expand(t.text)
            if ex.tpl.style.split == "words":  # "{when} we..." -> "Yesterday we..."
                at = len(text) - len(text.lstrip("¿¡«\"'"))
                text = text[:at] + text[at : at + 1].upper() + text[at + 1 :]
            turns.append(Turn(t.speaker, text))
    return _merge(turns, ex.tpl.style.joiner)


def _cut_point(text: str, style: Style, rng: random.Random) -> int:
    """An index between 35% and 75% of ``text`` at a word boundary (0 if there is none)."""
    lo, hi = int(len(text) * 0.35), int(len(text) * 0.75)
    if style.split == "chars":
        return rng.randint(lo, hi) if hi > lo >= 2 else 0
    spaces = [i for i in range(lo, hi + 1) if text[i : i + 1] == " "]
    return spaces[rng.randrange(len(spaces))] if spaces else 0


def _stutter(text: str, tpl: Templates, rng: random.Random) -> str:
    style = tpl.style
    if not text or not text[0].isalpha():
        return text
    if style.split == "chars":
        first = text[0]
        return rng.choice(style.stutter).replace("{w}", first) + text
    word = text.split(" ", 1)[0].rstrip(",.!?;:")
    if not word:
        return text
    rest = text
    is_i = word == "I" or word.startswith("I'")
    if word not in tpl.names and not is_i and word[1:].islower():
        rest = text[0].lower() + text[1:]
    return rng.choice(style.stutter).replace("{w}", word) + rest


def _add_noise(turns: list[Turn], kind: Kind, ex: Expander) -> list[Turn]:
    rng, tpl = ex.rng, ex.tpl
    style, noise, rates = tpl.style, tpl.noise, kind.noise_rates
    turns = list(turns)
    room = kind.max_turns - len(turns)

    if room >= 2 and rng.random() < rates.get("interrupt", 0.0):
        long_callers = [
            i for i, t in enumerate(turns) if t.speaker == "caller" and len(t.text) >= 24
        ]
        if long_callers:
            i = long_callers[rng.randrange(len(long_callers))]
            cut = _cut_point(turns[i].text, style, rng)
            if cut:
                whole = turns[i].text
                turns[i : i + 1] = [
                    Turn("caller", whole[:cut].rstrip(_CUT_STRIP) + style.dash),
                    Turn("callee", ex.expand(ex.pick(noise["interrupt"]))),
                    Turn("caller", ex.expand(ex.pick(noise["resume"])) + whole),
                ]
                room -= 2

    if room >= 2 and len(turns) >= 2 and rng.random() < rates.get("hello_check", 0.0):
        at = rng.randint(1, len(turns) - 1)
        who = rng.choice(SPEAKERS)
        other = SPEAKERS[1 - SPEAKERS.index(who)]
        turns[at:at] = [
            Turn(who, ex.expand(ex.pick(noise["hello_check"]))),
            Turn(other, ex.expand(ex.pick(noise["hello_reply"]))),
        ]

    if rng.random() < rates.get("stutter", 0.0):
        i = rng.randrange(len(turns))
        turns[i] = Turn(turns[i].speaker, _stutter(turns[i].text, tpl, rng))

    if rng.random() < rates.get("filler", 0.0):
        callees = [i for i, t in enumerate(turns) if t.speaker == "callee"]
        if callees:
            i = callees[rng.randrange(len(callees))]
            turns[i] = Turn("callee", ex.expand(ex.pick(noise["filler"])) + turns[i].text)

    if rng.random() < rates.get("unfinished", 0.0):
        i = rng.randrange(len(turns))
        cut = _cut_point(turns[i].text, style, rng)
        if cut:
            turns[i] = Turn(
                turns[i].speaker, turns[i].text[:cut].rstrip(_CUT_STRIP) + style.ellipsis
            )

    return _merge(turns, style.joiner)


def _render_transcript(tpl: Templates, kind: Kind, rng: random.Random) -> str:
    for _ in range(_MAX_ATTEMPTS):
        ex = Expander(rng, tpl, (kind.slots, tpl.slots))
        turns = _script_turns(kind, ex)
        if kind.min_turns <= len(turns) <= kind.max_turns:
            turns = _add_noise(turns, kind, ex)
            text = "\n".join(f"{t.speaker}: {t.text}" for t in turns)
            return tpl.style.contract(text)
    raise TemplateError(
        f"templates/{tpl.language}.yaml: kind {kind.name!r} rarely fits its turn bounds"
    )


#: How many distinct wordings of each script there are: operations write their own scripts.
SCRIPT_VARIANTS = 3


@cache
def _variant(language: str, kind_name: str, variant: int) -> Kind:
    """``kind`` as one operation words it: of every slot and block with several wordings it
    keeps its own share (wording ``i`` belongs to variant ``i mod m``), so calls of one operation
    read one script and two operations' scripts differ wherever the templates allow."""
    kind = load_templates(language).kinds[kind_name]

    def share(options: tuple[Any, ...]) -> tuple[Any, ...]:
        m = min(len(options), SCRIPT_VARIANTS)
        return options if m < 2 else options[variant % m :: m]

    slots = {name: share(pool) for name, pool in kind.slots.items()}
    scripts = tuple(
        tuple(Block(share(b.options), b.p, b.group) for b in script) for script in kind.scripts
    )
    return Kind(kind.name, kind.min_turns, kind.max_turns, slots, scripts,
                 kind.script_weights, kind.noise_rates)  # fmt: skip


def render_transcripts(
    kinds: Sequence[str], language: str, seed: int, scripts: Sequence[int] | None = None
) -> list[str]:
    """One synthetic call transcript per entry of ``kinds``, in ``language``.

    ``scripts`` (optional, one per transcript) says whose script is read: transcripts with the
    same non-negative value use the same wording of each scam stage (one operation's script),
    ``-1`` any wording. The ``i``-th transcript depends only on ``(kinds[i], language, seed, i,
    scripts[i])``. Raises :class:`ValueError` (a :class:`~scamtrace.core.errors.ScamtraceError`)
    naming an unknown kind or language.
    """
    tpl = load_templates(language)
    if isinstance(kinds, str):
        raise ScamtraceError("kinds must be a sequence of kind names, not one string")
    for k in kinds:
        if k not in tpl.kinds:
            raise ScamtraceError(
                f"unknown transcript kind {k!r}; expected one of {', '.join(TRANSCRIPT_KINDS)}"
            )
    if scripts is not None and len(scripts) != len(kinds):
        raise ScamtraceError(f"scripts: {len(scripts)} values for {len(kinds)} kinds")
    chosen = [
        tpl.kinds[k]
        if scripts is None or scripts[i] < 0 or k not in SCAM_KINDS
        else _variant(language, k, int(scripts[i]))
        for i, k in enumerate(kinds)
    ]
    return [
        _render_transcript(tpl, kind, text_rng("transcript", language, seed, i))
        for i, kind in enumerate(chosen)
    ]
