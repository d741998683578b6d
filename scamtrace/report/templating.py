"""The Jinja2 environment of the report and its package files (templates, CSS, JavaScript).

Every value a template prints is HTML-escaped: findings come from case files nobody controls.
Escaping is done by :func:`_escape_value` (``html.escape``, which writes quotes as ``&quot;`` and
``&#x27;``, as the report always has) before Jinja's own autoescaping, which then leaves the
result alone. A template prints markup unescaped only when it is a :class:`markupsafe.Markup`:
the output of another template of this environment, or the report's own CSS and JavaScript.
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from scamtrace.report import format as fmt
from scamtrace.report.labels import kind_label, network_title, source_label

PACKAGE = "scamtrace.report"


def _escape_value(value: object) -> object:
    if isinstance(value, Markup):
        return value
    # safe: the text is escaped right here; Markup only keeps Jinja from escaping it twice
    return Markup(html.escape(str(value)))


@cache
def environment() -> jinja2.Environment:
    """The templates under ``scamtrace/report/templates``, autoescaped, whitespace kept as
    written (a block tag alone on its line leaves no line behind)."""
    return build_environment(report_loader())


def report_loader() -> jinja2.BaseLoader:
    """The report's templates (the workspace chains its own before them)."""
    return jinja2.PackageLoader(PACKAGE, "templates")


def build_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """An environment escaping as the report's does, with its filters, over ``loader``: the
    report's and the workspace's (``scamtrace app``), so both print a value the same way."""
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        finalize=_escape_value,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        number=fmt.fmt_count,
        money=fmt.fmt_money,
        time=fmt.fmt_time,
        span=fmt.fmt_span,
        plural=fmt.plural,
        score=fmt.fmt_score,
        kind_label=kind_label,
        source_label=source_label,
        network_title=network_title,
    )
    return env


def render(template: str, **context: Any) -> Markup:
    """``template`` rendered with ``context``: HTML in which every value has been escaped."""
    # safe: an autoescaping template's output is markup built from escaped values
    return Markup(environment().get_template(template).render(**context))


@cache
def static_text(name: str) -> str:
    """A file under ``scamtrace/report/static`` (the report's CSS and JavaScript)."""
    return (resources.files(PACKAGE) / "static" / name).read_text(encoding="utf-8")
