"""Every table of a simulated case folder is exactly what CONTRACT.md describes."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import phonenumbers
import pyarrow.parquet as pq
import pytest

from scamtrace.core import contract

MISSING = {"", "anonymous", "unknown"}


@pytest.mark.parametrize("name", list(contract.INPUT_TABLES))
def test_parquet_tables_have_contract_columns_and_types(small_case: Path, name: str) -> None:
    table = contract.INPUT_TABLES[name]
    schema = pq.read_schema(small_case / f"{name}.parquet")
    assert schema.names[: len(table.columns)] == table.column_names
    for column in table.columns:
        assert schema.field(column.name).type == column.arrow_type, column.name
    assert pq.read_metadata(small_case / f"{name}.parquet").num_rows > 0


def _csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


@pytest.mark.parametrize("name", list(contract.INPUT_TABLES))
def test_csv_tables_parse_as_the_contract_says(small_case_csv: Path, name: str) -> None:
    table = contract.INPUT_TABLES[name]
    header, rows = _csv_rows(small_case_csv / f"{name}.csv")
    assert header[: len(table.columns)] == table.column_names
    assert rows
    holder = json.loads((small_case_csv / "holder.json").read_text())
    region = holder["tables"].get(name, holder["country"])
    for row in rows[:: max(1, len(rows) // 400)]:
        for column in table.columns:
            value = row[column.name]
            if column.kind == "time":
                parsed = dt.datetime.fromisoformat(value)
                assert parsed.tzinfo is not None, f"{name}.{column.name}: {value} has no offset"
            elif column.kind == "date":
                dt.date.fromisoformat(value)
            elif column.kind == "int":
                int(value)
            elif column.kind == "bool":
                assert value in {"true", "false"}, value
            elif column.kind == "decimal":
                assert Decimal(value) >= 0
            elif column.kind in ("phone", "phone_list") and value not in MISSING:
                for number in value.split(contract.LIST_SEPARATOR):
                    if name == "reports":  # remembered by a person: may carry a typo
                        phonenumbers.parse(number, region)
                        continue
                    parsed_number = phonenumbers.parse(number, region)
                    assert phonenumbers.is_valid_number(parsed_number), f"{name}: {number}"


def test_csv_times_carry_the_holders_utc_offset(small_case_csv: Path) -> None:
    _, carrier = _csv_rows(small_case_csv / "carrier_cdr.csv")
    _, voip = _csv_rows(small_case_csv / "voip_cdr.csv")
    assert carrier[0]["start_time"].endswith("+08:00")
    assert voip[0]["start_time"].endswith("+01:00")


def test_phone_numbers_arrive_in_the_holders_mixed_formats(small_case: Path) -> None:
    caller = pq.read_table(small_case / "carrier_cdr.parquet", columns=["caller_number"])
    values = caller.column(0).to_pylist()
    assert any(v.startswith("+86") for v in values)
    assert any(v.startswith("0086") for v in values)
    assert any(v[:1] == "1" for v in values)  # national mobile, no prefix
    assert any(v in MISSING for v in values)


def test_holder_json_names_each_tables_country(small_case: Path) -> None:
    holder = json.loads((small_case / "holder.json").read_text())
    assert holder == {"country": "CN", "tables": {"voip_cdr": "ES"}}


def test_truth_files_have_the_contract_columns(small_case: Path) -> None:
    expected = {
        "entities.csv": contract.TRUTH_ENTITIES,
        "calls.csv": contract.TRUTH_CALLS,
        "transfers.csv": contract.TRUTH_TRANSFERS,
    }
    for file, columns in expected.items():
        header, rows = _csv_rows(small_case / "truth" / file)
        assert tuple(header) == columns
        assert rows
    _, entities = _csv_rows(small_case / "truth" / "entities.csv")
    assert {r["kind"] for r in entities} == set(contract.TRUTH_ENTITY_KINDS)
    scenario = json.loads((small_case / "truth" / "scenario.json").read_text())
    assert scenario["scenario"]["name"] == "small"
    assert {r["rule"] for r in scenario["naive_rules"]} == {
        "foreign_ip",
        "many_payers",
        "busy_number",
        "three_caller_ids",
        "three_caller_ids_ips",
        "local_from_abroad",
    }
