"""The simulator's address registry: owners never share an address by accident, and a /24
that runs out sends the next owners to the /24 after it instead of looping for ever (a small
ISP's /24 at full scale once hung `simulate --scenario seed`)."""

from __future__ import annotations

from scamtrace.simulate.context import Registry


def test_a_full_24_moves_on_to_the_next() -> None:
    registry = Registry()
    ids = registry.add_ips(["10.0.0.7"] * 600, ["AS1"] * 600)
    addresses = [registry.ips[i] for i in ids]
    assert len(set(addresses)) == 600
    nets = {a.rsplit(".", 1)[0] for a in addresses}
    assert nets == {"10.0.0", "10.0.1", "10.0.2"}
    assert all(1 <= int(a.rsplit(".", 1)[1]) <= 254 for a in addresses)


def test_the_last_24_of_a_16_wraps_into_the_next_16() -> None:
    registry = Registry()
    ids = registry.add_ips(["10.0.255.1"] * 300, ["AS1"] * 300)
    nets = {registry.ips[i].rsplit(".", 1)[0] for i in ids}
    assert nets == {"10.0.255", "10.1.0"}
