"""Run an agent CLI as a process tree that can always be stopped.

The agent starts in a session (so a process group) of its own. The prompt never travels in
argv (a single argument is capped at 128 KiB on Linux, and argv is readable by every process in
/proc/*/cmdline): it is written to a private file (0600, in a 0700 folder removed after the run)
that is the agent's stdin when the adapter reads it there (`prompt_on_stdin`), else /dev/null
(with an open stdin pipe, `claude -p` would wait for input). Its stdout is split into lines and
fed to the adapter; each event goes to `on_event` as soon as it is parsed, in order. Of stderr
only the end is kept, for failure reasons.

Stopping is the hard part. Agents start shells and shells start servers; Claude Code's Bash
tool even runs each command in a session of its own, so signalling our process group misses
them, and once their parent is gone they are re-parented to init, out of our tree. So every
run sets a unique `AGENT_RUN_MARK` variable, which all descendants inherit (the way
Jenkins finds a build's processes), and stopping signals every process that carries it, is in
the agent's process group or session, or descends from the agent: SIGTERM, a grace period,
then SIGKILL. The tree is stopped after every run, not only on timeout or cancel, so nothing
an agent started outlives its job. Without /proc (macOS) only the process group is signalled.
A runner that is PID 1 of its own PID namespace (a container) goes further: every other process
in the namespace belongs to the agent, so all of them are stopped, marked or not
(`stop_everything_else`); nothing the agent left can wait there for the runner's next git
process and read its environment.

Secrets (values of variables named like keys and tokens, and whatever `lazyaf_protocol.redact`
recognizes by pattern) are redacted from every line before parsing, from events, from the
stderr tail and from the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from lazyaf_protocol.redact import Redactor, secrets_in_environment

from lazyaf_runner.agents.base import (
    AgentAdapter,
    AgentEvent,
    AgentOutcome,
    excerpt,
)

log = logging.getLogger(__name__)

RUN_MARK = "AGENT_RUN_MARK"
"""Environment variable that marks every process of one run (not LAZYAF_*: an agent's
environment holds nothing of LazyAF's)."""
KILL_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL."""
DRAIN_GRACE = 2.0
"""Seconds to wait for stdout to close once the agent has exited (a leftover child may hold it)."""
EXIT_GRACE = 10.0
"""Seconds to wait for the agent to exit once its stdout has closed."""
MAX_LINE = 64 * 1024 * 1024
"""Longer stdout lines are dropped with an error event."""
STDERR_TAIL = 8 * 1024
"""Bytes of stderr kept."""

_HIGH_WATER = 64  # stdout chunks queued before the pipe is paused
_LOW_WATER = 16

OnEvent = Callable[[AgentEvent], Awaitable[None]]


async def run_agent(
    adapter: AgentAdapter,
    prompt: str,
    *,
    workdir: Path | str,
    env: Mapping[str, str],
    timeout: float | None,
    on_event: OnEvent,
    cancel: asyncio.Event | None = None,
    resume_session: str | None = None,
    kill_grace: float = KILL_GRACE,
    redactor: Redactor | None = None,
) -> AgentOutcome:
    """Run `adapter`'s CLI on `prompt` in `workdir` and judge how it went.

    Args:
        env: the base environment (`lazyaf_runner.environment.agent_environment`); the adapter
            adds what its CLI needs.
        timeout: seconds before the run is stopped and reported as timed out; None for no limit.
        on_event: awaited with each event, in order, while the agent runs. If it raises, the
            agent is stopped and the exception propagates.
        cancel: set it to stop the run; the outcome then says it was cancelled.
        redactor: knows the secrets to keep out of events besides those in the environment.
    """
    workdir = Path(workdir)
    prompt_dir = Path(tempfile.mkdtemp(prefix="lazyaf-prompt-"))  # 0700
    try:
        return await _run(
            adapter,
            prompt,
            prompt_dir / "prompt.md",
            workdir=workdir,
            env=env,
            timeout=timeout,
            on_event=on_event,
            cancel=cancel,
            resume_session=resume_session,
            kill_grace=kill_grace,
            redactor=redactor,
        )
    finally:
        shutil.rmtree(prompt_dir, ignore_errors=True)


async def _run(
    adapter: AgentAdapter,
    prompt: str,
    prompt_file: Path,
    *,
    workdir: Path,
    env: Mapping[str, str],
    timeout: float | None,
    on_event: OnEvent,
    cancel: asyncio.Event | None,
    resume_session: str | None,
    kill_grace: float,
    redactor: Redactor | None,
) -> AgentOutcome:
    await asyncio.to_thread(_write_private, prompt_file, prompt)
    argv = adapter.build_command(
        prompt, workdir=workdir, prompt_file=prompt_file, resume_session=resume_session
    )
    run_id = uuid.uuid4().hex
    proc_env = adapter.environment(env)
    proc_env[RUN_MARK] = run_id
    redactor = (redactor or Redactor()).with_secrets(*secrets_in_environment(proc_env))
    events: list[AgentEvent] = []

    async def emit(event: AgentEvent, *, redacted: bool = False) -> None:
        if not redacted:
            event = redactor.event(event)
        events.append(event)
        await on_event(event)

    async def emit_line(raw: bytes) -> None:
        line = redactor.text(raw.decode("utf-8", "replace"))
        try:
            parsed = adapter.parse_line(line)
        except Exception as exc:  # adapters must not raise; a bug there must not lose the run
            log.exception("adapter_parse_failed", extra={"adapter": adapter.name})
            parsed = [AgentEvent(kind="error", text=f"Could not read output ({exc!r}): {excerpt(line)}")]
        for event in parsed:
            # Made of the redacted line (the adapter adds no secret): no second pass.
            await emit(event, redacted=True)

    started = time.monotonic()
    loop = asyncio.get_running_loop()
    try:
        with open(prompt_file if adapter.prompt_on_stdin else os.devnull, "rb") as stdin:
            transport, pipes = await loop.subprocess_exec(
                Pipes,
                *argv,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=workdir,
                env=proc_env,
                start_new_session=True,
            )
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        reason = redactor.text(f"Could not start {argv[0]} in {workdir}: {exc.strerror or exc}{where}.")
        await emit(AgentEvent(kind="error", text=reason, is_error=True))
        return AgentOutcome(ok=False, reason=reason)

    root = transport.get_pid()
    root_stat = _stat(root)
    root_started = root_stat[4] if root_stat else None  # the run's processes all start after it
    log.debug("agent_started", extra={"adapter": adapter.name, "pid": root})
    reader = asyncio.create_task(_pump(pipes, emit_line, emit))
    timed_out = cancelled = False
    try:
        timed_out, cancelled = await _supervise(reader, pipes.exited, cancel, timeout)
    finally:
        await stop_tree(root, run_id, kill_grace, started=root_started)
        await _finish(reader, pipes)
        transport.close()
    if not reader.cancelled() and reader.exception() is not None:
        raise reader.exception()  # type: ignore[misc]  # on_event failed

    exit_code = transport.get_returncode()
    outcome = adapter.outcome(
        exit_code, events, pipes.stderr_tail(redactor), timed_out, cancelled, timeout=timeout
    )
    if outcome.duration_ms is None:
        outcome.duration_ms = round((time.monotonic() - started) * 1000)
    log.debug("agent_finished", extra={"adapter": adapter.name, "pid": root, "exit_code": exit_code})
    return redactor.outcome(outcome)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "w", encoding="utf-8") as file:
        file.write(text)


class Pipes(asyncio.SubprocessProtocol):
    """Stdout as a queue of chunks (paused when the consumer lags), stderr as a bounded tail."""

    def __init__(self) -> None:
        self.stdout: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.stderr = bytearray()
        self.stderr_trimmed = False
        self.exited = asyncio.Event()
        self._transport: asyncio.SubprocessTransport | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self.stdout.put_nowait(data)
            if not self._paused and self.stdout.qsize() >= _HIGH_WATER:
                self._set_paused(True)
        elif fd == 2:
            self.stderr += data
            if len(self.stderr) > 2 * STDERR_TAIL:
                del self.stderr[:-STDERR_TAIL]
                self.stderr_trimmed = True

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.stdout.put_nowait(None)

    def process_exited(self) -> None:
        self.exited.set()

    async def read(self) -> bytes | None:
        """The next stdout chunk, or None at end of file."""
        chunk = await self.stdout.get()
        if self._paused and self.stdout.qsize() <= _LOW_WATER:
            self._set_paused(False)
        return chunk

    def _set_paused(self, paused: bool) -> None:
        pipe = self._transport.get_pipe_transport(1) if self._transport else None
        if isinstance(pipe, asyncio.ReadTransport):
            pipe.pause_reading() if paused else pipe.resume_reading()
            self._paused = paused

    def stderr_tail(self, redactor: Redactor) -> str:
        text = redactor.text(self.stderr.decode("utf-8", "replace"))
        if self.stderr_trimmed:
            # The cut may have gone through a secret; drop the partial first line.
            newline = text.find("\n", 0, 1024)
            text = text[newline + 1 :] if newline >= 0 else text[1024:]
        return text[-STDERR_TAIL:]


async def _pump(
    pipes: Pipes,
    emit_line: Callable[[bytes], Awaitable[None]],
    emit: OnEvent,
) -> None:
    """Split stdout into lines and hand each to `emit_line`, in order."""
    buffer = bytearray()
    skipping = False  # inside a line that was too long
    while (chunk := await pipes.read()) is not None:
        scan_from = len(buffer)
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", scan_from)) >= 0:
            if not skipping:
                await emit_line(bytes(buffer[start:end]))
            skipping = False
            start = scan_from = end + 1
        del buffer[:start]
        if len(buffer) > MAX_LINE:
            if not skipping:
                mib = MAX_LINE // (1024 * 1024)
                await emit(AgentEvent(kind="error", text=f"Dropped an output line longer than {mib} MiB."))
            skipping = True
            buffer.clear()
    if buffer and not skipping:
        await emit_line(bytes(buffer))  # a last line without a newline


async def _supervise(
    reader: asyncio.Task[None],
    exited: asyncio.Event,
    cancel: asyncio.Event | None,
    timeout: float | None,
) -> tuple[bool, bool]:
    """Wait until the agent has exited and its stdout is read; returns (timed_out, cancelled).

    Also returns early when the reader failed, or when one of "exited" and "stdout closed"
    happened long ago without the other (the caller then stops the tree).
    """
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    grace_until: float | None = None
    exit_wait = asyncio.create_task(exited.wait())
    cancel_wait = asyncio.create_task(cancel.wait()) if cancel is not None else None
    try:
        while not (reader.done() and exited.is_set()):
            if cancel is not None and cancel.is_set():
                return False, True
            if reader.done() and (reader.cancelled() or reader.exception() is not None):
                return False, False
            now = loop.time()
            if deadline is not None and now >= deadline:
                return True, False
            if grace_until is None and (reader.done() or exited.is_set()):
                grace_until = now + (DRAIN_GRACE if exited.is_set() else EXIT_GRACE)
            if grace_until is not None and now >= grace_until:
                return False, False
            limits = [t - now for t in (deadline, grace_until) if t is not None]
            pending = [f for f in (reader, exit_wait, cancel_wait) if f is not None and not f.done()]
            await asyncio.wait(
                pending, timeout=min(limits) if limits else None, return_when=asyncio.FIRST_COMPLETED
            )
        return False, False
    finally:
        for helper in (exit_wait, cancel_wait):
            if helper is not None:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await helper


async def _finish(reader: asyncio.Task[None], pipes: Pipes) -> None:
    """Let the reader drain what the dead tree wrote, and wait for the agent to be reaped."""
    # Once the tree is dead its end of the pipe is closed; a process that escaped the tree
    # (no mark, not our descendant) could still hold it, so do not wait for ever.
    await asyncio.wait([reader], timeout=DRAIN_GRACE)
    if not reader.done():
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(pipes.exited.wait(), timeout=DRAIN_GRACE)


# --- the process tree ------------------------------------------------------------------------


def alone_in_namespace() -> bool:
    """Whether this process is PID 1 of a PID namespace (a container) that it does not share:
    then every other process in it was started by an agent or a verification command."""
    return os.getpid() == 1 and _HAVE_PROC


async def stop_everything_else(grace: float = KILL_GRACE) -> None:
    """When alone in a namespace, stop every other process in it (SIGTERM, then SIGKILL);
    elsewhere do nothing (a local runner shares the machine with its user)."""
    if alone_in_namespace():
        await _stop(_everything_else, grace, group=None)


async def stop_tree(root: int, run_id: str, grace: float, *, started: int | None = None) -> None:
    """SIGTERM every process of the run (see `tree_members`), then SIGKILL what is left after
    `grace` seconds."""
    await _stop(lambda: tree_members(root, run_id, started), grace, group=root)


async def _stop(scan: Callable[[], set[int]], grace: float, *, group: int | None) -> None:
    """SIGTERM the processes `scan` finds (and process group `group`), SIGKILL what is left
    after `grace` seconds; those forked meanwhile get the signal too.

    Each /proc scan runs in a worker thread: on a busy machine it reads hundreds of files."""
    members = await asyncio.to_thread(scan)
    if not members and (group is None or not _group_alive(group)):
        return
    log.debug("agent_tree_stopping", extra={"pid": group, "processes": len(members)})
    seen = set(members)
    try:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            _signal_all(group, members, sig)
            signalled = set(members)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                members = await asyncio.to_thread(scan)
                seen |= members
                if not members and (group is None or not _group_alive(group)):
                    return
                # Forked after the last scan (a shell mid-pipeline): they get the signal too.
                if born := members - signalled:
                    _signal_all(group, born, sig)
                    signalled |= born
        log.warning("agent_tree_survived_sigkill", extra={"pid": group, "pids": sorted(members)})
    finally:
        _reap_adopted(seen - {group or 0})


def _reap_adopted(pids: set[int]) -> None:
    """Reap those of `pids` that died as our adopted children (we are PID 1 in a container, or
    a subreaper): nobody else will. A dead process no longer shows its environment, so the run
    mark cannot find these; the pids seen alive can."""
    if not _HAVE_PROC:
        return
    me = os.getpid()
    for pid in pids:
        stat = _stat(pid)
        if stat is not None and stat[0] == "Z" and stat[1] == me:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def _signal_all(root: int | None, members: set[int], sig: signal.Signals) -> None:
    if root is not None and (not _HAVE_PROC or any(_pgrp(pid) == root for pid in members)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(root, sig)
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _group_alive(root: int) -> bool:
    """Without /proc, whether the process group still exists; with it, the scan said it all."""
    if _HAVE_PROC:
        return False
    try:
        os.killpg(root, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


_HAVE_PROC = os.path.isdir("/proc/self")


def _stat(pid: int) -> tuple[str, int, int, int, int] | None:
    """(state, ppid, pgrp, session, start time in clock ticks since boot) of a process, or None
    if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
        # The command name may contain spaces and parentheses; the fields follow the last ')'.
        fields = raw[raw.rfind(b")") + 2 :].split()
        return fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _everything_else() -> set[int]:
    """Every live process in /proc but this one (and init, when this is not init)."""
    pids = {int(name) for name in os.listdir("/proc") if name.isdigit()}
    return {pid for pid in pids if (stat := _stat(pid)) is not None and stat[0] not in ("Z", "X")} - {
        os.getpid(),
        1,
    }


def start_time(pid: int) -> int | None:
    """When a process started (clock ticks since boot), or None if it is gone or unknown."""
    stat = _stat(pid)
    return stat[4] if stat else None


def _pgrp(pid: int) -> int | None:
    stat = _stat(pid)
    return stat[2] if stat else None


def _has_mark(pid: int, mark: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return mark in f.read().split(b"\0")
    except OSError:  # gone, or someone else's
        return False


def tree_members(root: int, run_id: str, started: int | None = None) -> set[int]:
    """Live processes of a run: marked, in the root's group or session, or descended from it.

    `started`: the root's start time; a process started before it cannot carry the run's mark, so
    its environment is not read (the costly part of a scan)."""
    if not _HAVE_PROC:
        return set()
    mark = f"{RUN_MARK}={run_id}".encode()
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _stat(int(name))) is not None:
            stats[int(name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    found = {pid for pid, (_, _, pgrp, sid, _) in stats.items() if root in (pid, pgrp, sid)}
    found |= {
        pid
        for pid, stat in stats.items()
        if pid not in found and (started is None or stat[4] >= started) and _has_mark(pid, mark)
    }
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    if alone_in_namespace():
        found |= set(stats)  # everything here is the agent's (see stop_everything_else)
    # Zombies are dead already; never signal ourselves or init.
    return {pid for pid in found if stats[pid][0] not in ("Z", "X")} - {os.getpid(), 1}
