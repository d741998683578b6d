"""Do two versions of scamtrace write the same findings? A check for refactors.

Simulates worlds (scenarios x seeds, whole and split into the holders' slices), runs ``detect``
and the exports on each with the code on ``PYTHONPATH``, and prints one digest per written
file, with the parts that change from run to run (times, paths, timings) taken out. Run it once
on the old tree and once on the new one, then ``diff`` the two outputs: no line may differ.

    PYTHONPATH=. python benchmarks/same_findings.py --work /tmp/sf-new > new.txt
    (cd ../old && PYTHONPATH=. python benchmarks/same_findings.py --work /tmp/sf-old) > old.txt
    diff old.txt new.txt

Worlds are simulated by the tree under test; pass ``--cases DIR`` to reuse folders made once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

WORLDS = (("small", 1), ("small", 2), ("hard", 3), ("es-victims", 4))
#: Values that differ between two runs of the same code: clocks, folders, timings, versions.
_VOLATILE = re.compile(
    r"(\"(created_at|case|timings_s|scamtrace|generated|created|timestamp|modified|id|"
    r"first_observed|last_observed|valid_from)\": (\"[^\"]*\"|\{[^}]*\}))"
    r"|(20[0-9]{2}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+Z?( UTC)?)|(/tmp/[^\s\"<]*)"
    r"|([a-z-]+--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"|(Processing time[^<]*(<[^>]*>[^<]*){0,40}?</(table|dl|p|section)>)"
)


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-c", "from scamtrace.cli import main; main()", *args],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def digest(path: Path) -> str:
    text = path.read_bytes()
    if path.suffix in {".json", ".html", ".csv"}:
        text = _VOLATILE.sub("~", text.decode("utf-8", "replace")).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder")
    parser.add_argument("--cases", type=Path, help="reuse simulated worlds from here")
    parser.add_argument("--digest-only", action="store_true",
                        help="digest what --work already holds; run nothing")  # fmt: skip
    args = parser.parse_args()
    cases = args.cases or args.work / "cases"
    for scenario, seed in WORLDS:
        world = cases / f"{scenario}-{seed}"
        if not world.exists():
            cli("simulate", "--scenario", scenario, "--seed", str(seed), "--out", str(world),
                "--split")  # fmt: skip
        views = [world, *sorted(p for p in Path(f"{world}-split").iterdir() if p.is_dir())]
        for view in views:
            name = view.name if view == world else f"{world.name}-split-{view.name}"
            out = args.work / "findings" / name
            exports = args.work / "exports" / name
            if not args.digest_only:
                cli("detect", str(view), "--out", str(out), "--overwrite")
                exports.mkdir(parents=True, exist_ok=True)
                cli("share", "stix", str(out), "--out", str(exports / "stix.json"),
                    "--overwrite")  # fmt: skip
            for path in sorted(p for p in out.rglob("*") if p.is_file()):
                print(f"{name}/{path.relative_to(out)} {digest(path)}")
            summary = json.loads((out / "summary.json").read_text())
            print(f"{name} flagged {json.dumps(summary.get('flagged'), sort_keys=True)}")
            print(f"{name}/stix.json {digest(exports / 'stix.json')}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
