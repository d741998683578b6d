"""The template file format (``templates/<language>.yaml``, described in ``templates/README.md``)
as pydantic models. Validating a file's data with :class:`TemplateFile` checks its shape, that
every placeholder resolves and that narratives hold no digits; :func:`first_problem` words the
first thing wrong with the key where it is."""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scamtrace.simulate.text.kinds import TRANSCRIPT_KINDS

__all__ = [
    "BUILTINS",
    "NARRATIVE_SLOTS",
    "NARRATIVE_VALUES",
    "NOISE_OPS",
    "NOISE_POOLS",
    "PLACEHOLDER",
    "BlockFile",
    "KindFile",
    "NarrativeFile",
    "NoiseFile",
    "StyleFile",
    "TemplateFile",
    "first_problem",
]

NoiseOp = Literal["hello_check", "interrupt", "stutter", "unfinished", "filler"]
NOISE_OPS: tuple[str, ...] = get_args(NoiseOp)
"""The noise operations, each applied at most once per transcript."""

NOISE_POOLS: tuple[str, ...] = ("hello_check", "hello_reply", "interrupt", "resume", "filler")
"""The phrase pools under ``noise`` (besides ``rates``)."""

NARRATIVE_SLOTS: tuple[str, ...] = (
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
"""The slots every ``narrative.slots`` must have."""

NARRATIVE_VALUES: dict[str, tuple[str, ...]] = {
    "amount": ("money",),
    "days_lead": ("money",),
    "days_tail": ("money",),
    "n": ("days_lead_one", "days_lead_many", "days_tail_one", "days_tail_many"),
    "numbers": ("numbers_one", "numbers_many"),
    "accounts": ("accounts_one", "accounts_many"),
}
"""Placeholders the narrative renderer fills itself, and the slots where each may appear."""

BUILTINS: tuple[str, ...] = ("digits2", "digits3", "digits4", "letter", "amount", "amount_small")
"""Placeholders drawn at random when no slot has their name (transcripts only)."""

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")

Speaker = Literal["caller", "callee"]
Pool = Annotated[tuple[str, ...], Field(min_length=1)]
"""A slot: alternatives, one drawn at random (numbers in the file are read as text)."""
Rate = Annotated[float, Field(strict=True, ge=0, le=1)]
TurnPair = tuple[Speaker, str]
Turns = Annotated[tuple[TurnPair, ...], Field(min_length=1)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class BlockFile(_Part):
    """One block of a script: fixed ``turns`` or ``one_of`` several turn sequences."""

    turns: Turns | None = None
    one_of: Annotated[tuple[Turns, ...], Field(min_length=1)] | None = None
    p: Annotated[float, Field(strict=True, gt=0, le=1)] = 1.0
    group: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> BlockFile:
        if (self.turns is None) == (self.one_of is None):
            raise ValueError("needs exactly one of 'turns' and 'one_of'")
        return self

    @property
    def options(self) -> tuple[tuple[TurnPair, ...], ...]:
        """The turn sequences to draw from (one for ``turns``)."""
        return (self.turns,) if self.turns is not None else self.one_of or ()


Script = Annotated[tuple[BlockFile, ...], Field(min_length=1)]


class KindFile(_Part):
    """One transcript kind: turn bounds, own slots, noise overrides and its script(s)."""

    turns: tuple[int, int]
    noise: dict[NoiseOp, Rate] = {}
    slots: dict[str, Pool] = {}
    script: Script | None = None
    scripts: Annotated[tuple[Script, ...], Field(min_length=1)] | None = None
    script_weights: tuple[Annotated[float, Field(strict=True, gt=0)], ...] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> KindFile:
        if not 1 <= self.turns[0] <= self.turns[1]:
            raise ValueError(f"turns: expected [min, max] with 1 <= min <= max, got {self.turns}")
        if (self.script is None) == (self.scripts is None):
            raise ValueError("needs exactly one of 'script' and 'scripts'")
        if self.script_weights is not None and len(self.script_weights) != len(self.all_scripts):
            raise ValueError("script_weights: expected one positive number per script")
        return self

    @property
    def all_scripts(self) -> tuple[tuple[BlockFile, ...], ...]:
        return (self.script,) if self.script is not None else self.scripts or ()

    @property
    def weights(self) -> tuple[float, ...]:
        """One weight per script (all 1 when the file gives none)."""
        if self.script_weights is None:
            return tuple(1.0 for _ in self.all_scripts)
        return self.script_weights


class NoiseFile(_Part):
    """Phrase pools of the noise operations and how often each happens."""

    rates: dict[NoiseOp, Rate]
    hello_check: Pool
    hello_reply: Pool
    interrupt: Pool
    resume: Pool
    filler: Pool


class StyleFile(_Part):
    """How a language writes: word or character text, joins, cuts, digit grouping."""

    split: Literal["words", "chars"]
    joiner: str
    ellipsis: str
    dash: str
    stutter: Pool
    thousands_sep: str
    group_from_digits: int = Field(ge=0)
    contractions: tuple[tuple[str, str], ...] = ()


class NarrativeFile(_Part):
    """The complaint narratives: currency patterns (keyed by upper-case ISO code, ``*`` the
    fallback), number words, joins and slots. The renderer reads it as it is."""

    currency: dict[str, str]
    number_words: dict[int, str]
    list_sep: str
    list_last: str
    sentence_end: str
    sentence_sep: str
    capitalize: bool
    slots: dict[str, Pool]

    @field_validator("currency")
    @classmethod
    def _has_fallback(cls, currency: dict[str, str]) -> dict[str, str]:
        if "*" not in currency:
            raise ValueError("expected a mapping with a '*' fallback")
        for code, pattern in currency.items():
            if "{amount}" not in pattern:
                raise ValueError(f"{code}: needs {{amount}}")
        return {code.upper(): pattern for code, pattern in currency.items()}

    @field_validator("slots")
    @classmethod
    def _complete_and_digit_free(
        cls, slots: dict[str, tuple[str, ...]]
    ) -> dict[str, tuple[str, ...]]:
        absent = [s for s in NARRATIVE_SLOTS if s not in slots]
        if absent:
            raise ValueError(f"missing {absent}")
        for name, pool in slots.items():
            own = {v for v, places in NARRATIVE_VALUES.items() if name in places}
            for text in pool:
                _check_placeholders(text, set(slots) | own, name)
                if re.search(r"\d", text):
                    raise ValueError(f"{name}: digits in {text!r}")
                days = "{days_lead}" in text or "{days_tail}" in text
                if name == "money" and ("{amount}" not in text or not days):
                    raise ValueError(f"money: {text!r} needs the amount/days")
        return slots


class TemplateFile(_Part):
    """One language's template file."""

    language: str
    style: StyleFile
    sticky: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    slots: dict[str, Pool]
    noise: NoiseFile
    kinds: dict[str, KindFile]
    narrative: NarrativeFile

    @field_validator("kinds")
    @classmethod
    def _every_kind(cls, kinds: dict[str, KindFile]) -> dict[str, KindFile]:
        missing = [k for k in TRANSCRIPT_KINDS if k not in kinds]
        extra = [k for k in kinds if k not in TRANSCRIPT_KINDS]
        if missing or extra:
            raise ValueError(f"missing {missing}, unknown {extra}")
        return kinds

    @model_validator(mode="after")
    def _placeholders_resolve(self) -> TemplateFile:
        """Every transcript placeholder names a slot (the kind's own or a shared one) or a
        built-in."""
        shared = set(self.slots) | set(BUILTINS)
        for name, pool in self.slots.items():
            for text in pool:
                _check_placeholders(text, shared, f"slots.{name}")
        for name in NOISE_POOLS:
            for text in getattr(self.noise, name):
                _check_placeholders(text, shared, f"noise.{name}")
        for kind_name, kind in self.kinds.items():
            known = shared | set(kind.slots)
            for name, pool in kind.slots.items():
                for text in pool:
                    _check_placeholders(text, known, f"kinds.{kind_name}.slots.{name}")
            for block in (b for script in kind.all_scripts for b in script):
                for option in block.options:
                    for _speaker, text in option:
                        _check_placeholders(text, known, f"kinds.{kind_name}.script")
        return self


def _check_placeholders(text: str, known: set[str], at: str) -> None:
    for name in PLACEHOLDER.findall(text):
        if name not in known:
            raise ValueError(f"{at}: unknown placeholder {{{name}}} in {text!r}")


def first_problem(exc: ValidationError) -> str:
    """``key.path: problem`` for the first error of ``exc`` (the value when it is short)."""
    error = exc.errors()[0]
    # pydantic marks a bad mapping key with a "[key]" step after the key itself
    path = "".join(f"[{p}]" if isinstance(p, int) else " (the key)" if p == "[key]" else f".{p}"
                   for p in error["loc"])  # fmt: skip
    problem = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if error["type"] != "value_error" and isinstance(value, str | int | float | bool | None):
        problem += f", got {value!r}"
    return f"{path.lstrip('.')}: {problem}" if path else problem
