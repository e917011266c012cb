"""The primary backend: C git's ``upload-pack``/``receive-pack --stateless-rpc``, streamed both ways.

What a push changed comes from a ``post-receive`` hook (``hooks/post-receive`` beside this
module, enabled with ``-c core.hooksPath``): receive-pack feeds it exactly the refs it updated,
as "old new ref" lines, and the hook copies them to a file private to the request
(``$LAZYAF_PUSH_LOG``). That is exact under concurrent pushes to one repo and never lists a
refused ref, with no lock and no per-repo files. Before that, the ``pre-receive`` hook declines
a push that writes a ref other than the one the request may write (``$LAZYAF_PUSH_ALLOW``,
gitserver/access.py); with the variable unset it declines everything.
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

import anyio
import anyio.to_thread
import structlog
from anyio.abc import ByteReceiveStream, Process, TaskGroup

from lazyaf.git.run import environment, git_binary
from lazyaf.gitserver.access import PUSH_ALLOW_ENV
from lazyaf.gitserver.httpio import (
    ClientDisconnected,
    GitHTTPError,
    GitRequest,
    RequestBody,
    ResponseStream,
)
from lazyaf.gitserver.refs import ZERO_SHA, RefUpdate
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

PACKAGED_HOOKS_DIR = Path(__file__).parent / "hooks"
HOOK_SCRIPT = """#!/bin/sh
# Installed by LazyAF through `git -c core.hooksPath`: hand the refs this push updated
# ("old new ref" lines on stdin) to the server, through the file it named for this request.
if [ -n "$LAZYAF_PUSH_LOG" ]; then
    cat > "$LAZYAF_PUSH_LOG"
fi
"""
PRE_RECEIVE_SCRIPT = """#!/bin/sh
# Installed by LazyAF through `git -c core.hooksPath`: the server names, per request, the one ref
# this push may write in $LAZYAF_PUSH_ALLOW ("*": any). Anything else declines the whole push
# before a ref changes; git shows these lines to the pusher as "remote: ...".
allow="$LAZYAF_PUSH_ALLOW"
if [ "$allow" = "*" ]; then
    exit 0
fi
if [ -z "$allow" ]; then
    echo "LazyAF: this push carries no permission to change refs" >&2
    exit 1
fi
status=0
while read -r old new ref; do
    if [ "$ref" != "$allow" ]; then
        echo "LazyAF: refused $ref: this attempt token may push only $allow" >&2
        status=1
    else
        case "$new" in
            *[!0]*) ;;
            *)
                echo "LazyAF: refused to delete $ref: an attempt may move its ref, never delete it" >&2
                status=1
                ;;
        esac
    fi
done
exit $status
"""
HOOK_SCRIPTS = {"post-receive": HOOK_SCRIPT, "pre-receive": PRE_RECEIVE_SCRIPT}
PUSH_LOG_ENV = "LAZYAF_PUSH_LOG"
# Variables a git subprocess may inherit; everything else (GIT_DIR, GIT_CONFIG_*, tokens) is dropped.
STOP_GRACE_SECONDS = 5.0
STDERR_KEEP = 16 * 1024


def _is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def hooks_dir(settings: Settings) -> Path:
    """The directory given to git as ``core.hooksPath``.

    The one shipped beside this module, or, when an install lost a hook or its executable bit,
    copies written under the data directory. (Without its pre-receive hook git would let any
    push through: the hooks are part of the access rules, not an optimisation.)
    """
    if all(_is_executable_file(PACKAGED_HOOKS_DIR / name) for name in HOOK_SCRIPTS):
        return PACKAGED_HOOKS_DIR
    fallback = settings.data_dir / "git-hooks"
    fallback.mkdir(parents=True, exist_ok=True)
    for name, script in HOOK_SCRIPTS.items():
        hook = fallback / name
        if not _is_executable_file(hook) or hook.read_text() != script:
            tmp = hook.with_suffix(".tmp")
            tmp.write_text(script)
            tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR)
            tmp.replace(hook)
    log.warning("git_hooks_fallback", hooks_dir=str(fallback))
    return fallback


def pkt_line(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


def parse_push_log(text: str) -> list[RefUpdate]:
    """RefUpdates from post-receive's "old new ref" lines."""
    updates = []
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) != 3:
            continue
        old, new, ref = parts
        updates.append(
            RefUpdate(ref=ref, old=None if old == ZERO_SHA else old, new=None if new == ZERO_SHA else new)
        )
    return updates


class _StderrTail:
    """Keeps the first bytes git wrote to stderr (its error message), drains the rest."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.done = anyio.Event()

    async def drain(self, stream: ByteReceiveStream) -> None:
        try:
            async for chunk in stream:
                if len(self.data) < STDERR_KEEP:
                    self.data += chunk[: STDERR_KEEP - len(self.data)]
        finally:
            self.done.set()

    def first_line(self) -> str:
        for line in self.data.decode("utf-8", "replace").splitlines():
            if line.strip():
                return line.strip()
        return ""


class GitProcessBackend:
    """Serves packs by running the git binary once per request."""

    def __init__(self, settings: Settings, hooks: Path) -> None:
        # Resolved once: a bare "git" is looked up along PATH on every spawn (measured in the bench).
        self._git = git_binary(settings.git_binary)
        self._hooks = hooks
        self._home = hooks

    def _env(self, request: GitRequest, extra: Mapping[str, str]) -> dict[str, str]:
        env = environment(HOME=str(self._home), **{PUSH_ALLOW_ENV: request.push_ref})
        if request.git_protocol:
            env["GIT_PROTOCOL"] = request.git_protocol
        env.update(extra)
        return env

    def _command(self, request: GitRequest, *args: str) -> list[str]:
        verb = request.service.removeprefix("git-")
        return [
            self._git,
            "-c",
            f"core.hooksPath={self._hooks}",
            verb,
            "--stateless-rpc",
            *args,
            str(request.path),
        ]

    async def advertise(self, request: GitRequest, out: ResponseStream) -> None:
        """Run ``--advertise-refs``; v0/v1 answers get the ``# service=...`` line and a flush first."""
        prefix = b"" if request.wants_v2 else pkt_line(f"# service={request.service}\n".encode()) + b"0000"
        await _GitRun(self._command(request, "--advertise-refs"), self._env(request, {}), out, prefix).run(
            None
        )

    async def serve(self, request: GitRequest, body: RequestBody, out: ResponseStream) -> list[RefUpdate]:
        """Stream the body through the service; for receive-pack, read back what the hook recorded."""
        if request.service != "git-receive-pack":
            await _GitRun(self._command(request), self._env(request, {}), out).run(body)
            return []
        fd, name = await anyio.to_thread.run_sync(
            lambda: tempfile.mkstemp(prefix="lazyaf-push-", suffix=".log")
        )
        os.close(fd)
        push_log = anyio.Path(name)
        try:
            env = self._env(request, {PUSH_LOG_ENV: name})
            await _GitRun(self._command(request), env, out).run(body)
            return parse_push_log(await push_log.read_text(encoding="utf-8", errors="replace"))
        finally:
            await push_log.unlink(missing_ok=True)


class _GitRun:
    """One git subprocess: request body to stdin, stdout to the response, stderr kept for errors."""

    def __init__(
        self, command: list[str], env: dict[str, str], out: ResponseStream, prefix: bytes = b""
    ) -> None:
        self._command = command
        self._env = env
        self._out = out
        self._prefix = prefix
        self._stderr = _StderrTail()
        self._failure: BaseException | None = None
        self._discard_output = False
        self._produced = False

    async def run(self, body: RequestBody | None) -> None:
        """Raises GitHTTPError when git fails before writing anything, ClientDisconnected on hang-up."""
        process = await anyio.open_process(self._command, env=self._env, start_new_session=os.name == "posix")
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._stderr.drain, process.stderr)
                tg.start_soon(self._cancel_on_disconnect, tg)
                if body is None:
                    await process.stdin.aclose()
                else:
                    tg.start_soon(self._feed, process, body, tg)
                await self._copy_stdout(process.stdout, tg)
                await process.wait()
                with anyio.move_on_after(1):
                    await self._stderr.done.wait()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(process)
        self._check(process)

    def _fail(self, exc: BaseException, tg: TaskGroup) -> None:
        # Task-group tasks record why they stopped instead of raising: anyio would wrap the
        # error in an ExceptionGroup, and the first reason is the one worth answering with.
        self._failure = self._failure or exc
        tg.cancel_scope.cancel()

    async def _cancel_on_disconnect(self, tg: TaskGroup) -> None:
        await self._out.disconnected.wait()
        self._fail(ClientDisconnected(), tg)

    async def _feed(self, process: Process, body: RequestBody, tg: TaskGroup) -> None:
        assert process.stdin is not None
        try:
            while chunk := await body.read_some():
                await process.stdin.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # git stopped reading: it answers (or fails) from what it read
        except (GitHTTPError, ClientDisconnected) as exc:
            # The input is cut short: end git's stdin and let it fail by itself. git then removes
            # its quarantine of received objects, which it leaves behind when killed mid-push.
            self._failure = self._failure or exc
            self._discard_output = True
            tg.start_soon(self._deadline, tg)
        finally:
            await process.stdin.aclose()

    async def _deadline(self, tg: TaskGroup) -> None:
        await anyio.sleep(STOP_GRACE_SECONDS)
        tg.cancel_scope.cancel()

    async def _copy_stdout(self, stdout: ByteReceiveStream, tg: TaskGroup) -> None:
        try:
            async for chunk in stdout:
                if self._discard_output:
                    continue
                if not self._produced:
                    self._produced = True
                    chunk = self._prefix + chunk
                await self._out.write(chunk)
        except ClientDisconnected as exc:
            self._fail(exc, tg)

    def _check(self, process: Process) -> None:
        if self._failure is not None:
            raise self._failure
        code = process.returncode
        if code == 0 and not self._produced and self._prefix:
            raise GitHTTPError(500, "git wrote no ref advertisement.")
        if code == 0:
            return
        message = self._stderr.first_line() or f"git exited with status {code}"
        log.warning("git_service_failed", command=" ".join(self._command[3:]), status=code, stderr=message)
        if not self._produced:
            raise GitHTTPError(400, message)
        if code is not None and code < 0:
            # Killed mid-answer: end the connection so the client sees an error, not a short pack.
            raise GitHTTPError(500, message)


def _signal_group(process: Process, signum: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(process.pid, signum)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass


async def _stop(process: Process) -> None:
    """Make sure the git process (and its pack-objects/index-pack children) is gone and reaped."""
    if process.returncode is None:
        # SIGTERM first: git removes its lock files on it, not on SIGKILL.
        log.info("git_process_stopped", pid=process.pid)
        _signal_group(process, signal.SIGTERM)
        with anyio.move_on_after(STOP_GRACE_SECONDS):
            await process.wait()
        if process.returncode is None:
            _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))
            await process.wait()
    await process.aclose()
