"""Shared fixtures: small simulated worlds, made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.world import World, build_world, write_world


def make_case(
    root: Path, name: str, scenario: str, fmt: str = "parquet", **overrides: object
) -> Path:
    out = root / name
    world = build_world(load_scenario(scenario, **overrides))
    write_world(world, out, fmt=fmt)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="session")
def small_world() -> World:
    return build_world(load_scenario("small", seed=1))


@pytest.fixture(scope="session")
def small_case(tmp_path_factory: pytest.TempPathFactory, small_world: World) -> Path:
    out = tmp_path_factory.mktemp("cases") / "small-1"
    write_world(small_world, out)
    return out


@pytest.fixture(scope="session")
def small_case_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_case(tmp_path_factory.mktemp("cases"), "small-2-csv", "small", fmt="csv", seed=2)
