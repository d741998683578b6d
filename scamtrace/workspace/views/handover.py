"""Hand a case over from the UI: the STIX bundle, the MISP feed (zip), the FollowTheMoney
entities and the signed case package (zip), made by :mod:`scamtrace.share` exactly as
``scamtrace share`` makes them, never with personal data (no ``--reveal`` from the browser).

The package is signed with the workspace's Ed25519 key (``--signing-key``, else
``<state>/signing-key.pem``, made on first use); its public key is offered for download so the
receiver can run ``scamtrace share verify PKG --pubkey``. Every download is audited.
"""

from __future__ import annotations

import io
import tempfile
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scamtrace.core.errors import ScamtraceError
from scamtrace.workspace.server import Workspace
from scamtrace.workspace.web import Ctx, guard, render

_key_lock = threading.Lock()


def signing_key(ws: Workspace) -> Path:
    """The workspace's signing key, made (0600, with its ``.pub``) on first use."""
    from scamtrace.share.package import keygen

    path = ws.settings.signing_key or ws.settings.state_dir / "signing-key.pem"
    with _key_lock:
        if not path.is_file():
            keygen(path)
    return path


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _stix(ctx: Ctx, work: Path) -> bytes:
    from scamtrace.share.export.stix import write_stix

    out = work / "bundle.json"
    write_stix(ctx.data().findings_dir, out, agency=ctx.workspace.settings.agency)
    return out.read_bytes()


def _misp(ctx: Ctx, work: Path) -> bytes:
    from scamtrace.share.export.misp import write_feed

    out = work / "misp-feed"
    write_feed(ctx.data().findings_dir, out, org=ctx.workspace.settings.agency,
               case_dir=ctx.data().case_dir)  # fmt: skip
    return _zip_folder(out)


def _ftm(ctx: Ctx, work: Path) -> bytes:
    from scamtrace.share.export.ftm import write_ftm

    out = work / "ftm.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        write_ftm(ctx.data().findings_dir, fh, ctx.data().case_dir)
    return out.read_bytes()


def _package(ctx: Ctx, work: Path) -> bytes:
    from scamtrace.share.package import build_package

    out = work / "package"
    build_package(ctx.data().findings_dir, signing_key(ctx.workspace), out,
                  case_dir=ctx.data().case_dir, agency=ctx.workspace.settings.agency)  # fmt: skip
    return _zip_folder(out)


def _public_key(ctx: Ctx, work: Path) -> bytes:
    return signing_key(ctx.workspace).with_suffix(".pub").read_bytes()


#: What can be downloaded: maker, file name suffix, media type.
MAKERS: dict[str, tuple[Callable[[Ctx, Path], bytes], str, str]] = {
    "stix": (_stix, ".stix.json", "application/json"),
    "misp": (_misp, ".misp-feed.zip", "application/zip"),
    "ftm": (_ftm, ".ftm.jsonl", "application/x-ndjson"),
    "package": (_package, ".package.zip", "application/zip"),
    "signing-key.pub": (_public_key, ".signing-key.pub", "application/x-pem-file"),
}


async def handover_page(request: Request) -> Response:
    ctx = await guard(request, "handover")
    return render(ctx, "handover.html")


async def handover_file(request: Request) -> Response:
    ctx = await guard(request, "handover")
    what = request.path_params["what"]
    if what not in MAKERS:
        raise HTTPException(404, "No such hand-over format.")
    maker, suffix, media = MAKERS[what]

    def make() -> bytes:
        with tempfile.TemporaryDirectory(prefix="scamtrace-handover-") as tmp:
            return maker(ctx, Path(tmp))

    try:
        body = await run_in_threadpool(make)
    except ScamtraceError as exc:
        raise HTTPException(409, f"The {what} could not be made: {exc}") from None
    ctx.audit("handover", what, f"{len(body):,} bytes")
    safe_name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in ctx.case_id)
    return Response(body, media_type=media, headers={
        "content-disposition": f'attachment; filename="{safe_name}{suffix}"'})  # fmt: skip


routes = [
    Route("/cases/{case}/handover", handover_page),
    Route("/cases/{case}/handover/{what}", handover_file),
]
