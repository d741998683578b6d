"""Run every detector on a case folder and write the findings folder (findings only)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scamtrace import __version__
from scamtrace.core import contract
from scamtrace.core.casefolder import CaseFolderWriter, ensure_apart
from scamtrace.core.findings import SUMMARY
from scamtrace.core.quality import below_bar, enforce
from scamtrace.core.sql import run
from scamtrace.core.verdicts import Verdict, public_source
from scamtrace.detect import labels
from scamtrace.detect.assemble import write_tables
from scamtrace.detect.registry import ORDER
from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case, open_case
from scamtrace.enrich.clocks import align_voip_clock

Progress = Callable[[str, float], None]

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
    strict: bool = False,
    verdicts: Sequence[Verdict] = (),
    verdicts_source: str | None = None,
) -> DetectResult:
    """Read ``case_dir``, run the detectors (in :data:`~scamtrace.detect.registry.ORDER`), write
    the findings folder ``out`` atomically. The case report is not part of it: the caller
    renders it from the folder (``scamtrace.report.write_report``), as the CLI does.

    ``strict``: a key column under the quality bar (:mod:`scamtrace.core.quality`) stops the
    run with :class:`~scamtrace.core.errors.QualityError` before anything is written.

    ``verdicts``: analysts' verdicts read as labels (:mod:`scamtrace.detect.labels`); what they
    did is in ``summary.json`` under ``verdicts``, with ``verdicts_source`` (a file or URL,
    said without its query string: a workspace's URL carries a token)."""
    ensure_apart(out, case_dir)  # --overwrite would delete the case being read
    s = settings or DetectSettings()
    say = progress or (lambda _m, _f: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    say("reading the case", 0.0)
    t0 = time.perf_counter()
    case = open_case(case_dir, country=country)
    case.verdicts = tuple(verdicts)
    # the VoIP provider's times on the carrier's clock, where the two switches disagree
    clock = align_voip_clock(case, s.link_clock_search_s, s.link_tolerance_s)
    timings["read and normalise"] = round(time.perf_counter() - t0, 3)
    if strict and below_bar(case.quality):
        case.db.close()
        enforce(case.quality)
    results: dict[str, object] = {}
    for detector in ORDER:
        say(detector.step, detector.progress)
        t0 = time.perf_counter()
        results[detector.name] = detector.run(case, s)
        timings[detector.step] = round(time.perf_counter() - t0, 3)
    say("writing findings", 0.9)
    with CaseFolderWriter(out, overwrite=overwrite, subfolders=(), replaces=(SUMMARY,),
                          purpose="scamtrace detect") as w:  # fmt: skip
        t0 = time.perf_counter()
        counts = write_tables(case, w.path(""), s)
        flagged = _flagged(case)
        summary = _summary(case, counts, flagged, int(str(results["linking"])),
                           int(str(results["centers"])), s)  # fmt: skip
        summary["transcripts_read_as_scam"] = int(str(results["texts"]))
        summary["script_groups"] = counts.get("scripts", 0)
        # steps that had too little to work from on this case: the findings stand without them
        summary["skipped"] = results["number_reputation"]
        summary["voip_clock"] = clock
        summary["verdicts"] = labels.summary(
            case, public_source(verdicts_source) if verdicts_source else None)
        timings["write"] = round(time.perf_counter() - t0, 3)
        timings["total"] = round(time.perf_counter() - started, 3)
        summary["timings_s"] = timings
        w.write_json(SUMMARY, summary)
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
        # the share of each key column read; those under the bar also said in words
        "quality": [q.as_dict() for q in case.quality],
        "quality_below_bar": [q.sentence() for q in below_bar(case.quality)],
        "calls_linked": linked,
        "flagged": flagged,
        "centers": centers,
        "networks": case.count("SELECT count(*) FROM network_rank"),
        "findings_rows": counts,
        "settings": s.model_dump(),
    }
