"""A detector as a unit: what it reads, what it makes, and the run order that follows from it.

Detectors talk through DuckDB tables. Each one declares the tables it needs (the case's own or
other detectors') and the tables it makes, with their columns, so the order they run in is
derived rather than written by hand, and a test can check that each makes exactly what it
declares and reads nothing else (``tests/detect/test_registry.py``).
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case

#: Column kinds a :class:`TableSpec` may declare: DuckDB type names, and ``NUMERIC`` for a
#: value computed from SQL decimal literals, whose type (``DOUBLE`` or ``DECIMAL(p,s)`` of some
#: precision) follows the inputs it was computed from.
KINDS = ("BIGINT", "INTEGER", "VARCHAR", "DOUBLE", "BOOLEAN", "DATE", "NUMERIC")


@dataclass(frozen=True)
class TableSpec:
    """A DuckDB table a detector creates: its name, its columns in order as (name, kind), and
    the case table it is made only with (``only_with``: absent without it), if any."""

    name: str
    columns: tuple[tuple[str, str], ...]
    only_with: str | None = None
    temporary: bool = False

    @classmethod
    def of(cls, name: str, *, only_with: str | None = None, temporary: bool = False,
           **columns: str) -> TableSpec:  # fmt: skip
        """``TableSpec.of("call_link", c_line="BIGINT", ...)``: columns in the order given."""
        return cls(name, _kinds_known(name, tuple(columns.items())), only_with, temporary)

    def plus(self, name: str, **columns: str) -> TableSpec:
        """The spec of table ``name``: this one's columns, then ``columns``."""
        return TableSpec(name, _kinds_known(name, self.columns + tuple(columns.items())))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)


def _kinds_known(table: str, columns: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    unknown = [f"{c} {k}" for c, k in columns if k not in KINDS]
    if unknown:
        raise ValueError(f"{table}: unknown column kind {unknown[0]!r}")
    return columns


@dataclass(frozen=True)
class Detector:
    """One detector. ``name`` is how code and tests refer to it; ``step`` is what the progress
    line shows and ``summary.json``'s timings are keyed by; ``progress`` the fraction of the run
    done when it starts. ``updates`` are tables made by another detector that this one changes
    in place. ``run`` returns what the summary reports of the step (or None)."""

    name: str
    step: str
    progress: float
    needs: tuple[str, ...]
    makes: tuple[TableSpec, ...]
    run: Callable[[Case, DetectSettings], object]
    updates: tuple[str, ...] = ()


def in_order(detectors: Iterable[Detector], case_tables: Iterable[str]) -> tuple[Detector, ...]:
    """The detectors in an order where each runs after every detector whose tables it needs.

    A table that one detector updates in place is read updated by every other detector that
    needs it, except by those the updater itself depends on (they read it before the update,
    and must: the updater needs what they make). Ties keep the order ``detectors`` are given
    in, so the order only changes when the declarations ask for it. Raises ``ValueError`` for
    a table needed that nothing makes, a table made twice, or a cycle."""
    listed = tuple(detectors)
    place = {d.name: n for n, d in enumerate(listed)}
    known = set(case_tables)
    maker: dict[str, Detector] = {}
    for d in listed:
        for spec in d.makes:
            if spec.name in maker or spec.name in known:
                raise ValueError(f"table {spec.name} is made twice ({d.name})")
            maker[spec.name] = d
    before: dict[str, set[str]] = {d.name: set() for d in listed}
    for d in listed:
        for table in (*d.needs, *d.updates):
            if table in known:
                continue
            if table not in maker:
                raise ValueError(f"{d.name} needs {table}, which no detector makes")
            if maker[table] is not d:
                before[d.name].add(maker[table].name)
    needed = {n: set(b) for n, b in before.items()}  # before the updates' edges are added
    for updater in listed:
        upstream = _ancestors(updater.name, needed)
        for d in listed:
            if d is not updater and d.name not in upstream and set(d.needs) & set(updater.updates):
                before[d.name].add(updater.name)
    sorter = graphlib.TopologicalSorter(before)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise ValueError(f"detectors need each other's tables: {' -> '.join(exc.args[1])}"
                         ) from exc  # fmt: skip
    ready = [(place[n], n) for n in sorter.get_ready()]
    heapq.heapify(ready)
    order = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(listed[place[name]])
        sorter.done(name)
        for n in sorter.get_ready():
            heapq.heappush(ready, (place[n], n))
    return tuple(order)


def _ancestors(name: str, before: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(before[name])
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(before[n])
    return seen
