"""Run every detector on a case folder and write the findings folder."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from scamtrace import __version__
from scamtrace.core import contract
from scamtrace.core.casefolder import CaseFolderWriter, ensure_apart
from scamtrace.core.sql import run
from scamtrace.detect.centers import find_centers
from scamtrace.detect.findings import assemble, write_tables
from scamtrace.detect.journeys import find_victims
from scamtrace.detect.lines import score_lines
from scamtrace.detect.linking import link_calls
from scamtrace.detect.mules import follow_money
from scamtrace.detect.networks import assign_networks
from scamtrace.detect.reports import read_reports
from scamtrace.detect.reputation import score_reputation
from scamtrace.detect.settings import DetectSettings
from scamtrace.detect.spoofing import score_presented_numbers
from scamtrace.detect.texts import read_texts
from scamtrace.enrich.case import Case, open_case

Progress = Callable[[str, float], None]
T = TypeVar("T")

#: What each kind of finding needs, to say plainly what a missing table cost.
NEEDS = {
    "voip_cdr": "SIP accounts, source IPs and call centers (no VoIP provider records)",
    "carrier_cdr": "spoofed caller IDs seen by the victims' carrier",
    "transfers": "mule accounts and victims who paid (no transfers)",
    "accounts": "mule accounts and victims who paid (no account holders)",
    "reports": "confirmation from victims' complaints",
    "transcripts": "evidence from the words of calls and shared scripts (no transcripts)",
}


@dataclass
class DetectResult:
    out: Path
    summary: dict[str, Any]
    flagged: dict[str, int] = field(default_factory=dict)


def detect(
    case_dir: Path,
    out: Path,
    *,
    settings: DetectSettings | None = None,
    country: str | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> DetectResult:
    """Read ``case_dir``, run the detectors, write the findings folder ``out`` atomically."""
    ensure_apart(out, case_dir)  # --overwrite would delete the case being read
    s = settings or DetectSettings()
    say = progress or (lambda _m, _f: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, fraction: float, fn: Callable[[], T]) -> T:
        say(name, fraction)
        t0 = time.perf_counter()
        result = fn()
        timings[name] = round(time.perf_counter() - t0, 3)
        return result

    say("reading the case", 0.0)
    t0 = time.perf_counter()
    case = open_case(case_dir, country=country)
    timings["read and normalise"] = round(time.perf_counter() - t0, 3)
    linked = step("linking carrier and VoIP records", 0.3, lambda: link_calls(case, s))
    step("scoring dialling lines", 0.4, lambda: score_lines(case, s))
    step("spoofed caller IDs", 0.5, lambda: score_presented_numbers(case, s))
    step("victims", 0.55, lambda: find_victims(case, s))
    step("money", 0.6, lambda: follow_money(case, s))
    heard = step("transcripts and narratives", 0.65, lambda: read_texts(case, s))
    step("reports", 0.7, lambda: read_reports(case, s))
    skipped = step("number reputation", 0.72, lambda: score_reputation(case, s))
    centers = step("centers", 0.75, lambda: find_centers(case))
    step("networks", 0.8, lambda: assign_networks(case))
    step("findings", 0.85, lambda: assemble(case, s))
    say("writing findings", 0.9)
    with CaseFolderWriter(out, overwrite=overwrite, subfolders=(), replaces=("summary.json",),
                          purpose="scamtrace detect") as w:  # fmt: skip
        t0 = time.perf_counter()
        counts = write_tables(case, w.path(""), s)
        flagged = _flagged(case)
        summary = _summary(case, counts, flagged, int(str(linked)), int(str(centers)), s)
        summary["transcripts_read_as_scam"] = int(str(heard))
        summary["script_groups"] = counts.get("scripts", 0)
        # steps that had too little to work from on this case: the findings stand without them
        summary["skipped"] = skipped
        timings["write"] = round(time.perf_counter() - t0, 3)
        timings["total"] = round(time.perf_counter() - started, 3)
        summary["timings_s"] = timings
        w.write_json("summary.json", summary)
        say("case report", 0.95)
        from scamtrace.report import write_report

        write_report(w.path(""), name=out.name)
    case.db.close()
    return DetectResult(out, summary, flagged)


def _flagged(case: Case) -> dict[str, int]:
    rows = run(case.db, f"SELECT kind, count(*) FROM found WHERE score >= "
                        f"{contract.FLAG_THRESHOLD} GROUP BY kind")  # fmt: skip
    got = {str(k): int(n) for k, n in rows}
    return {k: got.get(k, 0) for k in contract.TRUTH_ENTITY_KINDS}


def _summary(
    case: Case, counts: dict[str, int], flagged: dict[str, int], linked: int, centers: int,
    s: DetectSettings,
) -> dict[str, Any]:
    return {
        "case": str(case.folder),
        "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scamtrace": __version__,
        "holder_country": case.country,
        "inputs_used": case.present,
        "inputs_missing": case.missing,
        "not_possible": {t: NEEDS[t] for t in case.missing if t in NEEDS},
        "rows_read": case.rows_read,
        "rows_set_aside": case.rows_set_aside,
        "calls_linked": linked,
        "flagged": flagged,
        "centers": centers,
        "networks": case.count("SELECT count(*) FROM network_rank"),
        "findings_rows": counts,
        "settings": s.model_dump(),
    }
