#!/usr/bin/env python3
"""Benchmark LazyAF's git smart-HTTP server against `git http-backend` behind lighttpd.

One run: build (or reuse) a generated repository, start both servers on loopback each with
its own copy of it, then time real `git` clients doing a full clone, a --depth 1 clone, a
fetch of one new commit and a push of a 200-commit branch, runs interleaved between the
servers. Prints a markdown table (medians, median of per-run ratios, peak RSS of the server's
process tree during a full clone, server CPU per clone) and writes bench/out/git_bench.json.

This is a benchmark, not a test: it exits 0 whether or not the targets are met, and non-zero
only when it could not measure. See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import procstat  # noqa: E402
import repogen  # noqa: E402
from servers import Server, ServerError, start_lazyaf, start_reference, stop_all  # noqa: E402

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work"
OUT = BENCH / "out" / "git_bench.json"
OPS = ("clone", "shallow", "fetch", "push")
OP_TITLES = {
    "clone": "full clone",
    "shallow": "clone --depth 1",
    "fetch": "fetch of 1 new commit",
    "push": "push of 200 commits",
}
TIME_TARGET = 1.10
RSS_TARGET_MIB = 150
PUSH_COMMITS = 200


class GitFailed(Exception):
    pass


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- git client -----------------------------------------------------------------------------


class GitClient:
    """Plain `git` with an isolated config: no prompts, protocol v2 (the client's default)."""

    def __init__(self, home: Path, timeout: float) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / ".gitconfig").write_text(
            "[user]\n\tname = Bench\n\temail = bench@example.org\n[init]\n\tdefaultBranch = main\n"
            "[gc]\n\tauto = 0\n[advice]\n\tdetachedHead = false\n"
        )
        self.timeout = timeout
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        self.env.update(HOME=str(home), GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        input: bytes | None = None,
    ) -> str:
        # Its own process group, so a timeout or Ctrl-C also ends its helpers (index-pack,
        # remote-http) instead of leaving them writing into a directory being removed.
        proc = subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env={**self.env, **(env or {})},
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(input, timeout=self.timeout)
        except subprocess.TimeoutExpired as e:
            kill_group(proc)
            raise GitFailed(f"git {' '.join(args[:2])} timed out after {self.timeout:.0f} s") from e
        except BaseException:
            kill_group(proc)
            raise
        if proc.returncode != 0:
            tail = stderr.decode(errors="replace").strip().splitlines()[-6:]
            raise GitFailed(f"git {' '.join(args[:2])} exited {proc.returncode}: " + " | ".join(tail))
        return stdout.decode(errors="replace")


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


# -- measurements ---------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float | None
    peak_rss: int = 0  # without children caught between fork and exec (see procstat)
    peak_rss_raw: int = 0  # every process
    cpu: float | None = None
    error: str | None = None
    breakdown: list[tuple[str, float]] = field(default_factory=list)
    rss_after: int = 0  # the server's tree once the operation is over
    peak_pss: int = 0  # sampled during full clones only


@dataclass
class OpResult:
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def times(self, server: str) -> list[float]:
        return [s.seconds for s in self.samples.get(server, []) if s.seconds is not None]

    def median(self, server: str) -> float | None:
        times = self.times(server)
        return statistics.median(times) if times else None

    def ratios(self) -> list[float]:
        out = []
        for a, b in zip(self.samples.get("lazyaf", []), self.samples.get("reference", []), strict=False):
            if a.seconds is not None and b.seconds is not None and b.seconds > 0:
                out.append(a.seconds / b.seconds)
        return out

    def ratio(self) -> float | None:
        ratios = self.ratios()
        return statistics.median(ratios) if ratios else None


def measure(server: Server, action: Callable[[], None], pss: bool = False) -> Sample:
    """Time ``action`` while sampling the server's process-tree RSS; then read its CPU time."""
    root = server.process.pid
    procstat.wait_settled(root, server.idle_pids, timeout=2)
    cpu_before = procstat.tree_cpu(root)
    error = None
    with procstat.PeakSampler(root, pss=pss) as sampler:
        started = time.perf_counter()
        try:
            action()
        except GitFailed as e:
            error = str(e)
        elapsed = time.perf_counter() - started
    settled = procstat.wait_settled(root, server.idle_pids, timeout=5)
    cpu = procstat.tree_cpu(root) - cpu_before if settled else None
    if not server.process.alive():
        error = (error or "") + f" [{server.name} died; log: {server.process.log_tail(5)}]"
    return Sample(
        seconds=None if error else elapsed,
        peak_rss=sampler.peak,
        peak_rss_raw=sampler.peak_raw,
        peak_pss=sampler.peak_pss,
        cpu=cpu,
        error=error,
        breakdown=sampler.breakdown,
        rss_after=procstat.tree_rss(root),
    )


def failed(sample: Sample, error: str) -> Sample:
    return dataclasses.replace(sample, seconds=None, error=error)


# -- the benchmark --------------------------------------------------------------------------


class Bench:
    def __init__(
        self, args: argparse.Namespace, scratch: Path, template: Path, servers: list[Server]
    ) -> None:
        self.args = args
        self.scratch = scratch
        self.template = template
        self.servers = servers
        self.git = GitClient(scratch / "home", args.timeout)
        self.clients = scratch / "clients"
        self.clients.mkdir()
        self.results: dict[str, OpResult] = {}
        self.fetch_clones: dict[str, Path] = {}
        self.push_client = self.clients / "push-client.git"
        self.extra_repos: list[Path] = []  # client repos that must see the commits added on the servers

    def order(self, run: int) -> list[Server]:
        # Alternate who goes first, so drift on a noisy machine does not favour one server.
        return self.servers if run % 2 == 0 else list(reversed(self.servers))

    def record(self, op: str, server: Server, sample: Sample, run: int) -> None:
        self.results.setdefault(op, OpResult()).samples.setdefault(server.name, []).append(sample)
        shown = f"{sample.seconds:.3f} s" if sample.seconds is not None else f"FAILED: {sample.error}"
        parts = " + ".join(f"{(name.split() or ['?'])[0]} {rss:.0f}" for name, rss in sample.breakdown)
        extra = f", peak {sample.peak_rss / procstat.MIB:.0f} MiB ({parts})" if sample.peak_rss else ""
        if sample.peak_rss_raw > sample.peak_rss:
            extra += f", {sample.peak_rss_raw / procstat.MIB:.0f} MiB with a child before exec"
        if sample.peak_pss:
            extra += f", peak PSS {sample.peak_pss / procstat.MIB:.0f} MiB"
        cpu = f", cpu {sample.cpu:.2f} s" if sample.cpu is not None else ""
        log(f"  {op:8} run {run + 1}/{self.args.runs}  {server.name:9} {shown}{extra}{cpu}")

    # clone / shallow ---------------------------------------------------------------------

    def op_clone(self, server: Server, run: int, *extra: str) -> Sample:
        dest = self.clients / f"clone-{server.name}-{run}"
        sample = measure(
            server,
            lambda: self.git.run("clone", "--bare", "--quiet", *extra, server.url, str(dest)),
            pss=not extra,
        )
        if sample.error is None:
            check = self.rev(dest, "refs/heads/main")
            expected = self.rev(server.repo_dir, "refs/heads/main")
            if check != expected:
                sample = failed(sample, f"cloned main {check} != server's {expected}")
        shutil.rmtree(dest, ignore_errors=True)
        return sample

    # fetch ---------------------------------------------------------------------------------

    def prepare_fetch(self) -> None:
        # A stale clone per server: a local clone of the template (same objects and refs as
        # the servers hold), its origin pointed at the server.
        for server in self.servers:
            dest = self.clients / f"stale-{server.name}"
            self.git.run("clone", "--quiet", "--no-checkout", "--local", str(self.template), str(dest))
            self.git.run("-C", str(dest), "remote", "set-url", "origin", server.url)
            self.fetch_clones[server.name] = dest

    def add_server_commit(self, run: int) -> str:
        """Add the same new commit to main in every server copy (and the push client), on disk."""
        shas = {
            self._commit_on_disk(repo, run) for repo in [s.repo_dir for s in self.servers] + self.extra_repos
        }
        if len(shas) != 1:
            raise RuntimeError(f"the added commit differs between repos: {shas}")
        return shas.pop()

    def _commit_on_disk(self, repo: Path, run: int) -> str:
        stamp = f"{1_700_000_000 + run * 60} +0000"
        env = {
            "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "bench@example.org",
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.org",
            "GIT_COMMITTER_DATE": stamp,
        }
        g = ["--git-dir", str(repo)]
        with tempfile.TemporaryDirectory(dir=self.scratch) as tmp:
            env["GIT_INDEX_FILE"] = str(Path(tmp) / "index")
            parent = self.git.run(*g, "rev-parse", "refs/heads/main").strip()
            blob = self.git.run(
                *g, "hash-object", "-w", "--stdin", input=f"fetch run {run}\n".encode()
            ).strip()
            self.git.run(*g, "read-tree", parent, env=env)
            self.git.run(
                *g,
                "update-index",
                "--add",
                "--cacheinfo",
                f"100644,{blob},bench/fetch-run-{run}.txt",
                env=env,
            )
            tree = self.git.run(*g, "write-tree", env=env).strip()
            sha = self.git.run(
                *g, "commit-tree", tree, "-p", parent, "-m", f"Bench fetch run {run}", env=env
            ).strip()
            self.git.run(*g, "update-ref", "refs/heads/main", sha, parent)
        return sha

    def op_fetch(self, server: Server, run: int, expected: str) -> Sample:
        clone = self.fetch_clones[server.name]
        sample = measure(server, lambda: self.git.run("-C", str(clone), "fetch", "--quiet", "origin"))
        if sample.error is None:
            got = self.rev(clone / ".git", "refs/remotes/origin/main")
            if got != expected:
                sample = failed(sample, f"fetched main {got} != {expected}")
        return sample

    # push ----------------------------------------------------------------------------------

    def prepare_push(self) -> None:
        self.git.run("clone", "--quiet", "--bare", "--local", str(self.template), str(self.push_client))
        self.extra_repos.append(self.push_client)

    def make_push_branch(self, run: int) -> str:
        """A new branch of PUSH_COMMITS realistic commits on top of main, in the push client."""
        branch = f"bench-push-{run}"
        base = self.git.run("--git-dir", str(self.push_client), "rev-parse", "refs/heads/main").strip()
        listing = self.git.run("--git-dir", str(self.push_client), "ls-tree", "-r", base).splitlines()
        blobs = [line.split(None, 3) for line in listing]
        text = [(b[2], b[3]) for b in blobs if b[3].endswith((".py", ".ts", ".c", ".h", ".md", ".txt"))]
        chosen = text[run * 7 % 50 :: max(1, len(text) // 120)][:120]
        batch = "".join(f"{sha}\n" for sha, _ in chosen).encode()
        raw = subprocess.run(
            ["git", "--git-dir", str(self.push_client), "cat-file", "--batch"],
            input=batch,
            capture_output=True,
            check=True,
        ).stdout
        files: dict[str, list[str] | bytes] = {}
        pos = 0
        for _, path in chosen:
            header_end = raw.index(b"\n", pos)
            size = int(raw[pos:header_end].split()[2])
            body = raw[header_end + 1 : header_end + 1 + size]
            pos = header_end + 1 + size + 1
            files[path] = body.decode(errors="replace").splitlines()
        proc = subprocess.Popen(
            ["git", "--git-dir", str(self.push_client), "fast-import", "--quiet", "--done"],
            stdin=subprocess.PIPE,
            env=self.git.env,
        )
        assert proc.stdin is not None
        repogen.extra_commits(proc.stdin, f"refs/heads/{branch}", base, files, PUSH_COMMITS, seed=1000 + run)
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError("fast-import of the push branch failed")
        return branch

    def op_push(self, server: Server, run: int, branch: str) -> Sample:
        refspec = f"refs/heads/{branch}:refs/heads/{branch}"
        sample = measure(
            server,
            lambda: self.git.run("--git-dir", str(self.push_client), "push", "--quiet", server.url, refspec),
        )
        if sample.error is None:
            want = self.git.run(
                "--git-dir", str(self.push_client), "rev-parse", f"refs/heads/{branch}"
            ).strip()
            got = self.rev(server.repo_dir, f"refs/heads/{branch}")
            if got != want:
                sample = failed(sample, f"server has {branch}={got or 'nothing'}, pushed {want}")
        return sample

    def rev(self, git_dir: Path, ref: str) -> str:
        """The commit ``ref`` names in ``git_dir``, or "" when it does not exist."""
        try:
            return self.git.run("--git-dir", str(git_dir), "rev-parse", "--verify", "--quiet", ref).strip()
        except GitFailed:
            return ""

    # driver --------------------------------------------------------------------------------

    def run(self, ops: list[str]) -> None:
        runs = self.args.runs
        if "push" in ops:
            self.prepare_push()
        if "fetch" in ops:
            self.prepare_fetch()
        for op in ops:
            log(f"{OP_TITLES[op]}:")
            for run in range(runs):
                context: str | None = None
                if op == "fetch":
                    context = self.add_server_commit(run)
                elif op == "push":
                    context = self.make_push_branch(run)
                for server in self.order(run):
                    if op == "clone":
                        sample = self.op_clone(server, run)
                    elif op == "shallow":
                        sample = self.op_clone(server, run, "--depth", "1")
                    elif op == "fetch":
                        assert context is not None
                        sample = self.op_fetch(server, run, context)
                    else:
                        assert context is not None
                        sample = self.op_push(server, run, context)
                    self.record(op, server, sample, run)


# -- report ---------------------------------------------------------------------------------


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "failed"
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"


def mib(value: float) -> str:
    return f"{value / procstat.MIB:.0f} MiB"


def summarise(
    bench: Bench | None, servers: list[Server], info: repogen.RepoInfo, ops: list[str], extra: dict
) -> dict:  # type: ignore[type-arg]
    summary: dict = {"repo": info.__dict__, **extra, "operations": {}, "servers": {}}  # type: ignore[type-arg]
    if bench is None:
        return summary
    for op in ops:
        result = bench.results.get(op, OpResult())
        entry: dict = {"title": OP_TITLES[op]}  # type: ignore[type-arg]
        for server in servers:
            samples = result.samples.get(server.name, [])
            entry[server.name] = {
                "seconds": [s.seconds for s in samples],
                "median_seconds": result.median(server.name),
                "peak_rss_mib": [round(s.peak_rss / procstat.MIB, 1) for s in samples],
                "peak_rss_raw_mib": [round(s.peak_rss_raw / procstat.MIB, 1) for s in samples],
                "server_cpu_seconds": [None if s.cpu is None else round(s.cpu, 3) for s in samples],
                "rss_after_mib": [round(s.rss_after / procstat.MIB, 1) for s in samples],
                "peak_pss_mib": [round(s.peak_pss / procstat.MIB, 1) for s in samples if s.peak_pss],
                "processes_at_peak": [s.breakdown for s in samples],
                "errors": [s.error for s in samples if s.error],
            }
        entry["ratios"] = [round(r, 3) for r in result.ratios()]
        entry["ratio_median"] = result.ratio()
        summary["operations"][op] = entry
    clone = bench.results.get("clone")
    for server in servers:
        samples = clone.samples.get(server.name, []) if clone else []
        peaks = [s.peak_rss for s in samples if s.peak_rss]
        pss = [s.peak_pss for s in samples if s.peak_pss]
        raw = [s.peak_rss_raw for s in samples if s.peak_rss_raw]
        cpus = [s.cpu for s in samples if s.cpu is not None and s.seconds is not None]
        summary["servers"][server.name] = {
            "label": server.label,
            "url": server.url,
            "peak_rss_in_clone_mib": round(max(peaks) / procstat.MIB, 1) if peaks else None,
            "median_peak_rss_in_clone_mib": round(statistics.median(peaks) / procstat.MIB, 1)
            if peaks
            else None,
            "peak_pss_in_clone_mib": round(max(pss) / procstat.MIB, 1) if pss else None,
            "peak_rss_raw_in_clone_mib": round(max(raw) / procstat.MIB, 1) if raw else None,
            "median_cpu_per_clone_seconds": round(statistics.median(cpus), 3) if cpus else None,
            **extra.get("idle", {}).get(server.name, {}),
        }
    return summary


def render(summary: dict, servers: list[Server], ops: list[str]) -> str:  # type: ignore[type-arg]
    repo = summary["repo"]
    p = repo["params"]
    lines = [
        f"Repository: {repo['commits']:,} commits, {repo['objects']:,} objects, {repo['pack_mib']} MiB pack "
        f"(one pack + bitmap), {repo['files_at_head']:,} files at HEAD; generated with "
        f"--commits {p['commits']} --files {p['files']} --seed {p['seed']}.",
        f"Runs: {summary['runs']} per operation, interleaved; median time, ×ratio = median of per-run "
        "ratios to `git http-backend`. Peak RSS: the server's whole process tree during a full clone, "
        "max over runs, sampled every 20 ms, not counting a child caught between fork and exec "
        "(with it: 'raw'); PSS: shared pages split between processes; idle: before any request.",
        "",
        "| server | "
        + " | ".join(OP_TITLES[op] for op in ops)
        + " | peak RSS in a clone | server CPU per clone |",
        "| --- | " + " | ".join("---" for _ in ops) + " | --- | --- |",
    ]
    for server in servers:
        cells = []
        for op in ops:
            entry = summary["operations"][op]
            median = entry[server.name]["median_seconds"]
            ratio = 1.0 if server.name == "reference" else entry["ratio_median"]
            cell = fmt_seconds(median)
            if median is not None and ratio is not None:
                cell += f" ×{ratio:.2f}"
            failures = len(entry[server.name]["errors"])
            if failures:
                cell += f" ({failures} failed)"
            cells.append(cell)
        stats = summary["servers"][server.name]
        peak = stats["peak_rss_in_clone_mib"]
        idle = stats.get("idle_rss_mib")
        pss = stats["peak_pss_in_clone_mib"]
        raw = stats["peak_rss_raw_in_clone_mib"]
        notes = [f"raw {raw:.0f}"] if raw and peak and raw > peak + 1 else []
        notes += ([f"PSS {pss:.0f}"] if pss else []) + ([f"{idle:.0f} idle"] if idle else [])
        peak_cell = "n/a" if peak is None else f"{peak:.0f} MiB" + (f" ({', '.join(notes)})" if notes else "")
        cpu = stats["median_cpu_per_clone_seconds"]
        cpu_cell = "n/a" if cpu is None else f"{cpu:.2f} s"
        lines.append(f"| {server.label} | " + " | ".join(cells) + f" | {peak_cell} | {cpu_cell} |")
    verdicts = summary.get("targets", {})
    if verdicts:
        lines.append("")
        for name, verdict in verdicts.items():
            lines.append(f"- {name}: {verdict}")
    return "\n".join(lines)


def judge(summary: dict, ops: list[str]) -> dict[str, str]:  # type: ignore[type-arg]
    if "lazyaf" not in summary["servers"]:
        return {}
    verdicts = {}
    for op in ops:
        ratio = summary["operations"][op]["ratio_median"]
        errors = summary["operations"][op]["lazyaf"]["errors"]
        if ratio is None:
            verdicts[f"{OP_TITLES[op]} within {TIME_TARGET}×"] = (
                f"NOT MEASURED ({errors[0] if errors else 'no data'})"
            )
        else:
            ok = "met" if ratio <= TIME_TARGET and not errors else "MISSED"
            verdicts[f"{OP_TITLES[op]} within {TIME_TARGET}×"] = f"{ok} (×{ratio:.2f})"
    stats = summary["servers"]["lazyaf"]
    peak, raw = stats["peak_rss_in_clone_mib"], stats["peak_rss_raw_in_clone_mib"]
    if peak is not None:
        ok = "met" if peak < RSS_TARGET_MIB else "MISSED"
        also = f"; {raw:.0f} MiB counting a child between fork and exec" if raw and raw > peak + 1 else ""
        verdicts[f"LazyAF peak RSS in a full clone under {RSS_TARGET_MIB} MiB"] = (
            f"{ok} ({peak:.0f} MiB{also})"
        )
    return verdicts


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="Timed runs per operation and server (default 5)."
    )
    parser.add_argument(
        "--commits", type=int, default=repogen.RepoParams.commits, help="Commits in the generated repo."
    )
    parser.add_argument(
        "--files", type=int, default=repogen.RepoParams.files, help="Files in its first commit."
    )
    parser.add_argument("--seed", type=int, default=repogen.RepoParams.seed, help="Generator seed.")
    parser.add_argument("--ops", default=",".join(OPS), help=f"Comma-separated subset of {','.join(OPS)}.")
    parser.add_argument(
        "--only-reference", action="store_true", help="Benchmark git http-backend alone (no LazyAF)."
    )
    parser.add_argument(
        "--lazyaf-git-backend",
        choices=("git", "dulwich"),
        help="Force LazyAF's git backend (default: its own choice).",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the scratch directory (server copies, clients, logs)."
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="Seconds before one git command counts as hung."
    )
    parser.add_argument("--out", type=Path, default=OUT, help="Where to write the JSON results.")
    args = parser.parse_args(argv)
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    unknown = set(ops) - set(OPS)
    if unknown or not ops or args.runs < 1:
        parser.error(f"--ops takes some of {','.join(OPS)}; --runs must be >= 1")
    args.ops = [op for op in OPS if op in ops]
    return args


def remove_tree(path: Path) -> None:
    for _ in range(3):  # a straggler may still be writing there for a moment
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.5)
    log(f"Could not remove {path} completely.")


def _terminate(signum: int, frame: object) -> None:
    log(f"Got signal {signum}; stopping the servers.")
    raise SystemExit(128 + signum)


def idle_stats(server: Server) -> dict[str, float]:
    """Settle after the warm-up; remember the idle tree (long-lived helpers are not per-request work)."""
    time.sleep(1)
    server.idle_pids = set(procstat.tree(server.process.pid))
    return {
        "idle_rss_mib": round(procstat.tree_rss(server.process.pid) / procstat.MIB, 1),
        "idle_processes": len(server.idle_pids),
    }


def check_protocol(git: GitClient, server: Server) -> str:
    """Warm the server up with one ls-remote and report the protocol version it answered with."""
    done = subprocess.run(
        ["git", "ls-remote", server.url],
        env={**git.env, "GIT_TRACE_PACKET": "1"},
        capture_output=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise ServerError(
            f"{server.label}: git ls-remote failed: {done.stderr.decode(errors='replace')[-800:]}"
        )
    return "v2" if b"< version 2" in done.stderr else "v0/v1"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Also when started in the background (where a shell makes SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = time.monotonic()
    info = repogen.ensure(repogen.RepoParams(args.commits, args.files, args.seed), WORK / "repos", log=log)
    template = Path(info.path)
    log(
        f"Repository: {info.commits} commits, {info.objects} objects, {info.pack_mib} MiB pack, "
        f"{info.files_at_head} files at HEAD"
    )
    WORK.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=WORK))
    servers: list[Server] = []
    bench: Bench | None = None
    try:
        reference_config = None
        if not args.only_reference:
            log("Starting LazyAF ...")
            lazy = start_lazyaf(scratch, template, args.lazyaf_git_backend)
            servers.append(lazy)
            reference_config = lazy.repo_dir / "config"
        log("Starting lighttpd + git http-backend ...")
        servers.insert(0, start_reference(scratch, template, reference_config))
        git = GitClient(scratch / "home", args.timeout)
        protocols, idle = {}, {}
        for server in servers:
            protocols[server.name] = check_protocol(git, server)
            idle[server.name] = idle_stats(server)
            log(
                f"  {server.label}: {server.url} (pid {server.process.pid}, "
                f"protocol {protocols[server.name]}, idle RSS {idle[server.name]['idle_rss_mib']:.0f} MiB)"
            )
        bench = Bench(args, scratch, template, servers)
        bench.run(args.ops)
        extra = {
            "runs": args.runs,
            "lazyaf_git_backend": args.lazyaf_git_backend or "default",
            "protocols": protocols,
            "idle": idle,
            "git_version": subprocess.run(
                ["git", "--version"], capture_output=True, text=True
            ).stdout.strip(),
            "lighttpd_version": subprocess.run(
                ["lighttpd", "-v"], capture_output=True, text=True
            ).stdout.strip(),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "loadavg_after": os.getloadavg(),
            },
            "wall_seconds": round(time.monotonic() - started, 1),
        }
        summary = summarise(bench, servers, info, args.ops, extra)
        summary["targets"] = judge(summary, args.ops)
        table = render(summary, servers, args.ops)
        summary["table_markdown"] = table
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2, default=str))
        print(table)
        log(f"\nWrote {args.out}; whole run took {time.monotonic() - started:.0f} s.")
        return 0
    except (ServerError, GitFailed) as e:
        log(f"error: {e}")
        if not args.only_reference:
            log("(--only-reference measures git http-backend alone.)")
        return 2
    except KeyboardInterrupt:
        log("Interrupted; stopping the servers.")
        return 130
    finally:
        stop_all()
        if args.keep:
            log(f"Kept {scratch}")
        else:
            remove_tree(scratch)


if __name__ == "__main__":
    sys.exit(main())
