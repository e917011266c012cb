"""Raw ASGI plumbing for the git endpoints: a streamed request body and a lazily started response.

Both exist because git's smart HTTP needs what Starlette's helpers do not give together:

* The request body is read from ``receive()`` by one consumer at a time (a concurrent
  ``receive()`` can swallow body chunks under uvicorn), inflated incrementally when git sends it
  gzip-encoded, and capped once inflated.
* The response starts only when the backend produces its first byte, so a backend that fails
  before answering can still be turned into a 4xx with a readable message instead of a 200
  carrying garbage.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import anyio
from starlette.types import Message, Receive, Send

from lazyaf.gitserver.refs import RefUpdate

Service = Literal["git-upload-pack", "git-receive-pack"]
SERVICES: tuple[Service, ...] = ("git-upload-pack", "git-receive-pack")

# git's own http-backend sends these with every dynamic answer; proxies must not cache refs.
NO_CACHE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"expires", b"Fri, 01 Jan 1980 00:00:00 GMT"),
    (b"pragma", b"no-cache"),
    (b"cache-control", b"no-cache, max-age=0, must-revalidate"),
]

READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class GitRequest:
    """One git request, already validated: the repo exists at ``path``, the principal may use
    ``service`` on it, and a push may write only ``push_ref`` (``*``: any; gitserver/access.py)."""

    repo_id: uuid.UUID
    path: Path
    service: Service
    push_ref: str
    git_protocol: str | None = None

    @property
    def wants_v2(self) -> bool:
        """The client asked for protocol v2 (only upload-pack speaks it)."""
        values = (self.git_protocol or "").split(":")
        return self.service == "git-upload-pack" and "version=2" in values


class PackBackend(Protocol):
    """Who runs the git services: the git binary or dulwich."""

    async def advertise(self, request: GitRequest, out: ResponseStream) -> None:
        """Answer ``GET info/refs?service=...`` (the ``# service`` header included when needed)."""

    async def serve(self, request: GitRequest, body: RequestBody, out: ResponseStream) -> list[RefUpdate]:
        """Answer a POST to the service; return the refs a receive-pack changed."""


class GitHTTPError(Exception):
    """A request the git endpoint answers with ``status`` and a one-line plain-text message."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


class ClientDisconnected(Exception):
    """The client went away; nothing more can be sent to it."""


class _Decoder(Protocol):
    def feed(self, data: bytes) -> None: ...
    def take(self, size: int) -> bytes: ...
    def pending(self) -> bool: ...
    def finish(self) -> None: ...


class _Identity:
    def __init__(self) -> None:
        self._data = b""
        self._pos = 0

    def feed(self, data: bytes) -> None:
        self._data = self._data[self._pos :] + data
        self._pos = 0

    def take(self, size: int) -> bytes:
        out = self._data[self._pos : self._pos + size]
        self._pos += len(out)
        return out

    def pending(self) -> bool:
        return self._pos < len(self._data)

    def finish(self) -> None:
        return None


class _GzipInflater:
    """Inflates at most ``size`` bytes per call, so one small compressed chunk cannot balloon in memory."""

    def __init__(self, cap: int) -> None:
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._tail = b""
        self._cap = cap
        self._total = 0

    def feed(self, data: bytes) -> None:
        self._tail += data

    def take(self, size: int) -> bytes:
        if not self._tail or self._inflater.eof:
            return b""
        try:
            out = self._inflater.decompress(self._tail, size)
        except zlib.error as exc:
            raise GitHTTPError(400, f"The gzip-encoded request body is corrupt ({exc}).") from None
        self._tail = self._inflater.unconsumed_tail
        self._total += len(out)
        if self._total > self._cap:
            raise GitHTTPError(413, f"The request body inflates to more than {self._cap} bytes; refused.")
        return out

    def pending(self) -> bool:
        return bool(self._tail) and not self._inflater.eof

    def finish(self) -> None:
        if not self._inflater.eof:
            raise GitHTTPError(400, "The gzip-encoded request body is truncated.")


class RequestBody:
    """The request body as a byte stream: ``read_some`` returns what is there, ``b""`` at the end.

    Only this object calls ``receive()``, under a lock, so a disconnect watcher and a reader
    never race for a body chunk.
    """

    def __init__(self, receive: Receive, *, gzip: bool, max_inflated: int) -> None:
        self._receive = receive
        self._decoder: _Decoder = _GzipInflater(max_inflated) if gzip else _Identity()
        self._lock = anyio.Lock()
        self.complete = False

    async def read_some(self, size: int = READ_SIZE) -> bytes:
        """Up to ``size`` decoded bytes; ``b""`` once the body is exhausted.

        Raises:
            ClientDisconnected: the client went away mid-body.
            GitHTTPError: the body is not valid gzip (400) or inflates past the cap (413).
        """
        while True:
            out = self._decoder.take(size)
            if out:
                return out
            if self.complete and not self._decoder.pending():
                self._decoder.finish()
                return b""
            await self._pull()

    async def _pull(self, *, buffer: bool = False) -> None:
        """Receive one message into the decoder (unless another reader just did, or ``buffer``)."""
        async with self._lock:
            if self.complete or (self._decoder.pending() and not buffer):
                return
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            self._decoder.feed(message.get("body", b""))
            self.complete = not message.get("more_body", False)

    async def wait_disconnect(self) -> None:
        """Return when the client disconnects, buffering whatever body is still unread."""
        while not self.complete:
            try:
                await self._pull(buffer=True)
            except ClientDisconnected:
                return
        while True:
            message: Message = await self._receive()
            if message["type"] == "http.disconnect":
                return


class ResponseStream:
    """An HTTP 200 whose headers go out with the first byte of body, not before."""

    def __init__(self, send: Send, content_type: str = "application/octet-stream") -> None:
        self._send = send
        self.content_type = content_type
        self.started = anyio.Event()
        self.disconnected = anyio.Event()

    @property
    def is_started(self) -> bool:
        return self.started.is_set()

    async def _start(self) -> None:
        if self.is_started:
            return
        self.started.set()
        headers = [(b"content-type", self.content_type.encode("latin-1")), *NO_CACHE_HEADERS]
        await self._send({"type": "http.response.start", "status": 200, "headers": headers})

    async def write(self, data: bytes) -> None:
        """Send ``data`` (starting the response if needed).

        Raises:
            ClientDisconnected: the client is known to be gone.
        """
        if self.disconnected.is_set():
            raise ClientDisconnected()
        if not data:
            return
        await self._start()
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def finish(self) -> None:
        """End the response (an empty 200 when nothing was written)."""
        await self._start()
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})


async def send_text(
    send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A complete plain-text answer; git prints such bodies as ``remote: <line>``."""
    body = (message.rstrip("\n") + "\n").encode("utf-8")
    all_headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *NO_CACHE_HEADERS,
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def watch_disconnect(body: RequestBody, out: ResponseStream) -> None:
    """Once the response has started, flag ``out`` as disconnected when the client goes away."""
    await out.started.wait()
    try:
        await body.wait_disconnect()
    except GitHTTPError:
        return  # a bad tail of the body is the reader's problem to report, not the watcher's
    out.disconnected.set()
