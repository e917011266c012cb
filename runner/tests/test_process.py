"""run_agent: streaming, stdin, process trees, timeouts, cancel, and secrets, with small
Python scripts as the agent (the real Claude Code CLI is in agents/test_claude_cli.py)."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ProcessMarker
from lazyaf_runner.agents.base import AgentEvent, AgentOutcome
from lazyaf_runner.agents.command import CommandAdapter
from lazyaf_runner.process import RUN_MARK, run_agent


def python(code: str) -> CommandAdapter:
    return CommandAdapter([sys.executable, "-c", textwrap.dedent(code), "{prompt}"])


async def run(
    adapter: CommandAdapter,
    workdir: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float | None = 30,
    on_event: object = None,
    **kwargs: object,
) -> tuple[list[AgentEvent], AgentOutcome]:
    events: list[AgentEvent] = []

    async def collect(event: AgentEvent) -> None:
        events.append(event)
        if on_event is not None:
            await on_event(event)  # type: ignore[operator]

    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **(env or {})}
    outcome = await run_agent(
        adapter, "prompt", workdir=workdir, env=base, timeout=timeout, on_event=collect, **kwargs
    )
    return events, outcome


# Starts a child in our group, and a grandchild in a session of its own (like Claude Code's
# Bash tool) that is orphaned at once, as `(sleep 601 &)` in a shell; then waits for ever.
TREE = """
    import os, subprocess, sys, time
    subprocess.Popen(["sleep", "600"])
    if (middle := os.fork()) == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "601"])
        os._exit(0)
    os.waitpid(middle, 0)
    print("tree started", flush=True)
    time.sleep(600)
"""


async def test_events_arrive_while_the_agent_runs(tmp_path: Path) -> None:
    # The script waits for a file that only the event handler creates: buffering would deadlock.
    go = tmp_path / "go"
    adapter = python(f"""
        import os, time
        print("ready", flush=True)
        while not os.path.exists({str(go)!r}):
            time.sleep(0.01)
        print("done")
    """)

    async def on_event(event: AgentEvent) -> None:
        if event.text == "ready":
            go.touch()

    events, outcome = await run(adapter, tmp_path, on_event=on_event, timeout=10)

    assert [e.text for e in events] == ["ready", "done"]
    assert outcome.ok


async def test_long_lines_split_chunks_and_a_last_line_without_newline(tmp_path: Path) -> None:
    adapter = python("""
        import sys, time
        sys.stdout.write("a" * 3_000_000 + "\\nsecond ha")
        sys.stdout.flush()
        time.sleep(0.1)
        sys.stdout.write("lf line\\nno newline at the end")
    """)

    events, outcome = await run(adapter, tmp_path)

    texts = [e.text for e in events]
    assert len(texts) == 3
    assert texts[0].startswith("aaaa") and "truncated" in texts[0]  # one whole line, bounded as an event
    assert texts[1:] == ["second half line", "no newline at the end"]


async def test_many_lines_come_out_all_and_in_order(tmp_path: Path) -> None:
    adapter = python("""
        for i in range(50_000):
            print(f"line {i}")
    """)

    async def slow(event: AgentEvent) -> None:
        if event.text.endswith("000"):
            await asyncio.sleep(0.01)  # a slow consumer pauses the pipe; nothing is lost

    events, outcome = await run(adapter, tmp_path, on_event=slow)

    assert [e.text for e in events] == [f"line {i}" for i in range(50_000)]


async def test_invalid_utf8_does_not_break_the_stream(tmp_path: Path) -> None:
    adapter = python("""
        import sys
        sys.stdout.buffer.write(b"caf\\xe9\\nok\\n")
    """)

    events, outcome = await run(adapter, tmp_path)

    assert [e.text for e in events] == ["caf\ufffd", "ok"]


async def test_stdin_is_dev_null_and_the_agent_has_its_own_session(tmp_path: Path) -> None:
    adapter = python("""
        import os, sys
        print(os.readlink("/proc/self/fd/0"), repr(sys.stdin.read()), os.getsid(0) == os.getpid())
    """)

    events, outcome = await run(adapter, tmp_path, timeout=5)

    assert [e.text for e in events] == ["/dev/null '' True"]


async def test_every_process_carries_the_run_mark(tmp_path: Path) -> None:
    adapter = python(f"""
        import os
        print(os.environ["{RUN_MARK}"])
    """)

    first, _ = await run(adapter, tmp_path)
    second, _ = await run(adapter, tmp_path)

    assert len(first[0].text) == 32 and first[0].text != second[0].text


async def test_timeout_kills_the_whole_tree(tmp_path: Path, process_marker: ProcessMarker) -> None:
    started = time.monotonic()

    events, outcome = await run(python(TREE), tmp_path, env=process_marker.env, timeout=1.5)

    assert [e.text for e in events] == ["tree started"]
    assert not outcome.ok and outcome.timed_out
    assert outcome.reason.startswith("The command 'python")
    assert "timed out after 1.5 s" in outcome.reason
    assert process_marker.alive() == []
    assert time.monotonic() - started < 5


async def test_cancel_kills_the_whole_tree(tmp_path: Path, process_marker: ProcessMarker) -> None:
    cancel = asyncio.Event()

    async def on_event(event: AgentEvent) -> None:
        asyncio.get_running_loop().call_later(0.2, cancel.set)

    events, outcome = await run(
        python(TREE), tmp_path, env=process_marker.env, on_event=on_event, cancel=cancel
    )

    assert not outcome.ok and outcome.cancelled and not outcome.timed_out
    assert "was cancelled" in outcome.reason
    assert process_marker.alive() == []


async def test_a_process_that_ignores_sigterm_gets_sigkill(
    tmp_path: Path, process_marker: ProcessMarker
) -> None:
    adapter = python("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stubborn", flush=True)
        time.sleep(600)
    """)
    started = time.monotonic()

    events, outcome = await run(adapter, tmp_path, env=process_marker.env, timeout=0.5, kill_grace=0.5)

    assert outcome.timed_out and outcome.exit_code == -9
    assert process_marker.alive() == []
    assert time.monotonic() - started < 4


async def test_a_grandchild_holding_stdout_does_not_hang_the_run(
    tmp_path: Path, process_marker: ProcessMarker
) -> None:
    # The agent exits at once, but the sleep it started keeps our stdout pipe open.
    adapter = python("""
        import subprocess
        subprocess.Popen(["sleep", "600"])
        print("bye")
    """)
    started = time.monotonic()

    events, outcome = await run(adapter, tmp_path, env=process_marker.env, timeout=None)

    assert [e.text for e in events] == ["bye"]
    assert outcome.ok and outcome.exit_code == 0
    assert process_marker.alive() == []
    assert time.monotonic() - started < 6


async def test_background_processes_are_stopped_when_the_agent_is_done(
    tmp_path: Path, process_marker: ProcessMarker
) -> None:
    adapter = python("""
        import subprocess
        quiet = subprocess.DEVNULL
        subprocess.Popen(["sleep", "600"], stdout=quiet, stderr=quiet, start_new_session=True)
        print("server started")
    """)

    events, outcome = await run(adapter, tmp_path, env=process_marker.env)

    assert outcome.ok
    assert process_marker.alive() == []


async def test_closed_stdout_without_exit_does_not_hang(
    tmp_path: Path, process_marker: ProcessMarker
) -> None:
    adapter = python("""
        import os, sys, time
        print("closing", flush=True)
        os.close(1)
        time.sleep(600)
    """)

    events, outcome = await run(adapter, tmp_path, env=process_marker.env, timeout=2)

    assert [e.text for e in events] == ["closing"]
    assert outcome.timed_out
    assert process_marker.alive() == []


async def test_a_failing_event_handler_stops_the_agent_and_propagates(
    tmp_path: Path, process_marker: ProcessMarker
) -> None:
    async def on_event(event: AgentEvent) -> None:
        raise RuntimeError("backend went away")

    with pytest.raises(RuntimeError, match="backend went away"):
        await run(python(TREE), tmp_path, env=process_marker.env, on_event=on_event)

    assert process_marker.alive() == []


async def test_a_missing_program_is_a_clear_failure(tmp_path: Path) -> None:
    events, outcome = await run(CommandAdapter(["no-such-agent-cli", "{prompt}"]), tmp_path)

    assert not outcome.ok
    assert (
        outcome.reason
        == f"Could not start no-such-agent-cli in {tmp_path}: No such file or directory (no-such-agent-cli)."
    )
    assert [(e.kind, e.text) for e in events] == [("error", outcome.reason)]


async def test_a_missing_workdir_is_a_clear_failure(tmp_path: Path) -> None:
    events, outcome = await run(python("print(1)"), tmp_path / "gone")

    assert not outcome.ok
    assert "No such file or directory" in outcome.reason and str(tmp_path / "gone") in outcome.reason


async def test_secrets_never_reach_events_or_outcome(tmp_path: Path) -> None:
    secret = "sk-test-0123456789abcdef"
    adapter = python("""
        import os, sys
        key = os.environ["ANTHROPIC_API_KEY"]
        print("my key is", key)
        sys.stderr.write("x" * 20000 + "\\nauth failed for " + key + "\\n")
        sys.exit(1)
    """)

    events, outcome = await run(adapter, tmp_path, env={"ANTHROPIC_API_KEY": secret})

    assert events[0].text == "my key is [redacted]"
    assert "auth failed for [redacted]" in outcome.reason
    assert secret not in outcome.model_dump_json()
    assert all(secret not in e.model_dump_json() for e in events)


async def test_stderr_tail_is_bounded(tmp_path: Path) -> None:
    adapter = python("""
        import sys
        for i in range(100_000):
            sys.stderr.write(f"noise {i}\\n")
        sys.stderr.write("the last words\\n")
        sys.exit(1)
    """)

    events, outcome = await run(adapter, tmp_path)

    assert outcome.reason.endswith("the last words.")
    assert len(outcome.reason) < 600


async def test_as_a_subreaper_the_runner_reaps_what_it_adopts(
    tmp_path: Path, process_marker: ProcessMarker
) -> None:
    # A runner that is PID 1 in a container adopts the agent's orphans; left alone they would
    # stay zombies. PR_SET_CHILD_SUBREAPER gives the same situation without a container.
    script = textwrap.dedent(f"""
        import asyncio, ctypes, os, sys
        from lazyaf_runner.agents.command import CommandAdapter
        from lazyaf_runner.process import run_agent

        assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER

        async def main():
            async def on_event(event):
                pass
            adapter = CommandAdapter([sys.executable, "-c", {textwrap.dedent(TREE)!r}])
            env = dict(os.environ)
            outcome = await run_agent(adapter, "", workdir=".", env=env, timeout=1, on_event=on_event)
            assert outcome.timed_out, outcome
            me = str(os.getpid())
            zombies = []
            for pid in os.listdir("/proc"):
                try:
                    fields = open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                if fields[1] == me and fields[0] == "Z":
                    zombies.append(pid)
            print("zombies", zombies)

        asyncio.run(main())
    """)
    adapter = CommandAdapter([sys.executable, "-c", script])

    events, outcome = await run(adapter, tmp_path, env={**process_marker.env, "PATH": os.environ["PATH"]})

    assert outcome.ok, outcome.reason
    assert [e.text for e in events] == ["zombies []"]
    assert process_marker.alive() == []
