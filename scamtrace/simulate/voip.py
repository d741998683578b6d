"""The VoIP side shared by every population that calls over it: accounts, addresses, routes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scamtrace.simulate.calls import CallBatch
from scamtrace.simulate.context import WorldContext
from scamtrace.simulate.numbering import ip_blocks, random_ipv4

INTERNATIONAL_TRUNKS_PER_COUNTRY = 2


def open_sip_accounts(ctx: WorldContext, rng: np.random.Generator, n: int) -> npt.NDArray[np.int32]:
    """``n`` accounts at the data-holding provider, named like every other customer's."""
    names = [f"sip{v:08d}" for v in rng.integers(10**7, 10**8, size=n)]
    return ctx.registry.add_sip_accounts(names)


def home_ips(
    ctx: WorldContext, rng: np.random.Generator, n: int, per_owner: int = 1
) -> npt.NDArray[np.int32]:
    """``per_owner`` addresses for each of ``n`` owners, each owner on one random access ISP.

    Returns registry ids shaped ``(n, per_owner)``.
    """
    blocks = ip_blocks(ctx.centers.code)
    which = np.repeat(rng.integers(0, len(blocks), n), per_owner)
    addresses, block_of = random_ipv4(ctx.centers.code, rng, n * per_owner, which)
    ids = ctx.registry.add_ips(
        [str(a) for a in addresses.to_pylist()], [blocks[int(b)].asn_name for b in block_of]
    )
    return ids.reshape(n, per_owner)


def route_international(ctx: WorldContext, rng: np.random.Generator, batch: CallBatch) -> None:
    """Calls from the centers' country reach the victims' carrier on international trunks,
    directly or through a transit carrier."""
    n = len(batch)
    origins = [ctx.centers.code, *ctx.victim.transit_countries]
    weights = np.array(
        [0.5] + [0.5 / len(ctx.victim.transit_countries)] * len(ctx.victim.transit_countries)
    )
    pick = rng.choice(len(origins), size=n, p=weights / weights.sum())
    country_ids = np.array([ctx.registry.country(c) for c in origins], np.int16)
    batch.ingress_country[:] = country_ids[pick]
    per_country = range(INTERNATIONAL_TRUNKS_PER_COUNTRY)
    trunk_ids = np.array(
        [[ctx.registry.trunk(f"INTL-{c}-{k + 1:02d}") for k in per_country] for c in origins],
        np.int16,
    )
    batch.trunk[:] = trunk_ids[pick, rng.integers(0, INTERNATIONAL_TRUNKS_PER_COUNTRY, n)]
