"""The selections behind the sections: network order, layers of mule accounts and the chains
drawn from them."""

from __future__ import annotations

from decimal import Decimal

from scamtrace.report.query import (
    ChainLeaf,
    ChainNode,
    NetworkMoney,
    TransferGroup,
    chains,
    layer_totals,
    layers,
    network_order,
    ordered,
)


def _group(amount: str) -> TransferGroup:
    return TransferGroup(n=1, parties=1, money={"EUR": Decimal(amount)})


def _money() -> NetworkMoney:
    # victims pay A and B; A -> C -> D, B -> C; D cashes out; X moves money nobody paid in
    m = NetworkMoney()
    m.totals["victim_payment"] = _group("300")
    m.paid_in = {"A": _group("200"), "B": _group("100")}
    m.moves = {("A", "C"): _group("150"), ("B", "C"): _group("90"),
               ("C", "D"): _group("200"), ("X", "Y"): _group("5")}  # fmt: skip
    m.cash_out = {"D": _group("190")}
    return m


def test_layers_follow_the_money_from_victim_payments() -> None:
    assert layers(_money()) == {"A": 1, "B": 1, "C": 2, "D": 3}


def test_layer_totals_put_untraced_accounts_last() -> None:
    m = _money()
    rows = layer_totals(m, layers(m))
    assert [(r.layer, r.accounts) for r in rows] == [(1, 2), (2, 1), (3, 1), (0, 2)]
    assert rows[0].money_in == {"EUR": Decimal(300)} and rows[2].cashed_out == {"EUR": Decimal(190)}


def test_chains_draw_each_account_once_biggest_first() -> None:
    m = _money()
    tree = chains(m, layers(m))
    assert tree is not None and tree.left == 0
    assert [r.account for r in tree.roots] == ["A", "B", "X"]
    a, b, _ = tree.roots
    c = a.children[0]
    assert isinstance(c, ChainNode) and c.account == "C" and c.move == m.moves[("A", "C")]
    d = c.children[0]
    assert isinstance(d, ChainNode) and d.cash_out == m.cash_out["D"] and d.layer == 3
    again = b.children[0]
    assert isinstance(again, ChainLeaf) and again.account == "C" and again.shown_above
    assert chains(NetworkMoney(), {}) is None


def test_network_order_ranked_then_named_elsewhere_then_unlinked() -> None:
    networks = [{"network_id": "N2"}, {"network_id": "N1"}, {"network_id": "N2"}]
    counts = {("N10", "sip_account"): 1, ("", "victim_phone"): 2, ("N3", "source_ip"): 1}
    centers = [{"network_id": "N9"}]
    money = {"N1": NetworkMoney()}
    assert network_order(networks, counts, centers, money) == ["N2", "N1", "N3", "N9", "N10", ""]


def test_ordered_kinds_known_first_then_alphabetical() -> None:
    kinds = {"zeta": 1, "mule_account": 1, "sip_account": 1, "alpha": 1}
    assert ordered(kinds) == ["sip_account", "mule_account", "alpha", "zeta"]
