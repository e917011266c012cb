"""Verification commands: the tail of their output, their time limit, and nothing left running."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import ProcessMarker
from lazyaf_protocol.messages import VerifyStep

from lazyaf_runner.verify import OUTPUT_TAIL, run_all, run_step

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


async def test_a_passing_check_keeps_its_output(tmp_path: Path) -> None:
    result = await run_step(
        VerifyStep(name="test", command="echo ok; echo err >&2"), cwd=tmp_path, env=ENV, timeout=30
    )

    assert (result.exit_code, result.output) == (0, "ok\nerr\n")


async def test_only_the_tail_of_a_flood_is_kept(tmp_path: Path) -> None:
    command = "yes 'line of output' | head -n 1000000; echo THE END"  # 15 MB

    result = await run_step(VerifyStep(name="test", command=command), cwd=tmp_path, env=ENV, timeout=60)

    assert result.exit_code == 0
    assert len(result.output) == OUTPUT_TAIL and result.output.endswith("line of output\nTHE END\n")


async def test_a_check_that_outlives_its_time_is_stopped_with_its_output(
    tmp_path: Path, process_marker: ProcessMarker
) -> None:
    step = VerifyStep(name="test", command="echo started; sleep 300")

    result = await run_step(step, cwd=tmp_path, env={**ENV, **process_marker.env}, timeout=1)

    assert result.exit_code is None
    assert result.output == "started\n\n[timed out after 1 s]"
    assert process_marker.alive() == []


async def test_what_a_check_starts_in_the_background_does_not_outlive_it(
    tmp_path: Path, process_marker: ProcessMarker
) -> None:
    # A test that starts a server and forgets it, detached from the shell's session and pipe.
    command = "setsid sh -c 'sleep 300' </dev/null >/dev/null 2>&1 & (sleep 300 &) ; echo done"

    result = await run_step(
        VerifyStep(name="test", command=command), cwd=tmp_path, env={**ENV, **process_marker.env}, timeout=30
    )

    assert (result.exit_code, result.output) == (0, "done\n")
    assert process_marker.alive() == []


async def test_steps_stop_at_the_first_failure(tmp_path: Path) -> None:
    steps = [
        VerifyStep(name=n, command=c) for n, c in (("lint", "true"), ("test", "exit 3"), ("build", "true"))
    ]

    results = await run_all(steps, cwd=tmp_path, env=ENV, timeout=30)

    assert [(r.name, r.exit_code) for r in results] == [("lint", 0), ("test", 3)]
