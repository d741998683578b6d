"""Scam classifier: the packaged model on texts written for these tests, early warning, training
determinism, tables, and loading without a network."""

from __future__ import annotations

import pickle
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from scamtrace.core.errors import ScamtraceError
from scamtrace.language import (
    SCAM_TYPES,
    TYPES,
    ScamClassifier,
    alert_timing,
    classify_rows,
    false_alarm_threshold,
    load_classifier,
    score_turns,
)
from scamtrace.language.classifier import TRAIN_COMMAND, model_path
from scamtrace.language.early import first_alert, prefixes
from scamtrace.language.features import (
    CharNgramHasher,
    detect_language,
    normalise,
    normalise_language,
    split_turns,
)
from scamtrace.language.training.corpus import (
    Example,
    read_seed_corpus,
    render_supplement,
    seed_calls,
)
from scamtrace.language.training.train import TrainConfig, fit

# Written for these tests; none of these lines is in the training corpus (checked below).
SCAMS: dict[str, dict[str, str]] = {
    "en": {
        "neighbor": "caller: Evening, it's Joan from the flats committee.\ncallee: Oh hi Joan.\n"
        "caller: Some of the residents on our corridor have had their ID details "
        "stolen, and the police will be phoning each of us tonight, so don't switch "
        "your phone off and keep it quiet for now.",
        "police": "caller: This is Sergeant Cole, fraud squad. A card registered to your name "
        "turned up in a laundering investigation and you are now a suspect.\n"
        "callee: Me? I haven't done anything.\ncaller: Then cooperate and tell no one "
        "about this call, or a warrant will be issued.",
        "official": "caller: Prosecutor's office. To prove the money is clean you must transfer "
        "your whole balance into the protected verification account today.\n"
        "callee: All of it?\ncaller: Yes, it is returned once the check is finished.",
        "customer_service": "caller: Hello, online store customer support here. Your order "
        "was faulty so we will refund you twice the price.\ncallee: Oh, "
        "okay.\ncaller: Open your banking app and read me the code that "
        "just arrived so I can push the refund through.",
        "loan": "caller: Good news, your personal loan of fifteen thousand is approved with no "
        "credit checks.\ncallee: I didn't apply.\ncaller: To release the money you only "
        "need to pay the processing fee into our account first.",
        "acquaintance": "caller: Hi Gran, it's me, I dropped my phone in the river so this is "
        "my new number.\ncallee: Is that you, Tom?\ncaller: Yes, listen, I need "
        "you to send money for the rent today, please don't tell Mum.",
        "delivery": "caller: Courier service here, your parcel is stuck because of an unpaid "
        "customs charge.\ncallee: What parcel?\ncaller: Pay the small release fee "
        "by card now or it goes back to the sender.",
    },
    "es": {
        "neighbor": "caller: Buenas, soy Rosario, la presidenta de la escalera.\ncallee: Ah, "
        "hola.\ncaller: A varios vecinos les han robado los datos del DNI y la "
        "policía va a llamarles uno a uno esta noche, tenga el móvil encendido y no "
        "lo comente.",
        "police": "caller: Le habla el subinspector Ruiz, de la brigada de delitos económicos. "
        "Su identidad aparece en una red de blanqueo y ahora figura como investigado.\n"
        "callee: ¿Yo? Yo no he hecho nada.\ncaller: Pues colabore y no se lo cuente a "
        "nadie, o el juez dictará orden de detención.",
        "official": "caller: Fiscalía. Para demostrar que su dinero es legal debe transferir hoy "
        "todo el saldo a la cuenta protegida de verificación.\ncallee: ¿Todo?\n"
        "caller: Sí, se le devuelve en cuanto termine la comprobación.",
        "customer_service": "caller: Hola, le llamamos de atención al cliente de la tienda "
        "online, su pedido venía defectuoso y le devolvemos el doble.\n"
        "callee: Ah, vale.\ncaller: Abra la aplicación del banco y léame el "
        "código que le acaba de llegar para tramitar el reembolso.",
        "loan": "caller: Buenas noticias, tiene aprobado un préstamo personal de quince mil "
        "euros sin mirar su historial.\ncallee: Yo no lo he pedido.\ncaller: Para "
        "liberar el dinero solo tiene que ingresar antes la comisión de estudio en "
        "nuestra cuenta.",
        "acquaintance": "caller: Hola abuela, soy yo, se me cayó el móvil al río y este es mi "
        "número nuevo.\ncallee: ¿Eres tú, Pablo?\ncaller: Sí, escucha, necesito "
        "que me mandes dinero para el alquiler hoy, no se lo digas a mamá.",
        "delivery": "caller: Le llamamos de la mensajería, su paquete está parado por un "
        "arancel de aduanas sin pagar.\ncallee: ¿Qué paquete?\ncaller: Pague ahora "
        "con tarjeta la pequeña tasa de liberación o se devuelve al remitente.",
    },
    "zh": {
        "neighbor": "caller: 你好，我是楼长老周。\ncallee: 哦，周师傅。\ncaller: 咱们这层好几户的"
        "身份证信息被人盗了，派出所今晚会一户一户打电话，你手机别关，先别跟别人说。",
        "police": "caller: 我是经侦大队的陈警官，有一张登记在你名下的银行卡卷进了洗钱案，你现在是"
        "嫌疑人。\ncallee: 我？我什么都没做。\ncaller: 那就配合调查，这个电话不许告诉"
        "任何人，不然就对你发逮捕令。",
        "official": "caller: 这里是检察院。为了证明你的钱是干净的，今天必须把全部余额转到受保护的"
        "核查账户。\ncallee: 全部吗？\ncaller: 对，核查结束就退还给你。",
        "customer_service": "caller: 你好，我是网店的售后客服，你的订单商品有问题，我们给你双倍"
        "退款。\ncallee: 哦，好的。\ncaller: 你打开银行软件，把刚收到的验证码"
        "念给我，我帮你把退款办下来。",
        "loan": "caller: 好消息，你有一笔十五万的个人贷款审批通过了，不看征信。\ncallee: 我没申请"
        "过啊。\ncaller: 要放款的话，你先把审核手续费转到我们账户上就行。",
        "acquaintance": "caller: 奶奶，是我，我手机掉河里了，这是我的新号码。\ncallee: 是小军吗？"
        "\ncaller: 对，我今天急需交房租，你先给我转点钱，别告诉我妈。",
        "delivery": "caller: 您好，快递公司的，您的包裹因为关税没交被扣在海关了。\ncallee: 什么包"
        "裹？\ncaller: 现在刷卡交一点放行费，不然就退回给寄件人了。",
    },
}

NORMALS: dict[str, list[str]] = {
    "en": [
        "caller: Hi love, it's Dad. Did you get home alright after the party?\ncallee: Yes, "
        "thanks, the taxi was quick.\ncaller: Good. Don't forget Nana's birthday lunch on Sunday.",
        "caller: Hello, this is the practice nurse, your blood pressure check is booked for "
        "Monday at nine.\ncallee: Lovely, thank you.\ncaller: Just bring your repeat "
        "prescription with you.",
    ],
    "es": [
        "caller: Hola cariño, soy papá. ¿Llegaste bien a casa después de la fiesta?\ncallee: "
        "Sí, el taxi fue rapidísimo.\ncaller: Bien. No te olvides de la comida del cumpleaños de "
        "la abuela el domingo.",
        "caller: Hola, le llamo de la peluquería para confirmar su cita del jueves a las cinco.\n"
        "callee: Perfecto, allí estaré.\ncaller: Muy bien, hasta el jueves.",
    ],
    "zh": [
        "caller: 闺女，是爸爸。昨晚聚会完平安到家了吧？\ncallee: 到了，打车挺快的。\ncaller: 那就"
        "好，别忘了周日中午给奶奶过生日。",
        "caller: 您好，这里是理发店，跟您确认一下周四下午五点的预约。\ncallee: 好的，我准时到。\n"
        "caller: 好嘞，周四见。",
    ],
}


@pytest.fixture(scope="module")
def clf() -> ScamClassifier:
    return load_classifier()


def test_test_texts_are_not_training_lines() -> None:
    seed_lines = {normalise(text) for _, _, text in read_seed_corpus()}
    texts = [t for per in SCAMS.values() for t in per.values()]
    texts += [t for per in NORMALS.values() for t in per]
    for text in texts:
        for turn in split_turns(text):
            if len(normalise(turn)) > 16:  # short fillers ("Ah, hola.") may well coincide
                assert normalise(turn) not in seed_lines, turn


@pytest.mark.parametrize("language", ["zh", "es", "en"])
def test_scam_and_normal_per_language(clf: ScamClassifier, language: str) -> None:
    texts = [*SCAMS[language].values(), *NORMALS[language]]
    truth = [True] * len(SCAMS[language]) + [False] * len(NORMALS[language])
    for languages in ([language] * len(texts), None):  # given, and guessed
        scores, types = clf.predict(texts, languages)
        assert [bool(s >= 0.5) for s in scores] == truth, list(zip(scores, types, strict=True))
        assert types[len(SCAMS[language]) :] == ["normal"] * len(NORMALS[language])


@pytest.mark.parametrize("language", ["zh", "es", "en"])
def test_type_for_each_stage(clf: ScamClassifier, language: str) -> None:
    kinds = list(SCAMS[language])
    assert sorted(kinds) == sorted(SCAM_TYPES)
    _, types = clf.predict([SCAMS[language][k] for k in kinds], [language] * len(kinds))
    assert dict(zip(kinds, types, strict=True)) == {k: k for k in kinds}


def test_scores_in_unit_interval_and_shapes(clf: ScamClassifier) -> None:
    texts = ["", "   ", "ok", "x" * 5000, "喂？", "¿Diga?", "\0weird\0", "caller:\ncallee:"]
    scores, types = clf.predict(texts)
    assert scores.shape == (len(texts),) and scores.dtype == np.float64
    assert np.all((scores >= 0) & (scores <= 1))
    assert len(types) == len(texts) and set(types) <= set(TYPES)
    empty_scores, empty_types = clf.predict([])
    assert empty_scores.shape == (0,) and empty_types == []
    # batching and threads do not change anything
    many = [t for per in SCAMS.values() for t in per.values()] * 80
    one, t1 = clf.predict(many, n_jobs=1)
    two, t2 = clf.predict(many, n_jobs=2)
    assert np.array_equal(one, two) and t1 == t2
    with pytest.raises(ScamtraceError):
        clf.predict("a single string")
    with pytest.raises(ScamtraceError):
        clf.predict(["a", "b"], ["en"])


def test_languages_tags(clf: ScamClassifier) -> None:
    text = SCAMS["es"]["police"]
    base, _ = clf.predict([text], ["es"])
    for tag in ("es-ES", "es_419", "ES", None, ""):
        assert clf.predict([text], [tag])[0] == pytest.approx(base)
    assert normalise_language("zh-Hans-CN") == "zh" and normalise_language("cmn") == "zh"
    assert normalise_language("fr-CA") == "fr" and normalise_language(" ") is None
    assert detect_language(SCAMS["zh"]["loan"]) == "zh"
    assert detect_language(SCAMS["es"]["loan"]) == "es"
    assert detect_language(SCAMS["en"]["loan"]) == "en"


def test_normalise_and_turns() -> None:
    assert normalise("Caller: Hello 123\n\ncallee:   Hi，你好！ ") == "hello 000 hi 你好"
    assert normalise("") == "" and normalise(" \n\t ") == ""
    assert split_turns("caller: a\n\n callee: b \n") == ["caller: a", "callee: b"]
    one_line = "caller: Hi there. receiver: Who is this? caller: The bank."
    assert split_turns(one_line) == ["caller: Hi there.", "receiver: Who is this?",
                                     "caller: The bank."]  # fmt: skip
    assert prefixes("a\nb\nc") == ["a", "a\nb", "a\nb\nc"]
    assert split_turns("") == [] and prefixes("") == []


# ------------------------------------------------------------------------------ early warning


def test_score_turns_follow_the_call(clf: ScamClassifier) -> None:
    call = (
        "callee: Hello?\ncaller: Good afternoon, is that Mrs Hale?\ncallee: Speaking.\n"
        "caller: This is the police, your identity was used to open an account in a money "
        "laundering case and you are a suspect.\ncallee: What?\ncaller: To clear your name "
        "move your savings to the safe account we give you today, and tell nobody."
    )
    scores = score_turns(call, "en", clf)
    assert len(scores) == 6 and all(0 <= s <= 1 for s in scores)
    assert max(scores[:3]) < 0.5 < scores[3] and scores[-1] >= 0.5
    assert scores[-1] > scores[0]
    normal = NORMALS["en"][0]
    assert max(score_turns(normal, None, clf)) < 0.5
    assert score_turns("", "en", clf) == []


def test_alert_timing_and_threshold(clf: ScamClassifier) -> None:
    turns = [[0.1, 0.2, 0.9, 0.95], [0.1, 0.6], [0.1, 0.1, 0.1]]
    assert first_alert(turns[0], 0.5) == 3 and first_alert(turns[2], 0.5) is None
    shares = alert_timing(turns, 0.5)
    assert shares[:2] == pytest.approx([0.75, 1.0]) and np.isnan(shares[2])
    # a higher threshold never fires earlier
    prev = np.zeros(len(turns))
    for threshold in np.linspace(0, 1, 21):
        now = np.nan_to_num(alert_timing(turns, threshold), nan=np.inf)
        assert np.all(now >= prev)
        prev = now
    normal = [[0.1, 0.3], [0.2, 0.8, 0.1], [0.05], [0.4]] + [[0.01]] * 96
    t = false_alarm_threshold(normal, 0.01)  # one false alarm allowed: the 0.8 call
    assert 0.4 < t <= 0.41
    assert np.mean([max(s) >= t for s in normal]) <= 0.01
    assert false_alarm_threshold(normal, 0.0) > 0.8
    # texts and precomputed scores agree
    texts = list(SCAMS["en"].values())
    from scamtrace.language.early import score_calls

    precomputed = score_calls(texts, None, clf)
    assert np.array_equal(alert_timing(texts, 0.5, classifier=clf),
                          alert_timing(precomputed, 0.5), equal_nan=True)  # fmt: skip
    with pytest.raises(ScamtraceError):
        alert_timing(["a", [0.1]], 0.5)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ training


def _tiny_corpus() -> list[Example]:
    rows = read_seed_corpus()
    examples = seed_calls(rows, seed=5, calls_per_type=8)
    return examples + render_supplement(seed=5, per_kind=3)


def test_training_is_deterministic() -> None:
    examples = _tiny_corpus()
    config = TrainConfig()
    a, b = fit(examples, 7, config), fit(examples, 7, config)
    probe = [t for per in SCAMS.values() for t in per.values()] + NORMALS["en"]
    sa, ta = a.predict(probe)
    sb, tb = b.predict(probe)
    assert np.array_equal(sa, sb) and ta == tb
    assert np.array_equal(a.scam_head.coef_, b.scam_head.coef_)
    assert pickle.dumps(a.vectorizer.named_steps["ngrams"]) == pickle.dumps(
        b.vectorizer.named_steps["ngrams"]
    )
    assert a.meta["trained_on"] == {"seed": len(examples) - 3 * 12 * 3, "sim": 3 * 12 * 3}
    # and it learned something from so little
    _, types = a.predict([SCAMS["en"]["loan"], NORMALS["en"][1]])
    assert types[1] == "normal"


def test_hasher_counts() -> None:
    h = CharNgramHasher((1, 2), n_bits=12, min_df=1).fit(["ab", "ba"])
    x = h.transform(["ab ab", "", "zz"])
    # "ab ab": a b space a b (5 unigrams) + ab, "b ", " a", ab (4 bigrams) = 9 occurrences,
    # minus those never seen in training (space, "b ", " a")
    assert x.shape == (3, h.n_features_out_) and x[0].sum() == 6 and x[1].sum() == 0
    assert x[2].sum() == 0
    assert set(np.asarray(x[0].data)) == {2.0}


# ------------------------------------------------------------------------------ tables, loading


def test_classify_rows(clf: ScamClassifier) -> None:
    table = pa.table({
        "call_id": ["a", "b", "c", "d"],
        "language": ["en", None, "zh-CN", ""],
        "text": [SCAMS["en"]["official"], NORMALS["es"][0], SCAMS["zh"]["delivery"], None],
    })  # fmt: skip
    out = classify_rows(table, clf)
    assert out.column_names == ["call_id", "language", "text", "scam_score", "scam_type"]
    assert out.schema.field("scam_score").type == pa.float64()
    assert out.column("scam_type").to_pylist()[:3] == ["official", "normal", "delivery"]
    again = classify_rows(out, clf)
    assert again.column_names == out.column_names and again.equals(out)
    with pytest.raises(ScamtraceError, match="text"):
        classify_rows(pa.table({"narrative": ["x"]}), clf)


def test_packaged_model_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    assert model_path().is_file()
    assert model_path().stat().st_size < 50e6

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    clf = load_classifier(fresh=True)
    assert clf.meta["features"] > 1000 and set(clf.meta["languages"]) == {"zh", "es", "en"}
    assert clf.predict([SCAMS["zh"]["police"]])[1] == ["police"]


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way to train or simulate, replaced by a recorder: the list stays empty unless
    something tried to train."""
    import scamtrace.language.training.corpus as corpus_module
    import scamtrace.language.training.train as train_module
    import scamtrace.simulate.world as world_module

    calls: list[str] = []

    def recorder(name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"{name} called at run time")

        return record

    targets = [
        (train_module, "train"),
        (train_module, "fit"),
        (train_module, "build_corpus"),
        (corpus_module, "simulated_transcripts"),
        (corpus_module, "render_supplement"),
        (world_module, "build_world"),
    ]
    for module, name in targets:
        monkeypatch.setattr(module, name, recorder(f"{module.__name__}.{name}"))
    return calls


@pytest.mark.parametrize("content", [None, b"not a joblib file", pickle.dumps(["a", "list"])])
def test_missing_or_unreadable_model_names_the_command_and_trains_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_training: list[str], content: bytes | None
) -> None:
    import scamtrace.language.classifier as classifier_module

    place = tmp_path / "models" / "scam_classifier.joblib"
    if content is not None:
        place.parent.mkdir()
        place.write_bytes(content)
    monkeypatch.setattr(classifier_module, "model_path", lambda: place)
    monkeypatch.setattr(classifier_module, "_cached", None)
    with pytest.raises(classifier_module.ClassifierMissing) as caught:
        load_classifier(fresh=True)
    assert isinstance(caught.value, ScamtraceError)
    assert str(place) in str(caught.value)
    assert "python -m scamtrace.language.training.train" in str(caught.value)
    assert no_training == [] and classifier_module._cached is None
    assert not place.exists() or place.read_bytes() == content  # nothing written in its place
    with pytest.raises(classifier_module.ClassifierMissing):  # still none: not cached, not made
        classify_rows(pa.table({"text": ["hello"]}))
    assert no_training == []


def test_classify_command_without_model_names_the_command(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_training: list[str],
) -> None:
    import scamtrace.cli
    import scamtrace.language.classifier as classifier_module

    source = tmp_path / "texts.csv"
    source.write_text("id,text\n1,hello there\n", encoding="utf-8")
    monkeypatch.setattr(classifier_module, "model_path", lambda: tmp_path / "absent.joblib")
    monkeypatch.setattr(classifier_module, "_cached", None)
    monkeypatch.setattr(sys, "argv", ["scamtrace", "classify", str(source)])
    with pytest.raises(SystemExit) as ended:
        scamtrace.cli.main()
    assert ended.value.code == 2 and no_training == []
    assert "python -m scamtrace.language.training.train" in capsys.readouterr().err


def test_the_named_command_exists() -> None:
    args = TRAIN_COMMAND.split()
    assert args[:2] == ["python", "-m"]
    done = subprocess.run([sys.executable, *args[1:], "--help"], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--seed" in done.stdout and "--out" in done.stdout


def test_seed_corpus_covers_every_type_and_language() -> None:
    rows = read_seed_corpus()
    for lang in ("zh", "es", "en"):
        counts = {t: sum(1 for lg, k, _ in rows if lg == lang and k == t) for t in TYPES}
        assert min(counts.values()) >= 25, (lang, counts)
