"""Times logged by a local clock without an offset in the hour it repeats each autumn: read as
the second time round, and said so by ingest (counted per source, in ingest.json and on
stderr), never silently."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.ingest.pipeline import ingest

# Madrid's clocks went back from 03:00 to 02:00 on 30 October 2016: 02:00-02:59 came twice.
ROWS = (
    "id,ts,amt\n"
    "t1,2016-10-30 01:59:00,5\n"  # summer time, once
    "t2,2016-10-30 02:30:00,5\n"  # twice: read as the second time round
    "t3,2016-10-30 02:30:00+02:00,5\n"  # the first time round, said with its offset
    "t4,2016-10-30 03:30:00,5\n"  # winter time, once
    "t5,2016-03-27 02:30:00,5\n"  # the spring gap, not a repeat
)


def _source(tmp_path: Path, zone: str) -> tuple[Path, Path]:
    source = tmp_path / "bank.csv"
    source.write_text(ROWS, encoding="utf-8")
    mapping = tmp_path / "bank.yaml"
    mapping.write_text("table: transfers\ncolumns: {tx_id: id, time: ts, amount: amt}\n"
                       f"timezone: {zone}\n", encoding="utf-8")  # fmt: skip
    return source, mapping


def test_times_in_the_repeated_hour_are_counted_and_recorded(tmp_path: Path) -> None:
    source, mapping = _source(tmp_path, "Europe/Madrid")
    result = ingest([str(source)], tmp_path / "case", fmt="mapped", holder_country="ES",
                    options={"mapping": str(mapping)})  # fmt: skip
    assert [s.repeated_hour_times for s in result.sources] == [1]
    manifest = json.loads((tmp_path / "case" / "ingest.json").read_text(encoding="utf-8"))
    assert [s.get("repeated_hour_times") for s in manifest["sources"]] == [1]


def test_utc_and_fixed_offsets_repeat_no_hour(tmp_path: Path) -> None:
    source, mapping = _source(tmp_path, "'+01:00'")
    result = ingest([str(source)], tmp_path / "case", fmt="mapped", holder_country="ES",
                    options={"mapping": str(mapping)})  # fmt: skip
    assert [s.repeated_hour_times for s in result.sources] == [0]


def test_the_cli_warns(tmp_path: Path) -> None:
    source, mapping = _source(tmp_path, "Europe/Madrid")
    got = CliRunner().invoke(app, ["ingest", str(source), "--into", str(tmp_path / "case"),
                                   "--format", "mapped", "--mapping", str(mapping),
                                   "--holder-country", "ES"])  # fmt: skip
    assert got.exit_code == 0, got.output
    assert "1 times fall in the hour the local clock repeats" in " ".join(got.output.split())


def test_the_second_time_round_is_what_was_read(tmp_path: Path) -> None:
    from scamtrace.enrich.case import open_case

    source, mapping = _source(tmp_path, "Europe/Madrid")
    ingest([str(source)], tmp_path / "case", fmt="mapped", holder_country="ES",
           options={"mapping": str(mapping)})  # fmt: skip
    case = open_case(tmp_path / "case")
    times = dict(case.db.execute("SELECT tx_id, time FROM transfers").fetchall())
    second = dt.datetime(2016, 10, 30, 1, 30, tzinfo=dt.UTC)  # 02:30 CET (+01:00)
    assert times["t2"] == int(second.timestamp())
    assert times["t3"] == int(second.timestamp()) - 3600
