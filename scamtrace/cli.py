"""The ``scamtrace`` command: thin, it parses options, calls one function, renders with rich."""

from __future__ import annotations

import errno
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from scamtrace.core.errors import ScamtraceError

if TYPE_CHECKING:
    import pyarrow as pa

app = typer.Typer(
    name="scamtrace",
    help="Find, trace and stop the call-center networks behind telephone fraud.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
# No markup in what is printed: paths and values come from the user and from case files, and a
# "[/x]" in one would be read as a closing tag (rich.errors.MarkupError). Styles are given as
# Text, never as markup in an f-string.
err = Console(stderr=True, markup=False, highlight=False)
out = Console(markup=False)


@app.callback()
def _root() -> None:
    """Find, trace and stop the call-center networks behind telephone fraud.

    Data flows ingest -> enrich -> detect -> report/share; [bold]simulate[/] makes test worlds.
    """


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="case folder to write")],
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            "-s",
            help="preset name (seed, small, hard, es-victims, simbox) or a scenario YAML file",
        ),
    ] = "seed",
    scale: Annotated[
        float | None,
        typer.Option(
            help="multiply population and call volume, above 0 and at most 10 (1: about "
            "21 million carrier records; preset default)"
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="random seed, 0 or more: same seed, same folder, byte for byte")
    ] = 0,
    victim_country: Annotated[
        str | None, typer.Option(help="ISO code of the victims' country (preset default)")
    ] = None,
    center_country: Annotated[
        str | None, typer.Option(help="ISO code of the call centers' country (preset default)")
    ] = None,
    coverage: Annotated[
        float | None,
        typer.Option(
            help="share of the centers whose lines are at the held VoIP provider, above 0 and "
            "at most 1 (1, 0.75, 0.5, 0.25 ...); the others leave no voip_cdr rows (preset "
            "default: every center)"
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table format: parquet or csv")] = "parquet",
    overwrite: Annotated[bool, typer.Option(help="replace OUT if it exists")] = False,
    split: Annotated[
        bool,
        typer.Option(help="also write one case folder per holder's country in OUT-split/<CC>/"),
    ] = False,
    views: Annotated[
        bool,
        typer.Option(help="also write what a bank and the victims' carrier hold alone, in "
                          "OUT-views/bank/ and OUT-views/carrier/"),
    ] = False,
) -> None:
    """Simulate a world and write it as a case folder with ground truth in [bold]truth/[/].

    With [bold]--split[/], also OUT-split/<victims' CC>/ (carrier, bank, reports, transcripts)
    and OUT-split/<centers' CC>/ (VoIP provider), each with holder.json and truth/.
    With [bold]--views[/], also OUT-views/bank/ (accounts and transfers only) and
    OUT-views/carrier/ (the victims' carrier's records only), each with truth/.

    Example:

        scamtrace simulate --scenario small --seed 1 --out cases/small-1 --split --views
    """
    from scamtrace.core.casefolder import ensure_apart
    from scamtrace.simulate.config import MAX_SCALE, load_scenario
    from scamtrace.simulate.world import build_world, write_world

    if fmt not in ("parquet", "csv"):
        raise ScamtraceError(f"--format: expected parquet or csv, got {fmt!r}")
    if seed < 0:
        raise ScamtraceError(f"--seed: expected a whole number 0 or more, got {seed}")
    if scale is not None and not (math.isfinite(scale) and 0 < scale <= MAX_SCALE):
        raise ScamtraceError(f"--scale: expected a number above 0 and at most {MAX_SCALE:g}, "
                             f"got {scale:g}")  # fmt: skip
    if coverage is not None and not (math.isfinite(coverage) and 0 < coverage <= 1):
        raise ScamtraceError(f"--coverage: expected a share above 0 and at most 1, got "
                             f"{coverage:g}")  # fmt: skip
    ensure_apart(out_dir, Path(scenario) if Path(scenario).is_file() else None)
    sc = load_scenario(scenario, seed=seed, scale=scale, victim_country=victim_country,
                       center_country=center_country, center_coverage=coverage)  # fmt: skip
    with _progress() as bar:
        task = bar.add_task("building the world", total=1.0)
        world = build_world(sc)

        def report(message: str, fraction: float) -> None:
            bar.update(task, description=message, completed=fraction)

        result = write_world(world, out_dir, fmt=fmt, overwrite=overwrite,  # type: ignore[arg-type]
                             progress=report)  # fmt: skip
        bar.update(task, completed=1.0, description="done")

    summary = Table(title=f"scenario {sc.name}, seed {sc.seed}, scale {sc.scale:g} -> {out_dir}")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    for name, rows in result.rows.items():
        summary.add_row(name, f"{rows:,}")
    out.print(summary)
    truth = Table(title="ground truth")
    truth.add_column("kind")
    truth.add_column("entities", justify="right")
    for name, n in result.truth.items():
        truth.add_row(name, f"{n:,}")
    out.print(truth)
    naive = Table(title="naive rules on this world (best threshold)")
    for col in ("rule", "kind", "threshold", "precision", "recall", "F1"):
        naive.add_column(col)
    for r in result.naive_rules:
        naive.add_row(r["rule"], r["kind"], str(r["threshold"] or "-"), f"{r['precision']:.3f}",
                      f"{r['recall']:.3f}", f"{r['f1']:.3f}")  # fmt: skip
    out.print(naive)
    out.print(f"victims lost {result.loss_eur:,.0f} EUR; written in {result.seconds:.1f} s")
    if split:
        from scamtrace.simulate.split import split_case

        for country, folder in split_case(out_dir, overwrite=overwrite).items():
            out.print(f"{country}'s half -> {folder}")
    if views:
        from scamtrace.simulate.split import single_holder_views

        for holder, folder in single_holder_views(out_dir, overwrite=overwrite).items():
            out.print(f"{holder} alone -> {folder}")


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="files, folders, or - for stdin")],
    into: Annotated[Path, typer.Option("--into", "-i", help="case folder to append to")],
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="source format (else detected)")
    ] = None,
    holder_country: Annotated[
        str | None, typer.Option(help="country of the holder's national numbers")
    ] = None,
    table: Annotated[
        str | None, typer.Option(help="contract table, when a file's name does not say")
    ] = None,
    mapping: Annotated[Path | None, typer.Option(help="YAML mapping for --format mapped")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="zone of times logged without offset (IANA or +08:00)")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="encoding of CSV files that are not UTF-8 (latin-1, gb18030)")
    ] = None,
    strict: Annotated[bool, typer.Option(
        help="exit non-zero if any row is rejected; add nothing if under 95% of a key column "
             "of a source can be read")] = False,
    dry_run: Annotated[bool, typer.Option(help="report what would be read; write nothing")] = False,
) -> None:
    """Read exports (contract tables, Asterisk, FreeSWITCH, pcap, ISO 20022, AMLSim, mapped
    CSV) into a case folder, atomically; rejected rows go to rejected/ with file and line.
    A key column (numbers, times, IPs, accounts, amounts) of a source of which under 95%
    could be read is warned of (a wrong --holder-country, time zone or mapping, most often).

    Example:

        scamtrace ingest Master.csv exports/ --into cases/madrid --holder-country ES
        scamtrace ingest exports/voip_cdr.csv --into cases/madrid --strict
    """
    from scamtrace.core.casefolder import ensure_apart
    from scamtrace.ingest.pipeline import ingest as run_ingest
    from scamtrace.ingest.writer import REJECTED_FILE

    ensure_apart(into, *(Path(s) for s in sources if s != "-"), mapping, option="--into")
    options = {k: v for k, v in (("table", table), ("mapping", mapping), ("timezone", timezone),
                                 ("encoding", encoding)) if v is not None}  # fmt: skip
    with _progress() as bar:
        task = bar.add_task("reading", total=None)
        done = 0

        def report(source: str, rows: int) -> None:
            nonlocal done
            done += rows
            bar.update(task, description=f"{source}: {done:,} rows")

        result = run_ingest(sources, into, fmt=fmt, holder_country=holder_country,
                            options=options, dry_run=dry_run, progress=report,
                            strict=strict)  # fmt: skip
    table_out = Table(title=f"{'would ingest' if dry_run else 'ingested'} into {into}")
    for col in ("source", "format", "read", "added", "duplicate", "rejected", "note"):
        table_out.add_column(col, justify="left" if col in ("source", "format", "note")
                             else "right")  # fmt: skip
    reasons: dict[str, int] = {}
    for s in result.sources:
        note = "already ingested" if s.skipped else "not read (below)" if s.error else (
            "stopped early: not recorded as ingested" if s.stopped else "")  # fmt: skip
        added = "-" if dry_run or s.skipped or s.error else \
            ", ".join(f"{t} {n:,}" for t, n in s.added.items() if n) or "0"  # fmt: skip
        duplicates = "-" if dry_run else f"{sum(s.duplicates.values()):,}"
        table_out.add_row(s.source, s.format, f"{s.read:,}", added, duplicates,
                          f"{sum(s.rejected.values()):,}", note)  # fmt: skip
        for reason, n in s.rejected.items():
            reasons[reason] = reasons.get(reason, 0) + n
    out.print(table_out)
    _print_quality_warnings([q.as_dict() for q in result.quality])
    for reason, n in sorted(reasons.items(), key=lambda x: -x[1]):
        out.print(f"  rejected {n:,}: {reason}")
    if reasons and not dry_run:
        out.print(f"rejected rows are in {into / REJECTED_FILE}", soft_wrap=True)
    for s in result.sources:
        if s.error:
            out.print(f"[bold red]{s.source}[/]: not read: {s.error}", soft_wrap=True)
    for s in result.sources:
        if s.repeated_hour_times:
            err.print(f"warning: {s.source}: {s.repeated_hour_times:,} times fall "
                      "in the hour the local clock repeats when it goes back; without an offset "
                      "they were read as the second time round (an hour later than the first)",
                      soft_wrap=True)  # fmt: skip
    for s in result.stopped:
        out.print(f"[bold yellow]{s.source}[/]: the reader stopped at {s.stopped}; the rows "
                  "after it were not read, and the file is not recorded as ingested: mend it "
                  "and ingest it again (the rows already in count as duplicates)",
                  soft_wrap=True)  # fmt: skip
    if not dry_run:
        out.print(f"{result.added:,} rows added, {result.duplicates:,} duplicates, "
                  f"{result.rejected:,} rejected, of {sum(s.read for s in result.sources):,} "
                  "read")  # fmt: skip
    failed = [s for s in result.sources if s.error]
    read_nothing = result.rows == 0 and not all(s.skipped for s in result.sources)
    if (strict and (result.rejected or failed)) or result.stopped or read_nothing:
        raise typer.Exit(1)


@app.command()
def detect(
    case_dir: Annotated[Path, typer.Argument(help="case folder (see CONTRACT.md)")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="findings folder to write")],
    country: Annotated[
        str | None, typer.Option(help="holder country for national numbers (overrides holder.json)")
    ] = None,
    settings: Annotated[
        Path | None, typer.Option(help="YAML file of detection settings (thresholds, windows)")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace OUT if it exists")] = False,
    strict: Annotated[bool, typer.Option(
        help="fail, writing nothing, when under 95% of a key column's values can be read")] = False,
    verdicts: Annotated[str | None, typer.Option(
        "--verdicts", metavar="FILE|URL",
        help="analysts' verdicts to read as labels: a verdicts.csv file, or the workspace's "
             "export URL (http(s)://.../cases/CASE/verdicts.csv?token=...)")] = None,
) -> None:
    """Find the call centers, campaigns, victims and mule accounts in a case folder.

    Works with whatever tables are present and says what it lacked. Writes entities.csv,
    transfers.csv, centers.csv, networks.csv, evidence.csv, summary.json and report.html.
    A key column (numbers, times, IPs, accounts, amounts) of which under 95% could be read
    is warned of here, in summary.json and at the top of the report; --strict fails instead.

    --verdicts reads analysts' verdicts (the investigator workspace's) as labels: a rejected
    entity is not flagged again unless new records of it appeared since, and what it alone
    supported falls with it; a confirmed one is flagged and followed like any finding (its
    calls, victims, payers and onward money). A bad verdicts file stops the run, naming the
    line and field, before anything is written.

    Example:

        scamtrace detect cases/small-1 --out findings/small-1
        scamtrace detect cases/madrid --out findings/madrid --strict
        scamtrace detect cases/madrid --out findings/madrid-2 --verdicts verdicts.csv
        scamtrace detect cases/madrid --out findings/madrid-2 \\
            --verdicts "http://127.0.0.1:8765/cases/madrid/verdicts.csv?token=..."
    """
    from scamtrace.core.casefolder import case_lock, ensure_apart
    from scamtrace.core.verdicts import is_url, public_source, read_verdicts
    from scamtrace.detect.runner import detect as run_detect
    from scamtrace.detect.settings import load_settings
    from scamtrace.report import write_report

    local_verdicts = Path(verdicts) if verdicts and not is_url(verdicts) else None
    ensure_apart(out_dir, case_dir, settings, local_verdicts)
    # read first: a bad file stops the run before anything is written
    labels = read_verdicts(verdicts) if verdicts else []
    with _progress() as bar:
        task = bar.add_task("detecting", total=1.0)

        def report(message: str, fraction: float) -> None:
            bar.update(task, description=message, completed=fraction)

        result = run_detect(case_dir, out_dir, settings=load_settings(settings), country=country,
                            overwrite=overwrite, progress=report, strict=strict,
                            verdicts=labels, verdicts_source=verdicts)  # fmt: skip
        report("case report", 0.95)
        # under the findings folder's lock, as it was written: no other writer swaps it meanwhile
        with case_lock(out_dir, purpose="scamtrace detect"):
            write_report(out_dir, name=out_dir.name)
    s = result.summary
    out.print(f"inputs used: {', '.join(s['inputs_used']) or 'none'}")
    if s["inputs_missing"]:
        out.print(Text.assemble(("missing:", "yellow"), f" {', '.join(s['inputs_missing'])}"))
        for table, cost in s["not_possible"].items():
            out.print(f"  without {table}: no {cost}")
    _print_quality_warnings(s.get("quality", []))
    aside = sum(s["rows_set_aside"].values())
    if aside:
        out.print(Text.assemble((f"{aside:,} rows set aside", "yellow"), " (see rejected.csv)"))
    for note in s.get("skipped", []):
        out.print(Text.assemble(("skipped:", "yellow"), f" {note}"), soft_wrap=True)
    if verdicts:
        v = s["verdicts"]
        out.print(f"verdicts from {public_source(verdicts)}: {v['confirmed']} confirmed, "
                  f"{v['rejected_held']} rejections held, {v['rejected_reopened']} reopened by "
                  f"new records, {v['seeded']} found through confirmed ones", soft_wrap=True)
        if v["unknown"]:
            out.print(Text.assemble((f"{v['unknown']} verdict(s) name entities this case does "
                                     "not hold", "yellow"), " (summary.json: verdicts)"))
    flagged = Table(title=f"flagged (score >= 0.5) -> {out_dir}")
    flagged.add_column("kind")
    flagged.add_column("entities", justify="right")
    for kind, n in s["flagged"].items():
        flagged.add_row(kind, f"{n:,}")
    out.print(flagged)
    _print_findings_table(out_dir, "networks", "networks, ranked by victims who paid and loss")
    seconds = s["timings_s"]["total"]
    out.print(f"{s['centers']} centers in {s['networks']} networks; done in {seconds:.1f} s; "
              f"report: {out_dir / 'report.html'}", soft_wrap=True)  # fmt: skip


def _print_quality_warnings(measured: list[dict[str, Any]]) -> None:
    """The key columns under the quality bar, as a table on stderr (a warning, not a result)."""
    from scamtrace.core.quality import QUALITY_BAR

    below = [q for q in measured if q.get("below_bar")]
    if not below:
        return
    table = Table(title=Text(f"warning: key columns under {QUALITY_BAR:.0%} read (findings "
                             "built on them are unreliable)", style="bold yellow"))  # fmt: skip
    table.add_column("column", no_wrap=True)
    table.add_column("read as")
    for col in ("values", "read", "share"):
        table.add_column(col, justify="right", no_wrap=True)
    for q in below:
        sampled = " (sample)" if q.get("sampled") else ""
        table.add_row(f"{q['table']}.{q['column']}", q["check"], f"{q['values']:,}{sampled}",
                      f"{q['read']:,}", f"{q['share']:.1%}")  # fmt: skip
    err.print(table)
    for q in below:
        err.print(f"  {q['table']}.{q['column']} is in {q['file']}", soft_wrap=True)


@app.command()
def classify(
    source: Annotated[str, typer.Argument(help="CSV with a text column, or - for one text a line")],
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="CSV to write (default: stdout)")
    ] = None,
) -> None:
    """Score texts (call transcripts, complaint narratives) as scam calls: adds scam_score
    (0..1) and scam_type (neighbor, police, official, customer_service, loan, acquaintance,
    delivery, normal) to every row.

    Example:

        scamtrace classify cases/small-1/transcripts.csv --out scored.csv
    """
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    from scamtrace.core.casefolder import ensure_apart, write_file_atomically
    from scamtrace.core.formulas import neutral_table, restore_table
    from scamtrace.language.classifier import classify_rows

    if out_file is not None and out_file.is_dir():
        raise ScamtraceError(f"--out {out_file}: is a folder; give the CSV file to write")
    if out_file is not None:
        ensure_apart(out_file, None if source == "-" else Path(source))
    if source == "-":
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
        table = pa.table({"text": pa.array(texts, pa.string())})
    else:
        table = _read_text_csv(Path(source))
    # The CSV written is opened in spreadsheets: values that start like a formula get a
    # leading ' (scamtrace.core.formulas); a CSV scamtrace wrote is read back without it first, so
    # cells that were already safe come out as they went in.
    scored = neutral_table(classify_rows(restore_table(table)))
    if out_file is None:
        buffer = io.BytesIO()
        pacsv.write_csv(scored, buffer)
        sys.stdout.write(buffer.getvalue().decode("utf-8"))
    else:
        write_file_atomically(out_file, lambda path: pacsv.write_csv(scored, path))
        err.print(f"{scored.num_rows:,} rows scored -> {out_file}")


def _read_text_csv(path: Path) -> pa.Table:
    """A CSV with every column as text, as written (no number or date guessed: an id like
    ``00123`` or a number like ``+34612345678`` must come out of classify unchanged)."""
    import csv

    import pyarrow as pa

    from scamtrace.core.findings import read_as_written

    if not path.is_file():
        raise ScamtraceError(f"{path}: file not found")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ScamtraceError(f"{path}: not a readable CSV file: {exc}") from exc
    if "text" not in header:
        raise ScamtraceError(f"{path}: no 'text' column to classify (columns: "
                             f"{', '.join(header) or 'none'})")  # fmt: skip
    try:
        return read_as_written(path, header)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ScamtraceError(f"{path}: not a readable CSV file: {_first_line(exc)}") from exc


@app.command()
def evaluate(
    findings_dir: Annotated[Path, typer.Argument(help="findings folder written by detect")],
    case_dir: Annotated[Path, typer.Argument(help="simulated case folder with truth/")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for machines")] = False,
) -> None:
    """Score findings against a simulated case's ground truth: precision, recall and F1 per
    entity kind, adjusted Rand index of centers and networks.

    Example:

        scamtrace evaluate findings/small-1 cases/small-1 --json
    """
    import json

    from scamtrace.evaluate import evaluate as run_evaluate

    result = run_evaluate(findings_dir, case_dir)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title=f"{findings_dir} against {case_dir / 'truth'} (flagged: score >= 0.5)")
    for col in ("kind", "truth", "flagged", "found", "precision", "recall", "F1"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for kind, m in result.kinds.items():
        table.add_row(kind, f"{m.truth:,}", f"{m.flagged:,}", f"{m.true_positives:,}",
                      f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.f1:.3f}")  # fmt: skip
    if result.transfers:
        m = result.transfers
        table.add_row("transfers", f"{m.truth:,}", f"{m.flagged:,}", f"{m.true_positives:,}",
                      f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.f1:.3f}")  # fmt: skip
    out.print(table)
    for name, g in (("centers", result.centers), ("networks", result.networks)):
        if not g.placed:
            out.print(f"ARI {name}: - (no found member was placed in one)")
            continue
        out.print(f"ARI {name}: {g.ari:.3f} over the {g.placed:,} found members placed "
                  f"({g.placed_share:.1%} of {g.members:,}); {g.ari_strict:.3f} counting "
                  "unplaced members as clusters of their own")  # fmt: skip


@app.command()
def serve(
    findings: Annotated[Path | None, typer.Option(help="findings folder written by detect")] = None,
    case: Annotated[Path | None, typer.Option(help="case folder the findings came from")] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            help="state folder: event log, audit log and its key (default: "
            "~/.local/share/scamtrace/serve/CASE-NAME)"
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on", min=1, max=65535)] = 8443,
    tokens: Annotated[
        Path | None,
        typer.Option(
            help="YAML or JSON: institutions, SHA-256 of their tokens, scopes; "
            "without it, open access on loopback only"
        ),
    ] = None,
    cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM)")] = None,
    key: Annotated[Path | None, typer.Option(help="TLS private key (PEM)")] = None,
    sip: Annotated[
        int | None,
        typer.Option(
            help="also screen INVITEs on this UDP port (302 continue, 603 block)", min=1, max=65535
        ),
    ] = None,
    sip_host: Annotated[str, typer.Option(help="address for SIP screening")] = "127.0.0.1",
    sip_allow: Annotated[
        list[str] | None,
        typer.Option(help="switch addresses (CIDR) answered; loopback always is; repeatable"),
    ] = None,
    sip_institution: Annotated[
        str, typer.Option(help="the carrier named in the audit log for SIP decisions")
    ] = "sip",
    sip_country: Annotated[
        str | None,
        typer.Option(help="ingress country when an INVITE has no X-Ingress-Country header"),
    ] = None,
    sip_budget_ms: Annotated[
        float,
        typer.Option(help="an INVITE queued longer than this is let through unscored (302)"),
    ] = 100.0,
    sip_require_verstat: Annotated[
        bool,
        typer.Option(
            help="use the Identity header's attestation only where the caller URI "
            "says verstat=TN-Validation-Passed"
        ),
    ] = False,
) -> None:
    """Score calls at setup and transfers before they execute, over HTTP/JSON; learn from
    streamed events. OpenAPI at /openapi.json. With --sip, also a SIP redirect server for the
    carrier's switch.

    Example:

        scamtrace serve --findings findings/seed --case cases/seed --tokens tokens.yaml --host 0.0.0.0 --cert tls.crt --key tls.key

        scamtrace serve --findings findings/seed --case cases/seed --sip 5070 --sip-host 10.0.0.5 --sip-allow 10.0.0.0/24 --sip-institution carrier-a
    """  # noqa: E501
    from scamtrace.serve.app import ServeConfig
    from scamtrace.serve.app import serve as run_service
    from scamtrace.serve.sip import SipOptions

    sip_options = None
    if sip is not None:
        sip_options = SipOptions(port=sip, host=sip_host, allow=tuple(sip_allow or ()),
                                 institution=sip_institution, ingress_country=sip_country,
                                 budget_ms=sip_budget_ms,
                                 require_verstat=sip_require_verstat)  # fmt: skip
    run_service(ServeConfig(findings=findings, case=case, state=state, host=host, port=port,
                            tokens=tokens, cert=cert, key=key, sip=sip_options))  # fmt: skip


@app.command("app")
def workspace_app(
    cases: Annotated[
        list[Path] | None,
        typer.Argument(help="case folder(s); each is paired with the --findings in the same place"),
    ] = None,
    findings: Annotated[
        list[Path] | None,
        typer.Option("--findings", help="findings folder written by detect for the CASE before it "
                     "(repeat once per CASE)"),
    ] = None,
    state: Annotated[
        Path,
        typer.Option(help="state folder: the workspace database (users, verdicts, notes, "
                     "audit), the package signing key"),
    ] = Path("~/.local/share/scamtrace/app"),
    db: Annotated[
        str | None,
        typer.Option("--db", help="database URL instead of STATE/workspace.db "
                     "(postgresql+psycopg://user@host/db; pip install scamtrace[postgres])"),
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on", min=1, max=65535)] = 8765,
    signing_key: Annotated[
        Path | None,
        typer.Option(help="Ed25519 key (PEM) that signs case packages (default: made in STATE "
                     "on first use)"),
    ] = None,
    agency: Annotated[str, typer.Option(help="agency named in exports and packages")] = (
        "scamtrace user"
    ),
    secure_cookies: Annotated[
        bool, typer.Option(help="mark cookies Secure (when served over HTTPS by a proxy)")
    ] = False,
    idle_minutes: Annotated[
        int, typer.Option(help="a session ends after this many minutes without a request", min=1)
    ] = 30,
    session_hours: Annotated[
        int, typer.Option(help="a session ends this many hours after login", min=1)
    ] = 12,
) -> None:
    """Start the investigator workspace: a local web application over one or more cases
    (networks, graph, map, timeline, entity pages, search, triage, hand-over). Its state
    is kept in SQLite under --state, or in PostgreSQL given --db; no other server is needed
    and nothing is loaded from the internet. On first start it makes the user "admin"
    (investigator, every case) and prints a one-time password.

    Example:

        scamtrace app cases/small-1 --findings findings/small-1

        scamtrace app cases/seed --findings findings/seed cases/small-1 --findings findings/small-1 --state /srv/scamtrace --port 8765

        scamtrace app cases/seed --findings findings/seed --db postgresql+psycopg://scamtrace@db/workspace
    """  # noqa: E501
    from scamtrace.workspace.commands import case_sources
    from scamtrace.workspace.server import AppSettings, run

    settings = AppSettings(
        cases=case_sources(list(cases or []), list(findings or [])),
        state_dir=state.expanduser(), db_url=db, idle_s=idle_minutes * 60,
        absolute_s=session_hours * 3600, secure_cookies=secure_cookies,
        signing_key=signing_key, agency=agency,
    )  # fmt: skip
    run(settings, host=host, port=port, announce=lambda line: err.print(line, soft_wrap=True))


def _print_findings_table(folder: Path, name: str, title: str, limit: int = 10) -> None:
    from scamtrace.core.findings import read_rows

    # the values as detect found them, without the ' that keeps spreadsheets safe
    header, rows = read_rows(folder, name)
    if not rows:
        return
    table = Table(title=title)
    for col in header:
        table.add_column(col)
    for row in rows[:limit]:
        table.add_row(*(Text(cell) for cell in row.values()))
    out.print(table)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(), TimeElapsedColumn(), console=err, transient=True,
        disable=not err.is_terminal,
    )  # fmt: skip


def _add_groups() -> None:
    from scamtrace.reputation.commands import bench_app
    from scamtrace.share.commands import share_app
    from scamtrace.workspace.commands import app_user_app

    app.add_typer(share_app, name="share")
    app.add_typer(app_user_app, name="app-user")
    app.add_typer(bench_app, name="bench")


_add_groups()


def main() -> None:
    """The ``scamtrace`` command. Bad input, a file that cannot be read or written (disk full,
    no permission) and Ctrl-C end in one ``error:`` line and a non-zero exit; anything else is
    a bug and keeps its traceback, so that it can be reported."""
    try:
        app()
    except SystemExit as exc:
        if exc.code == 130:  # typer turns Ctrl-C into a silent exit 130
            _fail("interrupted", 130)
        raise
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except ScamtraceError as exc:
        _fail(_first_line(exc, whole=True), 2)
    except OSError as exc:
        _fail(_os_problem(exc), 2)
    except Exception as exc:
        duckdb = sys.modules.get("duckdb")
        if duckdb is not None and isinstance(exc, duckdb.InterruptException):
            _fail("interrupted", 130)
        if duckdb is not None and isinstance(exc, duckdb.IOException | duckdb.OutOfMemoryException):
            # the database's own reading, writing and spilling: a full disk, a file gone, not
            # enough memory (SCAMTRACE_MEMORY sets how much it may use)
            _fail(_first_line(exc), 2)
        raise


def _fail(message: str, code: int) -> NoReturn:
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    sys.exit(code)


#: The longest error line printed: a library's message quoted in ours (DuckDB's comes with a
#: page of hints) is cut there.
MAX_ERROR = 400


def _first_line(exc: BaseException, *, whole: bool = False) -> str:
    """The message of ``exc`` on one line: all its lines joined (``whole``) up to
    :data:`MAX_ERROR` characters, or the first line only."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if not whole:
        return lines[0]
    joined = "; ".join(lines)
    return joined if len(joined) <= MAX_ERROR else joined[: MAX_ERROR - 1].rstrip() + "…"


def _os_problem(exc: OSError) -> str:
    """``path: reason`` of an error from the operating system (disk full, no permission...)."""
    reason = exc.strerror or _first_line(exc)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    if exc.errno == errno.ENOSPC:
        reason = f"{reason} (the disk is full; free space or write elsewhere)"
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


if __name__ == "__main__":
    main()
