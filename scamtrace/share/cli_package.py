"""``scamtrace share stix|stix-import|misp|ftm|signing-key|package|verify``: standards and the
signed case package. Thin: each command calls one function and prints what it did."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from scamtrace.share.export.base import Findings

# no markup: paths and values printed here may hold "[/x]" (rich would fail on it)
err = Console(stderr=True, markup=False)

FindingsArg = Annotated[Path, typer.Argument(help="findings folder written by scamtrace detect")]
Reveal = Annotated[bool, typer.Option(
    "--reveal", help="also write personal data: victims' numbers, their accounts, account "
                     "holders (only where the law allows sharing them)")]  # fmt: skip
Tlp = Annotated[str, typer.Option(help="TLP marking: clear/white, green, amber or red")]
Agency = Annotated[str, typer.Option(help="name of the agency that shares (producer, signer)")]
Overwrite = Annotated[bool, typer.Option(help="replace OUT if it exists")]


def _refuse(out: Path, overwrite: bool, *inputs: Path | None) -> None:
    """Refuse an output that would replace an input, or an existing one unless ``overwrite``."""
    from scamtrace.core.casefolder import ensure_apart
    from scamtrace.core.errors import FindingsError
    from scamtrace.share.safeio import refuse_existing

    ensure_apart(out, *inputs)
    refuse_existing(out, overwrite, FindingsError)


def stix(
    findings_dir: FindingsArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="STIX 2.1 bundle (JSON) to write")],
    tlp: Tlp = "amber",
    reveal: Reveal = False,
    agency: Agency = "scamtrace user",
    overwrite: Overwrite = False,
) -> None:
    """Export findings as a STIX 2.1 bundle: networks as threat actors with their campaigns,
    call centers as infrastructure, indicators with sightings, TLP-marked.

    Example:

        scamtrace share stix findings/small-1 --out small-1.stix.json --tlp amber
    """
    from scamtrace.share.export.stix import write_stix

    _refuse(out, overwrite, findings_dir)
    done = write_stix(findings_dir, out, tlp=tlp, reveal=reveal, agency=agency)
    err.print(f"{done.objects:,} STIX objects ({done.indicators:,} indicators, "
              f"{done.victims:,} victims) -> {out}")  # fmt: skip


def stix_import(
    bundle: Annotated[Path, typer.Argument(help="STIX bundle written by scamtrace share stix")],
    out: Annotated[Path, typer.Option("--out", "-o", help="findings folder to write")],
    overwrite: Overwrite = False,
) -> None:
    """Read a bundle written by ``share stix`` back into a findings folder (entities.csv,
    centers.csv, networks.csv).

    Example:

        scamtrace share stix-import small-1.stix.json --out findings/from-partner
    """
    from scamtrace.share.export.base import write_findings
    from scamtrace.share.export.stix import import_stix_file

    _refuse(out, overwrite, bundle)
    findings = import_stix_file(bundle)
    write_findings(findings, out)
    _imported(findings, out)


def misp(
    findings_dir: FindingsArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="MISP feed folder to write")],
    case_dir: Annotated[Path | None, typer.Option(
        "--case", help="case folder: adds the banks of mule accounts")] = None,
    tlp: Tlp = "amber",
    reveal: Reveal = False,
    org: Annotated[str, typer.Option(help="organisation named as the events' creator")] = (
        "scamtrace user"
    ),
    overwrite: Overwrite = False,
) -> None:
    """Export findings as a MISP feed folder (one event per network, manifest.json,
    hashes.csv), made offline with pymisp; victims' numbers only with --reveal.

    Example:

        scamtrace share misp findings/small-1 --out feeds/small-1 --case cases/small-1
    """
    from scamtrace.share.export.misp import write_feed

    _refuse(out, overwrite, findings_dir, case_dir)
    done = write_feed(findings_dir, out, reveal=reveal, tlp=tlp, org=org, case_dir=case_dir)
    err.print(f"{done.events} MISP events ({done.attributes:,} attributes, {done.objects:,} "
              f"objects, {done.victims:,} victims) -> {out}")  # fmt: skip


def misp_import(
    feed: Annotated[Path, typer.Argument(help="MISP feed folder written by scamtrace share misp")],
    out: Annotated[Path, typer.Option("--out", "-o", help="findings folder to write")],
    overwrite: Overwrite = False,
) -> None:
    """Read a feed folder written by ``share misp`` back into a findings folder (entities.csv
    with kind, value, network, center and the score to two decimals; centers.csv and
    networks.csv as exported).

    Example:

        scamtrace share misp-import feeds/small-1 --out findings/from-partner
    """
    from scamtrace.share.export.base import write_findings
    from scamtrace.share.export.misp import import_feed

    _refuse(out, overwrite, feed)
    findings = import_feed(feed)
    write_findings(findings, out)
    _imported(findings, out)


def _imported(findings: Findings, out: Path) -> None:
    err.print(f"{len(findings.entities):,} entities, {len(findings.centers)} centers, "
              f"{len(findings.networks)} networks -> {out}")  # fmt: skip


def ftm(
    findings_dir: FindingsArg,
    case_dir: Annotated[Path | None, typer.Argument(
        help="case folder (optional): banks and, with --reveal, account holders")] = None,
    out: Annotated[str, typer.Option("--out", "-o", help="JSON-lines file, or - for stdout")] = "-",
    reveal: Reveal = False,
    overwrite: Overwrite = False,
) -> None:
    """Export findings as FollowTheMoney entities (JSON lines) for Aleph and other tools:
    Organization, Membership, UserAccount, Call, BankAccount, Payment, Note.

    Example:

        scamtrace share ftm findings/small-1 cases/small-1 --out small-1.ftm.jsonl
    """
    from scamtrace.share.export.base import check_case_dir
    from scamtrace.share.export.ftm import write_ftm

    check_case_dir(case_dir)  # before --out is created
    if out != "-":
        _refuse(Path(out), overwrite, findings_dir, case_dir)
    if out == "-":
        done = write_ftm(findings_dir, sys.stdout, case_dir, reveal=reveal)
    else:
        with Path(out).open("w", encoding="utf-8") as fh:
            done = write_ftm(findings_dir, fh, case_dir, reveal=reveal)
    kinds = ", ".join(f"{n:,} {s}" for s, n in sorted(done.by_schema.items()))
    err.print(f"{done.entities:,} FtM entities ({kinds}) -> {out}")


def ftm_import(
    source: Annotated[str, typer.Argument(
        help="JSON-lines file written by scamtrace share ftm, or - for stdin")],
    out: Annotated[Path, typer.Option("--out", "-o", help="findings folder to write")],
    overwrite: Overwrite = False,
) -> None:
    """Read FollowTheMoney entities written by ``share ftm`` back into a findings folder
    (entities.csv, centers.csv, networks.csv, from the rows the entities carry).

    Example:

        scamtrace share ftm-import small-1.ftm.jsonl --out findings/from-partner
    """
    from scamtrace.share.export.base import write_findings
    from scamtrace.share.export.ftm import import_ftm

    if source == "-":
        _refuse(out, overwrite)
        findings = import_ftm(sys.stdin, "<stdin>")
    else:
        path = Path(source)
        _refuse(out, overwrite, path)
        try:
            with path.open(encoding="utf-8") as fh:
                findings = import_ftm(fh, source)
        except (OSError, UnicodeDecodeError) as exc:
            from scamtrace.core.errors import FindingsError

            raise FindingsError(f"{source}: cannot read the FtM entities: {exc}") from exc
    write_findings(findings, out)
    _imported(findings, out)


def keygen(
    out: Annotated[Path, typer.Option("--out", "-o", help="private key file (PEM) to write")],
    overwrite: Annotated[bool, typer.Option(help="replace existing key files")] = False,
) -> None:
    """Make the agency's Ed25519 signing key: OUT (private, mode 0600) and OUT with .pub.

    Example:

        scamtrace share signing-key --out keys/agency.pem
    """
    from scamtrace.share.package import fingerprint, load_private_key, raw_public
    from scamtrace.share.package import keygen as make_key

    private, public = make_key(out, overwrite=overwrite)
    print_fp = fingerprint(raw_public(load_private_key(private).public_key()))
    err.print(f"private key -> {private} (keep it secret)\npublic key -> {public} "
              f"(give it to whoever verifies)\nfingerprint {print_fp}")  # fmt: skip


def package(
    findings_dir: FindingsArg,
    key: Annotated[Path, typer.Option("--key", help="agency's Ed25519 private key (PEM)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="case package folder to write")],
    case_dir: Annotated[Path | None, typer.Option(
        "--case", help="case folder: its files are hashed into the manifest")] = None,
    tlp: Tlp = "amber",
    reveal: Reveal = False,
    agency: Agency = "scamtrace user",
    overwrite: Overwrite = False,
) -> None:
    """Write a signed case package: the findings and report, the STIX, MISP and FtM exports,
    and manifest.json with the SHA-256 of every input and output file, signed (Ed25519).
    Without --reveal no file of it holds personal data: victims' numbers, callees, victims'
    accounts are keyed pseudonyms (the key is derived from your signing key and never leaves
    you), the report is rendered from those, and the package is refused if one is left.

    Example:

        scamtrace share package findings/small-1 --case cases/small-1 --key keys/agency.pem --out pkg/small-1
    """  # noqa: E501
    from scamtrace.share.package import build_package

    manifest = build_package(findings_dir, key, out, case_dir=case_dir, reveal=reveal, tlp=tlp,
                             agency=agency, overwrite=overwrite)  # fmt: skip
    err.print(f"{len(manifest['files'])} files and {len(manifest['inputs'])} inputs hashed, "
              f"signed by {manifest['signature']['key_fingerprint']} -> {out}")  # fmt: skip
    redaction = manifest.get("redaction")
    if redaction:
        err.print(f"personal data replaced by {redaction['pseudonyms']:,} keyed pseudonyms "
                  "(--reveal to package the findings as they are)", highlight=False)  # fmt: skip
        for withheld in redaction["withheld"]:
            err.print(Text.assemble(("withheld", "bold yellow"), f" {withheld}: not a file the "
                                    "package can pseudonymise"), highlight=False)  # fmt: skip
    else:
        err.print(Text("--reveal: the package holds victims' numbers and other personal data",
                       style="bold yellow"))


def verify(
    pkg: Annotated[Path, typer.Argument(help="case package folder")],
    pubkey: Annotated[Path | None, typer.Option(
        "--pubkey", help="the signing agency's public key (PEM), as you got it from that "
                         "agency: proves who signed")] = None,
    keyring: Annotated[Path | None, typer.Option(
        "--keyring", help="folder of the public keys (*.pub) of the agencies you trust: the "
                          "package must be signed by one of them")] = None,
    case_dir: Annotated[Path | None, typer.Option(
        "--case", help="also check the case folder's files against the manifest (changed, "
                       "missing or added)")] = None,
    trust_embedded_key: Annotated[bool, typer.Option(
        "--trust-embedded-key", "--integrity-only",
        help="without --pubkey or --keyring: trust the key the manifest names itself; this "
             "checks only that the files match the manifest, which anyone who changed the "
             "package could have re-signed")] = False,
) -> None:
    """Check a case package: every file against the manifest's SHA-256, no file added or
    missing, and the signature against a key you trust: the agency's public key (--pubkey)
    or a keyring of the agencies' keys (--keyring). A package re-signed with another key
    fails. Trusting the key inside the package needs --trust-embedded-key, and says so.
    Exits 1 and names each file that fails.

    Example:

        scamtrace share verify pkg/small-1 --pubkey keys/agency.pub
    """
    from scamtrace.share.package import PackageError, verify_package

    if pubkey is None and keyring is None and not trust_embedded_key:
        raise PackageError(f"{pkg}: no trusted key: pass --pubkey with the signing agency's "
                           "public key or --keyring with a folder of trusted keys (or "
                           "--trust-embedded-key, which does not prove who signed)")  # fmt: skip
    if trust_embedded_key and (pubkey is not None or keyring is not None):
        raise PackageError("--trust-embedded-key goes without --pubkey and --keyring")
    result = verify_package(pkg, pubkey, case_dir, keyring=keyring)
    for problem in result.problems:
        err.print(Text.assemble(("FAILED", "bold red"), f" {problem}"), soft_wrap=True)
    if not result.trusted_key:
        err.print(Text.assemble(
            ("TRUSTING THE KEY INSIDE THE PACKAGE: this does not prove who signed it.",
             "bold red"),
            " Anyone who changed it could have re-signed it with a key of their own; only "
            "--pubkey or --keyring with the agency's key proves it came from them."),
            soft_wrap=True)  # fmt: skip
    if not result.ok:
        raise typer.Exit(1)
    whose = (f"the trusted key {result.key_file}" if result.trusted_key
             else "the key the manifest names itself")  # fmt: skip
    err.print(f"verified: {result.files} files unchanged, signature valid for {whose}, "
              f"{result.key_fingerprint}")  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the export and case-package commands to ``app``."""
    app.command()(stix)
    app.command("stix-import")(stix_import)
    app.command()(misp)
    app.command("misp-import")(misp_import)
    app.command()(ftm)
    app.command("ftm-import")(ftm_import)
    app.command("signing-key")(keygen)
    app.command()(package)
    app.command()(verify)
