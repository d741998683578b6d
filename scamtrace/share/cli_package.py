"""``scamtrace share stix|misp|ftm|package|verify``: standards and the signed case package."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the export and case-package commands to ``app``."""
