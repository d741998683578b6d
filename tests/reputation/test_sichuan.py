"""The real Sichuan data, where this checkout can see it (skipped otherwise), and the bench
command's error when it cannot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.reputation.sichuan import load_sichuan

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "sichuan"
needs_data = pytest.mark.skipif(not (DATA / "node_adj_sparse.npz").is_file(),
                                reason="Sichuan data not present")  # fmt: skip


@needs_data
def test_loads_the_published_shape() -> None:
    data = load_sichuan(DATA)
    assert data.size == 6106 and data.behaviour.values.shape == (6106, 55)
    assert int(data.labels.sum()) == 1962
    assert data.adjacency.nnz == 2 * 416211


@needs_data
def test_bench_json_has_the_promised_keys() -> None:
    result = CliRunner().invoke(app, ["bench", "sichuan", "--data", str(DATA), "--seeds", "1",
                                      "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for key in ("auc", "macro_f1", "f1_fraud", "g_mean"):
        assert set(summary[key]) >= {"mean", "std"}
    assert summary["auc"]["mean"] > 93  # the behaviour features alone carry this much
    assert "fit_s" in summary


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "scamtrace.cli", "bench", "sichuan", "--data",
                          str(tmp_path)], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 2
    assert "all_feat_with_label.csv" in run.stderr and "not found" in run.stderr
