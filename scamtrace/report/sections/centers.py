"""A network's call centers: when they were active (an inline SVG timeline on the case's
shared time axis), where they are, and the table of centers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup

from scamtrace.report.format import fmt_day_span, parse_time
from scamtrace.report.query import Case, Row, places
from scamtrace.report.templating import render

PALETTE = ("#1f4e79", "#a23b2a", "#2e7d4f", "#7a4fa0", "#b07b00", "#2a7f9e", "#8a5a44", "#4a5563")
"""Bar colours, one per network in turn."""
TIMELINE_WIDTH = 960
TIMELINE_LABEL = 70
TIMELINE_RIGHT = 10
TIMELINE_ROW = 22
TIMELINE_TOP = 26


def render_centers(case: Case, centers: list[Row], index: int) -> Markup:
    """The centers of the ``index``-th network: timeline, places, table."""
    return centers_view(case.axis, centers, index, case.center_anchor)


def centers_view(
    axis: tuple[dt.datetime, dt.datetime] | None,
    centers: list[Row],
    index: int,
    anchors: Mapping[str, str],
) -> Markup:
    """Timeline on ``axis`` (:func:`~scamtrace.report.query.time_axis`), places and table of
    ``centers``, the ``index``-th network's; the report and the workspace both show them so."""
    return render(
        "centers.html",
        timeline=render_timeline(axis, centers, PALETTE[index % len(PALETTE)]) if centers else "",
        places=places(centers),
        centers=[(anchors.get(str(c["center_id"]), ""), c) for c in centers],
    )


@dataclass(frozen=True)
class Tick:
    x: str
    anchor: str
    label: str


@dataclass(frozen=True)
class Bar:
    center_id: str
    label: str
    x: str
    y: int
    width: str
    text_y: int
    label_x: str
    label_anchor: str
    label_on_bar: bool


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    grid_top: int
    grid_bottom: int
    tick_y: int
    bar_height: int
    color: str
    ticks: list[Tick]
    bars: list[Bar]
    undated: str


def render_timeline(
    axis: tuple[dt.datetime, dt.datetime] | None, centers: list[Row], color: str
) -> Markup:
    """Inline SVG: one bar per center from first to last seen, on the case's shared axis."""
    return render("timeline.html", chart=_chart(axis, centers, color))


def _chart(
    axis: tuple[dt.datetime, dt.datetime] | None, centers: list[Row], color: str
) -> Chart | None:
    if axis is None:
        return None
    lo, hi = axis
    span = (hi - lo).total_seconds()
    x0, x1 = TIMELINE_LABEL, TIMELINE_WIDTH - TIMELINE_RIGHT
    width = x1 - x0

    def x(t: dt.datetime) -> float:
        return x0 + width * (t - lo).total_seconds() / span

    rows: list[tuple[Row, dt.datetime, dt.datetime]] = []
    undated: list[str] = []
    for c in centers:
        a, b = parse_time(c["first_seen"]), parse_time(c["last_seen"])
        if a is None and b is None:
            undated.append(str(c["center_id"]))
            continue
        a = a or b
        b = b or a
        assert a is not None and b is not None
        rows.append((c, min(a, b), max(a, b)))
    height = TIMELINE_TOP + TIMELINE_ROW * len(rows) + 8
    ticks: list[Tick] = []
    tick_times, fmt = _ticks(lo, hi)
    for t in tick_times:
        tx = x(t)
        label = t.strftime(fmt)
        half = 3.2 * len(label)
        ticks.append(Tick(f"{tx:.1f}", "end" if tx + half > TIMELINE_WIDTH else "middle", label))
    bars: list[Bar] = []
    for i, (c, a, b) in enumerate(rows):
        y = TIMELINE_TOP + i * TIMELINE_ROW
        xa, xb = x(a), x(b)
        bw = max(3.0, xb - xa)
        place = " ".join(p for p in (str(c["country"]), str(c["region"])) if p.strip())
        when = fmt_day_span(a, b)
        label = f"{place} · {when}" if place else when
        est = 6.0 * len(label)
        if xa + bw + 6 + est <= TIMELINE_WIDTH - 2:  # after the bar
            label_x, label_anchor, on_bar = xa + bw + 6, "start", False
        elif xa - 6 - est >= x0:  # before it
            label_x, label_anchor, on_bar = xa - 6, "end", False
        else:  # on it, in white
            label_x, label_anchor, on_bar = xa + 4, "start", True
        bars.append(
            Bar(
                center_id=str(c["center_id"]),
                label=label,
                x=f"{xa:.1f}",
                y=y + 4,
                width=f"{bw:.1f}",
                text_y=y + 15,
                label_x=f"{label_x:.1f}",
                label_anchor=label_anchor,
                label_on_bar=on_bar,
            )
        )
    return Chart(
        width=TIMELINE_WIDTH,
        height=height,
        grid_top=TIMELINE_TOP - 6,
        grid_bottom=height - 4,
        tick_y=TIMELINE_TOP - 10,
        bar_height=TIMELINE_ROW - 8,
        color=color,
        ticks=ticks,
        bars=bars,
        undated=", ".join(undated),
    )


def _ticks(lo: dt.datetime, hi: dt.datetime) -> tuple[list[dt.datetime], str]:
    """At most ~10 round tick times between ``lo`` and ``hi`` and their strftime format."""
    span = (hi - lo).total_seconds()
    hour, day = 3600, 86400
    for step, fmt in (
        (hour, "%m-%d %H:%M"),
        (3 * hour, "%m-%d %H:%M"),
        (6 * hour, "%m-%d %H:%M"),
        (12 * hour, "%m-%d %H:%M"),
        (day, "%Y-%m-%d"),
        (2 * day, "%Y-%m-%d"),
        (7 * day, "%Y-%m-%d"),
        (14 * day, "%Y-%m-%d"),
    ):
        if span / step <= 10:
            start = int(lo.timestamp()) // step * step
            ticks = []
            t = start
            while t <= hi.timestamp():
                if t >= lo.timestamp():
                    ticks.append(dt.datetime.fromtimestamp(t, dt.UTC))
                t += step
            return ticks, fmt
    for months in (1, 2, 3, 6, 12, 24, 60, 120, 600):
        if span / (30.44 * day * months) <= 10:
            break
    y, mo = lo.year, lo.month
    mo_index = y * 12 + mo - 1
    mo_index = -(-mo_index // months) * months
    month_ticks: list[dt.datetime] = []
    while True:
        tick = dt.datetime(mo_index // 12, mo_index % 12 + 1, 1, tzinfo=dt.UTC)
        if tick > hi:
            break
        if tick >= lo:
            month_ticks.append(tick)
        mo_index += months
    return month_ticks, ("%Y" if months >= 12 else "%Y-%m")
