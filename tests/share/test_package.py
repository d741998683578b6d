"""The signed case package: untouched it verifies; any changed byte, added or removed file,
or wrong key is caught and the file named."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.share.package import PackageError, build_package, keygen, verify_package


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("keys")
    done = CliRunner().invoke(app, ["share", "signing-key", "--out", str(root / "agency.pem")])
    assert done.exit_code == 0, done.output
    assert (root / "agency.pem").stat().st_mode & 0o777 == 0o600
    return root / "agency.pem", root / "agency.pub"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, trimmed_findings: Path, small_case: Path,
            keys: tuple[Path, Path]) -> Path:  # fmt: skip
    out = tmp_path_factory.mktemp("packages") / "case-1"
    done = CliRunner().invoke(app, ["share", "package", str(trimmed_findings), "--case",
                                    str(small_case), "--key", str(keys[0]), "--out", str(out)])
    assert done.exit_code == 0, done.output
    return out


def test_untouched_package_verifies(package: Path, keys: tuple[Path, Path],
                                    small_case: Path) -> None:  # fmt: skip
    result = verify_package(package, keys[1], small_case)
    assert result.ok and result.trusted_key, result.problems
    names = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert {"manifest.json", "manifest.sig", "findings/entities.csv", "findings/report.html",
            "exports/stix-bundle.json", "exports/ftm.jsonl", "exports/misp-feed/manifest.json",
            "exports/misp-feed/hashes.csv"} <= names  # fmt: skip
    assert result.files == len(names) - 2
    done = CliRunner().invoke(app, ["share", "verify", str(package), "--pubkey", str(keys[1])])
    assert done.exit_code == 0 and "verified" in done.output


KINDS = ["findings/entities.csv", "findings/report.html", "findings/summary.json",
         "exports/stix-bundle.json", "exports/ftm.jsonl", "exports/misp-feed/hashes.csv",
         "exports/misp-feed/manifest.json", "misp-event", "manifest.json", "manifest.sig"]


@pytest.mark.parametrize("kind", KINDS)
def test_one_flipped_byte_is_caught_and_named(package: Path, keys: tuple[Path, Path],
                                              kind: str) -> None:  # fmt: skip
    if kind == "misp-event":
        path = next(p for p in (package / "exports/misp-feed").glob("*-*.json"))
    else:
        path = package / kind
    data = bytearray(path.read_bytes())
    at = len(data) // 2
    data[at] ^= 0x01
    original = path.read_bytes()
    path.write_bytes(bytes(data))
    try:
        result = verify_package(package, keys[1])
        done = CliRunner().invoke(app, ["share", "verify", str(package),
                                        "--trust-embedded-key"])  # fmt: skip
    finally:
        path.write_bytes(original)
    assert not result.ok
    named = "manifest.sig" if kind.startswith("manifest.") else path.name
    assert any(named in p for p in result.problems), result.problems
    # Without a trusted key, a manifest the flip made unreadable is named as such.
    named = "manifest." if kind.startswith("manifest.") else path.name
    assert done.exit_code == 1 and named in done.output
    assert verify_package(package, keys[1]).ok


def test_added_removed_and_wrong_key_are_caught(package: Path, keys: tuple[Path, Path],
                                                tmp_path: Path) -> None:  # fmt: skip
    extra = package / "exports" / "note.txt"
    extra.write_text("slipped in")
    try:
        assert any("exports/note.txt: added" in p for p in verify_package(package).problems)
    finally:
        extra.unlink()
    gone = package / "findings" / "centers.csv"
    kept = gone.read_bytes()
    gone.unlink()
    try:
        assert any("findings/centers.csv: missing" in p for p in verify_package(package).problems)
    finally:
        gone.write_bytes(kept)
    other, other_pub = keygen(tmp_path / "other.pem")
    wrong = verify_package(package, other_pub)
    assert not wrong.ok and any("not the given key" in p for p in wrong.problems)
    manifest = build_package(package / "findings", other, tmp_path / "forged")
    assert manifest["signature"]["key_fingerprint"] != verify_package(package).key_fingerprint
    forged = verify_package(tmp_path / "forged", keys[1])
    assert not forged.ok  # a package re-signed with another key fails against the agency's key


def test_changed_input_is_caught_and_keys_are_checked(package: Path, small_case: Path,
                                                      keys: tuple[Path, Path],
                                                      tmp_path: Path) -> None:  # fmt: skip
    case = tmp_path / small_case.name
    shutil.copytree(small_case, case)
    with (case / "holder.json").open("a") as fh:
        fh.write(" ")
    result = verify_package(package, keys[1], case)
    assert any(f"input {small_case.name}/holder.json: changed" in p for p in result.problems)
    with pytest.raises(PackageError, match="exists"):
        keygen(keys[0])
    with pytest.raises(PackageError, match=r"Ed25519|PEM"):
        build_package(package / "findings", keys[1], tmp_path / "x")


def _victim_forms(case: Path) -> set[str]:
    """Every truth victim's number as E.164 digits (with or without +, the digits match both)
    and in national form."""
    import phonenumbers

    with (case / "truth" / "entities.csv").open(encoding="utf-8", newline="") as fh:
        values = {r["value"] for r in csv.DictReader(fh) if r["kind"] in ("victim_phone",
                                                                            "victim_paid")}
    forms = set()
    for value in values:
        forms |= {value.lstrip("+"), phonenumbers.national_significant_number(
            phonenumbers.parse(value))}  # fmt: skip
    return forms


def _named(folder: Path, forms: set[str]) -> dict[str, str]:
    """Files under ``folder`` whose bytes hold one of ``forms`` anywhere (inside longer digit
    runs too): how many, and the text around the first (to tell a leak from a coincidence)."""
    lengths = sorted({len(f) for f in forms})
    run = re.compile(rb"\d{%d,}" % lengths[0])
    named: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found: set[str] = set()
        where = 0
        for match in run.finditer(data):
            digits = match.group(0).decode()
            for n in lengths:
                hits = {digits[i:i + n] for i in range(len(digits) - n + 1)} & forms
                if hits and not found:
                    where = match.start()
                found |= hits
        if found:
            around = data[max(0, where - 120):where + 40].decode(errors="replace")
            named[path.relative_to(folder).as_posix()] = f"{len(found)}: ...{around}..."
    return named


def test_package_without_reveal_names_no_victim(standards_findings: Path, small_case: Path,
                                                 trimmed_findings: Path, keys: tuple[Path, Path],
                                                 tmp_path: Path) -> None:  # fmt: skip
    forms = _victim_forms(small_case)
    assert len(forms) > 10_000
    assert _named(standards_findings, forms)  # detect's own folder names them, as it should
    out = tmp_path / "pkg"
    manifest = build_package(standards_findings, keys[0], out, case_dir=small_case)
    assert not _named(out, forms)
    assert manifest["redaction"]["pseudonyms"] > 6_000 and not manifest["redaction"]["withheld"]
    assert verify_package(out, keys[1], small_case).ok
    # Victims stay joinable by pseudonym: an entity's evidence and report row carry the same one.
    entities = (out / "findings" / "entities.csv").read_text(encoding="utf-8")
    victim = re.search(r"^victim_phone,(phone-[0-9a-f]{20}),", entities, re.M)
    assert victim
    assert victim.group(1) in (out / "findings" / "evidence.csv").read_text(encoding="utf-8")
    assert "phone-" in (out / "findings" / "report.html").read_text(encoding="utf-8")
    # The indicators are still there in the clear, for others to block.
    assert re.search(r"^sip_account,sip\d+,", entities, re.M)
    assert re.search(r"^caller_number,\+\d+,", entities, re.M)
    # With --reveal the package is the agency's findings as they are.
    shown = tmp_path / "shown"
    done = CliRunner().invoke(app, ["share", "package", str(trimmed_findings), "--key",
                                    str(keys[0]), "--out", str(shown), "--reveal"])
    assert done.exit_code == 0, done.output
    named = _named(shown, forms)
    assert {"findings/entities.csv", "findings/evidence.csv", "findings/report.html"} <= set(named)


def test_package_refuses_a_victim_left_in_a_file(
    trimmed_findings: Path, keys: tuple[Path, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    findings = tmp_path / "findings"
    shutil.copytree(trimmed_findings, findings)
    victim = re.search(r"^victim_phone,\+(\d+),", (findings / "entities.csv").read_text(), re.M)
    assert victim
    # A file the pseudonymiser does not know how to read is withheld, never copied ...
    (findings / "notes.txt").write_text(f"call back {victim.group(1)}\n")
    manifest = build_package(findings, keys[0], tmp_path / "pkg")
    assert manifest["redaction"]["withheld"] == ["findings/notes.txt"]
    assert not (tmp_path / "pkg" / "findings" / "notes.txt").exists()
    # ... and a number that slips through some other way stops the package (fail closed).
    from scamtrace.share import redact

    def leaky(source: Path, target: Path, *_: object) -> redact.Redaction:
        shutil.copytree(source, target)
        return redact.Redaction()

    monkeypatch.setattr("scamtrace.share.package.redact_findings", leaky)
    with pytest.raises(PackageError, match="victims' numbers"):
        build_package(findings, keys[0], tmp_path / "leaky")
    assert not (tmp_path / "leaky").exists()


def test_verify_needs_a_trusted_key_to_say_verified(package: Path, keys: tuple[Path, Path],
                                                   tmp_path: Path) -> None:  # fmt: skip
    """A package changed and re-signed with another key passes every check but the key's; so
    verify asks for the agency's key, or says loudly that it checked integrity only."""
    other, _ = keygen(tmp_path / "other.pem")
    forged = tmp_path / "forged"
    shutil.copytree(package, forged)
    (forged / "findings" / "centers.csv").write_text("center_id\nX\n", encoding="utf-8")
    from scamtrace.share.package import MANIFEST, SIGNATURE, file_entries, load_private_key

    manifest = json.loads((forged / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"] = file_entries(forged, skip=(MANIFEST, SIGNATURE))
    key = load_private_key(other)
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)  # fmt: skip
    manifest["signature"]["public_key"] = base64.b64encode(public).decode()
    body = (json.dumps(manifest, indent=2) + "\n").encode()
    (forged / MANIFEST).write_bytes(body)
    (forged / SIGNATURE).write_text(base64.b64encode(key.sign(body)).decode() + "\n")

    plain = CliRunner().invoke(app, ["share", "verify", str(forged)])
    assert plain.exit_code != 0 and "verified" not in plain.output
    assert "--pubkey" in str(plain.exception) and "--keyring" in str(plain.exception)
    for flag in ("--trust-embedded-key", "--integrity-only"):  # the old name still works
        loose = CliRunner().invoke(app, ["share", "verify", str(forged), flag])
        assert loose.exit_code == 0  # the files do match what the (forged) manifest says ...
        assert "does not prove who signed" in loose.output  # ... which proves nothing of who
        assert "TRUSTING THE KEY INSIDE THE PACKAGE" in loose.output
    trusted = CliRunner().invoke(app, ["share", "verify", str(forged), "--pubkey", str(keys[1])])
    assert trusted.exit_code == 1 and "not the given key" in trusted.output
    # A keyring of the agencies one trusts: the forger's key is not among them.
    ring = tmp_path / "keyring"
    ring.mkdir()
    shutil.copy(keys[1], ring / "agency.pub")
    _, third = keygen(tmp_path / "third.pem")
    shutil.copy(third, ring / "third.pub")
    ringed = CliRunner().invoke(app, ["share", "verify", str(forged), "--keyring", str(ring)])
    assert ringed.exit_code == 1 and "not in the keyring" in ringed.output
    assert "verified" not in ringed.output
    both = CliRunner().invoke(app, ["share", "verify", str(forged), "--keyring", str(ring),
                                    "--trust-embedded-key"])  # fmt: skip
    assert both.exit_code != 0 and "verified" not in both.output


def test_verify_with_a_keyring_finds_the_signers_key(package: Path, keys: tuple[Path, Path],
                                                     tmp_path: Path) -> None:  # fmt: skip
    ring = tmp_path / "keyring"
    ring.mkdir()
    _, other = keygen(tmp_path / "other.pem")
    shutil.copy(other, ring / "other.pub")
    shutil.copy(keys[1], ring / "agency.pub")
    result = verify_package(package, keyring=ring)
    assert result.ok and result.trusted_key and result.key_file == ring / "agency.pub"
    done = CliRunner().invoke(app, ["share", "verify", str(package), "--keyring", str(ring)])
    assert done.exit_code == 0 and "trusted key" in done.output and "agency.pub" in done.output
    (ring / "agency.pub").unlink()
    result = verify_package(package, keyring=ring)
    assert not result.ok and not result.trusted_key
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackageError, match="no public key"):
        verify_package(package, keyring=tmp_path / "empty")


def test_a_signing_key_others_can_read_is_refused(trimmed_findings: Path,
                                                  keys: tuple[Path, Path],
                                                  tmp_path: Path) -> None:  # fmt: skip
    findings = trimmed_findings
    loose = tmp_path / "loose.pem"
    shutil.copy(keys[0], loose)
    loose.chmod(0o644)
    out = tmp_path / "pkg"
    done = CliRunner().invoke(app, ["share", "package", str(findings), "--key", str(loose),
                                    "--out", str(out)])  # fmt: skip
    assert done.exit_code != 0 and not out.exists()
    assert str(done.exception) == f"{loose}: readable by others (mode 0644); run: chmod 600 {loose}"
    assert "PRIVATE KEY" not in done.output + str(done.exception)  # the key is never shown
    loose.chmod(0o640)
    with pytest.raises(PackageError, match="mode 0640"):
        build_package(findings, loose, out)
    # signing-key --overwrite makes the replaced key 0600 whatever the old file's mode
    replaced = CliRunner().invoke(app, ["share", "signing-key", "--out", str(loose),
                                        "--overwrite"])  # fmt: skip
    assert replaced.exit_code == 0 and loose.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" not in replaced.output


def test_verify_case_names_files_added_after_packaging(package: Path, small_case: Path,
                                                       keys: tuple[Path, Path],
                                                       tmp_path: Path) -> None:  # fmt: skip
    case = tmp_path / small_case.name
    shutil.copytree(small_case, case)
    assert verify_package(package, keys[1], case).ok
    (case / "voip_cdr.csv").write_text("call_id\nslipped-in\n", encoding="utf-8")
    (case / "truth" / "notes.txt").write_text("later\n", encoding="utf-8")
    result = verify_package(package, keys[1], case)
    assert not result.ok
    assert f"input {small_case.name}/voip_cdr.csv: added (not in the manifest)" in result.problems
    assert f"input {small_case.name}/truth/notes.txt: added (not in the manifest)" in \
        result.problems  # fmt: skip
    done = CliRunner().invoke(app, ["share", "verify", str(package), "--pubkey", str(keys[1]),
                                    "--case", str(case)])  # fmt: skip
    assert done.exit_code == 1 and "voip_cdr.csv: added" in done.output
