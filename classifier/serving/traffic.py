"""What the web server sees of its clients, as plain ASGI middleware (no Gradio here).

* `OPEN_STREAMS` counts, per session id, the event streams a client holds open right now (the
  page's heartbeat, its queue stream, an API caller's result stream). A session with none is not
  listening: its training is not worth starting, and a running one is stopped.
* Request bodies other than file uploads are capped (`MAX_BODY_BYTES`): a 20 MB "model name"
  is refused with 413 before any handler or log sees it.
* Uploads are metered per client (a network, `clients.py`) and for the whole server
  (`UPLOADS`): past either, 429 with a message, so nobody fills the disk.
* `/run/<name>` and `/api/<name>` (answered outside the queue and its limits) are closed: 404
  pointing to `/call/<name>`. A URL over `MAX_URL_CHARS` gets 414, before any handler.
* Every response says which sites may frame the page (`FRAME_ANCESTORS`: this one and Hugging
  Face, where a Space embeds it).
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable
from urllib.parse import parse_qs

from .clients import client_of_scope

MAX_BODY_BYTES = 1024 * 1024  # JSON event calls: short values, or one webcam frame as a data URL
# (a 1280x720 frame from a camera that ignores the page's 480x360 is up to about 660 KB)
_UNCAPPED = ("/upload",)  # Gradio's upload route has its own limit (launch's max_file_size)
MAX_URL_CHARS = 8192  # path and query; a link to the Train form's settings is under 200
FRAME_ANCESTORS = os.environ.get(
    "CLASSIFIER_FRAME_ANCESTORS", "'self' https://huggingface.co https://*.huggingface.co https://*.hf.space")
_CLOSED = ("/run/", "/api/")  # Gradio's direct routes, which skip the queue


class Meter:
    """Bytes per client over time: a bucket of `capacity` bytes that refills at `rate` bytes a
    second, per client and for all clients together."""

    def __init__(self, capacity: int, rate: float, total_capacity: int, total_rate: float):
        self.capacity, self.rate = capacity, rate
        self.total_capacity, self.total_rate = total_capacity, total_rate
        self._lock = threading.Lock()
        self._left: dict[str, tuple[float, float]] = {}  # client -> (bytes left, when)
        self._total = (float(total_capacity), time.monotonic())

    def _refilled(self, left: float, when: float, capacity: int, rate: float, now: float) -> float:
        return min(capacity, left + (now - when) * rate)

    def take(self, client: str, size: int) -> str | None:
        """Count `size` bytes for `client`; None if they fit, else why not (nothing counted)."""
        now = time.monotonic()
        with self._lock:
            mine = self._refilled(*self._left.get(client, (self.capacity, now)), self.capacity,
                                  self.rate, now)
            total = self._refilled(*self._total, self.total_capacity, self.total_rate, now)
            if size > mine:
                return (f"your network uploaded {self.capacity >> 20} MB in the last few "
                        "minutes, the most this server takes: try again in a few minutes, or "
                        "upload smaller files")
            if size > total:
                return "this server has taken all the uploads it can for now: try again in a few minutes"
            self._left[client] = (mine - size, now)
            self._total = (total - size, now)
            if len(self._left) > 10_000:  # forget full buckets
                for key in [k for k, (b, _) in self._left.items() if b >= self.capacity][:5000]:
                    del self._left[key]
            return None


UPLOADS = Meter(capacity=300 << 20, rate=(300 << 20) / 600,  # 300 MB per network per 10 min
                total_capacity=3 << 30, total_rate=(3 << 30) / 600)  # 3 GB per 10 min in all


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
    """Counts open event streams in OPEN_STREAMS, caps request bodies, meters uploads, closes
    the routes that skip the queue, refuses long URLs and sets frame-ancestors (pure ASGI)."""

    def __init__(self, app, streams: OpenStreams = OPEN_STREAMS, max_body: int = MAX_BODY_BYTES,
                 resolve: Callable[[str], str] | None = None, uploads: Meter = UPLOADS):
        self.app, self.streams, self.max_body, self.resolve = app, streams, max_body, resolve
        self.uploads = uploads

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.streams.installed = True
        send = _framed(send)
        path = scope.get("path", "")
        if len(scope.get("raw_path") or path) + len(scope.get("query_string", b"")) > MAX_URL_CHARS:
            return await _refuse(send, 414, f"the address is too long: at most {MAX_URL_CHARS:,} "
                                            "characters")
        if scope["method"] == "POST" and any(part in path for part in _CLOSED) \
                and "/gradio_api/" in path:
            return await _refuse(send, 404, "this server answers through its queue only: use "
                                            "/gradio_api/call/<name> (see the API page)")
        if scope["method"] in ("POST", "PUT", "PATCH"):
            if path.rstrip("/").endswith(_UNCAPPED):
                return await self._metered(scope, receive, send)
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

    async def _metered(self, scope, receive, send):
        """An upload, counted against its client's share as its bytes arrive."""
        client = client_of_scope(scope)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit():
            why = self.uploads.take(client, int(declared))
            if why:
                return await _refuse(send, 429, why)
            return await self.app(scope, receive, send)
        refused = []

        def chunk(size: int) -> bool:
            why = self.uploads.take(client, size)
            refused.append(why)
            return not why

        if not await _watched(self.app, scope, receive, send, chunk):
            await _refuse(send, 429, refused[-1])

    async def _capped(self, scope, receive, send):
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return await _too_large(send, self.max_body)
        seen = [0]

        def chunk(size: int) -> bool:
            seen[0] += size
            return seen[0] <= self.max_body

        if not await _watched(self.app, scope, receive, send, chunk):
            await _too_large(send, self.max_body)


async def _watched(app, scope, receive, send, chunk) -> bool:
    """Run `app`, each arriving body chunk's size first passed to `chunk`; once that says no,
    the request ends there. False when it did and nothing was answered yet (the caller answers),
    True otherwise."""
    async def counted():
        message = await receive()
        if not chunk(len(message.get("body", b""))):
            raise BodyTooLarge()
        return message

    started = False

    async def tracked_send(message):
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, counted, tracked_send)
    except BodyTooLarge:
        return started
    return True


def _framed(send):
    """`send` with a Content-Security-Policy naming who may frame this page."""
    policy = f"frame-ancestors {FRAME_ANCESTORS}".encode()

    async def framed(message):
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", [])
                       if k.lower() != b"content-security-policy"]
            message = {**message, "headers": [*headers, (b"content-security-policy", policy)]}
        await send(message)
    return framed


async def _refuse(send, status: int, detail: str) -> None:
    import json
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _too_large(send, limit: int) -> None:
    await _refuse(send, 413, f"request too large: at most {limit // 1024} KB of arguments; "
                             "upload files through the page or /gradio_api/upload")
