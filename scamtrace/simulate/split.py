"""Split a simulated case folder by data holder's country, for two-agency cases.

The victims' country holds the terminating carrier's records, the banks' data, the complaints
and the transcripts; the call centers' country holds the VoIP provider's records. Each half is
a case folder of its own (``OUT-split/<CC>/``) with its ``holder.json`` and a copy of
``truth/`` so that each agency's findings can be scored, and the fused folder stays as it is.
``OUT-views/bank/`` and ``OUT-views/carrier/`` are what one institution of the victims' country
holds alone: a bank its accounts and transfers, the victims' carrier its call records.

``OUT-split/<victims' CC>-networks/subscribers.csv`` stands in for the victims' country's other
domestic networks, which resolve the leads an exchange returns only as keyed hashes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from scamtrace.core.casefolder import CaseFolderWriter, holder_countries
from scamtrace.core.errors import CaseFolderError
from scamtrace.core.phones import calling_code, e164_sql

#: Which tables each side holds: the victims' country, and the call centers' country.
VICTIM_SIDE = ("carrier_cdr", "accounts", "transfers", "reports", "transcripts")
CENTER_SIDE = ("voip_cdr",)
#: What one institution of the victims' country holds on its own.
SINGLE_HOLDERS = {"bank": ("accounts", "transfers"), "carrier": ("carrier_cdr",)}


def views_root(fused: Path) -> Path:
    """Where the single-holder views of ``fused`` go: a sibling ``<name>-views`` folder."""
    return fused.parent / f"{fused.name}-views"


def single_holder_views(
    fused: Path, out: Path | None = None, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write ``bank/`` and ``carrier/`` case folders: each holds only that institution's tables
    of ``fused``, its ``holder.json`` (the victims' country) and a copy of ``truth/``."""
    victims, _ = holder_countries(fused)
    root = out or views_root(fused)
    written: dict[str, Path] = {}
    for holder, tables in SINGLE_HOLDERS.items():
        with CaseFolderWriter(root / holder, overwrite=overwrite, subfolders=()) as w:
            _copy_part(fused, w, tables, victims)
        written[holder] = root / holder
    return written


def _copy_part(fused: Path, w: CaseFolderWriter, tables: tuple[str, ...], country: str) -> None:
    """``tables`` of ``fused`` (whichever format they are in), a ``holder.json`` naming
    ``country`` and a copy of ``truth/``, into the folder ``w`` is writing."""
    for name in tables:
        for suffix in (".parquet", ".csv"):
            source = fused / f"{name}{suffix}"
            if source.is_file():
                shutil.copyfile(source, w.path(source.name))
    w.write_json("holder.json", {"country": country})
    if (fused / "truth").is_dir():
        shutil.copytree(fused / "truth", w.path("truth"))


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
            _copy_part(fused, w, tables, country)
            (w.path("SPLIT.json")).write_text(json.dumps({
                "fused": fused.name, "holder_country": country, "tables": list(tables),
            }, indent=2) + "\n", encoding="utf-8")  # fmt: skip
        written[country] = target
    _other_networks(fused, root / f"{victims}-networks", victims, per_table, overwrite=overwrite)
    return written


def _other_networks(fused: Path, target: Path, country: str, per_table: dict[str, str], *,
                    overwrite: bool) -> None:  # fmt: skip
    """The victims' country's other domestic networks, as the simulator's stand-in for their
    subscriber lists (``subscribers.csv``, one E.164 number a line): every number of that
    country the world's call records show that the carrier does not serve. With ``share
    resolve`` they name the leads an exchange returned only as keyed hashes. It holds honest
    numbers as well as victims: it is a subscriber list, not a label."""
    code = str(calling_code(country))
    parts = []
    for table, columns in (("carrier_cdr", ("caller_number",)),
                           ("voip_cdr", ("from_number", "to_number"))):  # fmt: skip
        source = next((fused / f"{table}{s}" for s in (".parquet", ".csv")
                       if (fused / f"{table}{s}").is_file()), None)  # fmt: skip
        if source is None:
            continue
        read = (f"read_parquet('{source}')" if source.suffix == ".parquet"
                else f"read_csv('{source}', all_varchar = true)")  # fmt: skip
        holder = per_table.get(table, country)
        parts += [f"SELECT {e164_sql(f'CAST({c} AS VARCHAR)', holder)} AS number FROM {read}"
                  for c in columns]  # fmt: skip
    carrier = next((fused / f"carrier_cdr{s}" for s in (".parquet", ".csv")
                    if (fused / f"carrier_cdr{s}").is_file()), None)  # fmt: skip
    served = ""
    if carrier is not None:
        read = (f"read_parquet('{carrier}')" if carrier.suffix == ".parquet"
                else f"read_csv('{carrier}', all_varchar = true)")  # fmt: skip
        callee = e164_sql("CAST(called_number AS VARCHAR)", country)
        served = f"AND number NOT IN (SELECT {callee} FROM {read} WHERE called_number IS NOT NULL)"
    if not parts:
        return
    db = duckdb.connect()
    numbers = db.sql(f"""
        SELECT DISTINCT number FROM ({' UNION ALL '.join(parts)})
        WHERE number IS NOT NULL AND starts_with(number, '+{code}') {served} ORDER BY number
    """).fetchall()  # fmt: skip
    db.close()
    with CaseFolderWriter(target, overwrite=overwrite, subfolders=()) as w:
        w.path("subscribers.csv").write_text(
            "number\n" + "".join(f"{n}\n" for (n,) in numbers), encoding="utf-8")
        w.write_json("holder.json", {"country": country})
