"""Drive the ASGI app in process: one request in, status, headers and body out (no network)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec


class Answer(msgspec.Struct):
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


def call(
    app: Any,
    method: str,
    path: str,
    body: bytes | list[bytes] = b"",
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    stall: bool = False,
) -> Answer:
    """``body`` as one chunk or several (``more_body``); ``stall``: the client then goes silent."""
    chunks = body if isinstance(body, list) else [body]
    sent = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if token is not None:
        sent.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": sent,
    }
    out: dict[str, Any] = {"body": b""}

    async def run() -> None:
        pending = list(chunks)

        async def receive() -> dict[str, Any]:
            if not pending:
                await asyncio.Event().wait()  # a client that sends nothing more
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending) or stall}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
                out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
            else:
                out["body"] += message.get("body", b"")

        # its own task, as a server runs each request
        await asyncio.wait_for(
            asyncio.get_running_loop().create_task(app(scope, receive, send)), 30
        )

    asyncio.run(run())
    return Answer(out["status"], out["headers"], out["body"])
