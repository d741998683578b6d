"""Loading the text templates: a packaged YAML file, checked by
:class:`~scamtrace.simulate.text.template_file.TemplateFile`, becomes the :class:`Templates` the
renderers draw from (scripts as blocks of turns, noise rates merged per kind, regexes compiled).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import ValidationError

from scamtrace.simulate.text.kinds import TRANSCRIPT_KINDS, check_language
from scamtrace.simulate.text.template_file import (
    NOISE_POOLS,
    BlockFile,
    KindFile,
    NarrativeFile,
    TemplateFile,
    first_problem,
)

__all__ = [
    "Block",
    "Kind",
    "Pool",
    "Style",
    "TemplateError",
    "Templates",
    "Turn",
    "load_templates",
    "parse_templates",
]

Pool = tuple[str, ...]


class TemplateError(ValueError):
    """A template file that does not follow the format in templates/README.md (a bug)."""


@dataclass(frozen=True)
class Style:
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
class Turn:
    speaker: str
    text: str


@dataclass(frozen=True)
class Block:
    options: tuple[tuple[Turn, ...], ...]
    p: float
    group: str | None


@dataclass(frozen=True)
class Kind:
    name: str
    min_turns: int
    max_turns: int
    slots: Mapping[str, Pool]
    scripts: tuple[tuple[Block, ...], ...]
    script_weights: tuple[float, ...]
    noise_rates: Mapping[str, float]


@dataclass(frozen=True)
class Templates:
    language: str
    style: Style
    sticky: frozenset[str]
    names: frozenset[str]
    slots: Mapping[str, Pool]
    noise: Mapping[str, Pool]
    noise_rates: Mapping[str, float]
    kinds: Mapping[str, Kind]
    narrative: NarrativeFile


@cache
def load_templates(language: str) -> Templates:
    """The packaged templates of ``language`` (read and checked once per process)."""
    check_language(language)
    name = f"{language}.yaml"
    resource = resources.files("scamtrace.simulate.text").joinpath("templates").joinpath(name)
    data = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return parse_templates(data, language, f"templates/{name}")


def parse_templates(data: Any, language: str, where: str) -> Templates:
    """``data`` (a template file as YAML gives it) checked and built; :class:`TemplateError`
    naming ``where`` and the key at fault when it does not follow the format."""
    try:
        file = TemplateFile.model_validate(data)
    except ValidationError as exc:
        raise TemplateError(f"{where}: {first_problem(exc)}") from None
    if file.language != language:
        raise TemplateError(f"{where}: 'language' must be {language!r}")
    return _build(file, language)


def _build(file: TemplateFile, language: str) -> Templates:
    st = file.style
    style = Style(
        split=st.split,
        joiner=st.joiner,
        ellipsis=st.ellipsis,
        dash=st.dash,
        stutter=st.stutter,
        thousands_sep=st.thousands_sep,
        group_from_digits=st.group_from_digits,
        contractions=tuple((re.compile(rf"\b{re.escape(a)}\b"), b) for a, b in st.contractions),
    )
    slots = dict(file.slots)
    names = frozenset(w for s in file.names for w in slots.get(s, ()))
    noise = {k: getattr(file.noise, k) for k in NOISE_POOLS}
    noise_rates: dict[str, float] = {str(k): v for k, v in file.noise.rates.items()}
    kinds = {k: _kind(k, file.kinds[k], noise_rates) for k in TRANSCRIPT_KINDS}
    return Templates(language, style, frozenset(file.sticky), names, slots, noise, noise_rates,
                     kinds, file.narrative)  # fmt: skip


def _kind(name: str, kind: KindFile, noise_rates: Mapping[str, float]) -> Kind:
    return Kind(
        name=name,
        min_turns=kind.turns[0],
        max_turns=kind.turns[1],
        slots=dict(kind.slots),
        scripts=tuple(tuple(_block(b) for b in script) for script in kind.all_scripts),
        script_weights=kind.weights,
        noise_rates={**noise_rates, **{str(k): v for k, v in kind.noise.items()}},
    )


def _block(block: BlockFile) -> Block:
    options = tuple(tuple(Turn(s, t) for s, t in option) for option in block.options)
    return Block(options, block.p, block.group)
