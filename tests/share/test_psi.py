"""Private set intersection between two processes over a real socket on 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from scamtrace.share.exchange.psi import PsiError, count, load_items

SERVER_NUMBERS = ["+8613800000001", "13800000002", "0086 138 0000 0003", "+8613800000004",
                  "+34600000001"]  # fmt: skip
CLIENT_NUMBERS = ["number", "138-0000-0001", "+8613800000003", "+8613800000004",
                  "+8613800000099", "+34600000002"]  # fmt: skip


def _start_server(numbers: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from scamtrace.cli import main; main()", "share", "psi-serve",
         str(numbers), "--port", "0", "--country", "CN", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"127\.0\.0\.1:(\d+)", line)
    assert found, (line, proc.stderr.read() if proc.stderr else "")
    return proc, int(found.group(1))


def _write(path: Path, numbers: list[str]) -> Path:
    path.write_text("\n".join(numbers) + "\n", encoding="utf-8")
    return path


def test_only_the_overlap_size_crosses(tmp_path: Path) -> None:
    server_file = _write(tmp_path / "b.csv", SERVER_NUMBERS)
    client_file = _write(tmp_path / "a.csv", CLIENT_NUMBERS)
    proc, port = _start_server(server_file)
    try:
        # 01, 03, 04 are shared, however each side wrote them; 099 and the Spanish ones are not
        assert count(load_items(client_file, "CN"), port=port) == 3
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def test_keyed_sets_overlap_only_under_the_same_key(tmp_path: Path) -> None:
    key = tmp_path / "case.key"
    key.write_text("7e" * 32)
    key.chmod(0o600)
    server_file = _write(tmp_path / "b.csv", SERVER_NUMBERS)
    client_file = _write(tmp_path / "a.csv", CLIENT_NUMBERS)
    proc, port = _start_server(server_file, "--key", str(key))
    try:
        assert count(load_items(client_file, "CN", key), port=port) == 3
    finally:
        proc.kill()
    proc, port = _start_server(server_file, "--key", str(key))
    try:
        assert count(load_items(client_file, "CN"), port=port) == 0  # bare numbers vs hashes
    finally:
        proc.kill()


def test_a_bad_number_names_file_and_line(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.csv", ["+8613800000001", "call me"])
    with pytest.raises(PsiError, match=r"bad.csv: line 2: field 1"):
        load_items(bad, "CN")


def test_no_server_is_a_clear_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PsiError, match="cannot talk to the PSI server"):
        count(["+8613800000001"], port=port, timeout_s=2)


def _stop(proc: subprocess.Popen[str]) -> str:
    """Stop a server started by the test and return what it wrote on stderr."""
    proc.kill()
    _, errors = proc.communicate(timeout=30)
    return errors


def test_a_malformed_client_does_not_stop_the_server(tmp_path: Path) -> None:
    import socket
    import struct

    server_file = _write(tmp_path / "b.csv", SERVER_NUMBERS)
    client_items = load_items(_write(tmp_path / "a.csv", CLIENT_NUMBERS), "CN")
    proc, port = _start_server(server_file, "--no-once", "--client-timeout", "5")
    try:
        for garbage in (struct.pack(">I", 20) + b"\xff" * 20,  # 24 bytes, not a protobuf
                        struct.pack(">I", 0xFFFFFFFF),  # announces 4 GiB
                        b"\x00\x00"):  # half a length, then gone
            with socket.create_connection(("127.0.0.1", port), timeout=10) as bad:
                bad.sendall(garbage)
                bad.shutdown(socket.SHUT_WR)
                bad.settimeout(10)
                assert bad.recv(1) == b""  # dropped, no answer
            assert count(client_items, port=port, timeout_s=20) == 3
        assert proc.poll() is None
    finally:
        errors = _stop(proc)
    assert errors.count("dropped") == 3 and "Traceback" not in errors


def test_a_silent_client_blocks_no_one(tmp_path: Path) -> None:
    import socket

    server_file = _write(tmp_path / "b.csv", SERVER_NUMBERS)
    client_items = load_items(_write(tmp_path / "a.csv", CLIENT_NUMBERS), "CN")
    proc, port = _start_server(server_file, "--no-once", "--client-timeout", "3")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
            # While it says nothing, others are served ...
            assert count(client_items, port=port, timeout_s=10) == 3
            # ... and after the client timeout it is dropped.
            silent.settimeout(20)
            assert silent.recv(1) == b""
        assert count(client_items, port=port, timeout_s=10) == 3
    finally:
        errors = _stop(proc)
    assert "took too long" in errors


@pytest.mark.parametrize("command", ["psi-serve", "psi-count"])
@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_out_of_range_is_a_clear_error(tmp_path: Path, command: str, port: str) -> None:
    numbers = _write(tmp_path / "a.csv", CLIENT_NUMBERS)
    if command == "psi-count" and port == "-1":
        port = "0"  # a client must name the server's port
    done = subprocess.run(
        [sys.executable, "-c", "from scamtrace.cli import main; main()", "share", command,
         str(numbers), "--port", port, "--country", "CN"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"--port {port}" in done.stderr and "65535" in done.stderr
    assert "Traceback" not in done.stderr
