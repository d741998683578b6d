"""Filling a template's ``{placeholders}``: from fixed values, slot tables (drawn at random,
nested) and built-ins (random digits, letters, round amounts)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from scamtrace.simulate.text.template_file import PLACEHOLDER
from scamtrace.simulate.text.templates import Pool, Style, TemplateError, Templates

__all__ = ["Expander", "group_digits", "text_rng"]

MAX_DEPTH = 8
"""How deep slots may nest."""

_AMOUNT_MANTISSAS_STR: tuple[str, ...] = tuple(
    str(m) for m in (1, 2, 3, 5, 8, 10, 12, 15, 20, 25, 30, 35, 40, 50, 60, 80)
)


def group_digits(digits: str, style: Style) -> str:
    """``digits`` grouped by thousands in ``style`` (from ``style.group_from_digits`` digits)."""
    if not style.thousands_sep or not style.group_from_digits:
        return digits
    if len(digits) < style.group_from_digits:
        return digits
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return style.thousands_sep.join(parts)


class Expander:
    """Fills ``{placeholders}`` from slot tables, builtins and fixed values."""

    def __init__(
        self,
        rng: random.Random,
        tpl: Templates,
        tables: Sequence[Mapping[str, Pool]],
        values: Mapping[str, str] | None = None,
    ) -> None:
        self.rng = rng
        self.tpl = tpl
        self.tables = tables
        self.values: dict[str, str] = dict(values or {})

    def expand(self, text: str, depth: int = 0) -> str:
        if depth > MAX_DEPTH:
            raise TemplateError(f"templates/{self.tpl.language}.yaml: slots nest too deep")
        return PLACEHOLDER.sub(lambda m: self.value(m.group(1), depth), text)

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
            return group_digits(value, self.tpl.style)
        raise TemplateError(f"templates/{self.tpl.language}.yaml: no slot {{{name}}}")


def text_rng(purpose: str, language: str, seed: int, index: int) -> random.Random:
    """The random source of the ``index``-th text of one call to a renderer."""
    # A str seed is hashed with SHA-512 by ``random``: stable across runs, unlike ``hash()``.
    return random.Random(f"scamtrace.text/{purpose}/{language}/{seed}/{index}")
