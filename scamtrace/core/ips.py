"""IP addresses to country and network (ASN) with the offline database that ships in the
``geoip2fast`` package; nothing is looked up online."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class IpFacts:
    ip: str
    country: str
    network: str
    cidr: str
    private: bool


@lru_cache(maxsize=1)
def _database() -> tuple[Any, Any]:
    from geoip2fast import GeoIP2Fast

    v4 = GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn.dat.gz", verbose=False)
    v6 = GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz", verbose=False)
    return v4, v6


def ip_facts(ips: Iterable[str]) -> dict[str, IpFacts]:
    """Country (ISO alpha-2, '' when unknown) and network of each distinct address."""
    v4, v6 = _database()
    out: dict[str, IpFacts] = {}
    for ip in set(ips):
        try:
            addr = ipaddress.ip_address(ip.strip())
        except ValueError:
            out[ip] = IpFacts(ip, "", "", "", False)
            continue
        db = v6 if addr.version == 6 else v4
        hit = db.lookup(str(addr))
        code = hit.country_code or ""
        country = code if len(code) == 2 and code.isalpha() else ""
        out[ip] = IpFacts(ip, country.upper(), hit.asn_name or "", hit.asn_cidr or hit.cidr or "",
                          bool(hit.is_private))  # fmt: skip
    return out
