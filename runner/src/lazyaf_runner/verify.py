"""Verification: the repo's setup, lint, test and build commands, run after the agent, in order.

They are the repository's code, so as untrusted as the agent: they get an allowlisted
environment (`environment.verification_environment`, no credential at all), only the tail of
their output is kept, and once the shell exits (or times out) every process it started is
stopped, marked with the same run mark the agent's processes carry (`process.py`): a server a
test left running must not outlive the check, nor wait for the runner's push.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import uuid
from pathlib import Path

from lazyaf_protocol.messages import VerifyResult, VerifyStep

from lazyaf_runner.process import KILL_GRACE, RUN_MARK, Pipes, start_time, stop_tree

OUTPUT_TAIL = 8000
"""Characters of a command's output kept (its end, where failures are reported)."""
_DRAIN_GRACE = 2.0


async def run_step(
    step: VerifyStep, *, cwd: Path, env: dict[str, str], timeout: float | None
) -> VerifyResult:
    """Run one command with the shell in its own session; keep the tail of its output.

    The check is over when the shell exits, even if something it started still holds the
    output pipe (that something is then stopped)."""
    started = time.monotonic()
    run_id = uuid.uuid4().hex
    loop = asyncio.get_running_loop()
    transport, pipes = await loop.subprocess_exec(
        Pipes,
        "/bin/sh",
        "-c",
        step.command,
        cwd=cwd,
        env={**env, RUN_MARK: run_id},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pid = transport.get_pid()
    began = start_time(pid)
    tail = bytearray()
    reader = asyncio.create_task(_keep_tail(pipes, tail))
    timed_out = False
    try:
        await asyncio.wait_for(pipes.exited.wait(), timeout)
    except TimeoutError:
        timed_out = True
    finally:
        # The shell is done; whatever it left behind goes, and with it the pipe's last holders.
        await stop_tree(pid, run_id, KILL_GRACE, started=began)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pipes.exited.wait(), KILL_GRACE)
        await asyncio.wait([reader], timeout=_DRAIN_GRACE)
        reader.cancel()
        transport.close()
    code = None if timed_out else transport.get_returncode()
    text = tail.decode("utf-8", "replace")[-OUTPUT_TAIL:]
    if timed_out:
        text = f"{text}\n[timed out after {timeout:g} s]".lstrip("\n")
    return VerifyResult(
        name=step.name,
        command=step.command,
        exit_code=code,
        duration_ms=int((time.monotonic() - started) * 1000),
        output=text,
    )


async def _keep_tail(pipes: Pipes, tail: bytearray) -> None:
    """Read the output to its end, keeping only its last bytes (a check may print gigabytes)."""
    while (chunk := await pipes.read()) is not None:
        tail += chunk
        if len(tail) > 8 * OUTPUT_TAIL:
            del tail[: -4 * OUTPUT_TAIL]  # 4 bytes per character at most


async def run_all(
    steps: list[VerifyStep], *, cwd: Path, env: dict[str, str], timeout: float | None
) -> list[VerifyResult]:
    """Run the steps in order, stopping at the first that fails."""
    results = []
    for step in steps:
        result = await run_step(step, cwd=cwd, env=env, timeout=timeout)
        results.append(result)
        if result.exit_code != 0:
            break
    return results
