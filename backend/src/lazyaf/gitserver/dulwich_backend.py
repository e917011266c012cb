"""The fallback backend: dulwich's server handlers in a worker thread (used when there is no git binary).

The handler thread reads the streamed request body and writes the answer through a bridge:
reads and writes hop to the event loop with ``anyio.from_thread.run``, which also gives
back-pressure, and writes are coalesced to 64 KiB (dulwich writes ~100-byte pieces).

dulwich's own receive-pack is corrected here (see ``CheckedReceivePackHandler``): it accepted
refs to objects never sent, reported a ref "ok" when its compare-and-swap failed, and offered
an ``atomic`` it does not honour. Every request opens its own ``Repo`` (they are not thread-safe).
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Container, Iterator, Sequence
from pathlib import Path
from typing import cast

import anyio
import anyio.from_thread
import anyio.to_thread
import structlog
from dulwich.errors import ApplyDeltaError, ChecksumMismatch, GitProtocolError, ObjectFormatException
from dulwich.file import FileLocked
from dulwich.objects import ObjectID
from dulwich.protocol import CAPABILITY_ATOMIC, ReceivableProtocol
from dulwich.refs import Ref, check_ref_format
from dulwich.repo import Repo
from dulwich.server import Backend, BackendRepo, ReceivePackHandler, UploadPackHandler

from lazyaf.gitserver import access
from lazyaf.gitserver.connectivity import ConnectivityChecker
from lazyaf.gitserver.httpio import GitHTTPError, GitRequest, RequestBody, ResponseStream
from lazyaf.gitserver.refs import RefUpdate
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

COALESCE_BYTES = 64 * 1024
# Threads for git requests: their own pool, so slow clones cannot starve other to_thread users.
MAX_THREADS = 16
ZERO = ObjectID(b"0" * 40)
_UNPACK_ERRORS = (
    OSError,
    ChecksumMismatch,
    ApplyDeltaError,
    AssertionError,
    zlib.error,
    ObjectFormatException,
)
_REQUEST_ERRORS = (GitProtocolError, ValueError, KeyError, AssertionError)


class _Bridge:
    """The handler thread's view of the HTTP exchange."""

    def __init__(self, body: RequestBody | None, out: ResponseStream) -> None:
        self._body = body
        self._out = out
        self._buffer = bytearray()

    def recv(self, size: int) -> bytes:
        if self._body is None:
            return b""
        return anyio.from_thread.run(self._body.read_some, size)

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= COALESCE_BYTES:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            anyio.from_thread.run(self._out.write, data)


class _OneRepoBackend(Backend):
    """Opens the request's repo, whatever path the handler asks for, and remembers it to close it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.opened: list[Repo] = []

    def open_repository(self, path: str) -> BackendRepo:
        repo = Repo(str(self._path))
        self.opened.append(repo)
        return cast(BackendRepo, repo)

    def close(self) -> None:
        for repo in self.opened:
            repo.close()


_repo_locks: dict[Path, threading.Lock] = {}
_repo_locks_guard = threading.Lock()


def _repo_lock(objects_dir: Path) -> threading.Lock:
    with _repo_locks_guard:
        return _repo_locks.setdefault(objects_dir, threading.Lock())


def _is_funny_ref(ref: Ref) -> bool:
    return not ref.startswith(b"refs/") or not check_ref_format(ref)


def _one_line(exc: BaseException) -> bytes:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.encode("utf-8", "replace")[:200]


class CheckedReceivePackHandler(ReceivePackHandler):
    """dulwich's receive-pack with C git's guarantees on ref updates.

    * a ref is set only if everything it reaches is in the repository ("missing necessary objects");
    * a ref is reported "ok" only if its compare-and-swap really happened;
    * a failed or cut-off pack leaves no temporary file behind;
    * ``atomic`` is not advertised (dulwich applies refs one by one);
    * the branch HEAD names cannot be deleted, as with C git;
    * a push writing a ref other than ``push_ref`` (gitserver/access.py) is refused whole before
      any ref changes, as the C git backend's pre-receive hook does;
    * the refs really updated are kept in ``updates``.
    """

    updates: list[RefUpdate]
    push_ref: str = "*"

    def capabilities(self) -> list[bytes]:
        return [cap for cap in super().capabilities() if cap != CAPABILITY_ATOMIC]

    def _apply_pack(self, refs: list[tuple[ObjectID, ObjectID, Ref]]) -> Iterator[tuple[bytes, bytes]]:
        tips = set(self.repo.get_refs().values())
        received: Container[ObjectID] = ()
        if any(new != ZERO for _, new, _ in refs):
            try:
                received = self._receive_pack()
            except _UNPACK_ERRORS as exc:
                yield b"unpack", _one_line(exc)
                for _, _, ref in refs:
                    yield ref, b"unpacker error"
                return
        yield b"unpack", b"ok"
        refused = [
            access.refusal(self.push_ref, ref.decode("utf-8", "replace"), new == ZERO) for _, new, ref in refs
        ]
        if any(refused):
            for (_, _, ref), reason in zip(refs, refused, strict=True):
                yield ref, (reason or "LazyAF: refused with the rest of this push").encode()
            return
        checker = ConnectivityChecker(self.repo.object_store, tips, received)
        for old, new, ref in refs:
            yield ref, self._update_ref(checker, old, new, ref)

    def _receive_pack(self) -> Container[ObjectID]:
        """Read the pack into the object store; on any failure remove the partial pack dulwich leaves.

        Packs of one repo are received one at a time, so the temporary files that appeared
        meanwhile are this push's own.
        """
        objects_dir = Path(self.repo.object_store.path)  # type: ignore[attr-defined]
        with _repo_lock(objects_dir):
            before = set(objects_dir.glob("tmp_pack_*"))
            try:
                pack = self.repo.object_store.add_thin_pack(  # type: ignore[attr-defined]
                    self.proto.read,
                    getattr(self.proto, "recv", None),
                    max_input_size=self._receive_max_input_size(),
                )
            except BaseException:
                for leftover in set(objects_dir.glob("tmp_pack_*")) - before:
                    leftover.unlink(missing_ok=True)
                raise
        return pack if pack is not None else ()

    def _update_ref(self, checker: ConnectivityChecker, old: ObjectID, new: ObjectID, ref: Ref) -> bytes:
        if _is_funny_ref(ref):
            return b"funny refname"
        if new != ZERO and checker.missing(new) is not None:
            return b"missing necessary objects"
        if new == ZERO and self.repo.refs.get_symrefs().get(Ref(b"HEAD")) == ref:
            # C git's receive.denyDeleteCurrent default: a clone would check out nothing.
            return b"deletion of the current branch prohibited"
        hook_error = self._on_update(ref, old, new)
        if hook_error:
            return hook_error
        try:
            # One ref update per repo at a time in this process: dulwich creates ref and reflog
            # directories without tolerating a concurrent creator, so two pushes of different
            # refs could fail each other (seen as a rare "failed to lock" under load).
            with _repo_lock(Path(self.repo.path) / "refs"):  # type: ignore[attr-defined]
                if new == ZERO:
                    done = self.repo.refs.remove_if_equals(ref, old, message=b"push")
                else:
                    done = self.repo.refs.set_if_equals(ref, old, new, message=b"push")
        except (FileLocked, OSError) as exc:
            log.info("git_ref_lock_failed", ref=ref.decode("utf-8", "replace"), error=str(exc))
            return b"failed to lock"
        return b"ok" if done else b"failed to update ref"

    def _on_post_receive(self, client_refs: list[tuple[ObjectID, ObjectID, Ref]]) -> None:
        self.updates = [
            RefUpdate(
                ref=ref.decode("utf-8", "surrogateescape"),
                old=None if old == ZERO else old.decode("ascii"),
                new=None if new == ZERO else new.decode("ascii"),
            )
            for old, new, ref in client_refs
        ]
        super()._on_post_receive(client_refs)


def _handle(request: GitRequest, bridge: _Bridge, advertise: bool) -> list[RefUpdate]:
    """Run one dulwich handler to completion (in a worker thread)."""
    proto = ReceivableProtocol(bridge.recv, bridge.write)
    backend = _OneRepoBackend(request.path)
    args: Sequence[str] = [str(request.path)]
    try:
        if request.service == "git-upload-pack":
            handler: UploadPackHandler | CheckedReceivePackHandler = UploadPackHandler(
                backend, args, proto, stateless_rpc=True, advertise_refs=advertise
            )
        else:
            handler = CheckedReceivePackHandler(
                backend, args, proto, stateless_rpc=True, advertise_refs=advertise
            )
            handler.updates = []
            handler.push_ref = request.push_ref
        if advertise:
            proto.write_pkt_line(b"# service=" + request.service.encode("ascii") + b"\n")
            proto.write_pkt_line(None)
        handler.handle()
        bridge.flush()
    finally:
        backend.close()
    return handler.updates if isinstance(handler, CheckedReceivePackHandler) else []


class DulwichBackend:
    """Serves packs with dulwich, one worker thread per request."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._limiter: anyio.CapacityLimiter | None = None

    def _threads(self) -> anyio.CapacityLimiter:
        # Created on first use: a limiter belongs to the running event loop.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(MAX_THREADS)
        return self._limiter

    async def advertise(self, request: GitRequest, out: ResponseStream) -> None:
        """The v0 ref advertisement (dulwich has no protocol v2; clients fall back)."""
        await self._run(request, None, out, advertise=True)

    async def serve(self, request: GitRequest, body: RequestBody, out: ResponseStream) -> list[RefUpdate]:
        """Run the service on the streamed body."""
        return await self._run(request, body, out, advertise=False)

    async def _run(
        self, request: GitRequest, body: RequestBody | None, out: ResponseStream, *, advertise: bool
    ) -> list[RefUpdate]:
        bridge = _Bridge(body, out)
        try:
            return await anyio.to_thread.run_sync(
                _handle, request, bridge, advertise, limiter=self._threads()
            )
        except _REQUEST_ERRORS as exc:
            message = _one_line(exc).decode()
            log.info("git_request_rejected", service=request.service, error=message)
            raise GitHTTPError(400, f"protocol error in the {request.service} request: {message}") from None
