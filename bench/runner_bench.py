"""Runner benchmark: how fast a started card reaches its agent, and what a runner adds to a job.

A benchmark, not a test: it prints markdown tables, writes everything (raw per-job times too) to
``bench/out/runner_bench.json`` and exits 0 whether or not the targets are met (non-zero only
when it could not measure). Run it with the checkout's venv (it needs httpx and websockets)::

    .venv/bin/python bench/runner_bench.py                 # 30 dispatches on 2 runners, 20 cards on 4
    .venv/bin/python bench/runner_bench.py --jobs 10 --cards 8 --runners 2 --trace-git

One LazyAF server (``lazyaf.server.run``, its own session) serves a small generated repository
(41 files, 8 commits). Its data dir and the reference's clones live in a scratch directory under
the system temp dir, where runners keep their workspaces: on this machine files are created
markedly slower under /work than under /tmp, which would tilt the comparison. The local runner
pool runs the ``command`` agent, a bash one-liner that reads ``$EPOCHREALTIME`` first thing (no
fork), files it as ``<marks>/<card id>``, writes it to one file in the clone, and
exits. A thread follows ``/ws`` and keeps the server time (``at``) of every job_status change:
claimed (``running``), then the runner's phases ``cloning``, ``agent``, ``committing``,
``pushing``, then ``completed``. Server, runners, agents and this script share one machine, so
one clock. A runner keeps a mirror of the repo and a spare checkout (runner/.../mirror.py):
its first job fills them (the warm-up jobs), later ones fetch only when the base moved.

1. **Dispatch latency** (``--jobs`` after ``--warmup``, ``--dispatch-runners`` idle runners):
   cards are started one at a time, each once every runner is idle again. Latency is the agent's
   timestamp minus the wall clock just before ``POST /api/cards/{id}/start``, split at the job's
   ``started_at`` (claimed) and at the phase events. Target: p95 under 100 ms.
2. **Per-job time** (``--cards`` cards, ``--runners`` runners): every card is started at once;
   per job ``completed_at - started_at``, and wall time (first start to last completion) x runners
   / cards. Reference in the same run, against the same LazyAF git server: the work by hand with
   plain ``git`` (clone, write the file, add, commit, push a new branch, remove the clone), once
   sequentially and once on ``--runners`` parallel workers, each command timed. The dispatch
   jobs give the per-job time of one job at a time, each paired with a plain-git job run right
   after it, under the same load. CPU per job: user + system time of the server and runners, with
   the git and agent processes they reaped (for plain git: the server and this script's git
   processes), read from /proc around each phase. Target: LazyAF per job within 1.2x of plain git.
3. With ``--trace-git``, every git that the runners and the reference start writes trace2 events
   (through ``~/.gitconfig``: the server and its runners get this run's own ``HOME``, as the
   reference does), and each LazyAF job is split at its runner's git commands. Tracing costs each
   git a little, so take the headline numbers from a run without it.

``ws_bench.py`` starts its server with ``Server`` from here. Stopping: the runner pool is scaled
to 0, the server's process group is killed, and any runner process whose argv still names this
server's URL is killed by pid; on errors, Ctrl-C and SIGTERM too.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
LAZYAF_PYTHON = ROOT / ".venv" / "bin" / "python"
OUT = ROOT / "bench" / "out"
FINAL = ("completed", "failed", "cancelled")
AGENT_FILE = "bench-agent.txt"


class BenchError(Exception):
    """The benchmark could not measure; the message says why."""


# --- small helpers ------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: Sequence[float]) -> dict[str, float | int]:
    """n, median, p95, min, max of ``values`` (seconds in, milliseconds out)."""
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "min_ms": min(ms) if ms else math.nan,
        "max_ms": max(ms) if ms else math.nan,
    }


def fmt(ms: float) -> str:
    if math.isnan(ms):
        return "–"
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def ts(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "LAZYAF_"))}
    env.update(extra)
    return env


def git_env(home: Path) -> dict[str, str]:
    """What the runner gives git (workspace.git_environment), with an empty HOME."""
    return clean_env(
        HOME=str(home),
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@lazyaf.local",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@lazyaf.local",
    )


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"git {' '.join(args[:2])} failed in {cwd}: {result.stderr.strip()[-300:]}")


def make_source_repo(path: Path, env: dict[str, str], *, files: int = 40, commits: int = 8) -> None:
    """A small project: README, nested source files, a few commits of edits."""
    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path, env=env)
    (path / "README.md").write_text("# Bench\n\nA small repository for the runner benchmark.\n")
    for i in range(files):
        source = path / "src" / f"pkg{i % 5}" / f"module_{i}.py"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("".join(f"def f{i}_{j}(x):\n    return x * {j} + {i}\n\n" for j in range(30)))
    git("add", ".", cwd=path, env=env)
    git("commit", "-q", "-m", "Initial import", cwd=path, env=env)
    for c in range(1, commits):
        target = path / "src" / f"pkg{c % 5}" / f"module_{c}.py"
        target.write_text(target.read_text() + f"\n# edit {c}\n")
        git("commit", "-q", "-am", f"Edit {c}", cwd=path, env=env)


def agent_command(marks: Path) -> str:
    """The agent: bash takes the time before anything else, files it by workspace, writes one file.

    bash's ``$EPOCHREALTIME`` costs no fork; the workspace is ``<root>/<card id>/repo`` (one card per job here).
    """
    script = (
        "t=$EPOCHREALTIME; w=$1; n=${w%/repo}; n=${n##*/}; "
        f'printf "%s\\n" "$t" > "$0/$n"; printf "%s\\n" "$t" > "$w/{AGENT_FILE}"'
    )
    return shlex.join(["bash", "-c", script, str(marks), "{workdir}"])


# --- the server ---------------------------------------------------------------------------------


class Server:
    """A LazyAF server process in its own session, with its runner pool; stop() leaves nothing running."""

    def __init__(
        self,
        workdir: Path,
        *,
        agent_command: str | None = None,
        home: Path | None = None,
        uvicorn_overrides: dict[str, Any] | None = None,
    ) -> None:
        if not LAZYAF_PYTHON.exists():
            raise BenchError(f"{LAZYAF_PYTHON} not found; create the venv and install the backend first")
        self.data_dir = workdir / "lazyaf-data"
        self.data_dir.mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "lazyaf.log"
        env = clean_env(
            LAZYAF_DATA_DIR=str(self.data_dir),
            LAZYAF_PORT=str(self.port),
            LAZYAF_LOG_LEVEL="warning",
            LAZYAF_DEFAULT_AGENT="command",
        )
        if agent_command:
            env["LAZYAF_AGENT_COMMAND"] = agent_command
        if home is not None:
            # Runners inherit it, so their git reads the same ~/.gitconfig as the plain-git reference.
            env["HOME"] = str(home)
        code = (
            "from lazyaf.server import run; from lazyaf.settings import load_settings; run(load_settings())"
        )
        if uvicorn_overrides:
            # Diagnosis only: the real run(), with some uvicorn.run() arguments replaced.
            code = (
                f"import uvicorn; _run = uvicorn.run; _o = {uvicorn_overrides!r}; "
                "uvicorn.run = lambda *a, **k: _run(*a, **{**k, **_o}); " + code
            )
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(LAZYAF_PYTHON), "-c", code],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.data_dir,
                start_new_session=True,
            )
        self.http = httpx.Client(base_url=self.url, timeout=60)
        self.runners_started = False
        _servers.append(self)
        self._wait_healthy(60)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"LazyAF exited during startup; its log ends with:\n{self.log_tail()}")
            try:
                if self.http.get("/api/health", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise BenchError(f"LazyAF did not answer on {self.url} within {timeout:.0f} s")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def api(self, method: str, path: str, body: object | None = None) -> Any:
        response = self.http.request(method, "/api" + path, json=body)
        if response.status_code >= 400:
            raise BenchError(f"LazyAF {method} {path} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    def ingest(self, name: str, source: Path, env: dict[str, str]) -> dict[str, Any]:
        repo: dict[str, Any] = self.api("POST", "/repos/ingest", {"name": name})
        git("push", "-q", repo["clone_url"], "main", cwd=source, env=env)
        return repo

    def scale(self, count: int, *, timeout: float = 60) -> None:
        self.runners_started = self.runners_started or count > 0
        self.api("POST", "/runners/scale", {"kind": "local", "count": count})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runners = self.api("GET", "/runners")["runners"]
            if count == 0 or sum(r["status"] == "idle" for r in runners) >= count:
                return
            time.sleep(0.05)
        raise BenchError(f"{count} local runners were not idle within {timeout:.0f} s")

    def wait_runners_idle(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(r["status"] == "idle" for r in self.api("GET", "/runners")["runners"]):
                return
            time.sleep(0.02)
        raise BenchError(f"runners still busy after {timeout:.0f} s")

    def stop(self) -> None:
        if self in _servers:
            _servers.remove(self)
        if self.runners_started and self.proc.poll() is None:
            try:
                self.api("POST", "/runners/scale", {"kind": "local", "count": 0})
            except (BenchError, httpx.HTTPError):
                pass
        self.http.close()
        kill_group(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        kill_group(self.proc.pid, signal.SIGKILL)  # and whatever the server left in its group
        self.proc.wait(timeout=10)
        # Pool runners run in sessions of their own (they outlive a backend restart): find ours by port.
        leftovers = runner_pids(self.url)
        for pid in leftovers:
            kill_group(pid, signal.SIGTERM)
        if leftovers:
            time.sleep(1)
        for pid in leftovers:
            kill_group(pid, signal.SIGKILL)


def kill_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def runner_pids(server_url: str) -> list[int]:
    """Pids of runner processes started for ``server_url`` (their argv names it)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"lazyaf_runner" in argv and server_url.encode() in argv:
            found.append(int(name))
    return found


CPU_PARTS = ("server", "server's git", "runners", "runners' git + agent", "client git")


def process_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of a process itself, and of the children it has reaped (/proc/<pid>/stat)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return 0.0, 0.0
    utime, stime, cutime, cstime = (int(f) for f in raw[raw.rfind(b")") + 2 :].split()[11:15])
    tick = os.sysconf("SC_CLK_TCK")
    return (utime + stime) / tick, (cutime + cstime) / tick


def lazyaf_cpu(server: Server) -> dict[str, float]:
    """The server and its runners, each with the git (and agent) processes they ran and reaped."""
    own, children = process_cpu(server.proc.pid)
    runners = [process_cpu(pid) for pid in runner_pids(server.url)]
    return {
        "server": own,
        "server's git": children,
        "runners": sum(r[0] for r in runners),
        "runners' git + agent": sum(r[1] for r in runners),
    }


def plain_cpu(server: Server) -> dict[str, float]:
    """The server (serving the reference's git requests) and the git processes this script ran."""
    own, children = process_cpu(server.proc.pid)
    times = os.times()
    return {
        "server": own,
        "server's git": children,
        "client git": times.children_user + times.children_system,
    }


def cpu_since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after}


def cpu_per_job_ms(spent: Sequence[dict[str, float]], jobs: int) -> dict[str, float]:
    return {
        k: sum(c.get(k, 0.0) for c in spent) / jobs * 1000 for k in CPU_PARTS if any(k in c for c in spent)
    }


_servers: list[Server] = []


def stop_all() -> None:
    for server in list(_servers):
        server.stop()


def _on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


# --- following the board ------------------------------------------------------------------------


@dataclass
class JobTrace:
    """Server times (``at`` of job_status events) of each step of one job."""

    status_at: dict[str, float] = field(default_factory=dict)
    phase_at: dict[str, float] = field(default_factory=dict)
    final: dict[str, Any] | None = None


class Board:
    """A /ws client in a thread, keeping the times of every job's status and phase changes."""

    def __init__(self, server_url: str) -> None:
        self.jobs: dict[str, JobTrace] = {}
        self.changed = threading.Condition()
        self._ws = connect(server_url.replace("http", "ws", 1) + "/ws", max_size=None)
        self._thread = threading.Thread(target=self._read, name="board", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self._ws:
                frame = json.loads(raw)
                if frame.get("type") == "job_status":
                    self._record(frame["data"]["job"], datetime.fromisoformat(frame["at"]).timestamp())
        except Exception:  # the socket closed under us at shutdown
            pass

    def _record(self, job: dict[str, Any], at: float) -> None:
        with self.changed:
            trace = self.jobs.setdefault(job["id"], JobTrace())
            trace.status_at.setdefault(job["status"], at)
            if job["phase"]:
                trace.phase_at.setdefault(job["phase"], at)
            if job["status"] in FINAL:
                trace.final = job
            self.changed.notify_all()

    def wait_final(self, job_ids: Iterable[str], timeout: float) -> None:
        ids = list(job_ids)
        with self.changed:
            done = self.changed.wait_for(
                lambda: all((t := self.jobs.get(i)) is not None and t.final is not None for i in ids), timeout
            )
        if not done:
            missing = [i for i in ids if (t := self.jobs.get(i)) is None or t.final is None]
            raise BenchError(f"{len(missing)} job(s) not finished after {timeout:.0f} s: {missing[:3]}")

    def close(self) -> None:
        self._ws.close()
        self._thread.join(5)


# --- measuring LazyAF ---------------------------------------------------------------------------

STEPS = (  # (label, from, to): points of a JobTrace; "running" is the claim
    ("claimed → runner reports cloning", "running", "cloning"),
    ("workspace ready (cloning → agent)", "cloning", "agent"),
    ("agent process (agent → committing)", "agent", "committing"),
    ("commit + stats (committing → pushing)", "committing", "pushing"),
    ("push + completion (pushing → completed)", "pushing", "completed"),
)


# A runner does not report a phase over within 0.1 s (runner connection.PHASE_QUIET): a missing
# "cloning" starts at the claim, a missing "committing" or "pushing" at the next point reported.
FALLBACK = {"cloning": ("running",), "committing": ("pushing", "completed"), "pushing": ("completed",)}


def trace_point(trace: JobTrace, name: str) -> float | None:
    for point in (name, *FALLBACK.get(name, ())):
        if (at := trace.status_at.get(point) or trace.phase_at.get(point)) is not None:
            return at
    return None


def job_record(
    server: Server, board: Board, job_id: str, marks: Path, t_start: float | None
) -> dict[str, Any]:
    """Everything known about one finished job, as seconds since the epoch and durations."""
    job = server.api("GET", f"/jobs/{job_id}")
    mark = marks / job["card_id"]
    agent_at = float(mark.read_text().strip()) if mark.exists() else None
    trace = board.jobs[job_id]
    record: dict[str, Any] = {
        "job_id": job_id,
        "card_id": job["card_id"],
        "status": job["status"],
        "error": job["error"],
        "t_start": t_start,
        "queued_at": ts(job["queued_at"]),
        "started_at": ts(job["started_at"]),
        "agent_started_at": ts(job["agent_started_at"]),
        "completed_at": ts(job["completed_at"]),
        "agent_exec_at": agent_at,
        "steps": {},
    }
    for label, a, b in STEPS:
        ta, tb = trace_point(trace, a), trace_point(trace, b)
        if ta is not None and tb is not None:
            record["steps"][label] = tb - ta
    if record["started_at"] and record["completed_at"]:
        record["per_job"] = record["completed_at"] - record["started_at"]
    return record


def new_cards(server: Server, repo: dict[str, Any], n: int, prefix: str) -> list[dict[str, Any]]:
    return [server.api("POST", f"/repos/{repo['id']}/cards", {"title": f"{prefix} {i}"}) for i in range(n)]


def run_dispatch(
    server: Server,
    board: Board,
    repo: dict[str, Any],
    marks: Path,
    plain: Callable[[str], dict[str, float]],
    *,
    jobs: int,
    warmup: int,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Start cards one at a time on idle runners; after each, the same work by hand with plain git.

    Interleaving pairs every LazyAF job with a plain-git job run under the same machine load.
    """
    records = []
    for i, card in enumerate(new_cards(server, repo, warmup + jobs, "Dispatch")):
        server.wait_runners_idle()
        time.sleep(0.1)  # let the runners' claim / no-job exchange after the last job settle
        cpu = lazyaf_cpu(server)
        t0 = time.time()
        job = server.api("POST", f"/cards/{card['id']}/start")
        t_response = time.time()
        board.wait_final([job["id"]], 120)
        server.wait_runners_idle()
        record = job_record(server, board, job["id"], marks, t0)
        record.update(cpu=cpu_since(cpu, lazyaf_cpu(server)), post_rtt=t_response - t0, warmup=i < warmup)
        if record["status"] != "completed":
            log(f"  dispatch job {i}: {record['status']}: {record['error']}")
        cpu = plain_cpu(server)
        record["plain"] = plain(f"d{i}")
        record["plain_cpu"] = cpu_since(cpu, plain_cpu(server))
        records.append(record)
    return records


def run_throughput(
    server: Server, board: Board, repo: dict[str, Any], marks: Path, *, cards: int
) -> tuple[list[dict[str, Any]], float, dict[str, float]]:
    """Start every card at once; (records, wall seconds from the first start to the last
    completion, CPU seconds of server and runners)."""
    server.wait_runners_idle()
    todo = new_cards(server, repo, cards, "Throughput")
    time.sleep(0.2)
    cpu = lazyaf_cpu(server)
    t0 = time.time()
    job_ids = [server.api("POST", f"/cards/{card['id']}/start")["id"] for card in todo]
    board.wait_final(job_ids, 60 + 30 * cards)
    server.wait_runners_idle()
    cpu = cpu_since(cpu, lazyaf_cpu(server))
    records = [job_record(server, board, job_id, marks, None) for job_id in job_ids]
    ends = [r["completed_at"] for r in records if r["completed_at"]]
    return records, (max(ends) - t0) if ends else math.nan, cpu


# --- the plain-git reference --------------------------------------------------------------------


def plain_git_job(clone_url: str, scratch: Path, env: dict[str, str], n: str) -> dict[str, float]:
    """The runner's essential work by hand: clone, write one file, add, commit, push a new branch."""
    work = scratch / f"plain-{n}"
    steps: dict[str, float] = {}
    t_begin = t = time.perf_counter()

    def step(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        steps[name] = now - t
        t = now

    git("clone", "--quiet", "--no-tags", clone_url, str(work), cwd=scratch, env=env)
    step("clone")
    (work / AGENT_FILE).write_text(f"{time.time()}\n")
    step("write")
    git("add", "--all", cwd=work, env=env)
    git("commit", "--quiet", "--no-verify", "-m", f"Plain git job {n}", cwd=work, env=env)
    step("add + commit")
    git("push", "--quiet", "origin", f"HEAD:refs/heads/bench/plain-{n}", cwd=work, env=env)
    step("push")
    shutil.rmtree(work)
    step("remove")
    steps["per_job"] = time.perf_counter() - t_begin
    return steps


def run_plain(
    server: Server, job: Callable[[str], dict[str, float]], *, jobs: int, parallel: int, prefix: str
) -> tuple[list[dict[str, float]], float, dict[str, float]]:
    """``jobs`` plain-git jobs on ``parallel`` workers; (per-job steps, wall seconds, CPU seconds)."""
    cpu = plain_cpu(server)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(job, [f"{prefix}{n}" for n in range(jobs)]))
    return results, time.perf_counter() - t0, cpu_since(cpu, plain_cpu(server))


# --- git trace2: inside a job (--trace-git) -----------------------------------------------------


def enable_git_trace(home: Path, target: Path) -> None:
    """Every git the runners and the plain-git reference start writes trace2 events under ``target``.

    Through ~/.gitconfig: the runner drops GIT_* variables but keeps HOME. The server's own git
    children get no HOME, so only client-side git is traced.
    """
    target.mkdir()
    (home / ".gitconfig").write_text(f"[trace2]\n\teventTarget = {target}\n")


@dataclass
class GitProcess:
    sid: str
    argv: list[str]
    start: float
    end: float
    worktree: str = ""

    @property
    def name(self) -> str:
        return self.argv[1] if len(self.argv) > 1 else "?"

    @property
    def top_level(self) -> bool:
        return "/" not in self.sid


def read_git_trace(target: Path) -> list[GitProcess]:
    found = []
    for path in target.iterdir():
        events = [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line.strip()]
        start = next((e for e in events if e["event"] == "start"), None)
        end = next((e for e in reversed(events) if e["event"] in ("atexit", "exit")), None)
        if start is None or end is None:
            continue
        began = datetime.fromisoformat(start["time"].replace("Z", "+00:00")).timestamp() - start["t_abs"]
        repo = next((e.get("worktree", "") for e in events if e["event"] == "def_repo"), "")
        found.append(GitProcess(start["sid"], start["argv"], began, began + end["t_abs"], repo or ""))
    return found


def job_git_breakdown(record: dict[str, Any], processes: list[GitProcess]) -> dict[str, float] | None:
    """Split one LazyAF job at its runner's git commands (top-level, matched by workspace path)."""
    mark = f"/{record['card_id']}/"
    mine = sorted(
        (p for p in processes if p.top_level and (mark in p.worktree or any(mark in a for a in p.argv))),
        key=lambda p: p.start,
    )
    agent = record["agent_exec_at"]
    if not mine or mine[-1].name != "push" or agent is None:
        return None
    push = mine[-1]
    # No clone: the workspace is the runner's spare checkout, renamed (a mirror fetch, when one
    # is needed, runs in the runner's cache, outside the card's folder).
    setup = [p for p in mine[:-1] if p.start < agent]
    commit = [p for p in mine[:-1] if p.start > agent]
    if not commit:
        return None
    return {
        "claimed → agent running": agent - record["started_at"],
        "setup gits in the workspace (checkout -B, only when the spare is elsewhere)": sum(
            p.end - p.start for p in setup
        ),
        "agent running → first commit git": commit[0].start - agent,
        "commit + stats gits (4: add, commit, rev-list, diff --numstat)": commit[-1].end - commit[0].start,
        "last stats git → push starts": push.start - commit[-1].end,
        "git push": push.end - push.start,
        "push ends → completed_at": record["completed_at"] - push.end,
        "· time between gits (runner's spawn/await per git)": statistics.fmean(
            b.start - a.end for a, b in zip(mine, mine[1:], strict=False) if b.start - a.end < 0.2
        ),
        "· mean git process lifetime, setup + commit gits": statistics.fmean(
            p.end - p.start for p in setup + commit
        ),
    }


def plain_git_breakdown(processes: list[GitProcess]) -> dict[str, Any]:
    plain = [p for p in processes if p.top_level and any("plain-" in a for a in p.argv + [p.worktree])]
    return {
        f"git {name}": summary([p.end - p.start for p in plain if p.name == name])
        for name in ("clone", "add", "commit", "push")
    }


def trace_summary(records: list[dict[str, Any]], processes: list[GitProcess]) -> dict[str, Any]:
    rows = [b for r in records if r["status"] == "completed" and (b := job_git_breakdown(r, processes))]
    labels = list(rows[0]) if rows else []
    return {"jobs": len(rows), "steps": {k: summary([row[k] for row in rows if k in row]) for k in labels}}


# --- report ------------------------------------------------------------------------------------


def dispatch_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows of the dispatch table; indented rows split the row above them exactly."""
    ok = [r for r in records if not r["warmup"] and r["status"] == "completed" and r["agent_exec_at"]]
    rows = {
        "start → agent running": [r["agent_exec_at"] - r["t_start"] for r in ok],
        "start → claimed (job started_at)": [r["started_at"] - r["t_start"] for r in ok],
        "  POST /start round trip": [r["post_rtt"] for r in ok],
        "  POST answered → claimed (wake, claim; < 0: claimed first)": [
            r["started_at"] - r["t_start"] - r["post_rtt"] for r in ok
        ],
        "claimed → agent running": [r["agent_exec_at"] - r["started_at"] for r in ok],
        "  claimed → 'cloning' reported": [r["steps"][STEPS[0][0]] for r in ok],
        "  'cloning' → 'agent' reported (mirror + checkout)": [r["steps"][STEPS[1][0]] for r in ok],
        "  'agent' reported → agent running (≈ spawn; < 0: spawned first)": [
            r["agent_exec_at"] - r["agent_started_at"] for r in ok
        ],
    }
    return {label: summary(values) for label, values in rows.items()}


def steps_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in records if r["status"] == "completed" and not r.get("warmup")]
    return {label: summary([r["steps"][label] for r in ok if label in r["steps"]]) for label, _, _ in STEPS}


PAIRS = (  # LazyAF step (STEPS label) and the plain-git step doing the same work
    (STEPS[0][0], None),
    (STEPS[1][0], "clone"),
    (STEPS[2][0], "write"),
    (STEPS[3][0], "add + commit"),
    (STEPS[4][0], "push"),
)


def overhead_result(
    dispatch: list[dict[str, Any]] | None,
    many: tuple[list[dict[str, Any]], float, dict[str, float]] | None,
    plain_seq: tuple[list[dict[str, float]], float, dict[str, float]] | None,
    plain_par: tuple[list[dict[str, float]], float, dict[str, float]] | None,
    *,
    cards: int,
    runners: int,
) -> dict[str, Any]:
    """Per-job rows (LazyAF and plain git, one at a time and concurrent) and their ratios.

    The tuples are (per-job records, wall seconds, CPU seconds) of one concurrent phase.
    """
    rows: dict[str, Any] = {}
    ratios: list[tuple[str, float]] = []
    if dispatch:
        one = [r for r in dispatch if r["status"] == "completed" and not r["warmup"]]
        rows["one"] = lazyaf_row("LazyAF, 1 job at a time", "(the dispatch jobs)", one)
        rows["plain_one"] = plain_row(
            "plain git, 1 at a time", "(right after each of them)", [r["plain"] for r in one]
        )
        rows["one"]["cpu_ms"] = cpu_per_job_ms([r["cpu"] for r in one], len(one))
        rows["plain_one"]["cpu_ms"] = cpu_per_job_ms([r["plain_cpu"] for r in one], len(one))
        paired = [r["per_job"] / r["plain"]["per_job"] for r in one]
        ratios += [
            ("one job at a time: p50 ÷ p50", p50_ratio(rows["one"], rows["plain_one"])),
            ("one job at a time: median of the paired ratios", percentile(paired, 50)),
        ]
    if many and plain_seq and plain_par:
        (lazy, lazy_wall, lazy_cpu), (seq, seq_wall, seq_cpu), (par, par_wall, par_cpu) = (
            many,
            plain_seq,
            plain_par,
        )
        rows["many"] = lazyaf_row(f"LazyAF, {runners} runners", f"({cards} cards started at once)", lazy)
        rows["plain_seq"] = plain_row("plain git, sequential", "", seq)
        rows["plain_par"] = plain_row(f"plain git, {runners} workers", "(in parallel)", par)
        for key, wall, cpu, n, workers in (
            ("many", lazy_wall, lazy_cpu, cards, runners),
            ("plain_seq", seq_wall, seq_cpu, len(seq), 1),
            ("plain_par", par_wall, par_cpu, len(par), runners),
        ):
            rows[key].update(wall_per_job_ms=wall * workers / n * 1000, cpu_ms=cpu_per_job_ms([cpu], n))
        ratios += [
            (
                f"{runners} runners: per-job p50 ÷ plain git sequential p50",
                p50_ratio(rows["many"], rows["plain_seq"]),
            ),
            (
                f"{runners} runners: wall × workers / jobs ÷ the same for plain git on {runners} workers",
                rows["many"]["wall_per_job_ms"] / rows["plain_par"]["wall_per_job_ms"],
            ),
        ]
    return {
        "config": {"cards": cards, "runners": runners},
        "rows": rows,
        "ratios": [{"label": label, "value": value, "met": value <= 1.2} for label, value in ratios],
    }


def lazyaf_row(name: str, note: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in records if r["status"] == "completed"]
    return {
        "name": name,
        "note": note,
        "per_job": summary([r["per_job"] for r in ok]),
        "steps": steps_summary(ok),
        "failed": len(records) - len(ok),
    }


def plain_row(name: str, note: str, jobs: list[dict[str, float]]) -> dict[str, Any]:
    steps = [k for k in jobs[0] if k != "per_job"] if jobs else []
    return {
        "name": name,
        "note": note,
        "per_job": summary([j["per_job"] for j in jobs]),
        "steps": {k: summary([j[k] for j in jobs]) for k in steps},
    }


def p50_ratio(lazy: dict[str, Any], plain: dict[str, Any]) -> float:
    return float(lazy["per_job"]["p50_ms"] / plain["per_job"]["p50_ms"])


def render(result: dict[str, Any]) -> str:
    lines: list[str] = []
    if "dispatch" in result:
        lines += render_dispatch(result["dispatch"])
    if result.get("overhead", {}).get("rows"):
        lines += render_overhead(result["overhead"])
    if "git_trace" in result:
        lines += render_git_trace(result["git_trace"])
    return "\n".join(lines)


def render_dispatch(d: dict[str, Any]) -> list[str]:
    cfg = d["config"]
    lines = [
        f"### Dispatch latency: {cfg['jobs']} jobs one at a time, {cfg['runners']} idle local runners "
        f"({cfg['warmup']} warm-up jobs left out, {d['failed_jobs']} failed)",
        "",
        "| start → … | p50 | p95 | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, s in d["summary"].items():
        lines.append(f"| {label} | {fmt(s['p50_ms'])} | {fmt(s['p95_ms'])} | {fmt(s['max_ms'])} |")
    p95 = d["summary"]["start → agent running"]["p95_ms"]
    verdict = "met" if p95 < 100 else "missed"
    return lines + ["", f"Target p95(start → agent running) < 100 ms: **{verdict}** ({fmt(p95)}).", ""]


def render_overhead(o: dict[str, Any]) -> list[str]:
    lines = [
        "### Per-job time: LazyAF runners against plain git doing the same work on the same git server",
        "",
        "| | per job p50 | per job p95 | wall × workers / jobs | CPU per job | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in o["rows"].values():
        wall = fmt(r.get("wall_per_job_ms", math.nan))
        label, per_job = " ".join(filter(None, (r["name"], r["note"]))), r["per_job"]
        p50, p95 = fmt(per_job["p50_ms"]), fmt(per_job["p95_ms"])
        cpu = fmt(sum(r["cpu_ms"].values()) if "cpu_ms" in r else math.nan)
        lines.append(f"| {label} | {p50} | {p95} | {wall} | {cpu} | {r.get('failed', 0)} |")
    lines += ["", "Target LazyAF per job ≤ 1.2 × plain git:", ""]
    for r in o["ratios"]:
        lines.append(f"- {r['label']}: ×{r['value']:.2f} ({'met' if r['met'] else 'missed'})")
    return lines + ["", *render_cpu(o["rows"]), "", *render_steps(o["rows"])]


def render_cpu(rows: dict[str, Any]) -> list[str]:
    """CPU per job by process: user + system time over each phase (reaped children included) ÷ jobs."""
    lines = [
        "### CPU per job, by process (user + system, children they reaped included)",
        "",
        "| | " + " | ".join(CPU_PARTS) + " | total |",
        "| --- |" + " ---: |" * (len(CPU_PARTS) + 1),
    ]
    for r in rows.values():
        cpu = r.get("cpu_ms", {})
        cells = [fmt(cpu[k]) if k in cpu else "–" for k in CPU_PARTS]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + f" | {fmt(sum(cpu.values()))} |")
    return lines


def render_steps(rows: dict[str, Any]) -> list[str]:
    """LazyAF's steps (from job_status event times) next to the plain-git commands doing the same."""
    columns = [rows[k] for k in ("one", "plain_one", "many", "plain_par") if k in rows]
    lines = [
        "### Where a job's time goes (p50; LazyAF from job_status event times, plain git per command)",
        "",
        "| LazyAF step ↔ plain git step | " + " | ".join(r["name"] for r in columns) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    for step, plain in PAIRS:
        cells = [r["steps"].get(step if r["name"].startswith("LazyAF") else plain or "") for r in columns]
        lines.append(
            f"| {step} ↔ {plain or '–'} | " + " | ".join(fmt(c["p50_ms"]) if c else "–" for c in cells) + " |"
        )
    totals = " | ".join(fmt(r["per_job"]["p50_ms"]) for r in columns)
    return lines + [f"| total: started_at → completed_at ↔ clone … rm -rf | {totals} |"]


def render_git_trace(g: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "### Inside a runner job (git trace2 times; --trace-git adds a little to every git)",
        "",
        f"| step | 1 at a time (n={g['dispatch']['jobs']}) p50 | p95 "
        f"| concurrent (n={g['throughput']['jobs']}) p50 | p95 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label in list(g["dispatch"]["steps"]) or list(g["throughput"]["steps"]):
        one, many = g["dispatch"]["steps"].get(label, {}), g["throughput"]["steps"].get(label, {})
        cells = [fmt(x.get(k, math.nan)) for x in (one, many) for k in ("p50_ms", "p95_ms")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    plain = ", ".join(f"{k} {fmt(v['p50_ms'])}" for k, v in g["plain"].items())
    return lines + ["", f"Plain git in the same run (p50 process lifetimes): {plain}."]


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=30, help="Dispatch-latency jobs (default 30).")
    parser.add_argument(
        "--warmup", type=int, default=2, help="Dispatch jobs run first and left out (default 2)."
    )
    parser.add_argument(
        "--dispatch-runners", type=int, default=2, help="Idle runners while measuring dispatch (default 2)."
    )
    parser.add_argument(
        "--cards", type=int, default=20, help="Cards in the per-job overhead run (default 20)."
    )
    parser.add_argument(
        "--runners", type=int, default=4, help="Runners in the per-job overhead run (default 4)."
    )
    parser.add_argument("--only", choices=("dispatch", "throughput"), help="Run one part only.")
    parser.add_argument(
        "--trace-git",
        action="store_true",
        help="Record git trace2 events of runner and plain-git commands; split jobs at them (adds overhead).",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the scratch directory (server data and logs, runner logs)."
    )
    parser.add_argument("--out", type=Path, default=OUT / "runner_bench.json", help="JSON results path.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    atexit.register(stop_all)
    workdir = Path(tempfile.mkdtemp(prefix="lazyaf-runner-bench-"))
    began = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_average()},
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    server = board = None
    try:
        marks, home, scratch = workdir / "marks", workdir / "home", workdir / "plain"
        for d in (marks, home, scratch):
            d.mkdir()
        env = git_env(home)
        source = workdir / "source"
        make_source_repo(source, env)
        if args.trace_git:
            enable_git_trace(home, workdir / "trace2")
        server = Server(workdir, agent_command=agent_command(marks), home=home)
        repo = server.ingest("bench", source, env)
        board = Board(server.url)
        log(f"server up on {server.url}, repo {repo['id']}")

        def plain(n: str) -> dict[str, float]:
            return plain_git_job(repo["clone_url"], scratch, env, n)

        dispatch = many = plain_seq = plain_par = None
        if args.only in (None, "dispatch"):
            server.scale(args.dispatch_runners)
            log(f"dispatch: {args.warmup}+{args.jobs} jobs on {args.dispatch_runners} runners (+ plain git)")
            dispatch = run_dispatch(
                server, board, repo, marks, plain, jobs=args.jobs, warmup=args.warmup, log=log
            )
            result["dispatch"] = {
                "config": {"jobs": args.jobs, "warmup": args.warmup, "runners": args.dispatch_runners},
                "summary": dispatch_summary(dispatch),
                "failed_jobs": sum(r["status"] != "completed" for r in dispatch),
                "raw": dispatch,
            }
        if args.only in (None, "throughput"):
            log(f"plain git: {args.cards} jobs sequentially")
            plain_seq = run_plain(server, plain, jobs=args.cards, parallel=1, prefix="s")
            server.scale(args.runners)
            log(f"LazyAF: {args.cards} cards on {args.runners} runners")
            many = run_throughput(server, board, repo, marks, cards=args.cards)
            log(f"plain git: {args.cards} jobs on {args.runners} workers")
            plain_par = run_plain(server, plain, jobs=args.cards, parallel=args.runners, prefix="p")
            result["throughput_raw"] = {
                "lazyaf": many[0],
                "plain_sequential": plain_seq[0],
                "plain_parallel": plain_par[0],
            }
        result["overhead"] = overhead_result(
            dispatch, many, plain_seq, plain_par, cards=args.cards, runners=args.runners
        )
        if args.trace_git:
            processes = read_git_trace(workdir / "trace2")
            result["git_trace"] = {
                "dispatch": trace_summary([r for r in dispatch or [] if not r["warmup"]], processes),
                "throughput": trace_summary(many[0] if many else [], processes),
                "plain": plain_git_breakdown(processes),
            }
    except BenchError as exc:
        print(f"runner_bench: could not measure: {exc}", file=sys.stderr)
        if server is not None:
            print(f"server log ends with:\n{server.log_tail()}", file=sys.stderr)
        return 1
    finally:
        if board is not None:
            board.close()
        if server is not None:
            server.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result["machine"]["load_average_after"] = load_average()
    result["seconds"] = round(time.monotonic() - began, 1)
    table = render(result)
    print(table)
    print(
        f"\nload average before {result['machine']['load_average_before']}, after "
        f"{result['machine']['load_average_after']}; {result['seconds']} s in all"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
