"""Script groups: simulated transcripts of one stage group, honest calls stay out of them;
paraphrased and interrupted readings of one script still group; links between lines."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from scamtrace.language.scripts import (
    campaign_links,
    group_table,
    script_groups,
    script_lines,
)
from scamtrace.simulate.text import SCAM_KINDS

STAGES = ("neighbor", "police", "official")


def read_transcripts(case: Path) -> tuple[pa.Table, list[str]]:
    """The case's transcripts and the true kind of each (from ``truth/``)."""
    if (case / "transcripts.parquet").exists():
        table = pq.read_table(case / "transcripts.parquet")
    else:
        table = pacsv.read_csv(
            case / "transcripts.csv",
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in ("call_id", "source", "language", "text")}
            ),
        )
    with (case / "truth" / "transcripts.csv").open(encoding="utf-8") as f:
        truth = {(r["source"], r["call_id"]): r["kind"] for r in csv.DictReader(f)}
    keys = zip(table.column("source").to_pylist(), table.column("call_id").to_pylist(), strict=True)
    return table, [truth[k] for k in keys]


def grouping_quality(groups: Sequence[int], kinds: Sequence[str]) -> dict[str, float]:
    """Purity of the groups against the true kinds, and how scam and honest calls mix."""
    members: dict[int, list[str]] = defaultdict(list)
    for group, kind in zip(groups, kinds, strict=True):
        if group >= 0:
            members[group].append(kind)
    majority = {g: Counter(m).most_common(1)[0] for g, m in members.items()}
    grouped = sum(len(m) for m in members.values())
    scam_groups = [g for g, (kind, _) in majority.items() if kind in SCAM_KINDS]
    in_scam_groups = sum(len(members[g]) for g in scam_groups)
    honest = sum(k not in SCAM_KINDS for k in kinds)
    out = {
        "purity": sum(n for _, n in majority.values()) / grouped,
        "scam_purity": sum(majority[g][1] for g in scam_groups) / in_scam_groups,
        "honest_in_scam_groups": sum(k not in SCAM_KINDS for g in scam_groups for k in members[g])
        / honest,
    }
    for stage in STAGES:  # share of the stage's calls in a group of that stage
        calls = [g for g, k in zip(groups, kinds, strict=True) if k == stage]
        out[stage] = sum(g >= 0 and majority[g][0] == stage for g in calls) / len(calls)
    return out


@pytest.mark.parametrize("case", ["small_case", "small_case_csv"])
def test_simulated_transcripts_group_by_stage(case: str, request: pytest.FixtureRequest) -> None:
    """Seeds 1 and 2 of the small world (measured: purity 0.99, scam groups 1.00 pure, no
    honest call in a scam group, 99-100% of each stage's calls in that stage's group)."""
    table, kinds = read_transcripts(request.getfixturevalue(case))
    assert len({k for k in kinds if k in STAGES}) == 3
    groups = script_groups(table.column("text").to_pylist())
    q = grouping_quality(groups, kinds)
    assert q["purity"] >= 0.95, q
    assert q["scam_purity"] >= 0.95, q
    assert q["honest_in_scam_groups"] <= 0.01, q
    for stage in STAGES:
        assert q[stage] >= 0.8, (stage, q)


# --------------------------------------------------------------------------------------------
# Hand-made: the same script read twice, paraphrased and interrupted; an honest call
# --------------------------------------------------------------------------------------------

ZH_READ = (
    "caller: 你好，这里是城南派出所，我是民警王，警号1234。\n"
    "callee: 怎么了？\n"
    "caller: 你的身份证被人拿去开了一个银行账户，涉及一起洗钱案。\n"
    "callee: 不可能。\n"
    "caller: 你的存款要到检察院那边做个核查，别挂电话。"
)
ZH_PARAPHRASED = (
    "callee: 喂？\n"
    "caller: 喂，这里是城南派出所，我是民警李，警号5678。\n"
    "callee: 嗯？\n"
    "caller: 你的身份证被人拿去开——\n"
    "callee: 什么？\n"
    "caller: 我再说一遍，你、你的身份证被人拿去开了一个银行帐户，涉及一桩洗钱案。\n"
    "callee: 啊？\n"
    "caller: 你的存款要到检察院那里做个核查，千万别挂电话。"
)
ZH_HONEST = (
    "caller: 妈，是我。最近有人冒充派出所的民警打电话，你小心点。\n"
    "callee: 知道了。\n"
    "caller: 银行账户的事别跟陌生人说，存款也别转。"
)
EN_READ = (
    "caller: Good afternoon, this is Detective Harris from the Metropolitan Police, badge 4471.\n"
    "callee: Yes?\n"
    "caller: Your identity was used to open a bank account linked to a money laundering case.\n"
    "callee: That can't be right.\n"
    "caller: The prosecutor's office will call you to verify the money in your accounts."
)
EN_PARAPHRASED = (
    "caller: Good morning, this is Detective Jones from the Metropolitan Police, badge 9902.\n"
    "callee: Hello?\n"
    "caller: Your identity was used to open a bank—\n"
    "callee: Sorry, what?\n"
    "caller: As I was saying, um, your identity was used to open a bank account that is linked "
    "to a money laundering case.\n"
    "callee: Oh no.\n"
    "caller: Someone from the prosecutor's office will call you to verify the money in your "
    "account."
)
EN_HONEST = (
    "caller: Hi Mum, it's me. Did you hear the police arrested a money laundering gang?\n"
    "callee: Yes, it was on the news.\n"
    "caller: Never give your bank account details to anyone who calls you."
)
ES_READ = (
    "caller: Buenas tardes, le llamo de la comisaría central, soy el agente Ruiz.\n"
    "callee: ¿Qué pasa?\n"
    "caller: Han usado su DNI para abrir una cuenta relacionada con un caso de blanqueo.\n"
    "callee: No puede ser.\n"
    "caller: Un fiscal le llamará para verificar el dinero de sus cuentas, no cuelgue."
)
ES_PARAPHRASED = (
    "caller: Buenos días, le llamo de la comisaría central, soy la agente Gómez.\n"
    "callee: ¿Sí?\n"
    "caller: Han usado su DNI para abrir una cuen...\n"
    "callee: ¿Cómo?\n"
    "caller: Le decía que han usado su DNI para abrir una cuenta relacionada con un caso "
    "de blanqueo de capitales.\n"
    "caller: Un fiscal le va a llamar para verificar el dinero de sus cuentas, no cuelgue."
)
ES_HONEST = (
    "caller: Hola mamá, soy yo. ¿Te has enterado de que la policía detuvo a unos estafadores?\n"
    "callee: Sí, salió en las noticias.\n"
    "caller: No des nunca los datos de tu cuenta a nadie que te llame."
)


@pytest.mark.parametrize(
    ("read", "paraphrased", "honest"),
    [
        (ZH_READ, ZH_PARAPHRASED, ZH_HONEST),
        (EN_READ, EN_PARAPHRASED, EN_HONEST),
        (ES_READ, ES_PARAPHRASED, ES_HONEST),
    ],
    ids=["zh", "en", "es"],
)
def test_paraphrased_and_interrupted_readings_group(
    read: str, paraphrased: str, honest: str
) -> None:
    groups = script_groups([read, honest, paraphrased])
    assert groups[0] == groups[2] == 0
    assert groups[1] == -1
    # Without speaker prefixes the whole text is read.
    bare = [t.replace("caller: ", "").replace("callee: ", "") for t in (read, paraphrased)]
    assert script_groups(bare) == [0, 0]


def test_one_shared_line_is_not_a_script() -> None:
    """Two calls that share only "can you hear me?" are not one script."""
    a = (
        "caller: 喂？信号不好，你再说一遍好吗？\n"
        "caller: 我是物业的，小区里最近有人被骗了，你注意点。\n"
        "caller: 你看看身份证还在不在身上。"
    )
    b = (
        "caller: 喂？信号不好，你再说一遍好吗？\ncaller: 我给你卡里转了三千块，交房租用。\n"
        "caller: 周末回来吃饭吗？"
    )
    assert script_groups([a, b]) == [-1, -1]
    assert script_groups([a, b], min_shared=1) == [0, 0]


def test_what_callees_say_too_is_no_script() -> None:
    """Lines the other side says as well (here in two calls) are conversation: two calls
    sharing only such lines are not one script."""
    a = "caller: 喂？现在信号好了，你能听到我说话吗？\ncaller: 请问是王建华先生本人吗？"
    b = a + "\ncaller: 好。"
    callee = "callee: 喂？现在信号好了，你能听到我说话吗？\ncallee: 请问是王建华先生本人吗？"
    assert script_groups([a, b]) == [0, 0]
    assert script_groups([a, b, callee]) == [0, 0, -1]  # said by one callee only: still script
    assert script_groups([a, b, callee, callee]) == [-1, -1, -1, -1]


def test_recorded_messages_group_with_each_other_only() -> None:
    robocall = "caller: 您好，这里是银行自动语音通知，您的账户存在异常，请稍候转人工。"
    long_call = (
        "caller: 您好，这里是银行自动语音通知，您的账户存在异常，请稍候转人工。\n"
        "caller: 我是客服小王，您最近有没有在外地刷卡消费？\n"
        "caller: 为了您的资金安全，我们先把卡冻结了。"
    )
    assert script_groups([robocall, long_call, robocall]) == [0, -1, 0]


def test_script_lines() -> None:
    text = "callee: 喂？\ncaller: 你好，我是警官123号。\n  转到安全账户！\ncaller: 好的。"
    assert script_lines(text) == ["你好我是警官0号", "转到安全账户"]
    assert script_lines(text, speaker="callee") == []
    assert script_lines(text, speaker=None) == ["你好我是警官0号", "转到安全账户"]
    assert script_lines("Hello? Yes. Your account number 12345 has been frozen today.") == [
        "your account number 0 has been frozen today"
    ]


def test_degenerate_inputs() -> None:
    assert script_groups([]) == []
    assert script_groups(["", None, "caller: 喂？"]) == [-1, -1, -1]
    assert script_groups([ZH_READ]) == [-1]
    assert script_groups([ZH_READ, ZH_READ]) == [0, 0]
    with pytest.raises(ValueError):
        script_groups([ZH_READ], threshold=0)
    with pytest.raises(ValueError):
        script_groups([ZH_READ], min_shared=0)


def test_group_table_is_deterministic() -> None:
    table = pa.table({"text": [ZH_READ, EN_READ, ZH_HONEST, ZH_PARAPHRASED, EN_PARAPHRASED]})
    out = group_table(table)
    assert out.column_names == ["text", "script_group"]
    assert out.column("script_group").to_pylist() == [0, 1, -1, 0, 1]
    assert group_table(table).equals(out)


# --------------------------------------------------------------------------------------------
# Links between lines
# --------------------------------------------------------------------------------------------


def _calls() -> pa.Table:
    texts = [ZH_READ, ZH_PARAPHRASED, ZH_READ, ZH_HONEST, EN_READ, EN_PARAPHRASED, ZH_HONEST]
    return pa.table(
        {
            "call_id": [f"c{i}" for i in range(len(texts))],
            "text": texts,
            "score": [0.9, 0.8, 0.9, 0.1, 0.7, 0.9, 0.2],
        }
    )


def test_campaign_links() -> None:
    lines = {"c0": "sipA", "c1": "sipB", "c2": "sipA", "c3": "sipD", "c4": "sipB", "c5": "sipC"}
    # c6 has no line: left out.
    assert campaign_links(_calls(), lines) == [("sipA", "sipB", 1), ("sipB", "sipC", 1)]
    lines["c2"] = "sipC"  # now sipB and sipC share both scripts
    assert campaign_links(_calls(), lines) == [
        ("sipA", "sipB", 1),
        ("sipA", "sipC", 1),
        ("sipB", "sipC", 2),
    ]


def test_campaign_links_scores_and_big_groups() -> None:
    table = _calls()
    lines = {f"c{i}": f"line{i}" for i in range(7)}
    honest_twice = table.slice(3, 1).set_column(0, "call_id", pa.array(["x"]))
    with_honest = pa.concat_tables([table, honest_twice])
    lines["x"] = "lineX"
    assert ("line3", "lineX", 1) in campaign_links(with_honest, lines)  # honest scripts link too
    scored = campaign_links(with_honest, lines, score_column="score")
    assert ("line3", "lineX", 1) not in scored
    assert scored == [
        ("line0", "line1", 1),
        ("line0", "line2", 1),
        ("line1", "line2", 1),
        ("line4", "line5", 1),
    ]
    # A group read on more lines than max_group_lines is a star around its busiest line.
    star = campaign_links(table, lines | {"c2": "line0"}, max_group_lines=1)
    assert star == [("line0", "line1", 1), ("line3", "line6", 1), ("line4", "line5", 1)]
    three = campaign_links(table, lines | {"c3": "line9"}, max_group_lines=2)
    assert ("line1", "line2", 1) not in three  # line0, line1, line2: a star around line0
    assert {("line0", "line1", 1), ("line0", "line2", 1)} <= set(three)


def test_campaign_links_on_a_simulated_world(small_case: Path) -> None:
    """The provider's transcripts tie its SIP accounts together: with a scam score per call,
    only scam accounts are linked, and every scam account with a grouped call is."""
    table, kinds = read_transcripts(small_case)
    voip = pq.read_table(small_case / "voip_cdr.parquet", columns=["call_id", "sip_account"])
    sip = dict(zip(voip["call_id"].to_pylist(), voip["sip_account"].to_pylist(), strict=True))
    with (small_case / "truth" / "entities.csv").open(encoding="utf-8") as f:
        scam_accounts = {r["value"] for r in csv.DictReader(f) if r["kind"] == "sip_account"}
    scores = pa.array([1.0 if k in SCAM_KINDS else 0.0 for k in kinds])
    links = campaign_links(table.append_column("score", scores), sip, score_column="score")
    linked = {line for a, b, _ in links for line in (a, b)}
    assert linked and linked <= scam_accounts
    assert len(linked) >= 0.8 * len(scam_accounts)
