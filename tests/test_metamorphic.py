"""Same world, any writing (issue 15 B): the same records written in every form the contract
allows and real sources use give the same flagged entities, centers, networks and transfers.

A variant rewrites every valid phone number in one form per table (E.164, the international
prefix, national, grouped with spaces, dashes or parentheses, and bare international digits in
the SIP-side table), every time in one form (``Z``, ``+00:00``, the holder's own offset),
shuffles the columns, writes CSV or Parquet, and reaches ``detect`` directly as a case folder
or through ``ingest`` (once or twice). Values that are not valid numbers stay as they were.
"""

from __future__ import annotations

import json
import random
import shutil
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scamtrace.core import contract
from scamtrace.core.casefolder import holder_countries
from scamtrace.core.phones import dial_plan, to_e164
from scamtrace.detect.runner import detect
from scamtrace.ingest.pipeline import ingest
from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.world import build_world, write_world

PHONE_FORMS = ("e164", "intl_prefix", "national", "spaced", "dashed", "parens")
SIP_FORMS = (*PHONE_FORMS, "bare")
TIME_FORMS = ("z", "plus_zero", "holder_offset")
#: Times as the holder's clock shows them, with no offset: only a mapping that names the zone
#: can read them (the contract reads a time without an offset as UTC).
LOCAL = "holder_local"
#: What the comparison reads: every flagged set and grouping, not the wording of evidence.
COMPARED = ("entities.csv", "centers.csv", "networks.csv", "transfers.csv")
ZONES = {"CN": "Asia/Shanghai", "ES": "Europe/Madrid", "GB": "Europe/London"}


@cache
def _valid_e164(value: str, holder: str) -> str | None:
    """``value`` (as the holder logged it) in E.164 when it is a valid number, else None."""
    e164 = to_e164(value, holder)
    return e164 if e164 and phonenumbers.is_valid_number(phonenumbers.parse(e164)) else None


@cache
def _written(e164: str, form: str, holder: str) -> str:
    number = phonenumbers.parse(e164)
    fmt = phonenumbers.PhoneNumberFormat
    own = number.country_code == dial_plan(holder).calling_code
    if form == "e164":
        return e164
    if form == "bare":
        return e164[1:]
    if form == "intl_prefix" or (form in ("national", "parens") and not own):
        return dial_plan(holder).international_prefix + e164[1:]
    if form == "national":
        return phonenumbers.format_number(number, fmt.NATIONAL)
    if form == "parens":
        first, _, rest = phonenumbers.format_number(number, fmt.NATIONAL).partition(" ")
        return f"({first}) {rest}" if rest else first
    spaced = phonenumbers.format_number(number, fmt.INTERNATIONAL)
    return spaced.replace(" ", "-") if form == "dashed" else spaced


def _rewrite_numbers(values: pa.ChunkedArray, form: str, holder: str, listed: bool) -> pa.Array:
    """Every valid number of ``values`` (as the holder logged it) written in ``form``."""
    text = pc.fill_null(values.combine_chunks().cast(pa.string()), "")
    distinct = pc.unique(text).to_pylist()
    written = []
    for value in distinct:
        parts = value.split(contract.LIST_SEPARATOR) if listed else [value]
        out = []
        for part in parts:
            e164 = _valid_e164(part, holder)
            out.append(_written(e164, form, holder) if e164 else part)
        written.append(contract.LIST_SEPARATOR.join(out))
    return pc.take(pa.array(written, pa.string()), pc.index_in(text, value_set=pa.array(distinct)))


def _rewrite_times(values: pa.ChunkedArray, form: str, holder: str) -> pa.Array:
    zone = ZoneInfo(ZONES[holder]) if form in ("holder_offset", LOCAL) else None
    out = []
    for when in values.to_pylist():
        if when is None:
            out.append("")
        elif zone is not None:
            local = when.astimezone(zone)
            naive = local.replace(tzinfo=None)
            # A clock repeats one hour each autumn: a time in it cannot be read back without
            # its offset, so those few keep it (as a switch logging its DST flag would).
            ambiguous = (naive.replace(tzinfo=zone, fold=0).utcoffset()
                         != naive.replace(tzinfo=zone, fold=1).utcoffset())  # fmt: skip
            out.append(naive.isoformat() if form == LOCAL and not ambiguous
                       else local.isoformat())  # fmt: skip
        else:
            text = when.strftime("%Y-%m-%dT%H:%M:%S")
            out.append(text + ("Z" if form == "z" else "+00:00"))
    return pa.array(out, pa.string())


def _variant(world: Path, out: Path, draw: dict[str, object]) -> Path:
    out.mkdir(parents=True)
    shutil.copy(world / "holder.json", out / "holder.json")
    default, per_table = holder_countries(world, None)
    rng = random.Random(str(draw))
    for name, spec in contract.INPUT_TABLES.items():
        path = world / f"{name}.parquet"
        if not path.exists():
            continue
        table = pq.read_table(path)
        holder = per_table.get(name, default)
        forms = draw["phones"]
        assert isinstance(forms, dict)
        form = forms.get(name, "e164")
        for column in spec.columns:
            if column.name not in table.column_names:
                continue
            index = table.schema.get_field_index(column.name)
            if column.kind in ("phone", "phone_list"):
                new = _rewrite_numbers(table[column.name], str(form), holder,
                                       column.kind == "phone_list")  # fmt: skip
            elif column.kind == "time" and draw["format"] == "csv":
                new = _rewrite_times(table[column.name], str(draw["times"]), holder)
            else:
                continue
            table = table.set_column(index, column.name, new)
        order = list(table.column_names)
        rng.shuffle(order)
        table = table.select(order)
        if draw["format"] == "csv":
            pacsv.write_csv(table, out / f"{name}.csv")
        else:
            pq.write_table(table, out / f"{name}.parquet")
    return out


def _through_ingest(exports: Path, case: Path, twice: bool) -> Path:
    """``ingest`` as the holders would run it: the VoIP provider's export with its own
    country for national numbers, everything else with the victims' country."""
    holder = json.loads((exports / "holder.json").read_text())
    files = [p for p in sorted(exports.iterdir()) if p.name != "holder.json"]
    voip = [str(p) for p in files if p.name.startswith("voip_cdr")]
    rest = [str(p) for p in files if not p.name.startswith("voip_cdr")]
    provider = case.with_name(case.name + "-voip")
    for _ in range(2 if twice else 1):  # an export ingested twice adds nothing
        ingest(rest, case, holder_country=holder["country"])
        if voip:
            ingest(voip, provider, holder_country=holder["tables"]["voip_cdr"])
    if voip:
        shutil.copy(provider / "voip_cdr.parquet", case / "voip_cdr.parquet")
    (case / "holder.json").write_text(json.dumps(holder))
    return case


def _through_mapping(exports: Path, case: Path) -> Path:
    """``ingest --format mapped``: each export with a mapping naming its holder's zone for
    times logged without an offset, and its holder's country for national numbers."""
    import yaml

    holder = json.loads((exports / "holder.json").read_text())
    mappings = case.with_name(case.name + "-mappings")
    mappings.mkdir()
    for path in sorted(exports.glob("*.csv")):
        country = holder["tables"].get(path.stem, holder["country"])
        header = pacsv.read_csv(path).column_names
        mapping = mappings / f"{path.stem}.yaml"
        mapping.write_text(yaml.safe_dump({
            "table": path.stem, "columns": {c: c for c in header},
            "timezone": ZONES[country], "phone_country": country}))  # fmt: skip
        ingest([str(path)], case, fmt="mapped", holder_country=holder["country"],
               options={"mapping": mapping})  # fmt: skip
    (case / "holder.json").write_text(json.dumps(holder))
    return case


@pytest.fixture(scope="module", params=[("small", 1, 0.01), ("hard", 2, 0.01)],
                ids=lambda p: f"{p[0]}-{p[1]}")  # fmt: skip
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, Path]:  # fmt: skip
    preset, seed, scale = request.param
    root = tmp_path_factory.mktemp(f"meta-{preset}")
    case = root / "case"
    write_world(build_world(load_scenario(preset, seed=seed, scale=scale)), case)
    shutil.rmtree(case / "truth")
    findings = root / "findings"
    detect(case, findings)
    flagged = (findings / "entities.csv").read_text().count("\n") - 1
    assert flagged > 50  # a world with something to find
    return case, findings


variants = st.fixed_dictionaries({
    "phones": st.fixed_dictionaries({
        "carrier_cdr": st.sampled_from(PHONE_FORMS),
        "voip_cdr": st.sampled_from(SIP_FORMS),
        "accounts": st.sampled_from(PHONE_FORMS),
        "reports": st.sampled_from(PHONE_FORMS),
    }),
    "times": st.sampled_from(TIME_FORMS),
    "format": st.sampled_from(("csv", "parquet")),
    "route": st.sampled_from(("direct", "ingest", "ingest twice")),
})  # fmt: skip


def _covering(carrier: str, voip: str, accounts: str, reports: str, times: str, fmt: str,
              route: str) -> dict[str, object]:  # fmt: skip
    phones = {"carrier_cdr": carrier, "voip_cdr": voip, "accounts": accounts, "reports": reports}
    return {"phones": phones, "times": times, "format": fmt, "route": route}


# Every form of number, time, file and route at least once, whatever hypothesis draws besides.
@settings(max_examples=1, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(draw=variants)
@example(draw=_covering("national", "bare", "spaced", "intl_prefix", "holder_offset", "csv",
                        "direct"))  # fmt: skip
@example(draw=_covering("intl_prefix", "national", "dashed", "national", "z", "parquet",
                        "ingest"))  # fmt: skip
@example(draw=_covering("parens", "intl_prefix", "e164", "spaced", "plus_zero", "csv",
                        "ingest twice"))  # fmt: skip
@example(draw=_covering("spaced", "parens", "national", "dashed", "holder_offset", "csv",
                        "ingest"))  # fmt: skip
@example(draw=_covering("national", "bare", "national", "national", LOCAL, "csv", "mapped"))
def test_the_same_world_in_any_writing_gives_the_same_findings(
    world: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory, draw: dict[str, object]
) -> None:
    case, expected = world
    root = tmp_path_factory.mktemp("variant")
    written = _variant(case, root / "written", draw)
    if draw["times"] == LOCAL:
        written = _through_mapping(written, root / "mapped")
    elif draw["route"] != "direct":
        written = _through_ingest(written, root / "ingested", draw["route"] == "ingest twice")
    detect(written, root / "findings")
    for name in COMPARED:
        got = (root / "findings" / name).read_text(encoding="utf-8")
        assert got == (expected / name).read_text(encoding="utf-8"), (name, draw)
