"""The responder's front: an asyncio HTTP server reads every request whole before a thread runs it.

A client that sends half a request and goes silent must not hold a worker thread (with gunicorn's gthread
workers, 24 such connections stopped deliveries and health checks). Each gunicorn worker runs uvicorn's
event loop (httptools parser) instead: reading a request line, its headers and its body costs no thread,
and only a complete request is handed to the Flask app on one of ``responder.threads`` threads
(`BufferedWsgi`). Stalled clients are bounded in time: headers must be complete within
``responder.request_read_timeout_seconds`` of the connection (or of the previous response on a
keep-alive connection) or it is closed (`ResponderHttpProtocol`); a body not received in full within the
same time is answered 408. A body longer than ``max_body_bytes`` is not read past the limit: the app
answers 413 from what it got.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ResponderHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for a request's headers (uvicorn has none)."""

    read_timeout = 10.0  # a subclass per configuration sets responder.request_read_timeout_seconds (worker_class)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.read_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if getattr(self, "_header_deadline", None) is not None:
            self._header_deadline.cancel()  # type: ignore[union-attr]
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport is not None and not self.transport.is_closing():
            self._arm()  # the next request's headers (a keep-alive connection) have the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class BufferedWsgi:
    """An ASGI app that reads a request's body in the event loop (bounded in size and time), then runs the
    WSGI app on a thread of a fixed pool and sends its answer."""

    def __init__(self, app: WsgiApp, threads: int, max_body_bytes: int, read_timeout: float) -> None:
        self.app = app
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="responder-http")
        self._limit = max_body_bytes + 1  # one byte more than allowed: the app then answers 413
        self._read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            body = await asyncio.wait_for(self._body(receive), self._read_timeout)
        except TimeoutError:
            await _plain(send, 408, b'{"error": "the request body did not arrive in time"}')
            return
        if body is None:  # the client went away
            return
        loop = asyncio.get_running_loop()
        status, headers, chunks = await loop.run_in_executor(self._pool, self._run, _environ(scope, body))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(chunks)})

    async def _body(self, receive: Receive) -> bytes | None:
        parts: list[bytes] = []
        size = 0
        while size < self._limit:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            parts.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(parts)[: self._limit]

    def _run(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started[:] = [status, headers]

        result = self.app(environ, start_response)
        try:
            chunks = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        return int(status.split(" ", 1)[0]), encoded, chunks

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


async def _plain(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of a complete request."""
    server = scope.get("server") or ("127.0.0.1", 0)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").upper().replace("-", "_"), raw_value.decode("latin-1")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif name in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body was read whole (and de-chunked): CONTENT_LENGTH is its length
        else:
            key = f"HTTP_{name}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def worker_class(read_timeout: float) -> type[UvicornWorker]:
    """The gunicorn worker class: uvicorn's event loop with `ResponderHttpProtocol` (headers within
    `read_timeout`), no lifespan, no server header."""
    protocol = type("ResponderHttp", (ResponderHttpProtocol,), {"read_timeout": read_timeout})
    kwargs = {"loop": "asyncio", "http": protocol, "lifespan": "off", "server_header": False,
              "proxy_headers": False, "access_log": False}
    worker: type[UvicornWorker] = type("ResponderWorker", (UvicornWorker,), {"CONFIG_KWARGS": kwargs})
    return worker
