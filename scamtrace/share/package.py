"""A signed case package: the findings, the report and the exports, with a manifest of the
SHA-256 of every input and output file, signed with the agency's Ed25519 key.

Layout of a package folder::

    findings/            the findings folder: with ``reveal`` as detect wrote it; without, every
                         victim's number, callee, victim's account and other personal data
                         replaced by a keyed pseudonym and report.html rendered again from
                         that (``share/redact.py``); the package refuses to be written if a
                         victim's number is left in any file
    exports/stix-bundle.json, exports/misp-feed/, exports/ftm.jsonl
    manifest.json        what, when, who; the SHA-256 and size of every file above and of
                         every input file of the case folder (listed, not copied)
    manifest.sig         Ed25519 signature of the exact bytes of manifest.json (base64)

``verify`` re-hashes every file, names each one changed, missing or added, and checks the
signature against a key the verifier trusts: the agency's public key, or the one key of a
keyring (a folder of ``.pub`` files) that the manifest names. Only when asked explicitly does it
check against the key the manifest names itself, which proves integrity but not who signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scamtrace.core.casefolder import Staging, ensure_apart, os_error
from scamtrace.core.errors import FindingsError
from scamtrace.share.export.base import Findings, load_findings
from scamtrace.share.redact import pseudonym_key, redact_findings, victim_leaks_in
from scamtrace.share.safeio import open_private, refuse_exposed_key

FORMAT = "scamtrace-case-package/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
_CHUNK = 1 << 20


class PackageError(FindingsError):
    """A key or package that cannot be used."""


@dataclass
class Verification:
    ok: bool
    problems: list[str] = field(default_factory=list)
    files: int = 0
    key_fingerprint: str = ""
    trusted_key: bool = False
    #: The public key file the signature was checked against (None: the manifest's own key).
    key_file: Path | None = None


def keygen(out: Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new Ed25519 private key (PKCS#8 PEM, mode 0600) to ``out`` and its public key
    to ``out`` with the suffix ``.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = out.with_suffix(".pub")
    for path in (out, public):
        if path.exists() and not overwrite:
            raise PackageError(f"{path} exists; pass --overwrite to replace it")
    key = Ed25519PrivateKey.generate()
    out.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    with os.fdopen(open_private(out), "wb") as fh:
        fh.write(pem)
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    return out, public


def load_private_key(path: Path) -> Any:
    """The Ed25519 signing key of ``path``; refused if others than its owner may read it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PackageError(f"{path}: not a readable unencrypted PEM private key: {exc}") from exc
    refuse_exposed_key(path, PackageError)  # after: a public key given by mistake is named so
    if not isinstance(key, Ed25519PrivateKey):
        raise PackageError(
            f"{path}: not an Ed25519 key (make one with scamtrace share signing-key)"
        )
    return key


def load_public_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PackageError(f"{path}: not a readable PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise PackageError(f"{path}: not an Ed25519 public key")
    return key


def raw_public(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    raw: bytes = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw


def fingerprint(raw: bytes) -> str:
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_entries(root: Path, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """``path`` (POSIX, relative to ``root``), ``sha256`` and ``bytes`` of every file under
    ``root``, sorted by path."""
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(root).as_posix()
        if rel in skip:
            continue
        if path.is_symlink():
            raise PackageError(f"{path}: links are not allowed in a case package")
        entries.append({"path": rel, "sha256": sha256_file(path), "bytes": path.stat().st_size})
    return entries


def build_package(
    findings_dir: Path, key_path: Path, out: Path, *, case_dir: Path | None = None,
    reveal: bool = False, tlp: str = "amber", agency: str = "scamtrace user",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the signed case package ``out``; return its manifest."""
    from scamtrace.share.export.ftm import write_ftm
    from scamtrace.share.export.misp import write_feed
    from scamtrace.share.export.stix import write_stix

    ensure_apart(out, findings_dir, case_dir, key_path)
    key = load_private_key(key_path)
    findings = load_findings(findings_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise PackageError(f"{out} exists and is not empty; pass --overwrite to replace it")
    if case_dir is not None and not case_dir.is_dir():
        raise PackageError(f"{case_dir}: case folder not found")
    # Built aside under the package folder's lock, swapped in whole (scamtrace.core.casefolder).
    staging = Staging(out, purpose="scamtrace share package")
    work = staging.open()
    try:
        redaction = None
        if reveal:
            shutil.copytree(findings_dir, work / "findings", symlinks=False)
        else:  # the package travels: no personal data in any file (share/redact.py)
            redaction = redact_findings(findings_dir, work / "findings", findings,
                                        pseudonym_key(key))  # fmt: skip
        exports = work / "exports"
        write_stix(findings_dir, exports / "stix-bundle.json", tlp=tlp, reveal=reveal,
                   agency=agency)  # fmt: skip
        write_feed(findings_dir, exports / "misp-feed", reveal=reveal, tlp=tlp, org=agency,
                   case_dir=case_dir)  # fmt: skip
        with (exports / "ftm.jsonl").open("w", encoding="utf-8") as fh:
            write_ftm(findings_dir, fh, case_dir, reveal=reveal)
        inputs = []
        if case_dir is not None:
            inputs = [dict(e, path=f"{case_dir.name}/{e['path']}")
                      for e in file_entries(case_dir)]  # fmt: skip
        if not reveal:
            _refuse_victims(work, findings)
        public = raw_public(key.public_key())
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "agency": agency,
            "scamtrace": _version(),
            "reveal": reveal,
            "redaction": redaction.manifest() if redaction else None,
            "tlp": tlp,
            "findings_created_at": findings.summary.get("created_at"),
            "case": str(case_dir) if case_dir else None,
            "signature": {"algorithm": "Ed25519", "file": SIGNATURE,
                          "public_key": base64.b64encode(public).decode(),
                          "key_fingerprint": fingerprint(public)},
            "inputs": inputs,
            "files": file_entries(work),
        }
        body = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
        (work / MANIFEST).write_bytes(body)
        (work / SIGNATURE).write_text(base64.b64encode(key.sign(body)).decode() + "\n")
    except BaseException as exc:
        staging.abandon()
        if isinstance(exc, OSError):
            raise os_error(exc, work, f"writing {out}") from exc
        raise
    staging.commit()
    return manifest


def _refuse_victims(work: Path, findings: Findings) -> None:
    """Fail closed: a victim's number in any file of a package made without reveal is a bug."""
    leaking = victim_leaks_in(work, findings.victim_values())
    if leaking:
        raise PackageError(f"refusing to write the package: {', '.join(leaking[:5])} would name "
                           "victims' numbers; use --reveal only where that is lawful")  # fmt: skip


def keyring_keys(keyring: Path) -> dict[bytes, Path]:
    """The Ed25519 public keys of a keyring folder (its ``*.pub`` PEM files), by raw key."""
    if not keyring.is_dir():
        raise PackageError(f"{keyring}: keyring folder not found")
    keys: dict[bytes, Path] = {}
    for path in sorted(keyring.glob("*.pub")):
        keys.setdefault(raw_public(load_public_key(path)), path)
    if not keys:
        raise PackageError(f"{keyring}: no public key (*.pub) in the keyring")
    return keys


def verify_package(pkg: Path, pubkey: Path | None = None, case_dir: Path | None = None, *,
                   keyring: Path | None = None) -> Verification:  # fmt: skip
    """Check every byte of a case package; each problem names its file.

    The signature is checked against ``pubkey``, or against the key of ``keyring`` that the
    manifest names (a problem if it names none of them); with neither, against the key the
    manifest names itself (``trusted_key`` stays False: that proves integrity only)."""
    if pubkey is not None and keyring is not None:
        raise PackageError("give --pubkey or --keyring, not both")
    ring = keyring_keys(keyring) if keyring is not None else None
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    result = Verification(ok=False)
    manifest_path, sig_path = pkg / MANIFEST, pkg / SIGNATURE
    if not manifest_path.is_file() or not sig_path.is_file():
        result.problems.append(f"{manifest_path if not manifest_path.is_file() else sig_path}: "
                               "missing; not a case package")  # fmt: skip
        return result
    body = manifest_path.read_bytes()
    try:
        manifest = json.loads(body)
        named = base64.b64decode(manifest["signature"]["public_key"], validate=True)
        listed = {str(e["path"]): (e["sha256"], e["bytes"]) for e in manifest["files"]}
        inputs = {str(e["path"]): e["sha256"] for e in manifest.get("inputs") or []}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        result.problems.append(f"{MANIFEST}: unreadable ({str(exc)[:200]})")
        if pubkey is not None:  # a trusted key still says whether these are the signed bytes
            try:
                load_public_key(pubkey).verify(
                    base64.b64decode(sig_path.read_bytes().strip(), validate=True), body)
            except (InvalidSignature, ValueError):
                result.problems.append(f"{SIGNATURE}: signature does not match {MANIFEST} "
                                       "and the key")  # fmt: skip
        return result
    if pubkey is not None:
        key = load_public_key(pubkey)
        result.trusted_key, result.key_file = True, pubkey
        if raw_public(key) != named:
            result.problems.append(f"{MANIFEST}: names key {fingerprint(named)}, not the given "
                                   f"key {fingerprint(raw_public(key))}")  # fmt: skip
    elif ring is not None:
        if named not in ring:
            result.problems.append(f"{MANIFEST}: names key {fingerprint(named)}, which is not "
                                   f"in the keyring {keyring} ({len(ring)} keys)")  # fmt: skip
            return result
        result.key_file = ring[named]
        key = load_public_key(ring[named])
        result.trusted_key = True
    else:
        try:
            key = Ed25519PublicKey.from_public_bytes(named)
        except ValueError as exc:
            result.problems.append(f"{MANIFEST}: bad public key ({exc})")
            return result
    result.key_fingerprint = fingerprint(raw_public(key))
    try:
        key.verify(base64.b64decode(sig_path.read_bytes().strip(), validate=True), body)
    except (InvalidSignature, ValueError):
        result.problems.append(f"{SIGNATURE}: signature does not match {MANIFEST} and the key")
    present = {e["path"]: e for e in file_entries(pkg, skip=(MANIFEST, SIGNATURE))}
    for path in sorted(listed.keys() - present.keys()):
        result.problems.append(f"{path}: missing (listed in the manifest)")
    for path in sorted(present.keys() - listed.keys()):
        result.problems.append(f"{path}: added (not in the manifest)")
    for path in sorted(listed.keys() & present.keys()):
        if listed[path] != (present[path]["sha256"], present[path]["bytes"]):
            result.problems.append(f"{path}: changed (SHA-256 differs from the manifest)")
    if case_dir is not None:
        now = {f"{case_dir.name}/{e['path']}": e for e in file_entries(case_dir)}
        if not inputs:
            result.problems.append(f"{MANIFEST}: lists no input files; the package was made "
                                   "without --case, so --case cannot be checked")  # fmt: skip
        for path, sha256 in inputs.items():
            seen = now.get(path)
            if seen is None or seen["sha256"] != sha256:
                result.problems.append(f"input {path}: "
                                       f"{'missing' if seen is None else 'changed'}")  # fmt: skip
        # A record slipped into the case after packaging is as much a change as an edited one.
        for path in sorted(now.keys() - inputs.keys() if inputs else ()):
            result.problems.append(f"input {path}: added (not in the manifest)")
    result.files = len(listed)
    result.ok = not result.problems
    return result


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scamtrace")
    except PackageNotFoundError:
        return "unknown"
