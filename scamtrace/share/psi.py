"""Private set intersection: how many numbers two agencies share, and nothing more.

Before a formal request is approved, an agency may only learn whether (and how much) the other
side's data bears on its case. ``openmined-psi`` (ECDH with a Golomb-compressed set) lets a
client learn the size of the overlap of its set with the server's, while the server learns only
the size of the client's set; neither sees the other's elements, blinded or not.

The two processes talk over TCP: each message is a 4-byte big-endian length and the serialised
protobuf. Elements are normalised E.164 numbers, or their keyed hashes when a case key is
given (then only holders of the key could even form comparable elements).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from pathlib import Path

from scamtrace.errors import ScamtraceError

#: Probability that the overlap count is off by a false positive, for the whole query.
FALSE_POSITIVE_RATE = 1e-9
MAX_MESSAGE = 1 << 30
_LENGTH = struct.Struct(">I")


class PsiError(ScamtraceError):
    """A set or a peer that the protocol cannot work with."""


def load_items(path: Path, country: str, key_file: Path | None = None) -> list[str]:
    """Distinct numbers of ``path`` (one a line, or the first CSV column; a header is skipped)
    as E.164, or as keyed hashes with the case key from ``key_file``/``$SCAMTRACE_CASE_KEY``
    when ``key_file`` is given."""
    from scamtrace.share.exchange import ExchangeError, extra_numbers

    try:
        numbers = {f"+{n}" for n in extra_numbers(path, country)}
    except ExchangeError as exc:
        raise PsiError(str(exc)) from exc
    if key_file is None:
        return sorted(numbers)
    from scamtrace.share.exchange import keyed, load_key

    return sorted(keyed(load_key(key_file), "phone", numbers).values())


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def _receive(sock: socket.socket) -> bytes:
    (size,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size))
    if size > MAX_MESSAGE:
        raise PsiError(f"peer sent a message of {size:,} bytes; refusing more than {MAX_MESSAGE:,}")
    return _exactly(sock, size)


def _exactly(sock: socket.socket, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise PsiError("the peer closed the connection mid-message")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def serve(
    items: list[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    once: bool = True,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Answer PSI clients on ``host:port`` (``on_ready`` gets the bound port)."""
    import private_set_intersection.python as psi

    with socket.create_server((host, port)) as listener:
        if on_ready is not None:
            on_ready(listener.getsockname()[1])
        while True:
            conn, _ = listener.accept()
            with conn:
                # A fresh key per client: two clients' blinded sets cannot be compared.
                server = psi.server.CreateWithNewKey(False)
                request = psi.Request()
                request.ParseFromString(_receive(conn))
                asked = max(1, len(request.encrypted_elements))
                setup = server.CreateSetupMessage(FALSE_POSITIVE_RATE, asked, items)
                _send(conn, setup.SerializeToString())
                _send(conn, server.ProcessRequest(request).SerializeToString())
            if once:
                return


def count(items: list[str], *, host: str = "127.0.0.1", port: int, timeout_s: float = 60) -> int:
    """How many of ``items`` the server at ``host:port`` also holds."""
    import private_set_intersection.python as psi

    client = psi.client.CreateWithNewKey(False)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as conn:
            _send(conn, client.CreateRequest(items).SerializeToString())
            setup = psi.ServerSetup()
            setup.ParseFromString(_receive(conn))
            response = psi.Response()
            response.ParseFromString(_receive(conn))
    except OSError as exc:
        raise PsiError(f"{host}:{port}: cannot talk to the PSI server: {exc}") from exc
    return int(client.GetIntersectionSize(setup, response))
