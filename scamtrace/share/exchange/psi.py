"""Private set intersection: how many numbers two agencies share, and nothing more.

Before a formal request is approved, an agency may only learn whether (and how much) the other
side's data bears on its case. ``openmined-psi`` (ECDH with a Golomb-compressed set) lets a
client learn the size of the overlap of its set with the server's, while the server learns only
the size of the client's set; neither sees the other's elements, blinded or not.

The two processes talk over TCP: each message is a 4-byte big-endian length and the serialised
protobuf. Elements are normalised E.164 numbers, or their keyed hashes when a case key is
given (then only holders of the key could even form comparable elements).

The server faces whoever can reach its port, so it trusts no client: each one is answered in
its own thread with a deadline for its whole exchange (a silent or slow client is dropped when
it passes, and never holds up the others), a message may announce at most ``MAX_MESSAGE``
bytes, and whatever one client sends (garbage, half a message, nothing) ends only that
client's connection, named through ``on_drop``.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

from scamtrace.core.errors import ScamtraceError

#: Probability that the overlap count is off by a false positive, for the whole query.
FALSE_POSITIVE_RATE = 1e-9
#: Largest message either side accepts: 256 MiB holds a request of about 7 million numbers
#: (33 bytes each); a peer that announces more is refused before anything is read.
MAX_MESSAGE = 256 << 20
#: Seconds one client may take, from connecting to its answer: a client that connects and
#: sends nothing (or a byte a minute) is dropped, and it never holds up the others.
CLIENT_TIMEOUT_S = 30.0
#: Clients answered at the same time; more wait in the listen queue.
MAX_CLIENTS = 4
_LENGTH = struct.Struct(">I")


class PsiError(ScamtraceError):
    """A set or a peer that the protocol cannot work with."""


def check_port(port: int, *, any_port: bool = False) -> int:
    """``port`` if it is a TCP port (1..65535, or 0 for any free port where ``any_port``)."""
    low = 0 if any_port else 1
    if not low <= port <= 65535:
        raise PsiError(f"--port {port}: not a TCP port; use {low}..65535"
                       + (" (0: any free port)" if any_port else ""))  # fmt: skip
    return port


def load_items(path: Path, country: str, key_file: Path | None = None) -> list[str]:
    """Distinct numbers of ``path`` (one a line, or the first CSV column; a header is skipped)
    as E.164, or as keyed hashes with the case key from ``key_file``/``$SCAMTRACE_CASE_KEY``
    when ``key_file`` is given."""
    from scamtrace.share.exchange.merge import extra_numbers
    from scamtrace.share.exchange.messages import ExchangeError

    try:
        numbers = {f"+{n}" for n in extra_numbers(path, country)}
    except ExchangeError as exc:
        raise PsiError(str(exc)) from exc
    if key_file is None:
        return sorted(numbers)
    from scamtrace.share.exchange.keys import keyed, load_key

    return sorted(keyed(load_key(key_file), "phone", numbers).values())


def _send(sock: socket.socket, payload: bytes, deadline: float | None = None) -> None:
    _until(sock, deadline)
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def _receive(sock: socket.socket, deadline: float | None = None,
             limit: int = MAX_MESSAGE) -> bytes:  # fmt: skip
    (size,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size, deadline))
    if size > limit:
        raise PsiError(f"peer sent a message of {size:,} bytes; refusing more than {limit:,}")
    return _exactly(sock, size, deadline)


def _until(sock: socket.socket, deadline: float | None) -> None:
    """Let the next socket call wait only until ``deadline`` (``time.monotonic``)."""
    if deadline is None:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise PsiError("the peer took too long; dropped")
    sock.settimeout(left)


def _exactly(sock: socket.socket, n: int, deadline: float | None = None) -> bytes:
    chunks, left = [], n
    while left:
        _until(sock, deadline)
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise PsiError("the peer closed the connection mid-message")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _answer(conn: socket.socket, items: list[str], deadline: float, limit: int) -> None:
    """One client's whole exchange: its request in, the setup and the response out."""
    import private_set_intersection.python as psi
    from google.protobuf.message import DecodeError

    # A fresh key per client: two clients' blinded sets cannot be compared.
    server = psi.server.CreateWithNewKey(False)
    request = psi.Request()
    try:
        request.ParseFromString(_receive(conn, deadline, limit))
    except DecodeError as exc:
        raise PsiError("not a PSI request") from exc
    asked = max(1, len(request.encrypted_elements))
    setup = server.CreateSetupMessage(FALSE_POSITIVE_RATE, asked, items)
    try:
        response = server.ProcessRequest(request)
    except (RuntimeError, ValueError) as exc:  # points that are not on the curve
        raise PsiError(f"not a valid PSI request: {exc}") from exc
    _send(conn, setup.SerializeToString(), deadline)
    _send(conn, response.SerializeToString(), deadline)


def serve(
    items: list[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    once: bool = True,
    on_ready: Callable[[int], None] | None = None,
    on_drop: Callable[[str], None] | None = None,
    client_timeout_s: float = CLIENT_TIMEOUT_S,
    max_message: int = MAX_MESSAGE,
    max_clients: int = MAX_CLIENTS,
    stop: threading.Event | None = None,
) -> int:
    """Answer PSI clients on ``host:port`` (``on_ready`` gets the bound port), each in its own
    thread with ``client_timeout_s`` for its whole exchange and messages of at most
    ``max_message`` bytes. A client that fails (malformed, silent, too slow, gone) is dropped
    and named to ``on_drop``; the server goes on. With ``once`` it returns after the first
    client it answered; otherwise when ``stop`` is set. Returns the clients answered."""
    check_port(port, any_port=True)
    if client_timeout_s <= 0 or max_message <= 0 or max_clients <= 0:
        raise PsiError("client timeout, message size and clients must be positive")
    try:
        listener = socket.create_server((host, port))
    except (OSError, OverflowError) as exc:
        raise PsiError(f"{host}:{port}: cannot listen: {exc}") from exc
    answered = threading.Semaphore(0)
    slots = threading.BoundedSemaphore(max_clients)
    count_lock = threading.Lock()
    done = 0

    def handle(conn: socket.socket, peer: str) -> None:
        nonlocal done
        try:
            with conn:
                _answer(conn, items, time.monotonic() + client_timeout_s, max_message)
            with count_lock:
                done += 1
            answered.release()
        except Exception as exc:  # whatever one client did, the server goes on serving others
            reason = "took too long; dropped" if isinstance(exc, TimeoutError) else str(exc)
            if on_drop is not None:
                on_drop(f"client {peer}: {reason or type(exc).__name__}")
        finally:
            slots.release()

    with listener:
        listener.settimeout(0.2)  # wake up to see whether to stop
        if on_ready is not None:
            on_ready(listener.getsockname()[1])
        while not (stop is not None and stop.is_set()):
            if once and answered.acquire(blocking=False):
                break
            if not slots.acquire(timeout=0.2):
                continue
            try:
                conn, addr = listener.accept()
            except TimeoutError:
                slots.release()
                continue
            peer = f"{addr[0]}:{addr[1]}"
            threading.Thread(target=handle, args=(conn, peer), daemon=True,
                             name=f"psi {peer}").start()  # fmt: skip
    return done


def count(items: list[str], *, host: str = "127.0.0.1", port: int, timeout_s: float = 60) -> int:
    """How many of ``items`` the server at ``host:port`` also holds."""
    import private_set_intersection.python as psi
    from google.protobuf.message import DecodeError

    check_port(port)
    client = psi.client.CreateWithNewKey(False)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as conn:
            deadline = time.monotonic() + timeout_s
            _send(conn, client.CreateRequest(items).SerializeToString(), deadline)
            setup = psi.ServerSetup()
            setup.ParseFromString(_receive(conn, deadline))
            response = psi.Response()
            response.ParseFromString(_receive(conn, deadline))
            return int(client.GetIntersectionSize(setup, response))
    except (OSError, OverflowError) as exc:
        raise PsiError(f"{host}:{port}: cannot talk to the PSI server: {exc}") from exc
    except (DecodeError, RuntimeError) as exc:
        raise PsiError(f"{host}:{port}: the PSI server's answer is not valid: {exc}") from exc
