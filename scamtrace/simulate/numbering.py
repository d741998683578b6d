"""Vectorised telephone numbers, IP addresses and country reference data for the simulator.

Numbers are handled as national significant numbers (NSN): the digits after the country calling
code, without any trunk prefix, held as ``int64``. That is lossless for every country in
``reference/countries.yaml`` because no NSN there starts with ``0``. All generation and
formatting works on whole arrays (numpy for arithmetic, pyarrow for strings); ``phonenumbers``
is only asked once per distinct number shape, for the grouping used by national formatting.

The reference data is described in ``reference/README.md``.
"""

from __future__ import annotations

import csv
import functools
import io
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from scamtrace.core.errors import ScamtraceError, UnknownCountryError

__all__ = [
    "STYLE_ANONYMOUS",
    "STYLE_E164",
    "STYLE_EMPTY",
    "STYLE_INTERNATIONAL",
    "STYLE_NATIONAL",
    "STYLE_NATIONAL_GROUPED",
    "STYLE_UNKNOWN",
    "CountryPlan",
    "IpBlock",
    "NumberBlock",
    "country_plan",
    "e164",
    "format_numbers",
    "ip_blocks",
    "nsn_block",
    "random_ipv4",
    "random_nsn",
    "supported_countries",
]

STYLE_E164 = 0
"""``+8613800138000``."""
STYLE_INTERNATIONAL = 1
"""The holder's international prefix, calling code and NSN: ``008613800138000``."""
STYLE_NATIONAL = 2
"""Trunk prefix and NSN as logged at home; falls back to style 1 for a foreign number."""
STYLE_NATIONAL_GROUPED = 3
"""National with separators (``138 0013 8000``); foreign: ``0086 13800138000``."""
STYLE_EMPTY = 4
"""An empty string."""
STYLE_ANONYMOUS = 5
"""The marker ``anonymous``."""
STYLE_UNKNOWN = 6
"""The marker ``unknown``."""

_MARKERS = {STYLE_EMPTY: "", STYLE_ANONYMOUS: "anonymous", STYLE_UNKNOWN: "unknown"}
_MAX_NSN_LENGTH = 15  # E.164: at most 15 digits in all; always fits in int64
_LEAD_DIGITS = 5  # digits of an NSN that decide its national grouping (see _template_for)
_POW10 = 10 ** np.arange(19, dtype=np.int64)

_REFERENCE = "reference"
_COUNTRIES_FILE = "countries.yaml"
_IP_BLOCKS_FILE = "ip_blocks.csv"

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class NumberBlock:
    """Numbers that start with ``prefix`` (NSN digits, no leading ``0``) and have ``length``."""

    prefix: str
    length: int

    def __post_init__(self) -> None:
        if not self.prefix.isdigit() or not self.prefix.isascii() or self.prefix[0] == "0":
            raise ScamtraceError(f"NSN prefix must be digits not starting with 0: {self.prefix!r}")
        if not len(self.prefix) <= self.length <= _MAX_NSN_LENGTH:
            raise ScamtraceError(
                f"NSN length {self.length} must lie between len(prefix) and {_MAX_NSN_LENGTH}"
            )


@dataclass(frozen=True)
class CountryPlan:
    """Numbering plan, money and locale of one country, from ``reference/countries.yaml``."""

    code: str
    calling_code: int
    international_prefix: str
    trunk_prefix: str
    mobile_trunk_prefix: str
    currency: str
    eur_rate: float
    language: str
    utc_offset_hours: float
    regions: tuple[str, ...]
    mobile: tuple[NumberBlock, ...]
    landline: tuple[NumberBlock, ...]
    business: tuple[NumberBlock, ...]
    official_lookalikes: tuple[str, ...]
    iban: bool
    iban_bank_codes: tuple[str, ...]
    card_bins: tuple[str, ...]
    card_length: int
    transit_countries: tuple[str, ...]


@dataclass(frozen=True)
class IpBlock:
    """An IPv4 block of an access provider; ``first`` and ``size`` as integers."""

    country: str
    cidr: str
    asn_name: str
    first: int
    size: int


# --------------------------------------------------------------------------- reference data


def _read_reference(name: str) -> str:
    return (
        resources.files("scamtrace.simulate")
        .joinpath(_REFERENCE)
        .joinpath(name)
        .read_text(encoding="utf-8")
    )


def _str_tuple(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScamtraceError(f"{_COUNTRIES_FILE}: {where} must be a list of strings")
    return tuple(value)


def _blocks(section: Any, key: str, where: str) -> tuple[NumberBlock, ...]:
    if not isinstance(section, dict) or not isinstance(section.get("length"), int):
        raise ScamtraceError(f"{_COUNTRIES_FILE}: {where} needs {key} and an integer length")
    prefixes = _str_tuple(section.get(key), f"{where}.{key}")
    if not prefixes:
        raise ScamtraceError(f"{_COUNTRIES_FILE}: {where}.{key} is empty")
    return tuple(NumberBlock(p, section["length"]) for p in prefixes)


def _plan_from_yaml(code: str, raw: Any) -> CountryPlan:
    if not isinstance(raw, dict):
        raise ScamtraceError(f"{_COUNTRIES_FILE}: entry {code} must be a mapping")
    try:
        accounts = raw["accounts"]
        plan = CountryPlan(
            code=code,
            calling_code=int(raw["calling_code"]),
            international_prefix=str(raw["international_prefix"]),
            trunk_prefix=str(raw["trunk_prefix"]),
            mobile_trunk_prefix=str(raw["mobile_trunk_prefix"]),
            currency=str(raw["currency"]),
            eur_rate=float(raw["eur_rate"]),
            language=str(raw["language"]),
            utc_offset_hours=float(raw["utc_offset_hours"]),
            regions=_str_tuple(raw["regions"], f"{code}.regions"),
            mobile=_blocks(raw["mobile"], "prefixes", f"{code}.mobile"),
            landline=_blocks(raw["landline"], "area_codes", f"{code}.landline"),
            business=_blocks(raw["business"], "prefixes", f"{code}.business"),
            official_lookalikes=_str_tuple(
                raw["official_lookalikes"], f"{code}.official_lookalikes"
            ),
            iban=bool(accounts["iban"]),
            iban_bank_codes=_str_tuple(accounts["iban_bank_codes"], f"{code}.iban_bank_codes"),
            card_bins=_str_tuple(accounts["card_bins"], f"{code}.card_bins"),
            card_length=int(accounts["card_length"]),
            transit_countries=_str_tuple(raw["transit_countries"], f"{code}.transit_countries"),
        )
    except (KeyError, TypeError) as exc:
        raise ScamtraceError(f"{_COUNTRIES_FILE}: entry {code} lacks or mistypes {exc}") from exc
    return plan


@functools.cache
def _plans() -> dict[str, CountryPlan]:
    raw = yaml.safe_load(_read_reference(_COUNTRIES_FILE))
    if not isinstance(raw, dict):
        raise ScamtraceError(f"{_COUNTRIES_FILE}: top level must map country codes to entries")
    return {str(code): _plan_from_yaml(str(code), entry) for code, entry in raw.items()}


def supported_countries() -> tuple[str, ...]:
    """ISO 3166-1 alpha-2 codes of the countries in ``reference/countries.yaml``, in file order."""
    return tuple(_plans())


def country_plan(code: str) -> CountryPlan:
    """The reference plan of country ``code`` (case-insensitive ISO alpha-2 code).

    Raises :class:`~scamtrace.core.errors.UnknownCountryError` for a country that is not covered.
    """
    plan = _plans().get(code.strip().upper())
    if plan is None:
        raise UnknownCountryError(
            f"no reference data for country {code!r}; known: {', '.join(supported_countries())}"
        )
    return plan


@functools.cache
def _ip_table() -> dict[str, tuple[IpBlock, ...]]:
    rows: dict[str, list[IpBlock]] = {}
    for row in csv.DictReader(io.StringIO(_read_reference(_IP_BLOCKS_FILE))):
        try:
            net = ipaddress.IPv4Network(row["cidr"])
        except (KeyError, ValueError) as exc:
            raise ScamtraceError(f"{_IP_BLOCKS_FILE}: bad row {row}: {exc}") from exc
        if net.prefixlen > 24:
            raise ScamtraceError(f"{_IP_BLOCKS_FILE}: {net} is smaller than a /24")
        country = row["country"].strip().upper()
        block = IpBlock(
            country=country,
            cidr=str(net),
            asn_name=row["asn_name"],
            first=int(net.network_address),
            size=net.num_addresses,
        )
        rows.setdefault(country, []).append(block)
    return {country: tuple(blocks) for country, blocks in rows.items()}


def ip_blocks(country: str) -> list[IpBlock]:
    """The IPv4 blocks of ``country`` from ``reference/ip_blocks.csv``, in file order."""
    blocks = _ip_table().get(country.strip().upper())
    if blocks is None:
        raise UnknownCountryError(f"no IP blocks for country {country!r}")
    return list(blocks)


@functools.cache
def _ip_arrays(country: str) -> tuple[IntArray, IntArray]:
    blocks = ip_blocks(country)
    first = np.array([b.first for b in blocks], dtype=np.int64)
    size = np.array([b.size for b in blocks], dtype=np.int64)
    first.setflags(write=False)
    size.setflags(write=False)
    return first, size


# --------------------------------------------------------------------------- generation


def random_nsn(blocks: Sequence[NumberBlock], rng: np.random.Generator, n: int) -> IntArray:
    """``n`` random NSNs: a block chosen uniformly per row, then uniform remaining digits.

    Blocks of one call may have different lengths.
    """
    if n < 0:
        raise ScamtraceError(f"n must be >= 0, got {n}")
    if not blocks:
        raise ScamtraceError("random_nsn needs at least one NumberBlock")
    prefix = np.array([int(b.prefix) for b in blocks], dtype=np.int64)
    free = np.array([b.length - len(b.prefix) for b in blocks], dtype=np.int64)
    which = rng.integers(0, len(blocks), size=n)
    span = _POW10[free[which]]
    tail = rng.integers(0, span, dtype=np.int64)
    out: IntArray = prefix[which] * span + tail
    return out


def nsn_block(first: int, count: int) -> IntArray:
    """``count`` consecutive NSNs from ``first`` on (sequential list dialling)."""
    if count < 0 or first <= 0:
        raise ScamtraceError(f"nsn_block needs first > 0 and count >= 0, got {first}, {count}")
    if len(str(first + max(count - 1, 0))) > _MAX_NSN_LENGTH:
        raise ScamtraceError(f"NSNs from {first} on exceed {_MAX_NSN_LENGTH} digits")
    return np.arange(first, first + count, dtype=np.int64)


def random_ipv4(
    country: str,
    rng: np.random.Generator,
    n: int,
    blocks: npt.ArrayLike | None = None,
) -> tuple[pa.Array, IntArray]:
    """``n`` random host addresses in ``country``'s blocks, as dotted strings.

    Each row's block is chosen uniformly among the country's blocks (see :func:`ip_blocks`), or
    taken from ``blocks``, an integer array of block indices, one per row. The last octet is
    never 0 or 255. Returns the addresses and each row's block index.
    """
    if n < 0:
        raise ScamtraceError(f"n must be >= 0, got {n}")
    first, size = _ip_arrays(country.strip().upper())
    if blocks is None:
        which: IntArray = rng.integers(0, len(first), size=n, dtype=np.int64)
    else:
        chosen = np.asarray(blocks)
        if chosen.shape != (n,) or not np.issubdtype(chosen.dtype, np.integer):
            raise ScamtraceError(f"blocks must hold one integer index per row: {chosen.shape}")
        which = chosen.astype(np.int64)
        if n and (which.min() < 0 or which.max() >= len(first)):
            raise ScamtraceError(f"block index out of range 0..{len(first) - 1}")
    nets24 = rng.integers(0, size[which] // 256, dtype=np.int64)
    host = rng.integers(1, 255, size=n, dtype=np.int64)
    addr = first[which] + nets24 * 256 + host
    octets = [pa.array((addr >> shift) & 255).cast(pa.string()) for shift in (24, 16, 8, 0)]
    dotted = pc.binary_join_element_wise(*octets, ".")
    return dotted, which


# --------------------------------------------------------------------------- formatting


def _as_nsn(nsn: npt.ArrayLike) -> IntArray:
    arr = np.asarray(nsn)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ScamtraceError("NSNs must be a one-dimensional integer array")
    out = arr.astype(np.int64)
    if out.size and (out.min() <= 0 or out.max() >= _POW10[_MAX_NSN_LENGTH]):
        raise ScamtraceError(f"NSNs must be positive with at most {_MAX_NSN_LENGTH} digits")
    return out


def _text(nsn: IntArray) -> pa.Array:
    return pa.array(nsn).cast(pa.string())


def e164(plan: CountryPlan, nsn: npt.ArrayLike) -> pa.Array:
    """``+<calling code><nsn>`` for each NSN, as a pyarrow string array."""
    return pc.binary_join_element_wise(f"+{plan.calling_code}", _text(_as_nsn(nsn)), "")


def _constant(text: str, n: int) -> pa.Array:
    return pa.array([text], type=pa.string()).take(pa.array(np.zeros(n, dtype=np.int64)))


def _assemble(n: int, group: IntArray, build: Callable[[int, IntArray], pa.Array]) -> pa.Array:
    """Build each group's strings from its row indices and put them back in row order."""
    if n == 0:
        return pa.array([], type=pa.string())
    order = np.argsort(group, kind="stable")
    ids, starts = np.unique(group[order], return_index=True)
    bounds = [*starts.tolist(), n]
    pieces = [build(int(g), order[bounds[i] : bounds[i + 1]]) for i, g in enumerate(ids.tolist())]
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n, dtype=np.int64)
    return pa.concat_arrays(pieces).take(pa.array(inverse))


# A national template: the national prefix phonenumbers puts in front of the NSN, and the parts
# of the formatted text: literal strings, or (start, stop) slices of prefix + NSN.
_Template = tuple[str, tuple[str | tuple[int, int], ...]]


@functools.lru_cache(maxsize=65536)
def _template_for(calling_code: int, length: int, lead: int) -> _Template:
    """Grouping of NSNs of ``length`` digits whose first digits are ``lead``.

    phonenumbers picks a national format from the leading digits and the length; the other
    digits are filled with zeros, which keeps the template a function of the key alone.
    """
    digits = str(lead).ljust(length, "0")
    number = phonenumbers.PhoneNumber(country_code=calling_code, national_number=int(digits))
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    all_digits = "".join(ch for ch in formatted if ch.isdigit())
    if not formatted.isascii() or not all_digits.endswith(digits):
        return "", ((0, length),)
    prefix = all_digits[: len(all_digits) - length]
    parts: list[str | tuple[int, int]] = []
    pos = 0
    i = 0
    while i < len(formatted):
        j = i
        if formatted[i].isdigit():
            while j < len(formatted) and formatted[j].isdigit():
                j += 1
            parts.append((pos, pos + j - i))
            pos += j - i
        else:
            while j < len(formatted) and not formatted[j].isdigit():
                j += 1
            parts.append(formatted[i:j])
        i = j
    return prefix, tuple(parts)


def _grouped_national(plan: CountryPlan, nsn: IntArray) -> pa.Array:
    length = np.searchsorted(_POW10, nsn, side="right").astype(np.int64)
    lead = nsn // _POW10[np.maximum(length - _LEAD_DIGITS, 0)]
    keys, key_of_row = np.unique(length * _POW10[_LEAD_DIGITS + 1] + lead, return_inverse=True)
    templates: dict[_Template, int] = {}
    key_template = np.empty(len(keys), dtype=np.int64)
    for k, key in enumerate(keys.tolist()):
        template = _template_for(
            plan.calling_code, key // 10 ** (_LEAD_DIGITS + 1), key % 10 ** (_LEAD_DIGITS + 1)
        )
        key_template[k] = templates.setdefault(template, len(templates))
    by_id = list(templates)
    text = _text(nsn)

    def build(tid: int, rows: IntArray) -> pa.Array:
        prefix, parts = by_id[tid]
        national = pc.binary_join_element_wise(prefix, text.take(pa.array(rows)), "")
        pieces = [
            part
            if isinstance(part, str)
            else pc.utf8_slice_codeunits(national, start=part[0], stop=part[1])
            for part in parts
        ]
        return pc.binary_join_element_wise(*pieces, "")

    return _assemble(len(nsn), key_template[key_of_row.reshape(-1)], build)


def format_numbers(
    plan: CountryPlan,
    nsn: npt.ArrayLike,
    style: npt.ArrayLike,
    is_mobile: npt.ArrayLike,
    holder_country: str,
) -> pa.Array:
    """Write NSNs of ``plan``'s country the way a record holder in ``holder_country`` logs them.

    ``style`` holds one code per row (``STYLE_*``): 0 E.164 (``+8613800138000``); 1 the holder's
    international prefix, calling code and NSN (``008613800138000``); 2 national as logged at
    home: trunk prefix (``mobile_trunk_prefix`` where ``is_mobile``) and NSN, or style 1 when the
    number is foreign to the holder; 3 national grouped by phonenumbers' national format
    (``138 0013 8000``, ``(212) 555-0110``), or for a foreign number the international prefix
    and calling code, a space and the NSN (``0086 13800138000``); 4 an empty string;
    5 ``anonymous``; 6 ``unknown``.
    """
    numbers = _as_nsn(nsn)
    n = len(numbers)
    codes = np.asarray(style)
    mobile = np.asarray(is_mobile)
    if codes.shape != (n,) or mobile.shape != (n,):
        raise ScamtraceError("nsn, style and is_mobile must have the same one-dimensional shape")
    if not np.issubdtype(codes.dtype, np.integer):
        raise ScamtraceError("style must be an integer array")
    codes = codes.astype(np.int64)
    if n and (codes.min() < STYLE_E164 or codes.max() > STYLE_UNKNOWN):
        raise ScamtraceError(f"style codes must lie in {STYLE_E164}..{STYLE_UNKNOWN}")
    holder = country_plan(holder_country)
    if plan.code != holder.code:
        codes = np.where(codes == STYLE_NATIONAL, STYLE_INTERNATIONAL, codes)
    idd = f"{holder.international_prefix}{plan.calling_code}"
    text = _text(numbers)

    def build(code: int, rows: IntArray) -> pa.Array:
        if code in _MARKERS:
            return _constant(_MARKERS[code], len(rows))
        if code == STYLE_NATIONAL_GROUPED and plan.code == holder.code:
            return _grouped_national(plan, numbers[rows])
        part = text.take(pa.array(rows))
        if code == STYLE_E164:
            return pc.binary_join_element_wise(f"+{plan.calling_code}", part, "")
        if code == STYLE_INTERNATIONAL:
            return pc.binary_join_element_wise(idd, part, "")
        if code == STYLE_NATIONAL_GROUPED:
            return pc.binary_join_element_wise(idd, part, " ")
        trunk = pc.if_else(
            pa.array(mobile[rows].astype(bool)), plan.mobile_trunk_prefix, plan.trunk_prefix
        )
        return pc.binary_join_element_wise(trunk, part, "")

    return _assemble(n, codes, build)
