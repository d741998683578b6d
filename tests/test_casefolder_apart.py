"""An output that is, holds or lies inside an input is refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from scamtrace.core.casefolder import ensure_apart
from scamtrace.core.errors import CaseFolderError


@pytest.mark.parametrize(("out", "why"), [("case", "is"), (".", "holds"),
                                          ("case/findings", "lies inside")])  # fmt: skip
def test_outputs_overlapping_an_input_are_refused(tmp_path: Path, out: str, why: str) -> None:
    (tmp_path / "case").mkdir()
    with pytest.raises(CaseFolderError, match=f"--out {why} the input"):
        ensure_apart(tmp_path / out, tmp_path / "case")


def test_a_link_does_not_hide_the_input(tmp_path: Path) -> None:
    (tmp_path / "case").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "case")
    with pytest.raises(CaseFolderError):
        ensure_apart(tmp_path / "alias", tmp_path / "case")


def test_siblings_and_stdin_are_fine(tmp_path: Path) -> None:
    (tmp_path / "case").mkdir()
    ensure_apart(tmp_path / "findings", tmp_path / "case", None, Path("-"))
    ensure_apart(tmp_path / "case-findings", tmp_path / "case")
