"""``scamtrace bench``: benchmarks on public data, starting with the Sichuan telecom-fraud set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

bench_app = typer.Typer(
    name="bench",
    help="Measure scamtrace on public labelled data, under the protocol the papers use.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

DEFAULT_DATA = Path("../shared/data/sichuan")


@bench_app.command("sichuan")
def sichuan(
    data: Annotated[
        Path, typer.Option(help="folder with all_feat_with_label.csv and node_adj_sparse.npz")
    ] = DEFAULT_DATA,
    seeds: Annotated[int, typer.Option(help="seeds 0 .. N-1, one split each")] = 10,
    variant: Annotated[
        str | None, typer.Option(help="feature groups (default: the one chosen on validation)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for machines")] = False,
) -> None:
    """Number reputation on the Sichuan telecom-fraud data (6,106 users, call graph): stratified
    20% train / 20% validation / 60% test per seed, labels from train only; mean and std of
    AUC, macro-F1, F1 of the fraud class and G-mean over the test sets, and fit time.

    Example:

        scamtrace bench sichuan --data ../shared/data/sichuan --seeds 10 --json
    """
    from scamtrace.reputation.sichuan import DEFAULT_VARIANT, METRICS, run_benchmark

    err = Console(stderr=True)
    with err.status("Sichuan benchmark") as status:

        def progress(done: int, total: int) -> None:
            status.update(f"Sichuan benchmark: seed {done}/{total}")

        summary = run_benchmark(data, seeds, variant or DEFAULT_VARIANT, progress)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title=f"Sichuan, {seeds} seeds, variant {summary['variant']} (test sets, %)")
    for name in (*METRICS, "fit s / seed"):
        table.add_column(name, justify="right")
    cells = [f"{summary[m]['mean']:.2f} ± {summary[m]['std']:.2f}"  # type: ignore[index]
             for m in METRICS]  # fmt: skip
    table.add_row(*cells, f"{summary['fit_s']['mean']:.2f}")  # type: ignore[index]
    Console().print(table)
