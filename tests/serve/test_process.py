"""The real service as a process on loopback: killed with -9 and restarted, over TLS, against
stuck clients and random bytes. Only the engine is the fake one (tests/serve/fake_engine.py)."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scamtrace.serve.access import token_hash
from tests.serve.test_app import CALLED, CALLER, call_request, carrier_call, complaint, lines

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    def __init__(self, process: subprocess.Popen[bytes], port: int, context: Any) -> None:
        self.stderr = ""  # what the process printed, once it has ended
        self.process = process
        self.port = port
        self.context = context

    def connection(self) -> http.client.HTTPConnection:
        if self.context is not None:
            return http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=10, context=self.context
            )
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def request(
        self, method: str, path: str, body: bytes | None = None, token: str | None = None
    ) -> tuple[int, bytes]:
        connection = self.connection()
        headers = {"authorization": f"Bearer {token}"} if token else {}
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()


@contextmanager
def running(state: Path, context: Any = None, **options: Any) -> Iterator[Service]:
    port = free_port()
    config = json.dumps({"state": str(state), "port": port, **options})
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "serve" / "run_fake_service.py"), config],
        env=env,
        stderr=subprocess.PIPE,
    )
    service = Service(process, port, context)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if service.request("GET", "/healthz")[0] == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"service did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.1)
        yield service
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stderr is not None:
            service.stderr = process.stderr.read().decode(errors="replace")
            process.stderr.close()


def test_every_acknowledged_event_survives_kill_9_and_none_is_applied_twice(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    acknowledged = 0
    with running(state) as service:
        for batch in range(5):
            events = [carrier_call(f"k{batch}-{i}") for i in range(4)]
            status, _ = service.request("POST", "/v1/events", lines(*events))
            assert status == 200
            acknowledged += len(events)
        assert service.request("POST", "/v1/events", lines(complaint()))[0] == 200
        # one more upload in flight (headers and half the body sent) when the process dies
        in_flight = socket.create_connection(("127.0.0.1", service.port))
        body = lines(carrier_call("k-lost"))
        head = f"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        in_flight.sendall(head.encode() + body[:10])
        os.kill(service.process.pid, signal.SIGKILL)
        service.process.wait(timeout=10)
        in_flight.close()

    printed = service.stderr
    with running(state) as service:
        health = json.loads(service.request("GET", "/healthz")[1])
        assert health["replayed"] == acknowledged + 1
        status, view = service.request("GET", f"/v1/entities/number/{CALLER}")
        assert status == 200
        assert json.loads(view)["recent"]["calls"] == float(acknowledged)  # each once
        status, decision = service.request(
            "POST", "/v1/calls/score", json.dumps(call_request()).encode()
        )
        assert json.loads(decision)["action"] == "block"
        # a client retrying an acknowledged event changes nothing
        status, answer = service.request("POST", "/v1/events", lines(carrier_call("k0-0")))
        assert json.loads(answer)["duplicates"] == 1
    printed += service.stderr
    assert "events replayed" in printed
    for number in (CALLER, CALLER.lstrip("+"), CALLED.lstrip("+")):
        assert number not in printed


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_and_tokens_over_the_wire(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    tokens = tmp_path / "tokens.json"
    token = "carrier-token-0123456789abcdef"
    tokens.write_text(
        json.dumps(
            {
                "institutions": [
                    {
                        "name": "carrier-a",
                        "token_sha256": token_hash(token),
                        "scopes": ["calls:score"],
                    }
                ]
            }
        )
    )
    context = ssl.create_default_context(cafile=str(cert))
    options = {"cert": str(cert), "key": str(key), "tokens": str(tokens)}
    with running(tmp_path / "state", context, **options) as service:
        score = json.dumps(call_request()).encode()
        assert service.request("POST", "/v1/calls/score", score)[0] == 401
        status, answer = service.request("POST", "/v1/calls/score", score, token=token)
        assert status == 200
        assert json.loads(answer)["action"] == "allow"
        plain = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)
        with pytest.raises((OSError, http.client.HTTPException)):
            plain.request("GET", "/healthz")
            plain.getresponse().read()
        plain.close()


def test_stuck_clients_do_not_hold_the_service_and_are_cut_off(tmp_path: Path) -> None:
    with running(tmp_path / "state", header_timeout_ms=500, body_timeout_s=0.5) as service:
        silent = socket.create_connection(("127.0.0.1", service.port))
        half_headers = socket.create_connection(("127.0.0.1", service.port))
        half_headers.sendall(b"POST /v1/calls/score HTTP/1.1\r\nHost: x\r\n")
        half_body = socket.create_connection(("127.0.0.1", service.port))
        half_body.sendall(
            b"POST /v1/calls/score HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
        )
        score = json.dumps(call_request()).encode()
        # one whole request answered, then half the headers of the next on the same connection
        second_stalls = socket.create_connection(("127.0.0.1", service.port))
        second_stalls.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1/calls/score HTTP/1.1\r\n"
        )
        assert service.request("POST", "/v1/calls/score", score)[0] == 200
        for stuck in (silent, half_headers, half_body, second_stalls):
            stuck.settimeout(5)
            received = b""
            try:
                while chunk := stuck.recv(4096):  # until the service closes it
                    received += chunk
            except ConnectionResetError:
                pass
            stuck.close()
            if stuck is half_body:
                assert received.startswith(b"HTTP/1.1 408")
            if stuck is second_stalls:
                assert received.startswith(b"HTTP/1.1 200")
                assert received.count(b"HTTP/1.1") == 1
        assert service.request("GET", "/healthz")[0] == 200


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(
        [
            "/v1/calls/score",
            "/v1/calls/score/batch",
            "/v1/transfers/score",
            "/v1/transfers/score/batch",
            "/v1/events",
            "/v1/entities/number/x",
        ]
    ),
    body=st.binary(max_size=512),
)
def test_random_bytes_over_the_wire_are_never_a_5xx(
    fuzzed_service: Service, path: str, body: bytes
) -> None:
    method = "GET" if path.startswith("/v1/entities") else "POST"
    status, answer = fuzzed_service.request(method, path, body if method == "POST" else None)
    assert status < 500, answer


@pytest.fixture(scope="module")
def fuzzed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running(tmp_path_factory.mktemp("fuzz")) as service:
        yield service
