"""Synthetic call transcripts and victims' complaint narratives: labelled test data.

This is the text part of the simulator. It produces short, generic, plainly synthetic texts for
training and testing classifiers; nothing here is meant to be said on a real call. Every phrase
comes from the YAML templates in ``templates/`` (one file per language, format described in
``templates/README.md``); this module only combines them at random:

* :func:`render_transcripts` renders one call transcript per requested kind. Scam kinds follow the
  2016 "safe account" pattern (``neighbor``, ``police``, ``official``, ``followup``) plus
  ``list_dial``, a cut-short call from a list-dialling run; the ``normal_*`` kinds are ordinary
  calls whose vocabulary deliberately overlaps with the scam kinds (banks talk about accounts and
  verification, families talk about the police and about scam calls), so that no single word
  gives a scam away.
* :func:`render_narratives` renders a victim's complaint to the police (first person, one to four
  sentences) from the facts in a :class:`NarrativeDetails`.

Output format of a transcript: one turn per line, each line starting ``"caller: "`` or
``"callee: "``, lines joined with ``"\\n"``.

Everything is deterministic: the same arguments give the same strings, on every run and machine.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from scamtrace.core.errors import ScamtraceError

__all__ = [
    "LANGUAGES",
    "NARRATIVE_STAGES",
    "NORMAL_KINDS",
    "SCAM_KINDS",
    "TRANSCRIPT_KINDS",
    "NarrativeDetails",
    "format_amount",
    "render_narratives",
    "render_transcripts",
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

_NOISE_OPS: tuple[str, ...] = ("hello_check", "interrupt", "stutter", "unfinished", "filler")
_NOISE_POOLS: tuple[str, ...] = ("hello_check", "hello_reply", "interrupt", "resume", "filler")
_NARRATIVE_SLOTS: tuple[str, ...] = (
    "opener",
    "stage_neighbor",
    "stage_police",
    "stage_official",
    "stage_none",
    "stage_single",
    "stage_first",
    "stage_then",
    "stage_last",
    "money",
    "no_money",
    "days_lead_one",
    "days_lead_many",
    "days_tail_one",
    "days_tail_many",
    "numbers_one",
    "numbers_many",
    "accounts_one",
    "accounts_many",
    "closing",
    "clause_join",
)
# Placeholders the narrative renderer fills itself, and where each may appear.
_NARRATIVE_VALUES: dict[str, tuple[str, ...]] = {
    "amount": ("money",),
    "days_lead": ("money",),
    "days_tail": ("money",),
    "n": ("days_lead_one", "days_lead_many", "days_tail_one", "days_tail_many"),
    "numbers": ("numbers_one", "numbers_many"),
    "accounts": ("accounts_one", "accounts_many"),
}
_BUILTINS: tuple[str, ...] = ("digits2", "digits3", "digits4", "letter", "amount", "amount_small")
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_MAX_DEPTH = 8
_CUT_STRIP = " ,.;:!?，。；：、！？"
_MAX_ATTEMPTS = 50
_AMOUNT_MANTISSAS_STR: tuple[str, ...] = tuple(
    str(m) for m in (1, 2, 3, 5, 8, 10, 12, 15, 20, 25, 30, 35, 40, 50, 60, 80)
)


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


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------

Pool = tuple[str, ...]


@dataclass(frozen=True)
class _Style:
    split: str  # "words" (space-separated) or "chars" (Chinese)
    joiner: str
    ellipsis: str
    dash: str
    stutter: Pool
    thousands_sep: str
    group_from_digits: int  # 0: never group
    contractions: tuple[tuple[re.Pattern[str], str], ...] = ()  # Spanish "de el" -> "del"

    def contract(self, text: str) -> str:
        for pattern, repl in self.contractions:
            text = pattern.sub(repl, text)
        return text


@dataclass(frozen=True)
class _Turn:
    speaker: str
    text: str


@dataclass(frozen=True)
class _Block:
    options: tuple[tuple[_Turn, ...], ...]
    p: float
    group: str | None


@dataclass(frozen=True)
class _Kind:
    name: str
    min_turns: int
    max_turns: int
    slots: Mapping[str, Pool]
    scripts: tuple[tuple[_Block, ...], ...]
    script_weights: tuple[float, ...]
    noise_rates: Mapping[str, float]


@dataclass(frozen=True)
class _Narrative:
    currency: Mapping[str, str]
    number_words: Mapping[int, str]
    list_sep: str
    list_last: str
    sentence_end: str
    sentence_sep: str
    capitalize: bool
    slots: Mapping[str, Pool]


@dataclass(frozen=True)
class _Templates:
    language: str
    style: _Style
    sticky: frozenset[str]
    names: frozenset[str]
    slots: Mapping[str, Pool]
    noise: Mapping[str, Pool]
    noise_rates: Mapping[str, float]
    kinds: Mapping[str, _Kind]
    narrative: _Narrative


class _TemplateError(ValueError):
    """A template file that does not follow the format in templates/README.md (a bug)."""


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ScamtraceError(
            f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}"
        )


@cache
def _templates(language: str) -> _Templates:
    _check_language(language)
    name = f"{language}.yaml"
    resource = resources.files(__name__).joinpath("templates").joinpath(name)
    data = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return _parse(data, language, f"templates/{name}")


def _need(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise _TemplateError(f"{where}: missing key {key!r}")
    return mapping[key]


def _pool(value: Any, where: str) -> Pool:
    if not isinstance(value, list) or not value:
        raise _TemplateError(f"{where}: expected a non-empty list of strings")
    out: list[str] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise _TemplateError(f"{where}: {item!r} is not a string")
        out.append(str(item))
    return tuple(out)


def _pools(value: Any, where: str) -> dict[str, Pool]:
    if not isinstance(value, dict):
        raise _TemplateError(f"{where}: expected a mapping of slot name to list")
    return {str(k): _pool(v, f"{where}.{k}") for k, v in value.items()}


def _rates(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise _TemplateError(f"{where}: expected a mapping of noise kind to probability")
    out: dict[str, float] = {}
    for k, v in value.items():
        if k not in _NOISE_OPS or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise _TemplateError(f"{where}.{k}: unknown noise kind or probability not in [0, 1]")
        out[str(k)] = float(v)
    return out


def _turns(value: Any, where: str) -> tuple[_Turn, ...]:
    if not isinstance(value, list) or not value:
        raise _TemplateError(f"{where}: expected a non-empty list of [speaker, text] pairs")
    out: list[_Turn] = []
    for i, item in enumerate(value):
        if (
            not isinstance(item, list)
            or len(item) != 2
            or item[0] not in SPEAKERS
            or not isinstance(item[1], str)
        ):
            raise _TemplateError(f"{where}[{i}]: expected [caller|callee, text], got {item!r}")
        out.append(_Turn(item[0], item[1]))
    return tuple(out)


def _block(value: Any, where: str) -> _Block:
    if not isinstance(value, dict):
        raise _TemplateError(f"{where}: expected a mapping")
    unknown = set(value) - {"turns", "one_of", "p", "group"}
    if unknown or ("turns" in value) == ("one_of" in value):
        raise _TemplateError(
            f"{where}: needs exactly one of 'turns'/'one_of', and only 'p', 'group'"
        )
    if "turns" in value:
        options: tuple[tuple[_Turn, ...], ...] = (_turns(value["turns"], f"{where}.turns"),)
    else:
        alts = value["one_of"]
        if not isinstance(alts, list) or not alts:
            raise _TemplateError(f"{where}.one_of: expected a non-empty list")
        options = tuple(_turns(a, f"{where}.one_of[{i}]") for i, a in enumerate(alts))
    p = value.get("p", 1.0)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p <= 1:
        raise _TemplateError(f"{where}.p: expected a probability in (0, 1]")
    group = value.get("group")
    return _Block(options, float(p), None if group is None else str(group))


def _parse(data: Any, language: str, where: str) -> _Templates:
    if _need(data, "language", where) != language:
        raise _TemplateError(f"{where}: 'language' must be {language!r}")
    st = _need(data, "style", where)
    style = _Style(
        split=str(_need(st, "split", f"{where}.style")),
        joiner=str(_need(st, "joiner", f"{where}.style")),
        ellipsis=str(_need(st, "ellipsis", f"{where}.style")),
        dash=str(_need(st, "dash", f"{where}.style")),
        stutter=_pool(_need(st, "stutter", f"{where}.style"), f"{where}.style.stutter"),
        thousands_sep=str(_need(st, "thousands_sep", f"{where}.style")),
        group_from_digits=int(_need(st, "group_from_digits", f"{where}.style")),
        contractions=tuple(
            (re.compile(rf"\b{re.escape(str(a))}\b"), str(b)) for a, b in st.get("contractions", [])
        ),
    )
    if style.split not in ("words", "chars"):
        raise _TemplateError(f"{where}.style.split: expected 'words' or 'chars'")
    slots = _pools(_need(data, "slots", where), f"{where}.slots")
    sticky = frozenset(str(s) for s in data.get("sticky", []))
    names = frozenset(w for s in data.get("names", []) for w in slots.get(str(s), ()))
    nz = _need(data, "noise", where)
    noise = {k: _pool(_need(nz, k, f"{where}.noise"), f"{where}.noise.{k}") for k in _NOISE_POOLS}
    noise_rates = _rates(_need(nz, "rates", f"{where}.noise"), f"{where}.noise.rates")

    kinds_data = _need(data, "kinds", where)
    missing = [k for k in TRANSCRIPT_KINDS if k not in kinds_data]
    extra = [k for k in kinds_data if k not in TRANSCRIPT_KINDS]
    if missing or extra:
        raise _TemplateError(f"{where}.kinds: missing {missing}, unknown {extra}")
    kinds: dict[str, _Kind] = {}
    for kname in TRANSCRIPT_KINDS:
        kd = kinds_data[kname]
        kw = f"{where}.kinds.{kname}"
        bounds = _need(kd, "turns", kw)
        if not (isinstance(bounds, list) and len(bounds) == 2 and 1 <= bounds[0] <= bounds[1]):
            raise _TemplateError(f"{kw}.turns: expected [min, max]")
        if ("script" in kd) == ("scripts" in kd):
            raise _TemplateError(f"{kw}: needs exactly one of 'script' and 'scripts'")
        raw = [kd["script"]] if "script" in kd else kd["scripts"]
        if not isinstance(raw, list) or not raw:
            raise _TemplateError(f"{kw}.scripts: expected a non-empty list of scripts")
        for i, script in enumerate(raw):
            if not isinstance(script, list) or not script:
                raise _TemplateError(f"{kw}.scripts[{i}]: expected a non-empty list of blocks")
        weights = kd.get("script_weights", [1] * len(raw))
        if (
            not isinstance(weights, list)
            or len(weights) != len(raw)
            or any(isinstance(w, bool) or not isinstance(w, int | float) or w <= 0 for w in weights)
        ):
            raise _TemplateError(f"{kw}.script_weights: expected one positive number per script")
        kinds[kname] = _Kind(
            name=kname,
            min_turns=int(bounds[0]),
            max_turns=int(bounds[1]),
            slots=_pools(kd.get("slots", {}), f"{kw}.slots"),
            scripts=tuple(
                tuple(_block(b, f"{kw}.scripts[{i}][{j}]") for j, b in enumerate(script))
                for i, script in enumerate(raw)
            ),
            script_weights=tuple(float(w) for w in weights),
            noise_rates={**noise_rates, **_rates(kd.get("noise", {}), f"{kw}.noise")},
        )

    nd = _need(data, "narrative", where)
    nw = f"{where}.narrative"
    currency = _need(nd, "currency", nw)
    if not isinstance(currency, dict) or "*" not in currency:
        raise _TemplateError(f"{nw}.currency: expected a mapping with a '*' fallback")
    words = _need(nd, "number_words", nw)
    if not isinstance(words, dict):
        raise _TemplateError(f"{nw}.number_words: expected a mapping of int to word")
    nslots = _pools(_need(nd, "slots", nw), f"{nw}.slots")
    absent = [s for s in _NARRATIVE_SLOTS if s not in nslots]
    if absent:
        raise _TemplateError(f"{nw}.slots: missing {absent}")
    narrative = _Narrative(
        currency={str(k).upper(): str(v) for k, v in currency.items()},
        number_words={int(k): str(v) for k, v in words.items()},
        list_sep=str(_need(nd, "list_sep", nw)),
        list_last=str(_need(nd, "list_last", nw)),
        sentence_end=str(_need(nd, "sentence_end", nw)),
        sentence_sep=str(_need(nd, "sentence_sep", nw)),
        capitalize=bool(_need(nd, "capitalize", nw)),
        slots=nslots,
    )
    tpl = _Templates(language, style, sticky, names, slots, noise, noise_rates, kinds, narrative)
    _validate(tpl, where)
    return tpl


def _validate(tpl: _Templates, where: str) -> None:
    """Every placeholder resolves; money templates name the amount and the days."""
    shared = set(tpl.slots) | set(_BUILTINS)

    def check(text: str, known: set[str], at: str) -> None:
        for name in _PLACEHOLDER.findall(text):
            if name not in known:
                raise _TemplateError(f"{at}: unknown placeholder {{{name}}} in {text!r}")

    for name, pool in tpl.slots.items():
        for t in pool:
            check(t, shared, f"{where}.slots.{name}")
    for name, pool in tpl.noise.items():
        for t in pool:
            check(t, shared, f"{where}.noise.{name}")
    for kind in tpl.kinds.values():
        known = shared | set(kind.slots)
        for name, pool in kind.slots.items():
            for t in pool:
                check(t, known, f"{where}.kinds.{kind.name}.slots.{name}")
        for block in (b for script in kind.scripts for b in script):
            for option in block.options:
                for turn in option:
                    check(turn.text, known, f"{where}.kinds.{kind.name}.script")
    nslots = tpl.narrative.slots
    for name, pool in nslots.items():
        own = {v for v, places in _NARRATIVE_VALUES.items() if name in places}
        for t in pool:
            check(t, set(nslots) | own, f"{where}.narrative.slots.{name}")
            if re.search(r"\d", t):
                raise _TemplateError(f"{where}.narrative.slots.{name}: digits in {t!r}")
            if name == "money" and (
                "{amount}" not in t or ("{days_lead}" not in t and "{days_tail}" not in t)
            ):
                raise _TemplateError(f"{where}.narrative.slots.money: {t!r} needs the amount/days")
    for code, pattern in tpl.narrative.currency.items():
        if "{amount}" not in pattern:
            raise _TemplateError(f"{where}.narrative.currency.{code}: needs {{amount}}")


# --------------------------------------------------------------------------------------------
# Expansion
# --------------------------------------------------------------------------------------------


def _group_digits(digits: str, style: _Style) -> str:
    if not style.thousands_sep or not style.group_from_digits:
        return digits
    if len(digits) < style.group_from_digits:
        return digits
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return style.thousands_sep.join(parts)


class _Expander:
    """Fills ``{placeholders}`` from slot tables, builtins and fixed values."""

    def __init__(
        self,
        rng: random.Random,
        tpl: _Templates,
        tables: Sequence[Mapping[str, Pool]],
        values: Mapping[str, str] | None = None,
    ) -> None:
        self.rng = rng
        self.tpl = tpl
        self.tables = tables
        self.values: dict[str, str] = dict(values or {})

    def expand(self, text: str, depth: int = 0) -> str:
        if depth > _MAX_DEPTH:
            raise _TemplateError(f"templates/{self.tpl.language}.yaml: slots nest too deep")
        return _PLACEHOLDER.sub(lambda m: self.value(m.group(1), depth), text)

    def pick(self, pool: Pool) -> str:
        return pool[self.rng.randrange(len(pool))]

    def value(self, name: str, depth: int = 0) -> str:
        if name in self.values:
            return self.values[name]
        for table in self.tables:
            if name in table:
                out = self.expand(self.pick(table[name]), depth + 1)
                break
        else:
            out = self._builtin(name)
        if name in self.tpl.sticky:
            self.values[name] = out
        return out

    def _builtin(self, name: str) -> str:
        rng = self.rng
        if name.startswith("digits"):
            return "".join(str(rng.randrange(10)) for _ in range(int(name[6:])))
        if name == "letter":
            return "ABCDEFGHJKLMNPQRSTUVWXYZ"[rng.randrange(24)]
        if name in ("amount", "amount_small"):
            exponent = rng.choice((2, 3) if name == "amount" else (0, 1))
            value = self.pick(_AMOUNT_MANTISSAS_STR) + "0" * exponent
            return _group_digits(value, self.tpl.style)
        raise _TemplateError(f"templates/{self.tpl.language}.yaml: no slot {{{name}}}")


# --------------------------------------------------------------------------------------------
# Transcripts
# --------------------------------------------------------------------------------------------


def _merge(turns: list[_Turn], joiner: str) -> list[_Turn]:
    out: list[_Turn] = []
    for t in turns:
        if out and out[-1].speaker == t.speaker:
            out[-1] = _Turn(t.speaker, out[-1].text + joiner + t.text)
        else:
            out.append(t)
    return out


def _script_turns(kind: _Kind, ex: _Expander) -> list[_Turn]:
    rng = ex.rng
    blocks: list[_Block] = []
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
    turns: list[_Turn] = []
    for block in blocks:
        if block.p < 1 and rng.random() >= block.p:
            continue
        option = block.options[rng.randrange(len(block.options))]
        for t in option:
            text = ex.expand(t.text)
            if ex.tpl.style.split == "words":  # "{when} we..." -> "Yesterday we..."
                at = len(text) - len(text.lstrip("¿¡«\"'"))
                text = text[:at] + text[at : at + 1].upper() + text[at + 1 :]
            turns.append(_Turn(t.speaker, text))
    return _merge(turns, ex.tpl.style.joiner)


def _cut_point(text: str, style: _Style, rng: random.Random) -> int:
    """An index between 35% and 75% of ``text`` at a word boundary (0 if there is none)."""
    lo, hi = int(len(text) * 0.35), int(len(text) * 0.75)
    if style.split == "chars":
        return rng.randint(lo, hi) if hi > lo >= 2 else 0
    spaces = [i for i in range(lo, hi + 1) if text[i : i + 1] == " "]
    return spaces[rng.randrange(len(spaces))] if spaces else 0


def _stutter(text: str, tpl: _Templates, rng: random.Random) -> str:
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


def _add_noise(turns: list[_Turn], kind: _Kind, ex: _Expander) -> list[_Turn]:
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
                    _Turn("caller", whole[:cut].rstrip(_CUT_STRIP) + style.dash),
                    _Turn("callee", ex.expand(ex.pick(noise["interrupt"]))),
                    _Turn("caller", ex.expand(ex.pick(noise["resume"])) + whole),
                ]
                room -= 2

    if room >= 2 and len(turns) >= 2 and rng.random() < rates.get("hello_check", 0.0):
        at = rng.randint(1, len(turns) - 1)
        who = rng.choice(SPEAKERS)
        other = SPEAKERS[1 - SPEAKERS.index(who)]
        turns[at:at] = [
            _Turn(who, ex.expand(ex.pick(noise["hello_check"]))),
            _Turn(other, ex.expand(ex.pick(noise["hello_reply"]))),
        ]

    if rng.random() < rates.get("stutter", 0.0):
        i = rng.randrange(len(turns))
        turns[i] = _Turn(turns[i].speaker, _stutter(turns[i].text, tpl, rng))

    if rng.random() < rates.get("filler", 0.0):
        callees = [i for i, t in enumerate(turns) if t.speaker == "callee"]
        if callees:
            i = callees[rng.randrange(len(callees))]
            turns[i] = _Turn("callee", ex.expand(ex.pick(noise["filler"])) + turns[i].text)

    if rng.random() < rates.get("unfinished", 0.0):
        i = rng.randrange(len(turns))
        cut = _cut_point(turns[i].text, style, rng)
        if cut:
            turns[i] = _Turn(
                turns[i].speaker, turns[i].text[:cut].rstrip(_CUT_STRIP) + style.ellipsis
            )

    return _merge(turns, style.joiner)


def _render_transcript(tpl: _Templates, kind: _Kind, rng: random.Random) -> str:
    for _ in range(_MAX_ATTEMPTS):
        ex = _Expander(rng, tpl, (kind.slots, tpl.slots))
        turns = _script_turns(kind, ex)
        if kind.min_turns <= len(turns) <= kind.max_turns:
            turns = _add_noise(turns, kind, ex)
            text = "\n".join(f"{t.speaker}: {t.text}" for t in turns)
            return tpl.style.contract(text)
    raise _TemplateError(
        f"templates/{tpl.language}.yaml: kind {kind.name!r} rarely fits its turn bounds"
    )


def _rng(purpose: str, language: str, seed: int, index: int) -> random.Random:
    # A str seed is hashed with SHA-512 by ``random``: stable across runs, unlike ``hash()``.
    return random.Random(f"scamtrace.text/{purpose}/{language}/{seed}/{index}")


#: How many distinct wordings of each script there are: operations write their own scripts.
SCRIPT_VARIANTS = 3


@cache
def _variant(language: str, kind_name: str, variant: int) -> _Kind:
    """``kind`` as one operation words it: of every slot and block with several wordings it
    keeps its own share (wording ``i`` belongs to variant ``i mod m``), so calls of one operation
    read one script and two operations' scripts differ wherever the templates allow."""
    kind = _templates(language).kinds[kind_name]

    def share(options: tuple[Any, ...]) -> tuple[Any, ...]:
        m = min(len(options), SCRIPT_VARIANTS)
        return options if m < 2 else options[variant % m :: m]

    slots = {name: share(pool) for name, pool in kind.slots.items()}
    scripts = tuple(
        tuple(_Block(share(b.options), b.p, b.group) for b in script) for script in kind.scripts
    )
    return _Kind(kind.name, kind.min_turns, kind.max_turns, slots, scripts,
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
    tpl = _templates(language)
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
        _render_transcript(tpl, kind, _rng("transcript", language, seed, i))
        for i, kind in enumerate(chosen)
    ]


# --------------------------------------------------------------------------------------------
# Narratives
# --------------------------------------------------------------------------------------------


def format_amount(amount: str, currency: str, language: str) -> str:
    """``amount`` with ``currency`` the way a complaint in ``language`` writes it.

    A plain run of ASCII digits is grouped in the language's style; anything else is kept as is.
    ``format_amount("35000", "CNY", "zh") == "35000元"``, ``("35000", "EUR", "es")`` gives
    ``"35.000 euros"`` and ``("35000", "CNY", "en")`` gives ``"35,000 CNY"``.
    """
    tpl = _templates(language)
    code = currency.strip().upper()
    shown = _group_digits(amount, tpl.style) if re.fullmatch(r"[0-9]+", amount) else amount
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


def _join_list(items: Sequence[str], nar: _Narrative) -> str:
    if len(items) == 1:
        return items[0]
    return nar.list_sep.join(items[:-1]) + nar.list_last + items[-1]


def _sentence(text: str, nar: _Narrative) -> str:
    text = text.strip()
    if nar.capitalize and text:
        text = text[0].upper() + text[1:]
    return text + nar.sentence_end


def _render_narrative(tpl: _Templates, d: NarrativeDetails, rng: random.Random) -> str:
    nar = tpl.narrative
    ns = nar.slots
    ex = _Expander(rng, tpl, (ns,))

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
    tpl = _templates(language)
    for d in details:
        _check_details(d)
    return [
        _render_narrative(tpl, d, _rng("narrative", language, seed, i))
        for i, d in enumerate(details)
    ]
