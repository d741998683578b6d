"""Benchmark: time each standards export and the signed package on one findings folder; print
objects written, file sizes and wall time.

    python benchmarks/share_exports.py findings/seed --case cases/seed
    python benchmarks/share_exports.py findings/small-1
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scamtrace.share.export.base import load_findings
from scamtrace.share.export.ftm import write_ftm
from scamtrace.share.export.misp import write_feed
from scamtrace.share.export.stix import write_stix
from scamtrace.share.package import build_package, keygen, verify_package


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
        path.stat().st_size)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("findings", type=Path)
    parser.add_argument("--case", type=Path, default=None)
    args = parser.parse_args()
    entities = len(load_findings(args.findings).entities)
    table = Table(title=f"{args.findings}: {entities:,} entities ({platform.machine()}, "
                        f"{platform.python_version()})")  # fmt: skip
    for col in ("step", "written", "size MB", "seconds"):
        table.add_column(col, justify="left" if col == "step" else "right")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        def timed(step: str, run: object) -> None:
            start = time.perf_counter()
            written, path = run()  # type: ignore[operator]
            seconds = time.perf_counter() - start
            size = f"{_size(path) / 1e6:.1f}" if path else "-"
            table.add_row(step, written, size, f"{seconds:.2f}")

        def stix() -> tuple[str, Path]:
            done = write_stix(args.findings, root / "b.json")
            return f"{done.objects:,} objects", root / "b.json"

        def misp() -> tuple[str, Path]:
            done = write_feed(args.findings, root / "feed", case_dir=args.case)
            return f"{done.events} events, {done.attributes:,} attributes", root / "feed"

        def ftm() -> tuple[str, Path]:
            with (root / "ftm.jsonl").open("w") as fh:
                done = write_ftm(args.findings, fh, args.case)
            return f"{done.entities:,} entities", root / "ftm.jsonl"

        def package() -> tuple[str, Path]:
            key, _ = keygen(root / "k.pem")
            manifest = build_package(args.findings, key, root / "pkg", case_dir=args.case)
            return f"{len(manifest['files'])} files, {len(manifest['inputs'])} inputs", (
                root / "pkg")  # fmt: skip

        def verify() -> tuple[str, Path | None]:
            result = verify_package(root / "pkg", root / "k.pub", args.case)
            return ("verified" if result.ok else "FAILED"), None

        for step, run in (("stix", stix), ("misp feed", misp), ("ftm", ftm),
                          ("package (all three + hashes + signature)", package),
                          ("verify", verify)):  # fmt: skip
            timed(step, run)
    Console().print(table)


if __name__ == "__main__":
    main()
