"""What the exchange must refuse or hide (issue 21): B's customers' lines from A's guesses, wide
time windows, files that are not what they claim, outputs that would replace something, and
spreadsheet formulas in what A writes."""

from __future__ import annotations

import csv
import json
import re
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.core.errors import ScamtraceError
from scamtrace.share.exchange.answer import build_answer, write_answer
from scamtrace.share.exchange.keys import keyed, load_key, load_line_key
from scamtrace.share.exchange.leads import resolve_leads
from scamtrace.share.exchange.merge import merge_answer
from scamtrace.share.exchange.messages import MAX_TOLERANCE_S, ExchangeError
from scamtrace.share.exchange.request import build_request
from tests.share.conftest import Exchange, run_cli


def _invoke(*args: str) -> tuple[int, str, BaseException | None]:
    done = CliRunner().invoke(app, list(args))
    return done.exit_code, done.output, done.exception


def _pseudonyms(answer: Path) -> set[str]:
    raw = json.loads(answer.read_text(encoding="utf-8"))
    return {line["line"] for line in raw["lines"] if not line["disclosed"]}


def test_a_cannot_recompute_the_pseudonyms_of_bs_lines(
    exchanges: dict[str, Exchange], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ex = exchanges["seed"]
    pseudonyms = _pseudonyms(ex.answer)
    assert len(pseudonyms) > 5
    # A holds the case key and can list every account name B's provider could issue (here:
    # every account B's records hold, the best possible guess list).
    accounts = set(pq.read_table(ex.centers_half / "voip_cdr.parquet",
                                 columns=["sip_account"]).column(0).to_pylist())  # fmt: skip
    guesses = {f"line-{h[:16]}" for h in keyed(load_key(ex.key), "line", accounts).values()}
    assert not pseudonyms & guesses
    # B's line key was made on first use, readable by B alone, and keeps pseudonyms stable.
    line_key = ex.key.parent / "line.key"
    assert stat.S_IMODE(line_key.stat().st_mode) == 0o600
    again = tmp_path / "again.json"
    write_answer(ex.request, ex.centers_half, load_key(ex.key), again,
                 line_key=load_line_key(line_key)[0])  # fmt: skip
    assert _pseudonyms(again) == pseudonyms
    other = tmp_path / "other.json"
    write_answer(ex.request, ex.centers_half, load_key(ex.key), other,
                 line_key=load_line_key(tmp_path / "other-line.key")[0])  # fmt: skip
    assert not _pseudonyms(other) & pseudonyms
    # Without an option the key lives in the user's configuration folder, made 0600 there.
    monkeypatch.delenv("SCAMTRACE_LINE_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    key, where = load_line_key()
    made = tmp_path / "config" / "scamtrace" / "line.key"
    assert where == f"{made} (new)" and stat.S_IMODE(made.stat().st_mode) == 0o600
    assert load_line_key() == (key, str(made))


@pytest.mark.parametrize("tolerance", [-1, MAX_TOLERANCE_S + 1, 10**12])
def test_the_time_tolerance_is_capped(exchanges: dict[str, Exchange], tmp_path: Path,
                                      tolerance: int) -> None:  # fmt: skip
    ex = exchanges["seed"]
    with pytest.raises(ExchangeError, match="tolerance"):
        build_request(ex.findings_merged, ex.victims_half, load_key(ex.key),
                      tolerance_s=tolerance)  # fmt: skip
    code, _, exc = _invoke("share", "request", str(ex.findings_merged), str(ex.victims_half),
                           "--key", str(ex.key), "--out", str(tmp_path / "r.json"),
                           "--tolerance", str(tolerance))  # fmt: skip
    assert code != 0 and "--tolerance" in str(exc) and not (tmp_path / "r.json").exists()
    # B checks what it is sent, whoever made it.
    raw = json.loads(ex.request.read_text(encoding="utf-8"))
    raw["tolerance_s"] = tolerance
    forged = tmp_path / "request.json"
    forged.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ExchangeError, match=r"request.json: field tolerance_s"):
        build_answer(forged, ex.centers_half, load_key(ex.key))


def _unreadable(tmp_path: Path) -> dict[str, Path]:
    files = {"latin1": tmp_path / "latin1.json", "nested": tmp_path / "nested.json",
             "nested-object": tmp_path / "nested-object.json"}  # fmt: skip
    files["latin1"].write_bytes(b'{"scamtrace_exchange": "request", "note": "caf\xe9"}')
    files["nested"].write_text("[" * 100_000, encoding="ascii")
    files["nested-object"].write_text('{"a": ' * 100_000, encoding="ascii")
    return files


def test_unreadable_json_is_a_one_line_error_naming_the_file(
    exchanges: dict[str, Exchange], tmp_path: Path
) -> None:
    ex = exchanges["seed"]
    key = load_key(ex.key)
    for name, path in _unreadable(tmp_path).items():
        with pytest.raises(ScamtraceError, match=re.escape(path.name)) as caught:
            build_answer(path, ex.centers_half, key)
        assert "\n" not in str(caught.value), name
        with pytest.raises(ScamtraceError, match=re.escape(path.name)):
            merge_answer(path, ex.victims_half, key, tmp_path / f"merged-{name}")
        with pytest.raises(ScamtraceError, match=re.escape(path.name)):
            run_cli("share", "stix-import", str(path), "--out", str(tmp_path / f"f-{name}"))


def test_resolve_on_files_that_are_not_text(exchanges: dict[str, Exchange],
                                            tmp_path: Path) -> None:  # fmt: skip
    ex = exchanges["seed"]
    unresolved = ex.merged / "exchange" / "unresolved.csv"
    binary = tmp_path / "numbers.csv"
    binary.write_bytes(b"number\n+86138\xff\xfe0000001\n")
    with pytest.raises(ScamtraceError, match=r"numbers\.csv"):
        resolve_leads(unresolved, binary, "CN", load_key(ex.key), tmp_path / "a.csv")
    with pytest.raises(ScamtraceError, match=r"latin1\.json"):
        resolve_leads(_unreadable(tmp_path)["latin1"], binary, "CN", load_key(ex.key),
                      tmp_path / "b.csv")  # fmt: skip


def test_outputs_are_not_replaced_unasked(exchanges: dict[str, Exchange], tmp_path: Path) -> None:
    ex = exchanges["seed"]
    key = ["--key", str(ex.key)]
    taken = tmp_path / "taken.json"
    subscribers = ex.victims_half.parent / "CN-networks" / "subscribers.csv"
    unresolved = ex.merged / "exchange" / "unresolved.csv"
    commands = {
        "request": ["share", "request", str(ex.findings_merged), str(ex.victims_half), *key],
        "answer": ["share", "answer", str(ex.request), str(ex.centers_half), *key,
                   "--line-key", str(ex.key.parent / "line.key")],
        "resolve": ["share", "resolve", str(unresolved), str(subscribers), *key],
    }  # fmt: skip
    for name, args in commands.items():
        taken.write_text("keep me\n")
        code, output, exc = _invoke(*args, "--out", str(taken))
        assert code != 0 and "--overwrite" in str(exc), (name, output)
        assert taken.read_text() == "keep me\n", name
        code, output, exc = _invoke(*args, "--out", str(taken), "--overwrite")
        assert code == 0, (name, output, exc)
        assert taken.read_text() != "keep me\n", name


def test_outputs_must_lie_apart_from_inputs(exchanges: dict[str, Exchange],
                                            tmp_path: Path) -> None:  # fmt: skip
    ex = exchanges["seed"]
    request = tmp_path / "request.json"
    request.write_bytes(ex.request.read_bytes())
    code, _, exc = _invoke("share", "answer", str(request), str(ex.centers_half), "--key",
                           str(ex.key), "--out", str(request), "--overwrite",
                           "--line-key", str(ex.key.parent / "line.key"))  # fmt: skip
    assert code != 0 and "replace what is being read" in str(exc)
    assert request.read_bytes() == ex.request.read_bytes()
    code, _, exc = _invoke("share", "request", str(ex.findings_merged), str(ex.victims_half),
                           "--key", str(ex.key), "--out",
                           str(ex.victims_half / "request.json"))  # fmt: skip
    assert code != 0 and "lies inside the input" in str(exc)
    assert not (ex.victims_half / "request.json").exists()


def test_a_key_others_can_read_is_refused_with_the_fix(exchanges: dict[str, Exchange],
                                                      tmp_path: Path) -> None:  # fmt: skip
    ex = exchanges["seed"]
    loose = tmp_path / "loose.key"
    loose.write_bytes(ex.key.read_bytes())
    loose.chmod(0o644)
    found = tmp_path / "named.csv"
    subscribers = ex.victims_half.parent / "CN-networks" / "subscribers.csv"
    args = ["share", "resolve", str(ex.merged / "exchange" / "unresolved.csv"),
            str(subscribers), "--key", str(loose), "--out", str(found)]  # fmt: skip
    code, output, exc = _invoke(*args)
    assert code != 0 and not found.exists()
    assert str(exc) == f"{loose}: readable by others (mode 0644); run: chmod 600 {loose}"
    assert ex.key.read_text().strip() not in output + str(exc)  # the key is never shown
    for mode in (0o640, 0o604, 0o660):
        loose.chmod(mode)
        with pytest.raises(ExchangeError, match=f"mode {mode:04o}"):
            load_key(loose)
    line_key = tmp_path / "line.key"
    line_key.write_bytes(ex.key.read_bytes())
    line_key.chmod(0o640)
    with pytest.raises(ExchangeError, match="chmod 600"):
        load_line_key(line_key)
    loose.chmod(0o600)
    run_cli(*args)
    assert found.is_file()
    # a key replaced with --overwrite is 0600 again, whatever the old file's mode
    loose.chmod(0o644)
    run_cli("share", "case-key", str(loose), "--overwrite")
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_what_a_writes_runs_no_formula(exchanges: dict[str, Exchange], tmp_path: Path) -> None:
    ex = exchanges["seed"]
    raw = json.loads(ex.answer.read_text(encoding="utf-8"))
    evil = "=HYPERLINK(\"http://x.invalid\",\"open\")"
    raw["calls"]["line"] = [evil] * len(raw["calls"]["line"])
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(raw), encoding="utf-8")
    merge_answer(answer, ex.victims_half, load_key(ex.key), tmp_path / "merged")
    with (tmp_path / "merged" / "exchange" / "unresolved.csv").open(encoding="utf-8") as fh:
        lines = {r["lines"] for r in csv.DictReader(fh)}
    assert lines == {"'" + evil}
