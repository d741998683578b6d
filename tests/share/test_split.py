"""Split worlds: one case folder per holder's country, the fused one untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from scamtrace.core.errors import CaseFolderError
from scamtrace.core.phones import to_e164
from scamtrace.simulate.split import CENTER_SIDE, VICTIM_SIDE, split_case, split_root
from tests.share.conftest import Exchange, run_cli


def _tables(case: Path) -> set[str]:
    return {p.stem for p in case.glob("*.parquet")}


def test_each_country_holds_its_own_tables(exchanges: dict[str, Exchange]) -> None:
    ex = exchanges["seed"]
    assert ex.victims_half == split_root(ex.fused) / "CN"
    assert _tables(ex.victims_half) == set(VICTIM_SIDE)
    assert _tables(ex.centers_half) == set(CENTER_SIDE)
    assert _tables(ex.fused) == set(VICTIM_SIDE) | set(CENTER_SIDE)  # fused left whole
    for half, country in ((ex.victims_half, "CN"), (ex.centers_half, "ES")):
        assert json.loads((half / "holder.json").read_text()) == {"country": country}
        assert (half / "truth" / "entities.csv").read_bytes() == \
            (ex.fused / "truth" / "entities.csv").read_bytes()  # fmt: skip
    for name in VICTIM_SIDE:
        assert pq.read_metadata(ex.victims_half / f"{name}.parquet").num_rows == \
            pq.read_metadata(ex.fused / f"{name}.parquet").num_rows  # fmt: skip


def test_other_domestic_networks_serve_what_the_carrier_does_not(
    exchanges: dict[str, Exchange],
) -> None:
    ex = exchanges["seed"]
    listed = (split_root(ex.fused) / "CN-networks" / "subscribers.csv").read_text().split()
    assert listed[0] == "number" and len(listed) > 100
    numbers = set(listed[1:])
    assert all(n.startswith("+86") for n in numbers)
    called = pq.read_table(ex.victims_half / "carrier_cdr.parquet").column("called_number")
    served = {to_e164(n, "CN") for n in set(called.to_pylist())}
    assert len(served) > 100 and not numbers & served


def test_a_case_with_one_holder_cannot_be_split(tmp_path: Path) -> None:
    (tmp_path / "holder.json").write_text('{"country": "CN"}')
    with pytest.raises(CaseFolderError, match="nothing to split"):
        split_case(tmp_path)


def test_simulate_split_from_the_command_line(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(
        "name: tiny\nvictim_country: CN\ncenter_country: ES\nstart: 2016-07-01\n"
        "end: 2016-07-08\nscale: 0.005\nnetworks:\n  - name: n\n    centers: 1\n"
        "    regions: [Madrid]\n    operators: [5, 8]\n"
    )
    out = tmp_path / "w"
    printed = run_cli("simulate", "--scenario", str(scenario), "--out", str(out), "--split")
    assert "w-split" in printed.replace("\n", "")
    assert _tables(tmp_path / "w-split" / "CN") == set(VICTIM_SIDE)
    assert _tables(tmp_path / "w-split" / "ES") == set(CENTER_SIDE)
