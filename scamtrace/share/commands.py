"""``scamtrace share``: the sub-commands, registered by the module that owns each of them."""

from __future__ import annotations

import typer

from scamtrace.share import cli_exchange, cli_package

share_app = typer.Typer(
    name="share",
    help="Work one case with another agency, and export findings in investigators' standards.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
cli_exchange.register(share_app)
cli_package.register(share_app)
