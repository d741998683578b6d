"""``scamtrace share request|answer|merge|psi``: the two-agency exchange."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the exchange commands to ``app``."""
