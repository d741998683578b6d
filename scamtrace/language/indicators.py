"""Indicators in free text: the phone numbers, accounts, sums and institutions a call or a
complaint names, in Chinese, Spanish and English.

:func:`extract` reads one text; :func:`extract_table` a column of a table (``transcripts.text``,
``reports.narrative``). Each :class:`Indicator` has a ``kind``, a normalised ``value`` and the
``span`` of the text it was read from (``text[start:end]``):

============== ==========================================================================
kind           value
============== ==========================================================================
``phone``      E.164 (``+8613800138000``); numbers as written in the holder's ``region``
               (``13800138000``, ``010-6551 2345``, ``0034 612 34 56 78``, full-width digits)
``iban``       the compact IBAN (``ES9121000418450200051332``), valid per ``schwifty``
``card``       13 to 19 digits passing the Luhn check (spaces or dashes allowed)
``account``    any other account number named as one (``账号``, ``卡号``, ``cuenta``,
               ``account number``, or ``...这个账户``): compact, upper case, unchecked -- an
               IBAN or card number that fails its check lands here
``amount``     ``"<decimal> <ISO 4217>"``: ``"50000 CNY"`` for 五万元, ``"20000 CNY"`` for 2万,
               ``"3500.00 EUR"`` for 3.500,00 €, ``"5000 USD"`` for 5,000 dollars; the decimal is
               exact (never a float) and keeps the decimals as written; only sums that name a
               currency (a symbol, code or word, or 万/亿 in Chinese) are read
``institution`` ``police``, ``court``, ``prosecutor``, ``regulator``, ``safe_account`` or
               ``bank:<NAME>`` (``bank:ICBC``, ``bank:SANTANDER``)
============== ==========================================================================

Where two readings overlap, the stronger wins: IBAN, card, account, amount, phone, then
institution. A cheap regular expression finds candidates first; ``phonenumbers`` and
``schwifty`` only see those.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from functools import cache

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import Leniency, PhoneNumberFormat
from schwifty import IBAN as _SchwiftyIBAN
from schwifty import registry as iban_registry
from schwifty.exceptions import SchwiftyException

from scamtrace.core.accounts import luhn_ok

__all__ = [
    "ACCOUNT",
    "AMOUNT",
    "CARD",
    "IBAN",
    "INSTITUTION",
    "KINDS",
    "PHONE",
    "Indicator",
    "extract",
    "extract_table",
    "split_amount",
]

PHONE = "phone"
IBAN = "iban"
CARD = "card"
ACCOUNT = "account"
AMOUNT = "amount"
INSTITUTION = "institution"
KINDS: tuple[str, ...] = (PHONE, IBAN, CARD, ACCOUNT, AMOUNT, INSTITUTION)
"""Every indicator kind."""

# Where readings overlap, the lower number wins.
_PRIORITY = {IBAN: 0, CARD: 1, ACCOUNT: 2, AMOUNT: 3, PHONE: 4, INSTITUTION: 5}

_LANGUAGES = ("zh", "es", "en")


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator read from a text: ``text[span[0]:span[1]]`` is what was read."""

    kind: str
    value: str
    span: tuple[int, int]


def split_amount(value: str) -> tuple[Decimal, str]:
    """An ``amount`` value back into its exact sum and currency code."""
    number, _, currency = value.partition(" ")
    return Decimal(number), currency


# --------------------------------------------------------------------------------------------
# Normalising the text without moving anything: full-width forms to ASCII, one char for one.
# --------------------------------------------------------------------------------------------

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space
_FULLWIDTH[0xFFE5] = ord("¥")  # full-width yen / yuan sign
_FULLWIDTH[0xFFE1] = ord("£")
for _dash in (0x2010, 0x2011, 0x2012, 0x2013, 0x2212):  # hyphens and dashes inside numbers
    _FULLWIDTH[_dash] = ord("-")

_HAS_DIGIT = re.compile(r"[0-9]")
_SEP = r"[ \t\u00a0\u2009\u202f]"  # spaces that may sit inside a written number

# --------------------------------------------------------------------------------------------
# Phones
# --------------------------------------------------------------------------------------------

# 7 to 20 digits, each after at most three separators; may start with + or (.
_PHONE_CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z+])(?:\+[ \t]?|\(\+?)?[0-9](?:[ \t\u00a0\u2009\u202f\-./()]{0,3}[0-9]){6,19}"
    r"(?![0-9])"
)
_DATE = re.compile(r"[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{4}")


def _phones(text: str, region: str) -> Iterator[tuple[int, int, str]]:
    for cand in _PHONE_CANDIDATE.finditer(text):
        raw = cand.group()
        if _DATE.fullmatch(raw.strip("()")):
            continue
        found = False
        for match in phonenumbers.PhoneNumberMatcher(raw, region, Leniency.VALID, 20):
            found = True
            e164 = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
            yield cand.start() + match.start, cand.start() + match.end, e164
        if found:
            continue
        # Odd spacing the matcher does not accept ("1 3 8 0 0 1 3 8 0 0 0", "612-34-56-78").
        digits = re.sub(r"[^0-9]", "", raw)
        plus = raw.lstrip("(").startswith("+")
        try:
            number = phonenumbers.parse(("+" if plus else "") + digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            yield (
                cand.start(),
                cand.end(),
                phonenumbers.format_number(number, PhoneNumberFormat.E164),
            )


# --------------------------------------------------------------------------------------------
# IBANs, cards, accounts
# --------------------------------------------------------------------------------------------

_IBAN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]){10,32}")
_ALNUM = re.compile(r"[A-Za-z0-9]")


@cache
def _iban_length(country: str) -> int:
    try:
        return int(iban_registry.get_iban_spec(country).iban_length)
    except (SchwiftyException, KeyError):
        return 0


def _ibans(text: str) -> Iterator[tuple[int, int, str]]:
    for cand in _IBAN_CANDIDATE.finditer(text):
        raw = cand.group()
        length = _iban_length(raw[:2].upper())
        if not length:
            continue
        chars = [m.end() for m in _ALNUM.finditer(raw)]
        if len(chars) < length:
            continue
        end = chars[length - 1]  # the country's length, trailing words left out
        compact = re.sub(r"[^A-Za-z0-9]", "", raw[:end]).upper()
        try:
            _SchwiftyIBAN(compact)
        except (SchwiftyException, ValueError):
            continue
        yield cand.start(), cand.start() + end, compact


# Card numbers start with 2-6 (Mastercard, Amex, Visa, UnionPay...) or 9 (domestic debit);
# numbers after + or starting 0/8 are phones written internationally.
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z+])[0-9](?:[ \-]?[0-9])+(?![0-9A-Za-z])")


def _cards(text: str) -> Iterator[tuple[int, int, str]]:
    for run in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"[^0-9]", "", run.group())
        if 13 <= len(digits) <= 19 and digits[0] in "234569" and luhn_ok(digits):
            yield run.start(), run.end(), digits


_ACCOUNT_TOKEN = r"[A-Z0-9](?:[ \-]?[A-Z0-9]){5,33}"
_LIST_JOIN = r"(?:\s*(?:和|及|以及|、|,|，|;|；|/)\s*|\s+(?:y|e|o|and|or|&)\s+)"
_ACCOUNT_CHAIN = rf"{_ACCOUNT_TOKEN}(?:{_LIST_JOIN}{_ACCOUNT_TOKEN})*"
_ACCOUNT_WORDS = {
    "zh": r"账号|帐号|账户|帐户|卡号|银行卡|银行账户|收款账户|收款账号|收款卡",
    "es": r"(?i:n[úu]mero\s+de\s+cuenta|cuentas?(?:\s+bancarias?|\s+corrientes?)?|iban|"
    r"tarjetas?(?:\s+de\s+(?:cr[ée]dito|d[ée]bito))?)",
    "en": r"(?i:account\s+numbers?|bank\s+accounts?|accounts?|acct\.?|a/c|iban|"
    r"card\s+numbers?|cards?)",
}
_ACCOUNT_LINK = (
    r"(?:[\s:：#]|是|为|為|有|号码|号|(?i:number|no\.|nr\.|is|n[úu]mero|n[úu]m\.|n\.?º|es)"
    r"(?![A-Za-z]))*"
)
_ACCOUNT_AFTER = r"(?:这个|这几个|那个|那几个|几个|的)?(?:账户|账号|帐户|帐号|银行卡|卡)"


@cache
def _account_patterns(languages: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    words = "|".join(_ACCOUNT_WORDS[lang] for lang in languages)
    before = re.compile(
        rf"(?:{words})(?![A-Za-z]){_ACCOUNT_LINK}(?P<chain>(?<![A-Za-z0-9]){_ACCOUNT_CHAIN})"
        r"(?![A-Za-z0-9])"
    )
    out = [before]
    if "zh" in languages:
        out.append(
            re.compile(
                rf"(?<![A-Za-z0-9])(?P<chain>{_ACCOUNT_CHAIN})(?![A-Za-z0-9]){_ACCOUNT_AFTER}"
            )
        )
    return tuple(out)


_TOKEN = re.compile(_ACCOUNT_TOKEN)


def _accounts(text: str, languages: tuple[str, ...]) -> Iterator[tuple[int, int, str]]:
    for pattern in _account_patterns(languages):
        for m in pattern.finditer(text):
            start = m.start("chain")
            for tok in _TOKEN.finditer(m.group("chain")):
                value = re.sub(r"[ \-]", "", tok.group())
                end = start + tok.end()
                if sum(ch.isdigit() for ch in value) < 6 or _MONEY_AFTER.match(text, end):
                    continue  # "账户有100000元" names a sum, not an account
                yield start + tok.start(), end, value


# --------------------------------------------------------------------------------------------
# Amounts
# --------------------------------------------------------------------------------------------

_ZH_DIGITS = "〇零一二两三四五六七八九壹贰叁肆伍陆柒捌玖"
_ZH_DIGIT_VALUE = {ch: i for i, ch in enumerate("零一二三四五六七八九")}
_ZH_DIGIT_VALUE.update({"〇": 0, "两": 2})
_ZH_DIGIT_VALUE.update({ch: i + 1 for i, ch in enumerate("壹贰叁肆伍陆柒捌玖")})
_ZH_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_ZH_BIG = {"万": 10_000, "亿": 100_000_000}

# Currency words; values are ISO 4217 codes, or "" for one that depends on the region.
_SUFFIX_ZH = {
    "元": "", "圆": "", "块钱": "", "块": "", "人民币": "CNY", "美元": "USD", "美金": "USD",
    "欧元": "EUR", "港元": "HKD", "港币": "HKD", "英镑": "GBP", "日元": "JPY", "新台币": "TWD",
    "台币": "TWD",
}  # fmt: skip
_CODES = ("CNY", "RMB", "EUR", "USD", "GBP", "HKD", "TWD", "JPY", "MXN", "CAD", "AUD", "CHF")
_SUFFIX_WORDS = {
    "euros": "EUR", "euro": "EUR", "eur": "EUR", "€": "EUR",
    "dólares": "USD", "dólar": "USD", "dolares": "USD", "dolar": "USD",
    "dollars": "$", "dollar": "$", "bucks": "$", "$": "$",
    "yuanes": "CNY", "yuan": "CNY", "renminbi": "CNY", "rmb": "CNY",
    "libras esterlinas": "GBP", "libras": "GBP", "libra": "GBP",
    "pounds sterling": "GBP", "pounds": "GBP", "pound": "GBP", "£": "GBP",
    "pesos mexicanos": "MXN", "pesos": "peso", "peso": "peso",
    "yenes": "JPY", "yen": "JPY", "¥": "¥",
    **{code.lower(): code for code in _CODES},
}  # fmt: skip
_SUFFIX_WORDS["rmb"] = "CNY"
_PREFIXES = {
    "us$": "USD", "hk$": "HKD", "nt$": "TWD", "c$": "CAD", "a$": "AUD", "$": "$", "€": "EUR",
    "£": "GBP", "¥": "¥", "人民币": "CNY", **{code.lower(): code for code in _CODES},
}  # fmt: skip
_PREFIXES["rmb"] = "CNY"
_REGION_DOLLAR = {"HK": "HKD", "TW": "TWD", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "SG": "SGD",
                  "MX": "MXN"}  # fmt: skip
_REGION_YUAN = {"TW": "TWD", "HK": "HKD", "MO": "MOP"}
_REGION_PESO = {"MX": "MXN", "CO": "COP", "AR": "ARS", "CL": "CLP", "PH": "PHP", "UY": "UYU",
                "DO": "DOP", "CU": "CUP"}  # fmt: skip


def _alt(words: Iterable[str]) -> str:
    """A regex alternation of ``words``, longest first."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _is_symbol(word: str) -> bool:
    return not any(ch.isalpha() for ch in word)


_ASCII_END = r"(?![A-Za-z])"
_PREFIX_RE = rf"(?P<pre>(?<![A-Za-z])(?:{_alt(_PREFIXES)}){_ASCII_END})"
_SUFFIX_RE = (
    rf"(?P<suf>(?:{_alt(w for w in _SUFFIX_WORDS if _is_symbol(w))}|"
    rf"(?<![A-Za-z])(?:{_alt(w for w in _SUFFIX_WORDS if not _is_symbol(w))}){_ASCII_END}|"
    rf"{_alt(_SUFFIX_ZH)}))"
)
_NUMBER = (
    r"(?P<num>(?<![0-9.,])(?:[0-9]{1,3}(?:[,.\u00a0\u202f\u2009][0-9]{3})+(?:[.,][0-9]{1,2})?"
    r"|[0-9]+(?:[.,][0-9]{1,2})?)(?![0-9]))"
)
_MULTIPLIERS = {
    "mil": 1000, "millones de": 10**6, "millón de": 10**6, "millones": 10**6, "millón": 10**6,
    "thousand": 1000, "million": 10**6, "billion": 10**9, "k": 1000,
}  # fmt: skip
_MULT_RE = rf"(?P<mult>(?<![A-Za-z])(?:{_alt(_MULTIPLIERS)}){_ASCII_END})"
_WESTERN_AMOUNT = re.compile(
    rf"(?:{_PREFIX_RE}{_SEP}?)?{_NUMBER}(?:{_SEP}?{_MULT_RE})?(?:{_SEP}?{_SUFFIX_RE})?",
    re.IGNORECASE,
)
# 块 is also a measure word ("两块蛋糕"): not before a few common nouns.
_NOT_MONEY_AFTER_KUAI = "蛋糕石头肉地板砖布木玻糖饼瓜田表手"
# 万 alone is money unless a counter follows ("2万人").
_COUNTERS = "人个次名户件份条张家台辆公米步字股吨斤头只多余平年天"
# A number starts with a digit or 十 (千万 and 万一 are words, not sums).
_ZH_NUMERAL = rf"[{_ZH_DIGITS}十百千万亿拾佰仟]"
_ZH_NUMBER = rf"(?:[0-9]+(?:\.[0-9]+)?|[{_ZH_DIGITS}十拾])(?:[0-9]+(?:\.[0-9]+)?|{_ZH_NUMERAL})*"
_ZH_AMOUNT = re.compile(
    rf"(?:(?P<pre>人民币|(?<![A-Za-z])(?:RMB|CNY)|[¥$€£]){_SEP}?)?"
    rf"(?P<num>(?<![0-9.]){_ZH_NUMBER})"
    rf"(?P<suf>{_alt(_SUFFIX_ZH)})?"
)
_MONEY_AFTER = re.compile(rf"{_SEP}?(?:[万亿千百]|{_MULT_RE}|{_SUFFIX_RE})", re.IGNORECASE)
_HAS_ZH_NUMERAL = re.compile(rf"[{_ZH_DIGITS}十百千万亿拾佰仟]")
_ZH_TOKEN = re.compile(rf"[0-9]+(?:\.[0-9]+)?|[{_ZH_DIGITS}十百千万亿拾佰仟]")


def _next_in(text: str, at: int, chars: str) -> bool:
    """Whether the character at ``at`` is one of ``chars`` (False at the end of the text)."""
    return at < len(text) and text[at] in chars


def _zh_value(number: str) -> Decimal | None:
    """A number in Chinese numerals and units: 五万, 三千五, 2.5万, 3万5千, 一亿二千万."""
    total = Decimal(0)
    section = Decimal(0)
    digit: Decimal | None = None
    last_unit = 0
    after_unit = False  # the previous token was a unit: "一万二" means 12000
    after_unit_digit = False
    for tok in _ZH_TOKEN.findall(number):
        if tok[0].isdigit() or tok in _ZH_DIGIT_VALUE:
            if digit is not None:
                return None  # digit after digit ("一五"): not a sum
            digit = Decimal(tok) if tok[0].isdigit() else Decimal(_ZH_DIGIT_VALUE[tok])
            if tok in ("零", "〇"):
                digit, after_unit = None, False
                continue
            after_unit_digit = after_unit
            after_unit = False
        elif tok in _ZH_SMALL:
            unit = _ZH_SMALL[tok]
            if last_unit and unit >= last_unit and section:
                return None  # 千百: out of order
            section += (digit if digit is not None else Decimal(1)) * unit
            digit, last_unit, after_unit = None, unit, True
        else:
            big = _ZH_BIG[tok]
            if digit is not None:
                section += digit
            if big == 100_000_000:
                total = (total + section) * big
            else:
                total += section * big
            section, digit, last_unit, after_unit = Decimal(0), None, big, True
    if digit is not None:
        if after_unit_digit and last_unit >= 10 and digit < 10:
            section += digit * last_unit // 10  # colloquial: 三千五 = 3500, 一万二 = 12000
        else:
            section += digit
    return total + section


def _western_value(number: str) -> Decimal | None:
    """``3.500,00`` -> 3500.00, ``5,000`` -> 5000, ``12,5`` -> 12.5 (a separator before
    three digits groups thousands; before one or two it marks the decimals)."""
    text = re.sub(r"[\u00a0\u202f\u2009 ]", "", number)
    m = re.search(r"[.,]([0-9]{1,2})$", text)
    if m:
        whole = re.sub(r"[.,]", "", text[: m.start()])
        text = f"{whole}.{m.group(1)}"
    else:
        text = re.sub(r"[.,]", "", text)
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _currency(marker: str, region: str) -> str:
    code = _SUFFIX_ZH.get(marker)
    if code is None:
        key = marker.lower()
        code = _PREFIXES.get(key) or _SUFFIX_WORDS.get(key) or ""
    if code == "":  # 元, 块
        return _REGION_YUAN.get(region, "CNY")
    if code == "$":
        return _REGION_DOLLAR.get(region, "USD")
    if code == "¥":
        return "JPY" if region == "JP" else "CNY"
    if code == "peso":
        return _REGION_PESO.get(region, "")
    return code


def _format(value: Decimal, scaled: bool) -> str:
    if scaled:  # 2.5万 -> 25000, not 25000.0
        value = value.normalize()
    return format(value, "f")


def _amounts(text: str, region: str) -> Iterator[tuple[int, int, str]]:
    with localcontext() as ctx:
        ctx.prec = 60
        for m in _ZH_AMOUNT.finditer(text):
            num = m.group("num")
            if not _HAS_ZH_NUMERAL.search(num) or len(num) > 30:
                continue
            pre, suf = m.group("pre"), m.group("suf")
            end = m.end()
            if suf in ("块", "块钱") and _next_in(text, end, _NOT_MONEY_AFTER_KUAI):
                suf = None
                end = m.end("num")
            if not pre and not suf and (num[-1] not in _ZH_BIG or _next_in(text, end, _COUNTERS)):
                continue
            value = _zh_value(num)
            if value is None:
                continue
            currency = _currency(pre or suf or "元", region)
            if currency:
                start = m.start("pre") if pre else m.start("num")
                yield start, end, f"{_format(value, True)} {currency}"
        for m in _WESTERN_AMOUNT.finditer(text):
            pre, suf, mult = m.group("pre"), m.group("suf"), m.group("mult")
            if not pre and not suf:
                continue
            if suf in ("块", "块钱") and _next_in(text, m.end(), _NOT_MONEY_AFTER_KUAI):
                continue
            num = m.group("num")
            if len(num) > 30:
                continue
            value = _western_value(num)
            if value is None:
                continue
            if mult:
                value *= _MULTIPLIERS[re.sub(r"\s+", " ", mult.lower())]
            currency = _currency(pre or suf, region)
            if currency:
                yield m.start(), m.end(), f"{_format(value, bool(mult))} {currency}"


# --------------------------------------------------------------------------------------------
# Institutions
# --------------------------------------------------------------------------------------------

_W = r"(?<![A-Za-zÀ-ÿ])"  # a Latin word starts here
_E = r"(?![A-Za-zÀ-ÿ])"  # and ends here
_ES_DET = r"(?:el|la|los|las|un|una|del|al|falso|falsa|supuesto|supuesta|señor|señora)\s+"

_INSTITUTIONS: dict[str, dict[str, str]] = {
    "zh": {
        "police": r"公安局|公安厅|公安部|公安机关|公安分局|派出所|经侦大队|经侦支队|"
        r"刑警大队|刑侦大队|警察局|警方|民警|警察|警官|公安|刑警|网警|巡警",
        "court": r"人民法院|最高法院|法院|法庭|法官",
        "prosecutor": r"人民检察院|检察院|检察官|检察机关",
        "regulator": r"金融监管部门|金融监管局|银保监会|银监会|证监会|中国人民银行|人民银行|"
        r"反洗钱中心",
        "safe_account": r"国家安全账户|安全账户|安全帐户|资金监管账户|监管账户|核查账户|"
        r"清查账户|保密账户",
        "bank:ICBC": r"中国工商银行|工商银行|工行",
        "bank:CCB": r"中国建设银行|建设银行|建行",
        "bank:ABC": r"中国农业银行|农业银行|农行",
        "bank:BOC": r"中国银行",
        "bank:BOCOM": r"交通银行|交行",
        "bank:CMB": r"招商银行|招行",
        "bank:PSBC": r"中国邮政储蓄银行|邮政储蓄银行|邮储银行",
        "bank:CITIC": r"中信银行",
        "bank:CMBC": r"民生银行",
        "bank:CIB": r"兴业银行",
        "bank:SPDB": r"浦发银行",
        "bank:CEB": r"光大银行",
        "bank:PINGAN": r"平安银行",
    },
    "es": {
        "police": rf"{_W}(?:polic[ií]as?(?:\s+(?:nacional|local|municipal))?|comisar[ií]as?|"
        rf"guardia\s+civil|mossos(?:\s+d'esquadra)?|ertzaintza|agentes?\s+de\s+polic[ií]a){_E}",
        "court": rf"{_W}(?:juzgados?|tribunal(?:es)?|audiencia\s+nacional|jueza?s?|jueces){_E}",
        "prosecutor": rf"{_W}(?:fiscal[ií]as?|ministerio\s+fiscal|"
        rf"{_ES_DET}(?P<t>fiscal(?:es)?)){_E}",
        "regulator": rf"{_W}(?:banco\s+de\s+españa|cnmv|sepblac|organismo\s+(?:financiero|"
        rf"supervisor)){_E}",
        "safe_account": rf"{_W}(?:cuentas?\s+(?:seguras?|de\s+seguridad|supervisadas?|protegidas?|"
        rf"blindadas?)){_E}",
        "bank:SANTANDER": rf"{_W}(?:banco\s+santander|santander){_E}",
        "bank:BBVA": rf"{_W}bbva{_E}",
        "bank:CAIXABANK": rf"{_W}(?:caixabank|la\s+caixa){_E}",
        "bank:SABADELL": rf"{_W}(?:banco\s+sabadell|sabadell){_E}",
        "bank:BANKINTER": rf"{_W}bankinter{_E}",
        "bank:UNICAJA": rf"{_W}unicaja{_E}",
        "bank:ABANCA": rf"{_W}abanca{_E}",
        "bank:KUTXABANK": rf"{_W}kutxabank{_E}",
        "bank:IBERCAJA": rf"{_W}ibercaja{_E}",
        "bank:BANKIA": rf"{_W}bankia{_E}",
        "bank:OPENBANK": rf"{_W}openbank{_E}",
        "bank:CAJAMAR": rf"{_W}cajamar{_E}",
    },
    "en": {
        "police": rf"{_W}(?:police(?:\s+(?:station|department|officers?))?|policem[ae]n|"
        rf"policewom[ae]n|constables?|detectives?|fbi){_E}",
        "court": rf"{_W}(?:courts?|courthouse|judges?|tribunals?){_E}",
        "prosecutor": rf"{_W}(?:prosecutor(?:'s|s)?(?:\s+office)?|prosecution\s+service|"
        rf"district\s+attorney){_E}",
        "regulator": rf"{_W}(?:financial\s+(?:regulator|conduct\s+authority)|fca|"
        rf"financial\s+crimes?\s+unit){_E}",
        "safe_account": rf"{_W}(?:safe|secure|safety|protected)\s+accounts?{_E}",
        "bank:HSBC": rf"{_W}hsbc{_E}",
        "bank:BARCLAYS": rf"{_W}barclays{_E}",
        "bank:LLOYDS": rf"{_W}lloyds(?:\s+bank)?{_E}",
        "bank:NATWEST": rf"{_W}natwest{_E}",
        "bank:SANTANDER": rf"{_W}santander{_E}",
        "bank:CHASE": rf"{_W}(?:jpmorgan\s+chase|chase\s+bank){_E}",
        "bank:BOFA": rf"{_W}bank\s+of\s+america{_E}",
        "bank:WELLSFARGO": rf"{_W}wells\s+fargo{_E}",
        "bank:CITI": rf"{_W}citi(?:bank)?{_E}",
        "bank:ICBC": rf"{_W}icbc{_E}",
        "bank:BOC": rf"{_W}bank\s+of\s+china{_E}",
        "bank:CCB": rf"{_W}china\s+construction\s+bank{_E}",
    },
}


@cache
def _institution_patterns(
    languages: tuple[str, ...],
) -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """One alternation for the Chinese terms and one, inside word boundaries, for the Latin
    ones (one pass over the text each); group ``g<i>`` holds the ``i``-th value's terms."""
    out = []
    for latin in (False, True):
        parts: list[str] = []
        values: list[str] = []
        for lang in languages:
            if (lang != "zh") != latin:
                continue
            for value, pattern in _INSTITUTIONS[lang].items():
                if "(?P<t>" in pattern and any("(?P<t>" in p for p in parts):
                    pattern = pattern.replace("(?P<t>", "(")
                if latin:
                    pattern = pattern.replace(_W, "").replace(_E, "")
                parts.append(f"(?P<g{len(values)}>{pattern})")
                values.append(value)
        if parts:
            body = "|".join(parts)
            source = f"{_W}(?:{body}){_E}" if latin else body
            out.append((re.compile(source, re.IGNORECASE), tuple(values)))
    return tuple(out)


def _institutions(text: str, languages: tuple[str, ...]) -> Iterator[tuple[int, int, str]]:
    for pattern, values in _institution_patterns(languages):
        has_t = "t" in pattern.groupindex
        for m in pattern.finditer(text):
            name = m.lastgroup or ""
            span = m.span("t") if has_t and m.group("t") else m.span()
            if name.startswith("g") and span[1] > span[0]:
                yield span[0], span[1], values[int(name[1:])]


# --------------------------------------------------------------------------------------------
# Putting it together
# --------------------------------------------------------------------------------------------


def _languages(language: str | None) -> tuple[str, ...]:
    """The vocabularies to use: the text's language plus English (loan words, codes, bank
    names); all three when the language is unknown."""
    base = (language or "").strip().lower().replace("_", "-").split("-")[0]
    if base not in _LANGUAGES:
        return _LANGUAGES
    return (base,) if base == "en" else (base, "en")


_Found = tuple[int, int, str]


def extract(text: str, language: str, region: str) -> list[Indicator]:
    """Every indicator in ``text`` (written in ``language``, BCP 47), sorted by position.

    ``region`` (ISO 3166 alpha-2) is the country national phone numbers and ambiguous
    currency signs (元, $, pesos) belong to: the holder's country. Overlapping readings keep
    the strongest (IBAN, card, account, amount, phone, institution).
    """
    if not text:
        return []
    region = (region or "ZZ").upper()
    norm = text.translate(_FULLWIDTH)
    languages = _languages(language)
    finders: list[tuple[str, Callable[[], Iterator[_Found]]]] = [
        (INSTITUTION, lambda: _institutions(norm, languages))
    ]
    if _HAS_DIGIT.search(norm):
        finders += [
            (IBAN, lambda: _ibans(norm)),
            (CARD, lambda: _cards(norm)),
            (ACCOUNT, lambda: _accounts(norm, languages)),
            (PHONE, lambda: _phones(norm, region)),
        ]
    if _HAS_DIGIT.search(norm) or _HAS_ZH_NUMERAL.search(norm):
        finders.append((AMOUNT, lambda: _amounts(norm, region)))
    found: list[tuple[int, int, int, str, str]] = []
    for kind, finder in finders:
        for start, end, value in finder():
            found.append((_PRIORITY[kind], start, end, kind, value))
    found.sort(key=lambda f: (f[0], f[1] - f[2], f[1]))
    starts: list[int] = []  # accepted spans, sorted and disjoint
    ends: list[int] = []
    out: list[Indicator] = []
    for _, start, end, kind, value in found:
        at = bisect_right(starts, start)
        if (at and ends[at - 1] > start) or (at < len(starts) and starts[at] < end):
            continue  # overlaps a stronger reading
        starts.insert(at, start)
        ends.insert(at, end)
        out.append(Indicator(kind, value, (start, end)))
    out.sort(key=lambda i: (i.span, i.kind))
    return out


def _re2(pattern: str) -> str:
    """An institution pattern for RE2 (pyarrow's engine): without the look-arounds, which
    only narrow what Python's ``re`` then checks again."""
    return pattern.replace(_W, "").replace(_E, "").replace("(?P<t>", "(")


#: A row with none of these holds nothing :func:`extract` can find.
_PREFILTER = "|".join(
    [f"[0-9０-９{_ZH_DIGITS}十拾]"]
    + [f"(?i:{_re2(p)})" for lang in _LANGUAGES for p in _INSTITUTIONS[lang].values()]
)


def extract_table(
    table: pa.Table,
    text_column: str = "text",
    language_column: str | None = "language",
    region: str = "ZZ",
    *,
    default_language: str = "",
) -> pa.Table:
    """Indicators of every row of ``table[text_column]``, one output row per indicator:
    ``row`` (index into ``table``), ``kind``, ``value``, ``start``, ``end`` (the span).

    The language of each row comes from ``language_column`` (``default_language`` where that
    is empty or there is no such column; an unknown language reads all vocabularies). Rows
    with nothing a finder could use (no digit, numeral or keyword) are skipped by one
    vectorised regular-expression pass.
    """
    texts = table.column(text_column)
    n = table.num_rows
    if n:
        hit = pc.fill_null(pc.match_substring_regex(texts, _PREFILTER), False)
        rows = pc.indices_nonzero(hit).to_pylist()
    else:
        rows = []
    if language_column is not None and language_column in table.column_names:
        lang_col = table.column(language_column).take(pa.array(rows, pa.int64())).to_pylist()
    else:
        lang_col = [None] * len(rows)
    text_col = texts.take(pa.array(rows, pa.int64())).to_pylist()
    out_row: list[int] = []
    out_kind: list[str] = []
    out_value: list[str] = []
    out_start: list[int] = []
    out_end: list[int] = []
    for row, text, lang in zip(rows, text_col, lang_col, strict=True):
        for ind in extract(text, lang or default_language, region):
            out_row.append(row)
            out_kind.append(ind.kind)
            out_value.append(ind.value)
            out_start.append(ind.span[0])
            out_end.append(ind.span[1])
    return pa.table(
        {
            "row": pa.array(out_row, pa.int64()),
            "kind": pa.array(out_kind, pa.string()),
            "value": pa.array(out_value, pa.string()),
            "start": pa.array(out_start, pa.int32()),
            "end": pa.array(out_end, pa.int32()),
        }
    )
