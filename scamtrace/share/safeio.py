"""Reading and writing the files the share commands trade with other agencies.

Those files come from outside (a partner's request or answer, a bundle from another tool), so
reading one must end in a one-line error naming the file, whatever its bytes: not UTF-8, not
JSON, nested a hundred thousand levels deep. What the commands write must not replace an
existing file unasked (CSV files they write go through :func:`scamtrace.core.findings.write_rows`,
which makes every cell inert for spreadsheets).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from scamtrace.core.errors import ScamtraceError


def read_json(path: Path, what: str, error: type[ScamtraceError]) -> Any:
    """The JSON document of ``path``; ``error`` names the file for anything unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{path}: line {line}: the {what} is not UTF-8 text") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        # The C parser counts its depth against the interpreter's recursion limit and stops
        # there (about 1,000 levels; the share formats are at most 5 deep): no scan of our own
        # is needed, and none would be as cheap on a 300 MB answer.
        raise error(f"{path}: the {what} is nested deeper than JSON scamtrace reads "
                    f"(about {sys.getrecursionlimit():,} levels)") from exc


def refuse_existing(out: Path, overwrite: bool, error: type[ScamtraceError]) -> None:
    """Refuse to replace ``out`` unless ``overwrite``."""
    if not overwrite and (out.is_file() or (out.exists() and not out.is_dir())):
        raise error(f"{out}: already exists; pass --overwrite to replace it")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise error(f"{out}: exists and is not empty; pass --overwrite to replace it")


def refuse_exposed_key(path: Path, error: type[ScamtraceError]) -> None:
    """Refuse a secret key file that others than its owner may read or write: anyone who can
    read a signing key can sign as the agency, and anyone who can read a case key can test
    guesses of every hashed number of an exchange. The error gives the command that fixes it.

    On a system without POSIX modes (Windows) there is nothing to check."""
    if os.name != "posix":
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # reading the key will name the problem
    if mode & 0o077:
        raise error(f"{path}: readable by others (mode {mode:04o}); run: chmod 600 {path}")


def open_private(path: Path) -> int:
    """A file descriptor to write a new secret to ``path``, mode 0600 even when it replaces a
    file that had another mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if os.name == "posix":
        os.fchmod(fd, 0o600)
    return fd
