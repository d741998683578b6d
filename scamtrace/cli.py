"""The ``scamtrace`` command: thin, it parses options, calls one function, renders with rich."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scamtrace.errors import ScamtraceError

app = typer.Typer(
    name="scamtrace",
    help="Find, trace and stop the call-center networks behind telephone fraud.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()


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
            help="preset name (seed, small, hard, es-victims) or a scenario YAML file",
        ),
    ] = "seed",
    scale: Annotated[
        float | None, typer.Option(help="multiply population and call volume (preset default)")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="random seed: same seed, same folder, byte for byte")
    ] = 0,
    victim_country: Annotated[
        str | None, typer.Option(help="ISO code of the victims' country (preset default)")
    ] = None,
    center_country: Annotated[
        str | None, typer.Option(help="ISO code of the call centers' country (preset default)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table format: parquet or csv")] = "parquet",
    overwrite: Annotated[bool, typer.Option(help="replace OUT if it exists")] = False,
    split: Annotated[
        bool,
        typer.Option(help="also write one case folder per holder's country in OUT-split/<CC>/"),
    ] = False,
) -> None:
    """Simulate a world and write it as a case folder with ground truth in [bold]truth/[/].

    With [bold]--split[/], also OUT-split/<victims' CC>/ (carrier, bank, reports, transcripts)
    and OUT-split/<centers' CC>/ (VoIP provider), each with holder.json and truth/.

    Example:

        scamtrace simulate --scenario small --seed 1 --out cases/small-1 --split
    """
    from scamtrace.simulate.config import load_scenario
    from scamtrace.simulate.world import build_world, write_world

    if fmt not in ("parquet", "csv"):
        raise ScamtraceError(f"--format: expected parquet or csv, got {fmt!r}")
    sc = load_scenario(scenario, seed=seed, scale=scale, victim_country=victim_country,
                       center_country=center_country)  # fmt: skip
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
    strict: Annotated[bool, typer.Option(help="exit non-zero if any row is rejected")] = False,
    dry_run: Annotated[bool, typer.Option(help="report what would be read; write nothing")] = False,
) -> None:
    """Read exports (contract tables, Asterisk, FreeSWITCH, pcap, ISO 20022, AMLSim, mapped
    CSV) into a case folder, atomically; rejected rows go to rejected/ with file and line.

    Example:

        scamtrace ingest Master.csv exports/ --into cases/madrid --holder-country ES
    """
    from scamtrace.ingest.pipeline import ingest as run_ingest

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
                            options=options, dry_run=dry_run, progress=report)  # fmt: skip
    table_out = Table(title=f"{'would ingest' if dry_run else 'ingested'} into {into}")
    for col in ("source", "format", "rows", "rejected", "note"):
        table_out.add_column(col, justify="right" if col in ("rows", "rejected") else "left")
    reasons: dict[str, int] = {}
    for s in result.sources:
        note = "already ingested" if s.skipped else s.error
        rows = ", ".join(f"{t} {n:,}" for t, n in s.rows.items()) or "0"
        table_out.add_row(s.source, s.format, rows, f"{sum(s.rejected.values()):,}", note)
        for reason, n in s.rejected.items():
            reasons[reason] = reasons.get(reason, 0) + n
    out.print(table_out)
    for reason, n in sorted(reasons.items(), key=lambda x: -x[1]):
        out.print(f"  rejected {n:,}: {reason}")
    if reasons and not dry_run:
        out.print(f"rejected rows are in {into / 'rejected' / 'rejected.csv'}", soft_wrap=True)
    failed = [s for s in result.sources if s.error]
    if (strict and (result.rejected or failed)) or (result.rows == 0 and not all(
            s.skipped for s in result.sources)):  # fmt: skip
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
) -> None:
    """Find the call centers, campaigns, victims and mule accounts in a case folder.

    Works with whatever tables are present and says what it lacked. Writes entities.csv,
    transfers.csv, centers.csv, networks.csv, evidence.csv, summary.json and report.html.

    Example:

        scamtrace detect cases/small-1 --out findings/small-1
    """
    from scamtrace.detect.pipeline import detect as run_detect
    from scamtrace.detect.settings import load_settings

    with _progress() as bar:
        task = bar.add_task("detecting", total=1.0)

        def report(message: str, fraction: float) -> None:
            bar.update(task, description=message, completed=fraction)

        result = run_detect(case_dir, out_dir, settings=load_settings(settings), country=country,
                            overwrite=overwrite, progress=report)  # fmt: skip
    s = result.summary
    out.print(f"inputs used: {', '.join(s['inputs_used']) or 'none'}")
    if s["inputs_missing"]:
        out.print(f"[yellow]missing:[/] {', '.join(s['inputs_missing'])}")
        for table, cost in s["not_possible"].items():
            out.print(f"  without {table}: no {cost}")
    aside = sum(s["rows_set_aside"].values())
    if aside:
        out.print(f"[yellow]{aside:,} rows set aside[/] (see rejected.csv)")
    flagged = Table(title=f"flagged (score >= 0.5) -> {out_dir}")
    flagged.add_column("kind")
    flagged.add_column("entities", justify="right")
    for kind, n in s["flagged"].items():
        flagged.add_row(kind, f"{n:,}")
    out.print(flagged)
    _print_csv_table(out_dir / "networks.csv", "networks, ranked by victims who paid and loss")
    seconds = s["timings_s"]["total"]
    out.print(f"{s['centers']} centers in {s['networks']} networks; done in {seconds:.1f} s; "
              f"report: {out_dir / 'report.html'}", soft_wrap=True)  # fmt: skip


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

    from scamtrace.language.classifier import classify_rows

    if source == "-":
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
        table = pa.table({"text": pa.array(texts, pa.string())})
    else:
        path = Path(source)
        if not path.is_file():
            raise ScamtraceError(f"{path}: file not found")
        try:
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                strings_can_be_null=False))  # fmt: skip
        except pa.ArrowInvalid as exc:
            raise ScamtraceError(f"{path}: not a readable CSV file: {exc}") from exc
    scored = classify_rows(table)
    if out_file is None:
        buffer = io.BytesIO()
        pacsv.write_csv(scored, buffer)
        sys.stdout.write(buffer.getvalue().decode("utf-8"))
    else:
        pacsv.write_csv(scored, out_file)
        err.print(f"{scored.num_rows:,} rows scored -> {out_file}")


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


def _print_csv_table(path: Path, title: str, limit: int = 10) -> None:
    import csv

    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) <= 1:
        return
    table = Table(title=title)
    for col in rows[0]:
        table.add_column(col)
    for row in rows[1 : limit + 1]:
        table.add_row(*row)
    out.print(table)


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,
    )  # fmt: skip


def _add_groups() -> None:
    from scamtrace.reputation.commands import bench_app
    from scamtrace.share.commands import share_app

    app.add_typer(share_app, name="share")
    app.add_typer(bench_app, name="bench")


_add_groups()


def main() -> None:
    try:
        app()
    except ScamtraceError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
