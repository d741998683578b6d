"""Indicators in free text: each language x each kind, exact normalised values, and fuzzing."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scamtrace.core.accounts import luhn_ok
from scamtrace.core.phones import to_e164
from scamtrace.language.indicators import (
    KINDS,
    Indicator,
    extract,
    extract_table,
    split_amount,
)


def with_luhn(body: str) -> str:
    """``body`` plus the Luhn check digit that makes it a valid card number."""
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


def found(text: str, language: str, region: str, kind: str) -> list[tuple[str, str]]:
    """(value, the text it was read from) of each indicator of ``kind``."""
    return [
        (i.value, text[i.span[0] : i.span[1]])
        for i in extract(text, language, region)
        if i.kind == kind
    ]


def values(text: str, language: str, region: str, kind: str) -> list[str]:
    return [v for v, _ in found(text, language, region, kind)]


CARD_CN = with_luhn("622202123456789012")  # 19-digit UnionPay
CARD_ES = "4111 1111 1111 1111"
CARD_EN = "5555-5555-5555-4444"
NOT_CARD = CARD_CN[:-1] + str((int(CARD_CN[-1]) + 1) % 10)  # fails the Luhn check
IBAN_ES = "ES91 2100 0418 4502 0005 1332"
IBAN_ES_BAD = "ES91 2100 0418 4502 0005 1333"  # one digit off: the checksum fails
IBAN_GB = "GB82 WEST 1234 5698 7654 32"
IBAN_DE = "DE89370400440532013000"


# --------------------------------------------------------------------------------------------
# Phones
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "region", "expected"),
    [
        ("对方的号码是13800138000，请核实。", "zh", "CN", [("+8613800138000", "13800138000")]),
        ("他说打010-6551 2345找他。", "zh", "CN", [("+861065512345", "010-6551 2345")]),
        (
            "号码１３８ ００１３ ８０００",
            "zh",
            "CN",
            [("+8613800138000", "１３８ ００１３ ８０００")],
        ),
        ("来电显示+86 20 3537 9957。", "zh", "CN", [("+862035379957", "+86 20 3537 9957")]),
        ("Me llamaron desde el 612 34 56 78.", "es", "ES", [("+34612345678", "612 34 56 78")]),
        ("Llame al 0034 612-345-678 hoy", "es", "ES", [("+34612345678", "0034 612-345-678")]),
        (
            "el +34 91 123 45 67, de la comisaría",
            "es",
            "ES",
            [("+34911234567", "+34 91 123 45 67")],
        ),
        ("Call me on (020) 7946 0958 today", "en", "GB", [("+442079460958", "(020) 7946 0958")]),
        ("or +44 20 7946 0958.", "en", "GB", [("+442079460958", "+44 20 7946 0958")]),
        ("They called from (202) 456-1111.", "en", "US", [("+12024561111", "(202) 456-1111")]),
        # Written out digit by digit.
        ("the number was 6 1 2 3 4 5 6 7 8", "en", "ES", [("+34612345678", "6 1 2 3 4 5 6 7 8")]),
    ],
)
def test_phones(text: str, language: str, region: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, language, region, "phone") == expected


def test_phone_national_numbers_belong_to_the_region() -> None:
    text = "llamaron del 612345678"
    assert values(text, "es", "ES", "phone") == ["+34612345678"]
    assert values(text, "es", "CN", "phone") == []  # not a Chinese number
    assert values("+34612345678", "en", "CN", "phone") == ["+34612345678"]


def test_not_phones() -> None:
    text = "caller: 我是民警赵，警号780944，案件编号3624942，尾号2128的卡。日期2016-07-08。"
    assert values(text, "zh", "CN", "phone") == []
    assert values("case 2016-07-08, ref 12 34", "en", "GB", "phone") == []


# --------------------------------------------------------------------------------------------
# IBANs, cards, accounts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        (f"收款账户是{IBAN_DE}，请尽快。", "zh", [("DE89370400440532013000", IBAN_DE)]),
        (
            f"Transfiera a la cuenta {IBAN_ES} y avise.",
            "es",
            [("ES9121000418450200051332", IBAN_ES)],
        ),
        (f"IBAN: {IBAN_GB}. Thanks", "en", [("GB82WEST12345698765432", IBAN_GB)]),
        (f"lowercase {IBAN_GB.lower()} ok", "en", [("GB82WEST12345698765432", IBAN_GB.lower())]),
    ],
)
def test_ibans(text: str, language: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, language, "ES", "iban") == expected


def test_invalid_iban_is_no_iban_but_an_account_when_named_as_one() -> None:
    assert values(f"el código {IBAN_ES_BAD} no vale", "es", "ES", "iban") == []
    assert values(f"el código {IBAN_ES_BAD} no vale", "es", "ES", "account") == []
    text = f"la cuenta es {IBAN_ES_BAD}."
    assert values(text, "es", "ES", "iban") == []
    assert found(text, "es", "ES", "account") == [("ES9121000418450200051333", IBAN_ES_BAD)]


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        (f"他让我转到{CARD_CN}。", "zh", [(CARD_CN, CARD_CN)]),
        (
            f"卡号 {CARD_CN[:4]} {CARD_CN[4:8]} {CARD_CN[8:12]} {CARD_CN[12:16]} {CARD_CN[16:]}",
            "zh",
            [
                (
                    CARD_CN,
                    f"{CARD_CN[:4]} {CARD_CN[4:8]} {CARD_CN[8:12]} {CARD_CN[12:16]} {CARD_CN[16:]}",
                )
            ],
        ),
        (f"Me pidió la tarjeta {CARD_ES}, caduca pronto.", "es", [("4111111111111111", CARD_ES)]),
        (f"card {CARD_EN} expires", "en", [("5555555555554444", CARD_EN)]),
    ],
)
def test_cards(text: str, language: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, language, "CN", "card") == expected


def test_card_needs_the_luhn_check() -> None:
    assert not luhn_ok(NOT_CARD)
    assert values(f"他让我转到{NOT_CARD}。", "zh", "CN", "card") == []
    assert values("Reference 4111 1111 1111 1112", "en", "GB", "card") == []
    # +86... and 0086... are phones, whatever their check digit.
    assert values("+8613800138000 0086 138 0013 8000", "zh", "CN", "card") == []


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("我打款的账户是6222028675312299288。", "zh", ["6222028675312299288"]),
        (f"收款账户有6222028675312299288和{CARD_CN}", "zh", ["6222028675312299288"]),
        (f"钱转到了{NOT_CARD}这个账户。", "zh", [NOT_CARD]),
        ("账号：ABC-123456789", "zh", ["ABC123456789"]),
        (
            "El número de cuenta es 0049 1500 05 1234567892, a nombre de Ana.",
            "es",
            ["00491500051234567892"],
        ),
        ("Ingrese en la cuenta nº 12345678 y 87654321.", "es", ["12345678", "87654321"]),
        ("Send it to account number 12345678 today.", "en", ["12345678"]),
        ("acct: 99-887766-55, sort code later", "en", ["9988776655"]),
    ],
)
def test_accounts(text: str, language: str, expected: list[str]) -> None:
    assert values(text, language, "CN", "account") == expected


def test_account_words_alone_name_no_account() -> None:
    assert values("账户里有100000元，账户有50000元", "zh", "CN", "account") == []
    assert values("my account, call me on 612345678", "en", "ES", "account") == []
    assert values("la cuenta terminada en 1234", "es", "ES", "account") == []


# --------------------------------------------------------------------------------------------
# Amounts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("我被骗了五万元。", "zh", [("50000 CNY", "五万元")]),
        ("后来又转了2万，太傻了", "zh", [("20000 CNY", "2万")]),
        ("最后转了2万", "zh", [("20000 CNY", "2万")]),
        ("一共转了99876元", "zh", [("99876 CNY", "99876元")]),
        ("借我2500块，发了工资还你", "zh", [("2500 CNY", "2500块")]),
        ("人民币3万5千元", "zh", [("35000 CNY", "人民币3万5千元")]),
        ("2.5万元和一万二千块钱", "zh", [("25000 CNY", "2.5万元"), ("12000 CNY", "一万二千块钱")]),
        (
            "三千五元、一亿二千万元、十万元",
            "zh",
            [("3500 CNY", "三千五元"), ("120000000 CNY", "一亿二千万元"), ("100000 CNY", "十万元")],
        ),
        ("¥1,200.50", "zh", [("1200.50 CNY", "¥1,200.50")]),
        ("转了300美元和20欧元", "zh", [("300 USD", "300美元"), ("20 EUR", "20欧元")]),
        ("Transferí 3.500,00 € ayer", "es", [("3500.00 EUR", "3.500,00 €")]),
        ("perdí 35.000 euros", "es", [("35000 EUR", "35.000 euros")]),
        ("unos 2 mil euros", "es", [("2000 EUR", "2 mil euros")]),
        ("1,5 millones de euros", "es", [("1500000 EUR", "1,5 millones de euros")]),
        (
            "12,50 € y 300 dólares y 1.000 yuanes",
            "es",
            [("12.50 EUR", "12,50 €"), ("300 USD", "300 dólares"), ("1000 CNY", "1.000 yuanes")],
        ),
        ("I sent 5,000 dollars", "en", [("5000 USD", "5,000 dollars")]),
        ("then $1,250.50 more", "en", [("1250.50 USD", "$1,250.50")]),
        ("they took £2k", "en", [("2000 GBP", "£2k")]),
        ("35,000 CNY in total", "en", [("35000 CNY", "35,000 CNY")]),
        (
            "RMB 50,000 and EUR 1,000.00",
            "en",
            [("50000 CNY", "RMB 50,000"), ("1000.00 EUR", "EUR 1,000.00")],
        ),
        ("2.5 million dollars", "en", [("2500000 USD", "2.5 million dollars")]),
    ],
)
def test_amounts(text: str, language: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, language, "CN", "amount") == expected


def test_amounts_are_exact_decimals() -> None:
    [ind] = [i for i in extract("Transferí 3.500,00 €", "es", "ES") if i.kind == "amount"]
    amount, currency = split_amount(ind.value)
    assert isinstance(amount, Decimal)
    assert amount == Decimal("3500.00") and str(amount) == "3500.00" and currency == "EUR"
    [ind] = [i for i in extract("0.10 dollars", "en", "US") if i.kind == "amount"]
    assert split_amount(ind.value) == (Decimal("0.10"), "USD")


def test_ambiguous_currency_signs_follow_the_region() -> None:
    assert values("500元", "zh", "TW", "amount") == ["500 TWD"]
    assert values("$300", "en", "HK", "amount") == ["300 HKD"]
    assert values("200 pesos", "es", "MX", "amount") == ["200 MXN"]
    assert values("200 pesos", "es", "ES", "amount") == []


def test_not_amounts() -> None:
    text = "2万人参加，千万不要转账，万万不可，两块蛋糕，十分感谢，尾号2128，三天，一万二千"
    assert values(text, "zh", "CN", "amount") == []
    assert values("I waited 5,000 seconds and 3 days", "en", "GB", "amount") == []


# --------------------------------------------------------------------------------------------
# Institutions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        (
            "公安局的民警说派出所会联系我",
            "zh",
            [("police", "公安局"), ("police", "民警"), ("police", "派出所")],
        ),
        ("法院和人民检察院", "zh", [("court", "法院"), ("prosecutor", "人民检察院")]),
        ("转到安全账户", "zh", [("safe_account", "安全账户")]),
        ("中国工商银行和建行", "zh", [("bank:ICBC", "中国工商银行"), ("bank:CCB", "建行")]),
        (
            "Llamó la Policía Nacional desde la comisaría",
            "es",
            [("police", "Policía Nacional"), ("police", "comisaría")],
        ),
        ("el juzgado y la Fiscalía", "es", [("court", "juzgado"), ("prosecutor", "Fiscalía")]),
        ("un falso fiscal me llamó", "es", [("prosecutor", "fiscal")]),
        (
            "pásalo a una cuenta segura del BBVA",
            "es",
            [("safe_account", "cuenta segura"), ("bank:BBVA", "BBVA")],
        ),
        (
            "The police officer said the court",
            "en",
            [("police", "police officer"), ("court", "court")],
        ),
        (
            "the prosecutor's office and a safe account at HSBC",
            "en",
            [
                ("prosecutor", "prosecutor's office"),
                ("safe_account", "safe account"),
                ("bank:HSBC", "HSBC"),
            ],
        ),
    ],
)
def test_institutions(text: str, language: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, language, "CN", "institution") == expected


def test_institution_words_inside_other_words_do_not_count() -> None:
    assert values("courtesy, policeless, año fiscal", "en", "GB", "institution") == []
    assert values("el año fiscal", "es", "ES", "institution") == []


# --------------------------------------------------------------------------------------------
# Together, and tables
# --------------------------------------------------------------------------------------------


def test_overlaps_keep_the_strongest_reading() -> None:
    text = f"账号13800138000；卡号{CARD_CN}；IBAN {IBAN_ES}"
    kinds = [(i.kind, i.value) for i in extract(text, "zh", "CN")]
    assert kinds == [
        ("account", "13800138000"),
        ("card", CARD_CN),
        ("iban", "ES9121000418450200051332"),
    ]


def test_extract_is_sorted_and_spans_read_back() -> None:
    text = (
        "caller: 你好，这里是派出所，你的账户涉及洗钱，要把钱转到安全账户。\n"
        f"callee: 我已经转了五万元到{CARD_CN}了，你的号码是13800138000吗？"
    )
    got = extract(text, "zh", "CN")
    assert [i.kind for i in got] == ["institution", "institution", "amount", "card", "phone"]
    assert got == sorted(got, key=lambda i: i.span)
    assert [text[i.span[0] : i.span[1]] for i in got] == [
        "派出所",
        "安全账户",
        "五万元",
        CARD_CN,
        "13800138000",
    ]


def test_empty_and_unknown_language() -> None:
    assert extract("", "zh", "CN") == []
    # An unknown language reads every vocabulary.
    assert values("转到安全账户, safe account", "fr", "FR", "institution") == [
        "safe_account",
        "safe_account",
    ]
    assert values("la policía", "es-ES", "ES", "institution") == ["police"]


def test_extract_table() -> None:
    table = pa.table(
        {
            "narrative": [
                "我被骗了五万元，对方号码13800138000。",
                None,
                "nothing here",
                "Me llamó la policía desde el 612 34 56 78.",
                "I lost 5,000 dollars",
            ],
            "language": ["zh", "zh", "en", "es", None],
        }
    )
    out = extract_table(table, "narrative", "language", "ES", default_language="en")
    assert out.column_names == ["row", "kind", "value", "start", "end"]
    rows = list(zip(*(out.column(c).to_pylist() for c in ("row", "kind", "value")), strict=True))
    assert rows == [
        (0, "amount", "50000 CNY"),
        # 13800138000 is not a Spanish number: the holder is in ES.
        (3, "institution", "police"),
        (3, "phone", "+34612345678"),
        (4, "amount", "5000 USD"),
    ]
    texts = table.column("narrative").to_pylist()
    for row, start, end, value in zip(
        *(out.column(c).to_pylist() for c in ("row", "start", "end", "value")), strict=True
    ):
        assert texts[row][start:end]
        assert value
    empty = extract_table(table.slice(0, 0), "narrative", None, "CN")
    assert empty.num_rows == 0 and empty.column_names == out.column_names


def test_simulated_complaints(small_case: Path) -> None:
    """What the simulator puts in victims' narratives comes back out: the numbers and
    accounts quoted there, and the sum lost."""
    reports = pq.read_table(small_case / "reports.parquet")
    out = extract_table(reports, "narrative", "language", "CN")
    by_row: dict[int, list[tuple[str, str]]] = {}
    for row, kind, value in zip(
        *(out.column(c).to_pylist() for c in ("row", "kind", "value")), strict=True
    ):
        by_row.setdefault(row, []).append((kind, value))
    numbers = accounts = 0
    for i, rep in enumerate(reports.to_pylist()):
        got = by_row.get(i, [])
        for number in filter(None, (rep["reported_numbers"] or "").split(";")):
            if number in rep["narrative"]:
                numbers += 1
                assert ("phone", to_e164(number, "CN")) in got, rep["narrative"]
        for account in filter(None, (rep["reported_accounts"] or "").split(";")):
            if account in rep["narrative"]:
                accounts += 1
                assert any(k in ("card", "account") and v == account for k, v in got)
        sums = [split_amount(v)[0] for k, v in got if k == "amount"]
        if rep["amount_lost"]:
            assert Decimal(round(rep["amount_lost"])) in sums, rep["narrative"]
        else:  # a victim who paid nothing names no sum
            assert not sums, rep["narrative"]
    assert numbers >= 10 and accounts >= 3


# --------------------------------------------------------------------------------------------
# Fuzzing: never crash, spans inside the text, values in their shape
# --------------------------------------------------------------------------------------------

_PIECES = [
    "元",
    "万",
    "块",
    "¥",
    "€",
    "$",
    "£",
    "euros",
    "dollars",
    "mil",
    "millones de",
    "k",
    "RMB",
    "账号",
    "账户是",
    "卡号",
    "cuenta",
    "account number",
    "这个账户",
    "和",
    "y",
    "、",
    "+",
    "00",
    "ES91",
    "GB82",
    " ",
    "-",
    ".",
    ",",
    "(",
    ")",
    "\n",
    "caller: ",
    "公安局",
    "policía",
    "safe account",
    "一",
    "二",
    "十",
    "百",
    "千",
    "亿",
    "两",
    "零",
    "五万",
    "３",
    "＋",
]
_TEXT = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        st.text(alphabet="0123456789", min_size=1, max_size=20),
        st.text(max_size=8),
    ),
    max_size=30,
).map("".join)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=_TEXT,
    language=st.sampled_from(["zh", "es", "en", "xx", ""]),
    region=st.sampled_from(["CN", "ES", "GB", "US", "TW", "ZZ", "", "xx"]),
)
def test_random_text_never_crashes(text: str, language: str, region: str) -> None:
    got = extract(text, language, region)
    taken: list[tuple[int, int]] = []
    for ind in got:
        assert isinstance(ind, Indicator)
        assert ind.kind in KINDS
        start, end = ind.span
        assert 0 <= start < end <= len(text)
        assert all(end <= s or e <= start for s, e in taken)  # no two readings overlap
        taken.append(ind.span)
        if ind.kind == "phone":
            assert _E164.fullmatch(ind.value)
        elif ind.kind == "amount":
            amount, currency = split_amount(ind.value)
            assert amount >= 0 and re.fullmatch(r"[A-Z]{3}", currency)
        elif ind.kind == "card":
            assert 13 <= len(ind.value) <= 19 and luhn_ok(ind.value)


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), _TEXT), max_size=6))
def test_random_tables_never_crash(texts: list[str | None]) -> None:
    table = pa.table({"text": pa.array(texts, pa.string())})
    out = extract_table(table, "text", None, "CN")
    for row, start, end in zip(
        *(out.column(c).to_pylist() for c in ("row", "start", "end")), strict=True
    ):
        text = texts[row]
        assert text is not None and 0 <= start < end <= len(text)
