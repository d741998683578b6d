"""The simulate command: help with an example, clear errors, and nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from scamtrace.cli import app, main
from scamtrace.core.errors import ScamtraceError, ScenarioError
from scamtrace.simulate import world as world_module
from scamtrace.simulate.config import load_scenario, preset_names

runner = CliRunner()


def test_help_shows_an_example() -> None:
    result = runner.invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0
    assert "scamtrace simulate --scenario small" in result.output


def test_simulate_writes_a_case_and_prints_what_it_made(tmp_path: Path) -> None:
    out = tmp_path / "case"
    result = runner.invoke(app, ["simulate", "--scenario", "small", "--scale", "0.01",
                                 "--seed", "7", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "carrier_cdr" in result.output and "naive rules" in result.output
    assert (out / "carrier_cdr.parquet").is_file()
    assert (out / "truth" / "entities.csv").is_file()
    assert not list(tmp_path.glob(".case.partial-*"))


def test_refuses_to_overwrite_and_leaves_the_folder_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "case"
    out.mkdir()
    (out / "evidence.txt").write_text("keep me")
    monkeypatch.setattr("sys.argv", ["scamtrace", "simulate", "--scenario", "small",
                                     "--scale", "0.01", "--out", str(out)])  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "evidence.txt").read_text() == "keep me"


def test_a_crash_mid_write_keeps_the_previous_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "case"
    out.mkdir()
    (out / "evidence.txt").write_text("previous case")
    (out / "holder.json").write_text('{"country": "CN"}')  # a case: --overwrite may replace it

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(world_module, "victim_complaints", boom)
    world = world_module.build_world(load_scenario("small", scale=0.01))
    with pytest.raises(RuntimeError):
        world_module.write_world(world, out, overwrite=True)
    assert (out / "evidence.txt").read_text() == "previous case"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]


def test_presets_exist_and_load() -> None:
    assert {"seed", "small", "hard", "es-victims"} <= set(preset_names())
    for name in preset_names():
        sc = load_scenario(name)
        assert sc.networks and sc.victim_country != sc.center_country


def test_bad_scenarios_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'"):
        load_scenario("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nnetworks:\n  - name: a\n    centers: 0\n    regions: [M]\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml: field networks\.0\.centers"):
        load_scenario(str(bad))
    with pytest.raises(ScenarioError, match="victim_country and center_country"):
        load_scenario("seed", center_country="CN")
    with pytest.raises(ScamtraceError, match="XX"):
        world_module.build_world(load_scenario("small", victim_country="XX"))
    assert issubclass(ScenarioError, ValueError)


def test_cli_reports_bad_options_without_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "--format", "xml", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0
