"""``detect --verdicts``: analysts' verdicts read as labels on the next run.

On small simulated worlds (two seeds): a rejected line is not flagged again and what it alone
supported falls with it; a rejected false positive stays down; a rejection is reopened by new
records (appended to the case, or newer than the analyst saw); a confirmed line that detection
missed is flagged and finds true victims it did not find before (recall against the truth);
unknown entities are counted; a bad file stops the run before anything is written; the
workspace's URL form is read over HTTP.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scamtrace.core.verdicts import Verdict, read_verdicts, verdicts_csv
from scamtrace.detect.runner import detect
from tests.conftest import make_case
from tests.detect.conftest import read_rows

SEEDS = (1, 2)
DECIDED = dt.datetime(2024, 1, 2, 9, 30, tzinfo=dt.UTC)
IP_REASON = re.compile(r"(\d+) of its (\d+) calls came from (\d+) dialling accounts")

Entities = dict[tuple[str, str], dict[str, str]]


def _entities(findings: Path, name: str = "entities") -> Entities:
    return {(r["kind"], r["value"]): r for r in read_rows(findings / f"{name}.csv")}


def _flagged(findings: Path) -> set[tuple[str, str]]:
    return {k for k, r in _entities(findings).items() if float(r["score"]) >= 0.5}


def _truth(case: Path) -> set[tuple[str, str]]:
    return {(r["kind"], r["value"]) for r in read_rows(case / "truth" / "entities.csv")}


def _summary(findings: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((findings / "summary.json").read_text("utf-8"))
    return data


def _verdict(row: dict[str, str], verdict: str, **changes: object) -> Verdict:
    """What the workspace records when an analyst decides on a row of entities.csv."""
    fields: dict[str, object] = {
        "kind": row["kind"], "value": row["value"], "verdict": verdict,
        "evidence_last": dt.datetime.fromisoformat(row["evidence_last"].replace("Z", "+00:00")),
        "evidence_count": int(row["evidence_count"]), "decided_at": DECIDED, "analyst": "ana",
    }  # fmt: skip
    fields.update(changes)
    return Verdict(**fields)  # type: ignore[arg-type]


def _recall(truth: set[tuple[str, str]], flagged: set[tuple[str, str]], kind: str) -> float:
    true = {t for t in truth if t[0] == kind}
    return len(true & flagged) / len(true)


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def world(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # fmt: skip
    """A small world and its findings without verdicts."""
    root = tmp_path_factory.mktemp(f"verdicts-{request.param}")
    case = make_case(root, "case", "small", seed=request.param)
    detect(case, root / "f0")
    return case, root / "f0"


@pytest.fixture(scope="module")
def rejected_run(world: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[dict[str, Verdict], Path]:  # fmt: skip
    """Findings after rejecting a true line, a false positive and a mule account (the latter
    with an evidence_last before its newest record), plus two verdicts on unknown entities."""
    case, f0 = world
    truth, rows = _truth(case), _entities(f0)
    flagged = sorted(k for k in _flagged(f0))
    line = next(k for k in flagged if k[0] == "sip_account" and k in truth)
    false = next(k for k in flagged if k not in truth)
    mule = next(k for k in flagged if k[0] == "mule_account" and k in truth)
    mule_row = rows[mule]
    last = dt.datetime.fromisoformat(mule_row["evidence_last"].replace("Z", "+00:00"))
    chosen = {
        "line": _verdict(rows[line], "rejected"),
        "false": _verdict(rows[false], "rejected"),
        "mule": _verdict(mule_row, "rejected", evidence_last=last - dt.timedelta(seconds=1)),
        "unknown_line": Verdict("sip_account", "no-such-account", "rejected", None, 0,
                                DECIDED, "ana"),
        "unknown_number": Verdict("caller_number", "+999000111", "confirmed", None, 0,
                                  DECIDED, "ana"),
    }  # fmt: skip
    out = tmp_path_factory.mktemp("rejected") / "f1"
    detect(case, out, verdicts=list(chosen.values()))
    return chosen, out


def test_a_rejected_line_is_not_flagged_again_nor_supports_anything(
    world: tuple[Path, Path], rejected_run: tuple[dict[str, Verdict], Path]
) -> None:
    case, f0 = world
    chosen, f1 = rejected_run
    account = chosen["line"].value
    assert ("sip_account", account) not in _entities(f1)
    assert ("sip_account", account) not in _entities(f1, "leads")
    # no finding rests on a call the rejected line placed
    assert not [r for r in read_rows(f1 / "evidence.csv") if f"via {account} from" in r["detail"]]
    assert [r for r in read_rows(f0 / "evidence.csv") if f"via {account} from" in r["detail"]]
    # its addresses count one dialling account fewer
    ips = {str(r[0]) for r in duckdb.sql(
        f"SELECT DISTINCT source_ip FROM '{case}/voip_cdr.parquet' WHERE sip_account = "
        f"'{account}'").fetchall()}  # fmt: skip
    before, after = _entities(f0), {**_entities(f1, "leads"), **_entities(f1)}
    checked = 0
    for ip in ips:
        if ("source_ip", ip) not in before:
            continue
        then = IP_REASON.search(before[("source_ip", ip)]["reason"])
        assert then is not None
        if ("source_ip", ip) in after:
            now = IP_REASON.search(after[("source_ip", ip)]["reason"])
            assert now is not None and int(now[3]) == int(then[3]) - 1
            checked += 1
        else:
            assert int(then[3]) == 1  # it alone made the address a finding
    assert checked or ips
    # the other true lines stand
    truth = _truth(case)
    lines = {k for k in _flagged(f0) if k[0] == "sip_account" and k in truth}
    assert {k for k in _flagged(f1) if k[0] == "sip_account"} >= lines - {("sip_account", account)}


def test_a_rejected_false_positive_stays_down_and_the_summary_counts_verdicts(
    rejected_run: tuple[dict[str, Verdict], Path],
) -> None:
    chosen, f1 = rejected_run
    false = (chosen["false"].kind, chosen["false"].value)
    assert false not in _entities(f1) and false not in _entities(f1, "leads")
    said = _summary(f1)["verdicts"]
    assert isinstance(said, dict)
    assert said["rejected_held"] == 2 and said["rejected_reopened"] == 1
    assert said["unknown"] == 2 and said["confirmed"] == 0
    assert "sip_account no-such-account" in said["unknown_entities"]
    assert "caller_number +999000111" in said["unknown_entities"]
    assert ("caller_number", "+999000111") not in _entities(f1)


def test_a_rejection_reopens_on_records_newer_than_the_analyst_saw(
    rejected_run: tuple[dict[str, Verdict], Path],
) -> None:
    chosen, f1 = rejected_run
    mule = chosen["mule"]
    row = {**_entities(f1, "leads"), **_entities(f1)}[(mule.kind, mule.value)]
    said = re.match(r"An analyst \(ana\) rejected this on 2024-01-02; (\d+) new records? "
                    r"appeared since; ", row["reason"])  # fmt: skip
    assert said is not None, row["reason"]
    assert 1 <= int(said[1]) <= mule.evidence_count


def test_a_rejection_reopens_when_calls_are_added_to_the_case(
    world: tuple[Path, Path], tmp_path: Path
) -> None:
    case, f0 = world
    truth, rows = _truth(case), _entities(f0)
    line = next(k for k in sorted(_flagged(f0)) if k[0] == "sip_account" and k in truth)
    verdict = _verdict(rows[line], "rejected")
    same = tmp_path / "same"
    detect(case, same, verdicts=[verdict])
    assert line not in _entities(same)
    grown = tmp_path / "case"
    shutil.copytree(case, grown)
    # the provider's next export: the line called twice more, a day after its last call
    voip = grown / "voip_cdr.parquet"
    calls = pq.read_table(voip)
    later = duckdb.sql(f"""
        WITH last AS (SELECT * FROM calls WHERE sip_account = '{line[1]}'
                      ORDER BY start_time DESC, call_id LIMIT 1)
        SELECT last.* REPLACE (call_id || '-next' || r.n AS call_id,
                               start_time + INTERVAL 1 DAY + r.n * INTERVAL 1 MINUTE
                                   AS start_time)
        FROM last, range(2) r(n)
    """).to_arrow_table().cast(calls.schema)  # fmt: skip
    pq.write_table(pa.concat_tables([calls, later]), voip)
    out = tmp_path / "f"
    detect(grown, out, verdicts=[verdict])
    row = _entities(out)[line]
    assert row["reason"].startswith(
        "An analyst (ana) rejected this on 2024-01-02; 2 new records appeared since; ")
    assert int(row["evidence_count"]) == verdict.evidence_count + 2


# ----------------------------------------------------------------------- confirmation
@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def thinned(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # fmt: skip
    """A thinner view of a small world: the VoIP provider's records without caller IDs and no
    carrier records, so that detection misses dialling lines; with its findings."""
    root = tmp_path_factory.mktemp(f"thinned-{request.param}")
    full = make_case(root, "full", "small", seed=request.param)
    case = root / "case"
    shutil.copytree(full, case, ignore=shutil.ignore_patterns("carrier_cdr.parquet"))
    calls = pq.read_table(full / "voip_cdr.parquet")
    column = calls.schema.get_field_index("from_number")
    calls = calls.set_column(column, calls.schema.field(column),
                             pa.nulls(len(calls), calls.schema.field(column).type))  # fmt: skip
    pq.write_table(calls, case / "voip_cdr.parquet")
    shutil.rmtree(full)
    detect(case, root / "f0")
    return case, root / "f0"


def _missed_line(case: Path, f0: Path) -> str:
    """The true SIP account detection missed that placed the most calls."""
    missed = {v for k, v in _truth(case) - _flagged(f0) if k == "sip_account"}
    assert missed, "detection missed no line: the thinned world no longer thins"
    counts = dict(duckdb.sql(f"SELECT sip_account, count(*) FROM '{case}/voip_cdr.parquet' "
                             "GROUP BY 1").fetchall())  # fmt: skip
    return max(sorted(missed), key=lambda a: counts.get(a, 0))


def test_a_confirmed_line_is_flagged_and_finds_true_victims_through_it(
    thinned: tuple[Path, Path], tmp_path: Path
) -> None:
    case, f0 = thinned
    account = _missed_line(case, f0)
    out = tmp_path / "f1"
    detect(case, out, verdicts=[Verdict("sip_account", account, "confirmed", None, 0, DECIDED,
                                        "ana", "the provider's abuse desk")])  # fmt: skip
    row = _entities(out)[("sip_account", account)]
    assert float(row["score"]) == 1.0
    assert row["reason"].startswith("Confirmed by ana on 2024-01-02")
    truth, before, after = _truth(case), _flagged(f0), _flagged(out)
    found = {k for k in (after - before) & truth if k[0] == "victim_phone"}
    assert found, "no true victim found through the confirmed line"
    assert _recall(truth, after, "victim_phone") > _recall(truth, before, "victim_phone")
    # what it found it found through the line: the calls it placed are their evidence
    through = {r["value"] for r in read_rows(out / "evidence.csv")
               if r["kind"] == "victim_phone" and f"via {account} from" in r["detail"]}
    assert {v for _, v in found} <= through
    said = _summary(out)["verdicts"]
    assert isinstance(said, dict)
    assert said["confirmed"] == 1 and int(str(said["seeded"])) >= len(found)


# --------------------------------------------------------------------- bad input, URL
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scamtrace.cli", *args], capture_output=True,
                          text=True)  # fmt: skip


def _folder(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.mark.parametrize(("row", "field"), [
    ("sip_account,sip1,maybe,,0,2024-01-02T00:00:00Z,ana,", "verdict"),
    ("sip_account,sip1,rejected,yesterday,0,2024-01-02T00:00:00Z,ana,", "evidence_last"),
    ("sip_account,sip1,rejected,,many,2024-01-02T00:00:00Z,ana,", "evidence_count"),
    ("victim_phone,,confirmed,,0,2024-01-02T00:00:00Z,ana,", "value"),
], ids=["verdict", "evidence_last", "evidence_count", "value"])  # fmt: skip
def test_a_bad_verdicts_file_names_line_and_field_and_writes_nothing(
    thinned: tuple[Path, Path], tmp_path: Path, row: str, field: str
) -> None:
    case, f0 = thinned
    findings = tmp_path / "findings"
    shutil.copytree(f0, findings)
    before = _folder(findings)
    bad = tmp_path / "verdicts.csv"
    good = "sip_account,sip0,rejected,,0,2024-01-02T00:00:00Z,ana,\n"
    bad.write_text(verdicts_csv([]) + good + row + "\n", encoding="utf-8")
    run = _cli("detect", str(case), "--out", str(findings), "--overwrite", "--verdicts", str(bad))
    assert run.returncode != 0
    assert f"{bad}, line 3, field {field}" in run.stderr, run.stderr
    assert _folder(findings) == before


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a folder, as the workspace serves its verdicts export."""
    folder = tmp_path / "served"
    (folder / "cases" / "case").mkdir(parents=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_verdicts_are_read_from_the_workspace_url_and_its_token_is_not_repeated(
    thinned: tuple[Path, Path], tmp_path: Path, served: tuple[str, Path]
) -> None:
    case, f0 = thinned
    base, folder = served
    account = _missed_line(case, f0)
    verdict = Verdict("sip_account", account, "confirmed", None, 0, DECIDED, "ana")
    (folder / "cases" / "case" / "verdicts.csv").write_text(verdicts_csv([verdict]), "utf-8")
    url = f"{base}/cases/case/verdicts.csv?token=s3cret-token"
    assert read_verdicts(url) == [verdict]
    out = tmp_path / "f1"
    run = _cli("detect", str(case), "--out", str(out), "--verdicts", url)
    assert run.returncode == 0, run.stderr
    said = _summary(out)["verdicts"]
    assert isinstance(said, dict)
    assert said["source"] == f"{base}/cases/case/verdicts.csv" and said["confirmed"] == 1
    assert float(_entities(out)[("sip_account", account)]["score"]) == 1.0
    assert "s3cret" not in (out / "summary.json").read_text("utf-8") + run.stdout + run.stderr
    # a URL that is not there: said plainly, without the token, and nothing written
    missing = _cli("detect", str(case), "--out", str(tmp_path / "f2"), "--verdicts",
                   f"{base}/cases/other/verdicts.csv?token=s3cret-token")  # fmt: skip
    assert missing.returncode != 0
    assert f"{base}/cases/other/verdicts.csv: the server answered 404" in missing.stderr
    assert "s3cret" not in missing.stderr
    assert not (tmp_path / "f2").exists()


def test_the_verdicts_csv_round_trips_with_the_contract_columns(tmp_path: Path) -> None:
    verdicts = [Verdict("caller_number", "+34600000001", "rejected",
                        dt.datetime(2016, 8, 1, 12, tzinfo=dt.UTC), 12, DECIDED, "ana",
                        'a hotline, "honest"; see\nthe note')]  # fmt: skip
    path = tmp_path / "verdicts.csv"
    path.write_text(verdicts_csv(verdicts), encoding="utf-8")
    assert read_verdicts(path) == verdicts
    with path.open(encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == ["kind", "value", "verdict", "evidence_last",
                                        "evidence_count", "decided_at", "analyst", "note"]
