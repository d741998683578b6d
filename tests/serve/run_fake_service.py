"""Run the real service (uvicorn, state, access, audit) around the fake engine, as a process.

``python tests/serve/run_fake_service.py CONFIG_JSON``: the tests start it, kill it and start
it again; only the engine is the fake one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

from scamtrace.serve.app import Limits, ServeConfig, serve
from scamtrace.serve.sip import SipOptions
from tests.serve.fake_engine import FakeEngine


class _Options(msgspec.Struct):
    state: str
    port: int
    host: str = "127.0.0.1"
    tokens: str | None = None
    cert: str | None = None
    key: str | None = None
    header_timeout_ms: int = 5000
    body_timeout_s: float = 10.0
    sip_port: int | None = None
    sip_institution: str = "sip"


def main(argv: list[str]) -> None:
    options = msgspec.json.decode(argv[0], type=_Options)
    config = ServeConfig(
        state=Path(options.state),
        host=options.host,
        port=options.port,
        tokens=Path(options.tokens) if options.tokens else None,
        cert=Path(options.cert) if options.cert else None,
        key=Path(options.key) if options.key else None,
        header_timeout_ms=options.header_timeout_ms,
        limits=Limits(body_timeout_s=options.body_timeout_s),
        sip=SipOptions(port=options.sip_port, institution=options.sip_institution)
        if options.sip_port is not None
        else None,
    )
    serve(config, engine=FakeEngine())


if __name__ == "__main__":
    main(sys.argv[1:])
