"""A network's victims and losses, and its mule chains: how the money moved from the victims
through layers of mule accounts to cash-out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from scamtrace.report.format import fmt_money, money_size, to_decimal
from scamtrace.report.labels import TRANSFER_STEP_LABELS
from scamtrace.report.query import (
    Case,
    NetworkMoney,
    Row,
    chains,
    layer_totals,
    layers,
    ordered,
)
from scamtrace.report.templating import render


@dataclass(frozen=True)
class Shown:
    """The first ``max_rows`` rows of a money table, and how many there are in all."""

    rows: Sequence[Any]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def render_victims(case: Case, network_id: str, row: Row | None) -> Markup:
    """Victims called and who paid, the loss, and the money paid in and taken out."""
    m = case.money.get(network_id, NetworkMoney())
    loss_text = ""
    if row is not None:
        loss = to_decimal(row.get("loss"))
        currency = str(row.get("currency") or "")
        loss_text = fmt_money({currency: loss}) if loss is not None else str(row.get("loss"))
    return render(
        "victims.html",
        row=row,
        loss=loss_text,
        flagged_phones=case.entity_counts.get((network_id, "victim_phone"), 0),
        flagged_paid=case.entity_counts.get((network_id, "victim_paid"), 0),
        paid=m.totals.get("victim_payment"),
        cash_out=m.totals.get("cash_out"),
    )


def render_chains(case: Case, network_id: str, *, max_rows: int) -> Markup:
    """The steps, the layers, the chains as a tree and the tables of the money moved."""
    m = case.money.get(network_id)
    if m is None or m.empty:
        why = (
            "transfers.csv is not in the findings folder."
            if not case.present.get("transfers")
            else "No flagged transfers for this network."
        )
        return render("chains.html", why_none=why)
    layer = layers(m)
    paid_in = sorted(m.paid_in.items(), key=lambda kv: (-money_size(kv[1].money), kv[0]))
    moves = sorted(
        m.moves.items(),
        key=lambda kv: (layer.get(kv[0][0], 0) or 99, -money_size(kv[1].money), kv[0]),
    )
    cash_out = sorted(m.cash_out.items(), key=lambda kv: (-money_size(kv[1].money), kv[0]))
    return render(
        "chains.html",
        why_none="",
        steps=[
            (TRANSFER_STEP_LABELS.get(kind, kind), m.totals[kind])
            for kind in ordered(m.totals, tuple(TRANSFER_STEP_LABELS))
        ],
        layer_totals=layer_totals(m, layer),
        tree=chains(m, layer),
        layer=layer,
        paid_in=Shown(paid_in[:max_rows], len(paid_in)),
        moves=Shown(moves[:max_rows], len(moves)),
        cash_out=Shown(cash_out[:max_rows], len(cash_out)),
    )
