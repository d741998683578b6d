"""Synthetic transcripts and complaint narratives: format, determinism, variety, no giveaways."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from scamtrace.simulate.text import (
    LANGUAGES,
    NARRATIVE_STAGES,
    NORMAL_KINDS,
    SCAM_KINDS,
    TRANSCRIPT_KINDS,
    NarrativeDetails,
    format_amount,
    render_narratives,
    render_transcripts,
)
from scamtrace.simulate.text.templates import TemplateError, load_templates, parse_templates

N = 500  # renders per kind and language
TURN = re.compile(r"(caller|callee): \S")


@cache
def sample(language: str, kind: str) -> tuple[str, ...]:
    return tuple(render_transcripts([kind] * N, language, 7))


def tokens(text: str, language: str) -> set[str]:
    """Character bigrams (zh) or lowercase words (es, en) of the spoken text."""
    out: set[str] = set()
    for line in text.split("\n"):
        said = line.split(": ", 1)[1]
        if language == "zh":
            out.update(said[i : i + 2] for i in range(len(said) - 1))
        else:
            out.update(re.findall(r"[^\W\d_]+", said.lower()))
    return out


# ------------------------------------------------------------------------------------------
# Transcripts
# ------------------------------------------------------------------------------------------


def test_public_constants() -> None:
    assert TRANSCRIPT_KINDS == (
        "neighbor", "police", "official", "followup", "list_dial",
        "normal_family", "normal_friend", "normal_business", "normal_bank_service",
        "normal_delivery", "normal_telemarketing", "normal_callcenter", "normal_diaspora",
    )  # fmt: skip
    assert LANGUAGES == ("zh", "es", "en")
    assert set(SCAM_KINDS) | set(NORMAL_KINDS) == set(TRANSCRIPT_KINDS)
    assert not set(SCAM_KINDS) & set(NORMAL_KINDS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_transcripts_are_deterministic(language: str) -> None:
    kinds = list(TRANSCRIPT_KINDS) * 3
    first = render_transcripts(kinds, language, 42)
    assert first == render_transcripts(kinds, language, 42)
    assert first != render_transcripts(kinds, language, 43)
    # The i-th text depends on (kind, language, seed, i) only, not on what follows it.
    assert render_transcripts(kinds[:5], language, 42) == first[:5]
    assert render_transcripts([], language, 42) == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", TRANSCRIPT_KINDS)
def test_every_kind_renders(language: str, kind: str) -> None:
    lo, hi = (1, 2) if kind == "list_dial" else (4, 10)
    for text in sample(language, kind):
        lines = text.split("\n")
        assert lo <= len(lines) <= hi, text
        assert all(TURN.match(line) for line in lines), text
        assert "{" not in text and "}" not in text, text  # every placeholder was filled
        for a, b in itertools.pairwise(lines):  # speakers alternate
            assert a.split(":")[0] != b.split(":")[0], text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", TRANSCRIPT_KINDS)
def test_variety(language: str, kind: str) -> None:
    # list_dial is one or two short turns: about 270-300 of 500 are distinct; 200 is a safe floor.
    floor = 200 if kind == "list_dial" else 300
    assert len(set(sample(language, kind))) >= floor


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_single_token_gives_a_scam_away(language: str) -> None:
    normal: set[str] = set()
    for kind in NORMAL_KINDS:
        for text in sample(language, kind):
            normal |= tokens(text, language)
    every_scam: set[str] | None = None
    for kind in SCAM_KINDS:
        in_all = set.intersection(*(tokens(t, language) for t in sample(language, kind)))
        assert not in_all - normal, (kind, sorted(in_all - normal))
        every_scam = in_all if every_scam is None else every_scam & in_all
    assert not (every_scam or set()) - normal


WORDS_IN_NORMAL_CALLS = {
    "zh": ("警察", "派出所", "账户", "核实", "转", "安全账户", "身份证", "诈骗", "检察院",
           "验证码"),
    "es": ("policía", "comisaría", "cuenta", "verificar", "transferencia", "segura", "dni",
           "estafa", "fiscalía"),
    "en": ("police", "account", "verify", "transfer", "safe", "id", "scam", "prosecutor's"),
}  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
def test_scam_vocabulary_also_occurs_in_normal_calls(language: str) -> None:
    normal = "\n".join(t for kind in NORMAL_KINDS for t in sample(language, kind)).lower()
    for word in WORDS_IN_NORMAL_CALLS[language]:
        assert word in normal, word


def test_unknown_kind_or_language_is_named() -> None:
    with pytest.raises(ValueError, match="'robbery'"):
        render_transcripts(["police", "robbery"], "en", 1)
    with pytest.raises(ValueError, match="'fr'"):
        render_transcripts(["police"], "fr", 1)
    with pytest.raises(ValueError, match="'fr'"):
        render_narratives([NarrativeDetails("100", "EUR")], "fr", 1)
    with pytest.raises(ValueError, match="'fr'"):
        format_amount("100", "EUR", "fr")
    with pytest.raises(ValueError, match="one string"):
        render_transcripts("police", "en", 1)


def test_template_errors_are_reported() -> None:
    source = resources.files("scamtrace.simulate.text").joinpath("templates", "en.yaml")
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    assert parse_templates(copy.deepcopy(data), "en", "en.yaml") == load_templates("en")

    def broken(change: Callable[[dict[str, Any]], object], *named: str) -> None:
        bad = copy.deepcopy(data)
        change(bad)
        with pytest.raises(TemplateError) as caught:
            parse_templates(bad, "en", "templates/en.yaml")
        message = str(caught.value)
        assert message.startswith("templates/en.yaml: "), message
        for part in named:
            assert part in message, (part, message)

    broken(lambda d: d["kinds"]["police"]["slots"]["open"].append("This is {nobody}."),
           "kinds.police.slots.open", "{nobody}")  # fmt: skip
    broken(lambda d: d["kinds"].pop("followup"), "kinds", "followup")
    broken(lambda d: d["narrative"]["slots"]["closing"].append("call 110"),
           "narrative.slots", "closing", "digits")  # fmt: skip
    broken(lambda d: d["narrative"]["slots"].pop("money"), "narrative.slots", "money")
    broken(lambda d: d["narrative"]["currency"].pop("*"), "narrative.currency", "'*'")
    broken(lambda d: d["kinds"]["police"]["script"][0].update(p=1.5),
           "kinds.police.script[0].p", "1.5")  # fmt: skip
    broken(lambda d: d["kinds"]["police"]["script"][0].update(turns=[["judge", "Hi."]]),
           "kinds.police.script[0]", "'judge'")  # fmt: skip
    broken(lambda d: d["kinds"]["police"].update(turns=[5, 2]), "kinds.police", "turns")
    broken(lambda d: d["kinds"]["police"].update(scripts=[]), "kinds.police.scripts", "at least 1")
    police = data["kinds"]["police"]
    broken(lambda d: d["kinds"]["police"].update(scripts=[police["script"]]),
           "kinds.police", "exactly one of 'script' and 'scripts'")  # fmt: skip
    broken(lambda d: d["noise"]["rates"].update(shout=0.1), "noise.rates.shout (the key)")
    broken(lambda d: d["noise"]["rates"].update(stutter=2), "noise.rates.stutter", "1")
    broken(lambda d: d["style"].update(split="syllables"), "style.split", "'syllables'")
    broken(lambda d: d["style"].pop("dash"), "style.dash", "required")
    broken(lambda d: d.update(colour="red"), "colour", "not permitted")
    broken(lambda d: d["slots"].update(hello=[]), "slots.hello", "at least 1")
    broken(lambda d: d.update(language="es"), "'language' must be 'en'")


@pytest.mark.parametrize("language", LANGUAGES)
def test_templates_have_no_unused_slots(language: str) -> None:
    tpl = load_templates(language)
    texts = [x for pool in (*tpl.slots.values(), *tpl.noise.values()) for x in pool]
    for kind in tpl.kinds.values():
        texts += [x for pool in kind.slots.values() for x in pool]
        texts += [t.text for script in kind.scripts for b in script for o in b.options for t in o]
    used = {name for text in texts for name in re.findall(r"\{([a-z0-9_]+)\}", text)}
    unused = [n for n in tpl.slots if n not in used]
    unused += [f"{k.name}.{n}" for k in tpl.kinds.values() for n in k.slots if n not in used]
    assert not unused


# ------------------------------------------------------------------------------------------
# Narratives
# ------------------------------------------------------------------------------------------


def test_format_amount() -> None:
    assert format_amount("35000", "CNY", "zh") == "35000元"
    assert format_amount("35000", "EUR", "es") == "35.000 euros"
    assert format_amount("3500", "EUR", "es") == "3500 euros"
    assert format_amount("1250000", "USD", "es") == "1.250.000 dólares"
    assert format_amount("35000", "CNY", "en") == "35,000 CNY"
    assert format_amount("35000", "cny", "en") == "35,000 CNY"
    assert format_amount("35000", "SEK", "zh") == "35000 SEK"
    assert format_amount("35,000.50", "USD", "en") == "35,000.50 USD"  # not plain digits: verbatim


digits = st.text("0123456789", min_size=1, max_size=4)
phone = st.builds(
    lambda plus, parts: ("+" if plus else "") + " ".join(parts),
    st.booleans(),
    st.lists(st.text("0123456789", min_size=2, max_size=5), min_size=2, max_size=4),
)
account = st.builds(
    lambda head, body: head + body,
    st.sampled_from(["", "ES", "GB", "CN-", "ACC "]),
    st.text("0123456789", min_size=6, max_size=20),
)
details_strategy = st.builds(
    NarrativeDetails,
    amount=st.integers(1, 10_000_000).map(str),
    currency=st.sampled_from(["CNY", "EUR", "USD", "GBP", "TWD", "MXN", "SEK"]),
    numbers=st.lists(phone, max_size=3).map(tuple),
    accounts=st.lists(account, max_size=3).map(tuple),
    stages=st.lists(st.sampled_from(NARRATIVE_STAGES), max_size=3, unique=True).map(
        lambda s: tuple(x for x in NARRATIVE_STAGES if x in s)
    ),
    days=st.integers(1, 60),
)


@settings(max_examples=60, deadline=None)
@given(details=st.lists(details_strategy, min_size=1, max_size=4), seed=st.integers(0, 2**32))
def test_narratives_quote_only_the_details(details: list[NarrativeDetails], seed: int) -> None:
    for language in LANGUAGES:
        texts = render_narratives(details, language, seed)
        assert texts == render_narratives(details, language, seed)
        assert len(texts) == len(details)
        nar = load_templates(language).narrative
        for d, text in zip(details, texts, strict=True):
            amount = format_amount(d.amount, d.currency, language)
            assert amount in text
            rest = text
            for value in sorted({amount, *d.numbers, *d.accounts}, key=len, reverse=True):
                rest = rest.replace(value, "")
            # Any digits left are the number of days: nothing was invented.
            assert set(re.findall(r"\d+", rest)) <= {str(d.days)}, text
            if d.days > 10:
                assert str(d.days) in rest
            assert 1 <= rest.count(nar.sentence_end) <= 4, text
            stages = list(d.stages) or ["none"]
            phrases = [p for s in stages for p in nar.slots[f"stage_{s}"]]
            assert any(p in text or p[:1].upper() + p[1:] in text for p in phrases), text


def test_narratives_sometimes_quote_numbers_and_accounts() -> None:
    d = NarrativeDetails("35000", "CNY", ("+86 138 0000 0000",), ("6222 0000 1111",), (), 3)
    for language in LANGUAGES:
        texts = render_narratives([d] * 200, language, 5)
        with_number = sum(d.numbers[0] in t for t in texts)
        with_account = sum(d.accounts[0] in t for t in texts)
        assert 40 < with_number < 180 and 40 < with_account < 180
        assert len(set(texts)) > 150


@pytest.mark.parametrize(
    ("details", "named"),
    [
        (NarrativeDetails("100", "EUR", stages=("bank",)), "'bank'"),
        (NarrativeDetails("100", "EUR", days=0), "days"),
        (NarrativeDetails("100", "euro"), "'euro'"),
        (NarrativeDetails("", "EUR"), "amount"),
    ],
)
def test_bad_details_are_named(details: NarrativeDetails, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        render_narratives([details], "en", 1)
