"""Reference data and vectorised numbering: every generated number, address and format checks out
against phonenumbers, iptocc, geoip2fast and schwifty."""

from __future__ import annotations

import ipaddress
import random

import iptocc
import numpy as np
import phonenumbers
import pytest
from geoip2fast import GeoIP2Fast
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType
from schwifty import IBAN

from scamtrace.core.errors import ScamtraceError, UnknownCountryError
from scamtrace.simulate.numbering import (
    STYLE_ANONYMOUS,
    STYLE_E164,
    STYLE_EMPTY,
    STYLE_INTERNATIONAL,
    STYLE_NATIONAL,
    STYLE_NATIONAL_GROUPED,
    STYLE_UNKNOWN,
    CountryPlan,
    NumberBlock,
    country_plan,
    e164,
    format_numbers,
    ip_blocks,
    nsn_block,
    random_ipv4,
    random_nsn,
    supported_countries,
)

COUNTRIES = ("CN", "ES", "GB", "FR", "DE", "US")
MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
FIXED_TYPES = {PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
KINDS = ("mobile", "landline", "business", "lookalike")


@pytest.fixture(scope="module")
def geoip() -> GeoIP2Fast:
    return GeoIP2Fast()


def _parsed(texts: list[str], region: str | None = None) -> list[phonenumbers.PhoneNumber]:
    return [phonenumbers.parse(t, region) for t in texts]


def _numbers(plan: CountryPlan, kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "lookalike":
        cc = str(plan.calling_code)
        nsn = [int(s.removeprefix("+" + cc)) for s in plan.official_lookalikes]
        return np.asarray(nsn, dtype=np.int64)[rng.integers(0, len(nsn), n)]
    blocks: tuple[NumberBlock, ...] = getattr(plan, kind)
    return random_nsn(blocks, rng, n)


def test_supported_countries() -> None:
    assert set(supported_countries()) == set(COUNTRIES)
    assert country_plan("es") is country_plan("ES")


@pytest.mark.parametrize("code", COUNTRIES)
def test_plan_fields(code: str) -> None:
    plan = country_plan(code)
    assert plan.code == code
    assert plan.calling_code == phonenumbers.country_code_for_region(code)
    assert plan.international_prefix == ("011" if code == "US" else "00")
    assert len(plan.currency) == 3 and plan.eur_rate > 0
    assert -12 <= plan.utc_offset_hours <= 14
    assert plan.language and len(plan.regions) >= 3
    lengths = {b.length for b in (*plan.mobile, *plan.landline, *plan.business)}
    assert all(4 <= length <= 15 for length in lengths)
    assert all(len(t) == 2 and t.isupper() and t != code for t in plan.transit_countries)
    assert all(len(b) == 6 and b.isdigit() for b in plan.card_bins)
    assert 13 <= plan.card_length <= 19
    assert plan.iban == (code in {"ES", "GB", "FR", "DE"})
    assert bool(plan.iban_bank_codes) == plan.iban


@pytest.mark.parametrize("code", COUNTRIES)
def test_iban_bank_codes_work_with_schwifty(code: str) -> None:
    plan = country_plan(code)
    for i, bank_code in enumerate(plan.iban_bank_codes):
        iban = IBAN.random(code, bank_code=bank_code, random=random.Random(i))
        checked = IBAN(str(iban), validate_bban=True)
        assert str(checked.bban).startswith(bank_code)
        assert checked.bank is not None


@pytest.mark.parametrize("code", COUNTRIES)
@pytest.mark.parametrize("kind", ["mobile", "landline", "business"])
def test_every_block_gives_valid_numbers(code: str, kind: str) -> None:
    plan = country_plan(code)
    rng = np.random.default_rng(len(kind))
    for block in getattr(plan, kind):
        nsn = random_nsn([block], rng, 25)
        assert all(str(v).startswith(block.prefix) and len(str(v)) == block.length for v in nsn)
        for number in _parsed(e164(plan, nsn).to_pylist()):
            assert phonenumbers.is_valid_number(number), (code, kind, number)
            assert phonenumbers.region_code_for_number(number) == code
            kind_of = phonenumbers.number_type(number)
            if kind == "mobile":
                assert kind_of in MOBILE_TYPES, number
            elif kind == "landline":
                assert kind_of in FIXED_TYPES, number


@pytest.mark.parametrize("code", COUNTRIES)
def test_official_lookalikes_are_valid_landlines(code: str) -> None:
    plan = country_plan(code)
    lookalikes = plan.official_lookalikes
    assert len(lookalikes) >= 3
    for text, number in zip(lookalikes, _parsed(list(lookalikes)), strict=True):
        assert phonenumbers.is_valid_number(number), text
        assert phonenumbers.region_code_for_number(number) == code
        assert phonenumbers.number_type(number) in FIXED_TYPES
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == text


def test_random_nsn_mixed_lengths_and_uniform_blocks() -> None:
    blocks = [NumberBlock("400", 10), NumberBlock("138", 11), NumberBlock("7", 4)]
    nsn = random_nsn(blocks, np.random.default_rng(3), 3000)
    assert nsn.dtype == np.int64 and nsn.shape == (3000,)
    text = [str(v) for v in nsn]
    counts = [sum(t.startswith(b.prefix) and len(t) == b.length for t in text) for b in blocks]
    assert sum(counts) == 3000 and min(counts) > 800
    assert len(random_nsn(blocks, np.random.default_rng(3), 0)) == 0
    again = random_nsn(blocks, np.random.default_rng(3), 3000)
    assert np.array_equal(nsn, again)


def test_number_block_and_nsn_block_validation() -> None:
    with pytest.raises(ScamtraceError):
        NumberBlock("0", 9)
    with pytest.raises(ScamtraceError):
        NumberBlock("6", 16)
    with pytest.raises(ScamtraceError):
        random_nsn([], np.random.default_rng(0), 1)
    assert nsn_block(612345678, 3).tolist() == [612345678, 612345679, 612345680]
    assert nsn_block(612345678, 0).dtype == np.int64
    with pytest.raises(ScamtraceError):
        nsn_block(612345678, -1)


def test_e164() -> None:
    plan = country_plan("CN")
    assert e164(plan, np.array([13800138000])).to_pylist() == ["+8613800138000"]
    assert e164(plan, np.array([], dtype=np.int64)).to_pylist() == []


def test_format_examples() -> None:
    cn, es = country_plan("CN"), country_plan("ES")
    nsn = np.array([13800138000] * 7, dtype=np.int64)
    styles = np.arange(7, dtype=np.int8)
    mobile = np.ones(7, dtype=bool)
    assert format_numbers(cn, nsn, styles, mobile, "CN").to_pylist() == [
        "+8613800138000",
        "008613800138000",
        "13800138000",
        "138 0013 8000",
        "",
        "anonymous",
        "unknown",
    ]
    abroad = format_numbers(cn, nsn, styles, mobile, "US").to_pylist()
    assert abroad[1:4] == ["0118613800138000", "0118613800138000", "01186 13800138000"]
    landline = format_numbers(cn, np.array([1066110110]), np.array([2]), np.array([False]), "CN")
    assert landline.to_pylist() == ["01066110110"]
    spain = format_numbers(es, np.array([915820110]), np.array([2]), np.array([False]), "ES")
    assert spain.to_pylist() == ["915820110"]


@pytest.mark.parametrize("code", COUNTRIES)
@pytest.mark.parametrize("holder", COUNTRIES)
def test_every_style_round_trips(code: str, holder: str) -> None:
    plan = country_plan(code)
    rng = np.random.default_rng(11)
    parts = [_numbers(plan, kind, rng, 3) for kind in KINDS]
    nsn = np.concatenate(parts)
    mobile = np.repeat(np.array([True, False, False, False]), [len(p) for p in parts])
    want = e164(plan, nsn).to_pylist()
    for style in (STYLE_E164, STYLE_INTERNATIONAL, STYLE_NATIONAL, STYLE_NATIONAL_GROUPED):
        texts = format_numbers(plan, nsn, np.full(len(nsn), style, np.int8), mobile, holder)
        for text, expected in zip(texts.to_pylist(), want, strict=True):
            number = phonenumbers.parse(text, holder)
            got = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            assert got == expected, (code, holder, style, text)
    markers = {STYLE_EMPTY: "", STYLE_ANONYMOUS: "anonymous", STYLE_UNKNOWN: "unknown"}
    for style, marker in markers.items():
        texts = format_numbers(plan, nsn, np.full(len(nsn), style, np.int8), mobile, holder)
        assert texts.to_pylist() == [marker] * len(nsn)


@settings(max_examples=200, deadline=None)
@given(
    code=st.sampled_from(COUNTRIES),
    holder=st.sampled_from(COUNTRIES),
    seed=st.integers(0, 2**32 - 1),
    styles=st.lists(st.integers(0, 6), min_size=1, max_size=12),
)
def test_format_round_trip_mixed_rows(code: str, holder: str, seed: int, styles: list[int]) -> None:
    plan = country_plan(code)
    rng = np.random.default_rng(seed)
    n = len(styles)
    kind = rng.integers(0, len(KINDS), n)
    pools = [_numbers(plan, k, rng, n) for k in KINDS]
    nsn = np.choose(kind, pools)
    mobile = kind == 0
    style = np.array(styles, dtype=np.int8)
    texts = format_numbers(plan, nsn, style, mobile, holder).to_pylist()
    want = e164(plan, nsn).to_pylist()
    for i, text in enumerate(texts):
        single = format_numbers(plan, nsn[i : i + 1], style[i : i + 1], mobile[i : i + 1], holder)
        assert single.to_pylist() == [text]  # row order survives grouping by style
        if style[i] >= STYLE_EMPTY:
            assert text == {4: "", 5: "anonymous", 6: "unknown"}[int(style[i])]
            continue
        number = phonenumbers.parse(text, holder)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == want[i]
        assert phonenumbers.is_valid_number(number)


def test_format_rejects_bad_input() -> None:
    plan = country_plan("GB")
    nsn = np.array([7400123456])
    with pytest.raises(ScamtraceError):
        format_numbers(plan, nsn, np.array([7]), np.array([True]), "GB")
    with pytest.raises(ScamtraceError):
        format_numbers(plan, nsn, np.array([0, 1]), np.array([True]), "GB")
    with pytest.raises(UnknownCountryError):
        format_numbers(plan, nsn, np.array([0]), np.array([True]), "XX")
    empty = np.array([], dtype=np.int64)
    assert (
        format_numbers(plan, empty, empty.astype(np.int8), empty.astype(bool), "GB").to_pylist()
        == []
    )


def test_unknown_country() -> None:
    with pytest.raises(UnknownCountryError) as info:
        country_plan("ZZ")
    assert isinstance(info.value, ScamtraceError) and isinstance(info.value, ValueError)
    with pytest.raises(UnknownCountryError):
        ip_blocks("ZZ")
    with pytest.raises(UnknownCountryError):
        random_ipv4("ZZ", np.random.default_rng(0), 1)


@pytest.mark.parametrize("code", COUNTRIES)
def test_ip_blocks(code: str) -> None:
    blocks = ip_blocks(code)
    assert 4 <= len(blocks) <= 8
    for block in blocks:
        net = ipaddress.IPv4Network(block.cidr)
        assert 13 <= net.prefixlen <= 20
        assert block.country == code and block.asn_name
        assert (block.first, block.size) == (int(net.network_address), net.num_addresses)


@pytest.mark.parametrize("code", COUNTRIES)
def test_random_ipv4_maps_to_country(code: str, geoip: GeoIP2Fast) -> None:
    blocks = ip_blocks(code)
    texts, which = random_ipv4(code, np.random.default_rng(5), 300)
    assert which.dtype == np.int64 and set(which.tolist()) == set(range(len(blocks)))
    for text, b in zip(texts.to_pylist(), which.tolist(), strict=True):
        address = ipaddress.IPv4Address(text)
        assert address in ipaddress.IPv4Network(blocks[b].cidr)
        assert text.rsplit(".", 1)[1] not in {"0", "255"}
        assert iptocc.country_code(text) == code, text
        assert geoip.lookup(text).country_code == code, text


def test_random_ipv4_restricted_blocks() -> None:
    rng = np.random.default_rng(9)
    chosen = np.array([2, 2, 0, 1, 2], dtype=np.int64)
    texts, which = random_ipv4("ES", rng, 5, chosen)
    assert which.tolist() == chosen.tolist()
    blocks = ip_blocks("ES")
    for text, b in zip(texts.to_pylist(), chosen.tolist(), strict=True):
        assert ipaddress.IPv4Address(text) in ipaddress.IPv4Network(blocks[b].cidr)
    with pytest.raises(ScamtraceError):
        random_ipv4("ES", rng, 2, np.array([0]))
    with pytest.raises(ScamtraceError):
        random_ipv4("ES", rng, 1, np.array([len(blocks)]))
    texts, which = random_ipv4("ES", rng, 0)
    assert texts.to_pylist() == [] and which.shape == (0,)
