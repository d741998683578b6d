"""The detectors' declarations hold: each makes exactly the tables it declares, with the
declared columns, changes no table it did not declare, reads no table it did not declare, and
the run order derived from the declarations is the one detect has always used."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector, TableSpec, in_order
from scamtrace.detect.registry import CASE_TABLES, DETECTORS, ORDER
from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case, open_case
from tests.detect.handmade import build

#: DuckDB types each declared kind admits. A column the case had no source for (no VoIP
#: records behind a carrier call) is an untyped NULL, whatever its kind.
ADMITS = {
    "BIGINT": r"BIGINT",
    "INTEGER": r"INTEGER",
    "VARCHAR": r"VARCHAR",
    "DOUBLE": r"DOUBLE",
    "BOOLEAN": r"BOOLEAN",
    "DATE": r"DATE",
    "NUMERIC": r"DOUBLE|DECIMAL\(\d+,\d+\)",
}

Tables = dict[tuple[bool, str], tuple[tuple[tuple[str, str], ...], tuple[object, ...]]]


def _tables(case: Case) -> Tables:
    """Every table of the connection: (temporary, name) -> (columns with types, fingerprint)."""
    columns = run(case.db, """
        SELECT database_name = 'temp', table_name, list((column_name, data_type)
                                                        ORDER BY column_index)
        FROM duckdb_columns() WHERE NOT internal GROUP BY ALL
    """)
    found: Tables = {}
    for temporary, name, cols in columns:
        where = "temp.main." if temporary else ""
        prints = run(case.db, f'SELECT count(*), sum(hash(t)::HUGEINT) FROM {where}"{name}" t')
        found[(bool(temporary), str(name))] = (tuple((str(c), str(k)) for c, k in cols),
                                               tuple(prints[0]))  # fmt: skip
    return found


def _hide(case: Case, keep: set[str]) -> list[tuple[bool, str]]:
    """Rename every table out of ``keep`` so that reading it fails; return what was hidden."""
    hidden = [key for key in _tables(case) if key[1] not in keep]
    for temporary, name in hidden:
        where = "temp.main." if temporary else ""
        run(case.db, f'ALTER TABLE {where}"{name}" RENAME TO "hidden__{name}"')
    return hidden


def _unhide(case: Case, hidden: list[tuple[bool, str]]) -> None:
    for temporary, name in hidden:
        where = "temp.main." if temporary else ""
        run(case.db, f'ALTER TABLE {where}"hidden__{name}" RENAME TO "{name}"')


def _check_step(case: Case, detector: Detector, s: DetectSettings) -> None:
    before = _tables(case)
    made = {spec.name: spec for spec in detector.makes}
    keep = {*CASE_TABLES, *detector.needs, *detector.updates, *made}
    hidden = _hide(case, keep)
    try:
        detector.run(case, s)  # reading a table it did not declare fails here
    finally:
        _unhide(case, hidden)
    after = _tables(case)
    changed = {key[1] for key, value in after.items() if before.get(key) != value}
    gone = {key[1] for key in before if key not in after}
    assert gone == set(), (detector.name, gone)
    assert changed <= set(made) | set(detector.updates), (detector.name, changed - set(made))
    for spec in detector.makes:
        _check_made(case, detector, spec, after)


def _check_made(case: Case, detector: Detector, spec: TableSpec, tables: Tables) -> None:
    expected = spec.only_with is None or case.has(spec.only_with)
    found = tables.get((spec.temporary, spec.name))
    assert (found is not None) == expected, (detector.name, spec.name, spec.only_with)
    if found is None:
        return
    columns = found[0]
    assert tuple(c for c, _ in columns) == spec.column_names, (detector.name, spec.name)
    for (column, kind), (_, actual) in zip(spec.columns, columns, strict=True):
        assert actual == '"NULL"' or re.fullmatch(ADMITS[kind], actual), \
            (spec.name, column, kind, actual)  # fmt: skip


def _check_all(folder: Path) -> None:
    s = DetectSettings()
    case = open_case(folder)
    try:
        for detector in ORDER:
            _check_step(case, detector, s)
    finally:
        case.db.close()


def test_every_detector_keeps_to_its_declarations_on_a_simulated_world(small_case: Path) -> None:
    _check_all(small_case)


@pytest.mark.parametrize("tables", [
    None, ("carrier_cdr",), ("voip_cdr",), ("transfers", "accounts", "reports"), ("reports",),
], ids=["all", "carrier", "voip", "money-and-complaints", "complaints"])  # fmt: skip
def test_every_detector_keeps_to_its_declarations_whatever_tables_are_missing(
    tmp_path: Path, tables: tuple[str, ...] | None
) -> None:
    _check_all(build(tmp_path / "case", tables=tables))


def test_the_order_follows_from_the_declarations() -> None:
    assert [d.name for d in ORDER] == [
        "labels", "linking", "lines", "spoofing", "sim_boxes", "list_runs", "journeys", "mules",
        "texts", "complaints", "number_reputation", "centers", "networks", "assemble",
    ]  # fmt: skip
    # Listed backwards, every detector still runs after those whose tables it reads, and the
    # reputation step, which updates line scores in place, before the step that reads them.
    backwards = [d.name for d in in_order(reversed(DETECTORS), CASE_TABLES)]
    makers = {spec.name: d.name for d in DETECTORS for spec in d.makes}
    for d in DETECTORS:
        for table in d.needs:
            if table in makers and makers[table] != d.name:
                assert backwards.index(makers[table]) < backwards.index(d.name), (d.name, table)
    assert backwards.index("number_reputation") < backwards.index("assemble")
    assert backwards.index("spoofing") < backwards.index("number_reputation")
    # SIM-box lines join the scam calls before victims are drawn from them
    assert backwards.index("sim_boxes") < backwards.index("journeys")


def _unit(name: str, needs: tuple[str, ...], makes: tuple[str, ...]) -> Detector:
    return Detector(name, name, 0.0, needs, tuple(TableSpec.of(t, x="BIGINT") for t in makes),
                    lambda _case, _s: None)  # fmt: skip


def test_declarations_that_cannot_run_are_refused() -> None:
    with pytest.raises(ValueError, match="b needs y, which no detector makes"):
        in_order([_unit("a", ("voip_cdr",), ("x",)), _unit("b", ("y",), ())], CASE_TABLES)
    with pytest.raises(ValueError, match="made twice"):
        in_order([_unit("a", (), ("x",)), _unit("b", (), ("x",))], CASE_TABLES)
    with pytest.raises(ValueError, match="need each other"):
        in_order([_unit("a", ("y",), ("x",)), _unit("b", ("x",), ("y",))], CASE_TABLES)
    with pytest.raises(ValueError, match="unknown column kind"):
        TableSpec.of("x", a="TEXT")
