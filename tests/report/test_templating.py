"""The report's templates escape every value the way the report always has, and its CSS and
JavaScript are package files inlined as written."""

from __future__ import annotations

from markupsafe import Markup

from scamtrace.report.templating import environment, render, static_text


def test_values_are_escaped_with_html_escape_entities() -> None:
    template = environment().from_string("<p title='{{ v }}'>{{ v }}</p>")
    out = template.render(v="<b>\"it's\" & more</b>")
    escaped = "&lt;b&gt;&quot;it&#x27;s&quot; &amp; more&lt;/b&gt;"
    assert out == f"<p title='{escaped}'>{escaped}</p>"


def test_markup_and_rendered_parts_are_not_escaped_twice() -> None:
    part = render("tools.html", lists=3, print_all=True)
    assert isinstance(part, Markup) and ' checked>' in part
    template = environment().from_string("{{ part }}|{{ text }}")
    assert template.render(part=part, text=str(part)).startswith(str(part) + "|&lt;div")


def test_every_template_compiles_and_static_files_are_packaged() -> None:
    names = environment().list_templates()
    assert "document.html" in names and len(names) >= 10
    for name in names:
        environment().get_template(name)
    css, js = static_text("report.css"), static_text("report.js")
    assert "@media print" in css and "getElementById('filter')" in js
    for text in (css, js):
        assert "http" not in text and "url(" not in text
