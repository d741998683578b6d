"""``scamtrace share case-key|request|answer|merge|resolve|psi-*``: the two-agency exchange."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

# no markup: paths and values printed here may hold "[/x]" (rich would fail on it)
out = Console(markup=False)
err = Console(stderr=True, markup=False)

KeyOption = Annotated[
    Path | None,
    typer.Option("--key", "-k", help="case key file (hex, mode 0600); else $SCAMTRACE_CASE_KEY"),
]
Overwrite = Annotated[bool, typer.Option(help="replace the output file if it exists")]
#: How a request or answer is written: by the suffix of --out.
FORMS = "JSON, or Parquet or Arrow IPC by the suffix .parquet or .arrow (a fraction of the size)"


def _key(path: Path | None) -> bytes:
    from scamtrace.share.exchange.keys import load_key

    return load_key(path)


def keygen(
    path: Annotated[Path, typer.Argument(help="key file to write (mode 0600)")],
    overwrite: Annotated[bool, typer.Option(help="replace an existing key file")] = False,
) -> None:
    """Make a new random case key (32 bytes, hex) for an exchange; agree it with the other
    agency over a secure channel, never with the request or answer.

    Example:

        scamtrace share case-key case.key
    """
    from scamtrace.share.exchange.keys import write_key

    out.print(f"case key written to {path} (key id {write_key(path, overwrite=overwrite)})")


def request(
    findings: Annotated[Path, typer.Argument(help="your findings folder (scamtrace detect)")],
    case: Annotated[Path, typer.Argument(help="your case folder (with carrier_cdr)")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help=f"request to write: {FORMS}")],
    key: KeyOption = None,
    tolerance: Annotated[int, typer.Option(
        help="seconds either side of each call, 0..3600")] = 10,
    overwrite: Overwrite = False,
) -> None:
    """Agency A: the suspicious calls (hashed callee, time, hashed caller ID) and spoofed
    caller IDs for the other side to look up; every number is an HMAC with the case key.

    Example:

        scamtrace share request findings/CN cases/x-split/CN --key case.key --out request.json

        scamtrace share request findings/CN cases/x-split/CN --key case.key --out request.parquet
    """
    from scamtrace.share.exchange.messages import check_tolerance
    from scamtrace.share.exchange.request import write_request

    check_tolerance(tolerance, "--tolerance")
    stats = write_request(findings, case, _key(key), out_file, tolerance_s=tolerance,
                          overwrite=overwrite)  # fmt: skip
    out.print(f"request -> {out_file}: {stats.calls:,} calls to {stats.callees:,} numbers, "
              f"{stats.caller_ids:,} flagged caller IDs, all as keyed hashes")  # fmt: skip


def answer(
    request_file: Annotated[Path, typer.Argument(
        help="the request received (JSON, Parquet or Arrow)")],
    case: Annotated[Path, typer.Argument(help="your case folder (with voip_cdr)")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help=f"answer to write: {FORMS}")],
    key: KeyOption = None,
    line_key: Annotated[Path | None, typer.Option(
        "--line-key", help="your own secret for the pseudonyms of your unflagged lines (made, "
                           "mode 0600, if missing); else $SCAMTRACE_LINE_KEY, else "
                           "~/.config/scamtrace/line.key. Never give it to the other side")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Agency B: match the request against your VoIP records; return the dialling lines you
    flag (SIP accounts, IPs with country and network, their calls with hashed numbers), and
    other lines only as a pseudonym with the calls asked about. The pseudonyms are keyed with
    your own line key, not the case key, so the other side cannot test guesses of your
    customers' account names.

    Example:

        scamtrace share answer request.json cases/x-split/ES --key case.key --out answer.json
    """
    from scamtrace.share.exchange.answer import write_answer
    from scamtrace.share.exchange.keys import load_line_key

    case_key = _key(key)
    secret, where = load_line_key(line_key)
    s = write_answer(request_file, case, case_key, out_file, line_key=secret,
                     overwrite=overwrite)  # fmt: skip
    out.print(f"answer -> {out_file}: {s.matched:,} of {s.requested:,} calls found; "
              f"{s.lines_disclosed} dialling lines disclosed, {s.lines_pseudonymous} other "
              f"lines as pseudonyms; {s.calls_returned:,} calls, {s.numbers_returned:,} "
              "hashed numbers")  # fmt: skip
    err.print(f"unflagged lines pseudonymised with your line key {where}", highlight=False)


def merge(
    answer_file: Annotated[Path, typer.Argument(
        help="the answer received (JSON, Parquet or Arrow)")],
    case: Annotated[Path, typer.Argument(help="your case folder (the half without voip_cdr)")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="merged case folder to write")],
    key: KeyOption = None,
    findings: Annotated[
        Path | None, typer.Option(help="also run detect on the merged case into this folder")
    ] = None,
    numbers: Annotated[
        Path | None,
        typer.Option(help="more numbers you lawfully hold (one a line) to re-identify hashes"),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace OUT (and FINDINGS) if they exist")] = (
        False
    ),
) -> None:
    """Agency A: add the answer to your case as voip_cdr rows (numbers you hold re-identified,
    the rest kept as leads in exchange/unresolved.csv), and optionally re-run detect.

    Example:

        scamtrace share merge answer.json cases/x-split/CN --key case.key --out cases/x-merged \\
            --findings findings/x-merged
    """
    from scamtrace.core.casefolder import ensure_apart
    from scamtrace.share.exchange.leads import write_exchange_leads
    from scamtrace.share.exchange.merge import merge_answer

    if findings is not None:
        ensure_apart(findings, out_dir, case, answer_file, numbers, option="--findings")
    s = merge_answer(answer_file, case, _key(key), out_dir, overwrite=overwrite,
                     numbers=numbers)  # fmt: skip
    out.print(f"merged -> {out_dir}: {s.calls:,} calls from {s.lines_disclosed} disclosed "
              f"lines; {s.resolved:,} of {s.numbers:,} numbers re-identified, {s.unresolved:,} "
              "kept as leads")  # fmt: skip
    if findings is not None:
        from scamtrace.core.casefolder import case_lock
        from scamtrace.detect.runner import detect
        from scamtrace.report import write_report

        result = detect(out_dir, findings, overwrite=overwrite)
        with case_lock(findings, purpose="scamtrace share merge"):
            write_report(findings, name=findings.name)
        leads = write_exchange_leads(out_dir, findings)
        flagged = ", ".join(f"{k} {v:,}" for k, v in result.flagged.items())
        out.print(f"findings -> {findings}: {flagged}; {leads:,} leads by keyed hash in "
                  "exchange_leads.csv")  # fmt: skip


def resolve(
    unresolved: Annotated[Path, typer.Argument(help="A's exchange/unresolved.csv (hashes)")],
    numbers: Annotated[Path, typer.Argument(help="your subscribers' numbers, one a line")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="matching numbers to write")],
    country: Annotated[str, typer.Option(help="country of national numbers in the file")] = "CN",
    key: KeyOption = None,
    overwrite: Overwrite = False,
) -> None:
    """A domestic network of agency A: which of your subscribers are among A's leads (by keyed
    hash); A passes your answer to [bold]share merge --numbers[/].

    Example:

        scamtrace share resolve unresolved.csv subscribers.csv --key case.key --out named.csv
    """
    from scamtrace.share.exchange.leads import resolve_leads

    found = resolve_leads(unresolved, numbers, country, _key(key), out_file, overwrite=overwrite)
    out.print(f"{found:,} of your numbers are among the leads -> {out_file}")


def psi_serve(
    numbers: Annotated[Path, typer.Argument(help="your numbers, one a line (or first column)")],
    port: Annotated[int, typer.Option(help="TCP port, 1..65535 (0: any free port)")] = 0,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    country: Annotated[str, typer.Option(help="country of national numbers in the file")] = "CN",
    key: KeyOption = None,
    once: Annotated[bool, typer.Option(help="answer one client, then exit")] = True,
    client_timeout: Annotated[float, typer.Option(
        help="seconds one client may take in all; a slower or silent one is dropped")] = 30.0,
    max_message_mb: Annotated[int, typer.Option(
        help="largest request accepted, in MiB (256: about 7 million numbers)")] = 256,
) -> None:
    """Offer your number set for private set intersection: a client learns only how many of
    its numbers you also hold; you learn only how many it asked about. Each client is answered
    in its own thread within --client-timeout; one that sends garbage, nothing, or too much is
    dropped (named on stderr) and the others are served.

    Example:

        scamtrace share psi-serve my-numbers.csv --port 5555 --country ES
    """
    from scamtrace.share.exchange.psi import PsiError, check_port, load_items, serve

    check_port(port, any_port=True)
    if client_timeout <= 0 or max_message_mb <= 0:
        raise PsiError("--client-timeout and --max-message-mb must be positive")
    items = load_items(numbers, country, key)

    def ready(bound: int) -> None:
        out.print(f"PSI server on {host}:{bound} with {len(items):,} numbers", highlight=False)

    def dropped(why: str) -> None:
        err.print(Text.assemble(("dropped", "bold yellow"), f" {why}"), highlight=False,
                  soft_wrap=True)  # fmt: skip

    serve(items, host=host, port=port, once=once, on_ready=ready, on_drop=dropped,
          client_timeout_s=client_timeout, max_message=max_message_mb << 20)  # fmt: skip


def psi_count(
    numbers: Annotated[Path, typer.Argument(help="your numbers, one a line (or first column)")],
    port: Annotated[int, typer.Option(help="the server's TCP port (1..65535)")],
    host: Annotated[str, typer.Option(help="the server's address")] = "127.0.0.1",
    country: Annotated[str, typer.Option(help="country of national numbers in the file")] = "CN",
    key: KeyOption = None,
) -> None:
    """Ask a PSI server how many of your numbers it also holds; nothing else is revealed.

    Example:

        scamtrace share psi-count victims.csv --port 5555 --country CN
    """
    from scamtrace.share.exchange.psi import check_port, count, load_items

    check_port(port)
    items = load_items(numbers, country, key)
    overlap = count(items, host=host, port=port)
    out.print(f"overlap: {overlap:,} of your {len(items):,} numbers")


def register(app: typer.Typer) -> None:
    """Add the exchange commands to ``app``."""
    app.command("case-key")(keygen)
    app.command("request")(request)
    app.command("answer")(answer)
    app.command("merge")(merge)
    app.command("resolve")(resolve)
    app.command("psi-serve")(psi_serve)
    app.command("psi-count")(psi_count)
