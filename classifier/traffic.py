"""What the web server sees of its clients, as plain ASGI middleware (no Gradio here).

* `OPEN_STREAMS` counts, per session id, the event streams a client holds open right now (the
  page's heartbeat, its queue stream, an API caller's result stream). A session with none is not
  listening: its training is not worth starting, and a running one is stopped.
* Request bodies other than file uploads are capped (`MAX_BODY_BYTES`): a 20 MB "model name"
  is refused with 413 before any handler or log sees it.
"""
from __future__ import annotations

import threading
import time
from typing import Callable
from urllib.parse import parse_qs

MAX_BODY_BYTES = 1024 * 1024  # JSON event calls: short values, or one webcam frame as a data URL
# (a 1280x720 frame from a camera that ignores the page's 480x360 is up to about 660 KB)
_UNCAPPED = ("/upload",)  # Gradio's upload route has its own limit (launch's max_file_size)


class OpenStreams:
    """Open event streams per session id, and when each session last had one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._last: dict[str, float] = {}
        self.installed = False  # set when the middleware first sees a request

    def opened(self, key: str) -> None:
        with self._lock:
            self._open[key] = self._open.get(key, 0) + 1
            self._last[key] = time.monotonic()

    def closed(self, key: str) -> None:
        with self._lock:
            left = self._open.get(key, 1) - 1
            if left > 0:
                self._open[key] = left
            else:
                self._open.pop(key, None)
            self._last[key] = time.monotonic()

    def listening(self, key: str | None, grace: float = 0.5) -> bool:
        """True if `key` holds a stream, or closed its last one under `grace` seconds ago (a
        page that swaps one stream for the next); also True when nothing is being counted."""
        if not self.installed or key is None:
            return True
        with self._lock:
            if self._open.get(key):
                return True
            last = self._last.get(key)
        return last is not None and time.monotonic() - last < grace

    def idle_for(self, key: str) -> float:
        """Seconds since `key` last had a stream open (0 while it has one; inf if never)."""
        with self._lock:
            if self._open.get(key):
                return 0.0
            last = self._last.get(key)
        return time.monotonic() - last if last is not None else float("inf")

    def forget(self, key: str) -> None:
        with self._lock:
            if not self._open.get(key):
                self._last.pop(key, None)


OPEN_STREAMS = OpenStreams()


def stream_key(path: str, query: bytes, resolve: Callable[[str], str] | None = None) -> str | None:
    """The session id an event-stream request listens for, or None for other requests:
    `.../heartbeat/<session>`, `.../queue/data?session_hash=<session>`,
    `.../call/<api>/<event id>` (the event's session, via `resolve`, else the event id)."""
    parts = path.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "heartbeat":
        return parts[-1] or None
    if path.endswith("/queue/data"):
        return (parse_qs(query.decode("latin-1")).get("session_hash") or [None])[0]
    if (len(parts) >= 4 and parts[-3] == "call") or (len(parts) >= 5 and parts[-4] == "call"):
        event_id = parts[-1]
        return resolve(event_id) if resolve else event_id
    return None


class BodyTooLarge(Exception):
    pass


class TrafficMiddleware:
    """Counts open event streams in OPEN_STREAMS and caps request bodies (pure ASGI)."""

    def __init__(self, app, streams: OpenStreams = OPEN_STREAMS, max_body: int = MAX_BODY_BYTES,
                 resolve: Callable[[str], str] | None = None):
        self.app, self.streams, self.max_body, self.resolve = app, streams, max_body, resolve

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.streams.installed = True
        path = scope.get("path", "")
        if scope["method"] in ("POST", "PUT", "PATCH") and not path.rstrip("/").endswith(_UNCAPPED):
            return await self._capped(scope, receive, send)
        key = stream_key(path, scope.get("query_string", b""), self.resolve) \
            if scope["method"] == "GET" else None
        if key is None:
            return await self.app(scope, receive, send)
        self.streams.opened(key)
        try:
            await self.app(scope, receive, send)
        finally:
            self.streams.closed(key)

    async def _capped(self, scope, receive, send):
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return await _too_large(send, self.max_body)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise BodyTooLarge()
            return message

        started = False

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, self.max_body)


async def _too_large(send, limit: int) -> None:
    body = (f'{{"detail": "request too large: at most {limit // 1024} KB of arguments; '
            f'upload files through the page or /gradio_api/upload"}}').encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
