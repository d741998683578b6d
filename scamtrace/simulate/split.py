"""Split a simulated case folder by data holder's country, for two-agency cases.

The victims' country holds the terminating carrier's records, the banks' data, the complaints
and the transcripts; the call centers' country holds the VoIP provider's records. Each half is
a case folder of its own (``OUT-split/<CC>/``) with its ``holder.json`` and a copy of
``truth/`` so that each agency's findings can be scored, and the fused folder stays as it is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from scamtrace.casefolder import CaseFolderWriter
from scamtrace.enrich.case import holder_countries
from scamtrace.errors import CaseFolderError

#: Which tables each side holds: the victims' country, and the call centers' country.
VICTIM_SIDE = ("carrier_cdr", "accounts", "transfers", "reports", "transcripts")
CENTER_SIDE = ("voip_cdr",)


def split_root(fused: Path) -> Path:
    """Where the halves of ``fused`` go: a sibling ``<name>-split`` folder."""
    return fused.parent / f"{fused.name}-split"


def split_case(fused: Path, out: Path | None = None, *, overwrite: bool = False) -> dict[str, Path]:
    """Write one case folder per holder country of ``fused``; returns ``{country: folder}``.

    The countries come from ``holder.json``: the default country holds the victims' side, the
    ``voip_cdr`` override (when it differs) the centers' side.
    """
    victims, per_table = holder_countries(fused)
    centers = per_table.get("voip_cdr", victims)
    if centers == victims:
        raise CaseFolderError(f"{fused / 'holder.json'}: every table has one holder country "
                              f"({victims}); nothing to split")  # fmt: skip
    root = out or split_root(fused)
    written: dict[str, Path] = {}
    for country, tables in ((victims, VICTIM_SIDE), (centers, CENTER_SIDE)):
        target = root / country
        with CaseFolderWriter(target, overwrite=overwrite, subfolders=()) as w:
            for name in tables:
                for suffix in (".parquet", ".csv"):
                    source = fused / f"{name}{suffix}"
                    if source.is_file():
                        shutil.copyfile(source, w.path(source.name))
            w.write_json("holder.json", {"country": country})
            if (fused / "truth").is_dir():
                shutil.copytree(fused / "truth", w.path("truth"))
            (w.path("SPLIT.json")).write_text(json.dumps({
                "fused": fused.name, "holder_country": country, "tables": list(tables),
            }, indent=2) + "\n", encoding="utf-8")  # fmt: skip
        written[country] = target
    return written
