"""Verification: the repo's setup, lint, test and build commands, run after the agent, in order."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from lazyaf_runner.protocol import VerifyResult, VerifyStep

OUTPUT_TAIL = 8000


async def run_step(
    step: VerifyStep, *, cwd: Path, env: dict[str, str], timeout: float | None
) -> VerifyResult:
    """Run one command with the shell in its own process group; keep the tail of its output."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        step.command,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
        code: int | None = process.returncode
        text = out.decode("utf-8", "replace")
    except TimeoutError:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await process.wait()
        code, text = None, f"[timed out after {timeout:g} s]"
    return VerifyResult(
        name=step.name,
        command=step.command,
        exit_code=code,
        duration_ms=int((time.monotonic() - started) * 1000),
        output=text[-OUTPUT_TAIL:],
    )


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
