"""The overview: every network in one table, ranked, with totals."""

from __future__ import annotations

from collections import defaultdict

from markupsafe import Markup

from scamtrace.report.format import Money, add_money, fmt_money, fmt_span, to_decimal, to_int
from scamtrace.report.query import Case, active_span, place_summary
from scamtrace.report.templating import render

SUMMED = ("centers", "lines", "victims", "victims_paid", "mule_accounts")
"""networks.csv columns added up in the table's last row."""


def render_overview(case: Case) -> Markup:
    """The networks in networks.csv order (ranked, the biggest first) and their totals."""
    totals: dict[str, int] = defaultdict(int)
    loss_total: Money = {}
    networks = []
    for r in case.networks:
        nid = str(r["network_id"])
        loss = to_decimal(r.get("loss"))
        loss_m: Money = {str(r.get("currency") or ""): loss} if loss is not None else {}
        add_money(loss_total, loss_m)
        for col in SUMMED:
            totals[col] += to_int(r.get(col)) or 0
        centers = case.centers_by_network.get(nid, [])
        first, last = active_span(centers)
        networks.append(
            {
                "row": r,
                "anchor": case.network_anchor[nid],
                "loss": fmt_money(loss_m) if loss_m else str(r.get("loss") or ""),
                "places": place_summary(centers),
                "active": fmt_span(first[:10], last[:10]),
            }
        )
    return render("overview.html", networks=networks, totals=totals, loss_total=loss_total)
