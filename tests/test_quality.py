"""The quality gate: a key column mostly unreadable is said (printed, summary.json, the top
of the report) and fails ``--strict``; a clean case says nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from scamtrace.core import contract
from scamtrace.core.quality import QUALITY_BAR, ColumnQuality, count_read, key_columns


def test_key_columns_are_the_numbers_times_ips_accounts_and_amounts() -> None:
    voip = {c.name: check for c, check in key_columns(contract.INPUT_TABLES["voip_cdr"])}
    assert voip == {"start_time": "time", "source_ip": "ip", "from_number": "phone",
                    "to_number": "phone"}  # fmt: skip
    transfers = {c.name: k for c, k in key_columns(contract.INPUT_TABLES["transfers"])}
    assert transfers["payer_account"] == "account" and transfers["amount"] == "amount"


def test_what_each_check_reads() -> None:
    # E.164 digits: a Chinese mobile, a Spanish one; a Spanish reading of a Chinese mobile
    # (the right length, no meaning); a failed normalisation
    phones = pa.array(["8613800138000", "34612345678", "3413800138000", None])
    assert count_read("phone", phones) == 2
    assert count_read("ip", pa.array(["203.0.113.9", "2001:db8::1", "203.0.113", "x"])) == 2
    # a damaged IBAN is not read; a domestic number or an opaque id cannot be checked
    accounts = pa.array(["ES91 2100 0418 4502 0005 1332", "ES91 2100 0418 4502 0005 1333",
                         "6222020200112233445", "C0042"])  # fmt: skip
    assert count_read("account", accounts) == 3


def test_the_bar() -> None:
    def share(read: int) -> ColumnQuality:
        return ColumnQuality("carrier_cdr", "called_number", "phone", "f", 1000, read, True)

    assert not share(int(QUALITY_BAR * 1000)).below and share(int(QUALITY_BAR * 1000) - 1).below
    assert not ColumnQuality("reports", "filed_at", "time", "f", 0, 0, False).below
    assert "carrier_cdr.called_number: 50.0% of a sample of 1,000" in share(500).sentence()


@pytest.fixture(scope="module")
def misread(small_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The victims' carrier logs its subscribers as national numbers (``13800138000``), and
    holder.json says the carrier is Spanish: every called number reads as an invalid
    Spanish one."""
    case = tmp_path_factory.mktemp("misread") / "case"
    shutil.copytree(small_case, case, ignore=shutil.ignore_patterns("truth"))
    carrier = pq.read_table(case / "carrier_cdr.parquet")
    national = pc.replace_substring_regex(carrier["called_number"], r"^\+86", "")
    index = carrier.schema.get_field_index("called_number")
    pq.write_table(carrier.set_column(index, "called_number", national),
                   case / "carrier_cdr.parquet")  # fmt: skip
    holder = json.loads((case / "holder.json").read_text())
    holder["tables"]["carrier_cdr"] = "ES"
    (case / "holder.json").write_text(json.dumps(holder))
    return case


def _detect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scamtrace.cli", "detect", *args],
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_a_misread_column_is_said_everywhere(misread: Path, tmp_path: Path) -> None:
    out = tmp_path / "findings"
    done = _detect(str(misread), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "warning: key columns under 95% read" in done.stderr
    assert "called_number" in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    below = {q["column"]: q for q in summary["quality"] if q["below_bar"]}
    # the carrier's own numbers, called and calling, are read as Spanish; nothing else is
    assert {q["table"] for q in below.values()} == {"carrier_cdr"}
    assert below["called_number"]["share"] < 0.05
    assert any(line.startswith("carrier_cdr.called_number: ")
               for line in summary["quality_below_bar"])  # fmt: skip
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'role="alert"' in report and "carrier_cdr.called_number" in report


def test_strict_fails_and_writes_nothing(misread: Path, tmp_path: Path) -> None:
    out = tmp_path / "findings"
    done = _detect(str(misread), "--out", str(out), "--strict")
    assert done.returncode != 0
    assert "carrier_cdr.called_number" in done.stderr and "--strict" in done.stderr
    assert not out.exists()


def test_a_clean_case_says_nothing(small_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "findings"
    done = _detect(str(small_case), "--out", str(out), "--strict")
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["quality_below_bar"] == []
    checked = {(q["table"], q["column"]) for q in summary["quality"]}
    assert {("carrier_cdr", "called_number"), ("voip_cdr", "source_ip"),
            ("transfers", "amount")} <= checked  # fmt: skip
    assert 'role="alert"' not in (out / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def national_carrier_csv(small_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The carrier's records with its subscribers written as national numbers."""
    import pyarrow.csv as pacsv

    carrier = pq.read_table(small_case / "carrier_cdr.parquet").slice(0, 30_000)
    national = pc.replace_substring_regex(carrier["called_number"], r"^\+86", "")
    index = carrier.schema.get_field_index("called_number")
    path = tmp_path_factory.mktemp("exports") / "carrier_cdr.csv"
    pacsv.write_csv(carrier.set_column(index, "called_number", national), path)
    return path


def _ingest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scamtrace.cli", "ingest", *args],
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_ingest_warns_of_a_wrong_holder_country(national_carrier_csv: Path,
                                                tmp_path: Path) -> None:  # fmt: skip
    right = _ingest(str(national_carrier_csv), "--into", str(tmp_path / "cn"),
                    "--holder-country", "CN", "--strict")  # fmt: skip
    assert right.returncode == 0, right.stderr
    assert "warning" not in right.stderr
    wrong = _ingest(str(national_carrier_csv), "--into", str(tmp_path / "es"),
                    "--holder-country", "ES")  # fmt: skip
    assert wrong.returncode == 0, wrong.stderr
    assert "warning: key columns under 95% read" in wrong.stderr
    assert "carrier_cdr.called_number" in wrong.stderr
    assert (tmp_path / "es" / "carrier_cdr.parquet").is_file()  # a warning: the rows are in


def test_strict_ingest_adds_nothing_under_the_bar(national_carrier_csv: Path,
                                                  tmp_path: Path) -> None:  # fmt: skip
    case = tmp_path / "es"
    done = _ingest(str(national_carrier_csv), "--into", str(case), "--holder-country", "ES",
                   "--strict")  # fmt: skip
    assert done.returncode != 0
    assert "carrier_cdr.called_number" in done.stderr and "--strict" in done.stderr
    assert not (case / "carrier_cdr.parquet").exists()
