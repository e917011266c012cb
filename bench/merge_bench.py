#!/usr/bin/env python3
"""Benchmark LazyAF's approve merge (a bare repo, no work tree) against `git merge` in a work tree.

One run: reuse (or build) the generated repository from ``repogen.py``, add a card branch of
200 realistic commits (``repogen.extra_commits``: a few lines in one to six files each, some
adds and renames; ~220 files end up changed) and move main on meanwhile (its own commits on
other files, plus one commit that edits the top of files the branch edits lower down), so approving
needs a real merge commit with three-way content merges. Then, interleaved and each on a fresh
copy of that repository:

- ``merge(strategy="auto")`` from ``lazyaf.git.merge`` in the bare repo, against
  ``git merge --no-edit -m MSG <branch>`` in a worktree checked out at main;
- ``merge(strategy="squash")`` against ``git merge --squash`` followed by ``git commit -q -m MSG``.

Only the merge itself is timed. The reference's checkout is not, and it gets a second to settle
first (see ``settle``) so it is not charged for git's racy-clean re-reads; it runs with
``--no-stat`` and without automatic gc/maintenance, work LazyAF's merge does not do either.
Both sides get the same author, committer, dates and message, so the results must be the very
same commit ids; this is checked. Prints a markdown table (medians; ratio = median of the
per-run ratios LazyAF / git) and writes ``bench/out/merge_bench.json``.

Run with the project's venv (it imports ``lazyaf``)::

    .venv/bin/python bench/merge_bench.py              # 7 runs on the default 4000-commit repo
    .venv/bin/python bench/merge_bench.py --runs 3 --commits 300 --files 300   # quick check

A benchmark, not a test: exits 0 whether or not the target is met, non-zero only when it
could not measure (or the two sides disagree).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "backend" / "src"))

import repogen  # noqa: E402
from lazyaf.git import merge as git_merge  # noqa: E402

WORK = BENCH / "work"
OUT = BENCH / "out" / "merge_bench.json"
TARGET = 1.5
BRANCH = "lazyaf/42-bench-card"
IDENTITY = ("LazyAF Bench", "bench@example.org")
DATE = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MESSAGE = {
    "auto": f"Merge branch '{BRANCH}'\n\nLazyAF card 42, approved.\n",
    "squash": "Bench card\n\nLazyAF card 42 (squashed), approved.\n",
}
OPS = {"auto": "approve, auto (merge commit)", "squash": "approve, squash"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def git_env() -> dict[str, str]:
    """Plain git for the reference: no user or system config, the benchmark's identity and dates."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    stamp = f"{int(DATE.timestamp())} +0000"
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        LC_ALL="C",
        GIT_AUTHOR_NAME=IDENTITY[0],
        GIT_AUTHOR_EMAIL=IDENTITY[1],
        GIT_COMMITTER_NAME=IDENTITY[0],
        GIT_COMMITTER_EMAIL=IDENTITY[1],
        GIT_AUTHOR_DATE=stamp,
        GIT_COMMITTER_DATE=stamp,
    )
    return env


def git_bytes(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, env=git_env(), check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def git(*args: str, cwd: Path | None = None) -> str:
    return git_bytes(*args, cwd=cwd).decode(errors="replace")


# -- the scenario ------------------------------------------------------------------------------


@dataclass
class Scenario:
    repo: Path
    base: str
    main: str
    branch: str
    stats: dict[str, int] = field(default_factory=dict)


def read_blobs(repo: Path, rev: str, paths: list[str]) -> dict[str, list[str] | bytes]:
    """The text of ``paths`` at ``rev`` as lines, the way repogen edits them."""
    wanted = "".join(f"{rev}:{p}\n" for p in paths).encode()
    data = git_bytes("--git-dir", str(repo), "cat-file", "--batch", stdin=wanted)
    files: dict[str, list[str] | bytes] = {}
    pos = 0
    for path in paths:
        header_end = data.index(b"\n", pos)
        size = int(data[pos:header_end].split()[2])
        files[path] = data[header_end + 1 : header_end + 1 + size].decode(errors="replace").splitlines()
        pos = header_end + 1 + size + 1
    return files


def fast_import(repo: Path, write: Callable[[IO[bytes]], None]) -> None:
    proc = subprocess.Popen(
        ["git", "--git-dir", str(repo), "fast-import", "--quiet", "--done"],
        stdin=subprocess.PIPE,
        env=git_env(),
    )
    assert proc.stdin is not None
    write(proc.stdin)
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")


def first_hunks(repo: Path, base: str, branch: str) -> dict[str, int]:
    """For each file the branch changed, the first line of base it touches (from `diff -U0`)."""
    out = git("--git-dir", str(repo), "diff", "-U0", "--no-renames", base, branch)
    first: dict[str, int] = {}
    path = ""
    for line in out.splitlines():
        if line.startswith("--- "):
            path = line[6:] if line.startswith("--- a/") else ""
        elif line.startswith("@@ ") and path and path not in first:
            first[path] = int(line.split()[1][1:].split(",")[0])
    return first


def shared_edit(repo: Path, main: str, files: dict[str, list[str] | bytes]) -> None:
    """One commit on main that adds a header line to files the branch edits further down."""

    def write(out: IO[bytes]) -> None:
        who = f"Main Dev <main@example.org> {int(DATE.timestamp()) - 3600} +0000".encode()
        message = b"Add license headers\n"
        out.write(b"commit refs/heads/main\ncommitter %s\ndata %d\n%s" % (who, len(message), message))
        out.write(b"from %s\n" % main.encode())
        for path, lines in files.items():
            assert isinstance(lines, list)
            body = ("\n".join(["# SPDX-License-Identifier: MIT", *lines]) + "\n").encode()
            out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(body), body))
        out.write(b"\ndone\n")

    fast_import(repo, write)


def build_scenario(source: Path, dest: Path, branch_commits: int, main_commits: int, seed: int) -> Scenario:
    shutil.copytree(source, dest, copy_function=link_or_copy)

    def rev(name: str) -> str:
        return git("--git-dir", str(dest), "rev-parse", name).strip()

    # As LazyAF configures its repos (reflogs); no automatic gc or maintenance in either side's timing.
    for key, value in (
        ("core.logAllRefUpdates", "true"),
        ("gc.auto", "0"),
        ("maintenance.auto", "false"),
    ):
        git("--git-dir", str(dest), "config", key, value)
    base = rev("refs/heads/main")
    listing = git("--git-dir", str(dest), "ls-tree", "-r", "--name-only", base).splitlines()
    text = [p for p in listing if not p.endswith(".bin")]
    # Disjoint files for the two sides' own commits (2:1), so only the shared edit below overlaps.
    chosen = random.Random(seed).sample(text, min(600, len(text) * 2 // 3))
    split = len(chosen) * 2 // 3
    branch_files, main_files = (
        read_blobs(dest, base, chosen[:split]),
        read_blobs(dest, base, chosen[split:]),
    )
    branch_ref = f"refs/heads/{BRANCH}"
    fast_import(
        dest, lambda out: repogen.extra_commits(out, branch_ref, base, branch_files, branch_commits, seed)
    )
    fast_import(
        dest,
        lambda out: repogen.extra_commits(out, "refs/heads/main", base, main_files, main_commits, seed + 1),
    )
    hunks = first_hunks(dest, base, rev(f"refs/heads/{BRANCH}"))
    lower = sorted(p for p, line in hunks.items() if line > 10 and p in branch_files)[:25]
    shared_edit(dest, rev("refs/heads/main"), read_blobs(dest, base, lower))
    scenario = Scenario(dest, base, rev("refs/heads/main"), rev(f"refs/heads/{BRANCH}"))
    scenario.stats = {
        "branch_commits": branch_commits,
        "branch_files_changed": len(hunks),
        "main_commits_since_base": main_commits + 1,
        "main_files_changed": len(
            git("--git-dir", str(dest), "diff", "--name-only", base, scenario.main).split()
        ),
        "files_changed_on_both_sides": len(lower),
    }
    conflicts = git_merge.conflicts(dest, target="main", source=BRANCH)
    if conflicts:
        raise RuntimeError(f"the generated branch conflicts in {conflicts}; try another --seed")
    return scenario


def link_or_copy(src: str, dst: str) -> object:
    # Packs are never modified in place, so copies may share them; everything else is copied
    # (refs, reflogs and config change during a merge).
    if f"{os.sep}objects{os.sep}pack{os.sep}" in src:
        os.link(src, dst)
        return dst
    return shutil.copy2(src, dst)


# -- the timed operations ------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    sha: str


def fresh_copy(scenario: Scenario, scratch: Path, name: str) -> Path:
    dest = scratch / name
    shutil.copytree(scenario.repo, dest, copy_function=link_or_copy)
    return dest


def run_lazyaf(scenario: Scenario, scratch: Path, op: str, run: int) -> Outcome:
    repo = fresh_copy(scenario, scratch, f"lazyaf-{op}-{run}.git")
    try:
        os.sync()  # as for the reference: no writeback of the setup's files during the timing
        started = time.perf_counter()
        result = git_merge.merge(
            repo,
            target_branch="main",
            source=BRANCH,
            strategy="auto" if op == "auto" else "squash",
            message=MESSAGE[op],
            author=IDENTITY,
            date=DATE,
        )
        seconds = time.perf_counter() - started
        expected = "merge" if op == "auto" else "squash"
        if result.kind != expected or result.previous != scenario.main:
            raise RuntimeError(f"LazyAF's merge made {result}, expected a {expected} onto {scenario.main}")
        return Outcome(seconds, result.sha)
    finally:
        shutil.rmtree(repo)


def run_git(scenario: Scenario, scratch: Path, op: str, run: int) -> Outcome:
    repo = fresh_copy(scenario, scratch, f"git-{op}-{run}.git")
    tree = scratch / f"git-{op}-{run}-wt"
    try:
        git("--git-dir", str(repo), "worktree", "add", "--quiet", str(tree), "main")
        settle(tree)
        message = MESSAGE[op].rstrip("\n")
        started = time.perf_counter()
        if op == "auto":
            git("merge", "--no-edit", "--no-stat", "-m", message, BRANCH, cwd=tree)
        else:
            git("merge", "--squash", "--no-stat", BRANCH, cwd=tree)
            git("commit", "--quiet", "--no-verify", "-m", message, cwd=tree)
        seconds = time.perf_counter() - started
        return Outcome(seconds, git("rev-parse", "HEAD", cwd=tree).strip())
    finally:
        shutil.rmtree(tree)
        shutil.rmtree(repo)


def settle(tree: Path) -> None:
    """Make the fresh checkout look like a work tree that has existed for a while.

    Files written in the same second as the index are "racily clean": git cannot trust their
    stat data and re-reads every one of them on the next index refresh, which `git merge` does
    first. Right after a checkout that is all ~3,200 files, and it more than doubled the
    reference's time in a trial run. A second later one refresh records trustworthy stat data.
    """
    time.sleep(1.1)
    git("update-index", "-q", "--refresh", cwd=tree)
    # The checkout left ~40 MB of dirty pages; flushing them now keeps their writeback out of
    # the timed merge (a long-lived work tree would have none).
    os.sync()


# -- report ------------------------------------------------------------------------------------


def summarise(times: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    summary = {}
    for op, sides in times.items():
        ratios = [a / b for a, b in zip(sides["lazyaf"], sides["git"], strict=True)]
        summary[op] = {
            "lazyaf_median_s": statistics.median(sides["lazyaf"]),
            "git_median_s": statistics.median(sides["git"]),
            "ratio": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
        }
    return summary


def render(
    summary: dict[str, dict[str, float]],
    scenario: Scenario,
    info: repogen.RepoInfo,
    runs: int,
) -> str:
    s = scenario.stats
    lines = [
        (
            f"Repository: {info.commits} commits, {info.files_at_head} files, {info.pack_mib} MiB pack. "
            f"Branch: {s['branch_commits']} commits changing {s['branch_files_changed']} files; "
            f"main moved on by {s['main_commits_since_base']} commits ({s['main_files_changed']} files, "
            f"{s['files_changed_on_both_sides']} of them also changed on the branch). "
            f"{runs} runs, interleaved."
        ),
        "",
        "| operation | LazyAF `merge()` (bare repo) | `git merge` (work tree) | ×ratio (min–max) | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    for op, row in summary.items():
        verdict = "met" if row["ratio"] <= TARGET else "MISSED"
        lines.append(
            f"| {OPS[op]} | {row['lazyaf_median_s'] * 1000:.0f} ms | {row['git_median_s'] * 1000:.0f} ms | "
            f"×{row['ratio']:.2f} ({row['ratio_min']:.2f}–{row['ratio_max']:.2f}) | ≤ {TARGET}× {verdict} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="Timed runs per operation and side.")
    parser.add_argument(
        "--commits",
        type=int,
        default=repogen.RepoParams.commits,
        help="Commits in the repo.",
    )
    parser.add_argument(
        "--files",
        type=int,
        default=repogen.RepoParams.files,
        help="Files in its first commit.",
    )
    parser.add_argument("--seed", type=int, default=repogen.RepoParams.seed, help="Generator seed.")
    parser.add_argument("--branch-commits", type=int, default=200, help="Commits on the card branch.")
    parser.add_argument(
        "--main-commits",
        type=int,
        default=30,
        help="Commits on main since the branch forked.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep bench/work/merge-run-*/.")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON results.")
    return parser.parse_args(argv)


def measure(
    scenario: Scenario, scratch: Path, runs: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, str]]:
    sides = {"lazyaf": run_lazyaf, "git": run_git}
    times: dict[str, dict[str, list[float]]] = {op: {"lazyaf": [], "git": []} for op in OPS}
    shas: dict[str, str] = {}
    for op in OPS:
        for side in sides.values():  # warm-up, untimed: page cache, first imports
            side(scenario, scratch, op, -1)
    for run in range(runs):
        for op in OPS:
            order = list(sides) if run % 2 == 0 else list(reversed(sides))
            for name in order:
                outcome = sides[name](scenario, scratch, op, run)
                times[op][name].append(outcome.seconds)
                # Same tree, parents, identity, dates and message: the same commit, or a bug.
                if shas.setdefault(op, outcome.sha) != outcome.sha:
                    raise RuntimeError(f"{op}: {name} made {outcome.sha}, the other side {shas[op]}")
        done = (f"{op} {t['lazyaf'][-1]:.3f}s vs git {t['git'][-1]:.3f}s" for op, t in times.items())
        log(f"run {run}: " + ", ".join(done))
    return times, shas


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = repogen.ensure(repogen.RepoParams(args.commits, args.files, args.seed), WORK / "repos", log=log)
    scratch = WORK / f"merge-run-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        log("Building the scenario (card branch, main moving on) ...")
        scenario = build_scenario(
            Path(info.path),
            scratch / "scenario.git",
            args.branch_commits,
            args.main_commits,
            7,
        )
        log(f"Scenario: {scenario.stats}")
        times, shas = measure(scenario, scratch, args.runs)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    summary = summarise(times)
    table = render(summary, scenario, info, args.runs)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "loadavg": os.getloadavg(),
                },
                "git": git("--version").strip(),
                "repo": info.__dict__,
                "scenario": {
                    **scenario.stats,
                    "base": scenario.base,
                    "main": scenario.main,
                    "branch": scenario.branch,
                },
                "target_ratio": TARGET,
                "results": summary,
                "identical_commits": shas,
                "runs": times,
                "table": table,
            },
            indent=2,
        )
    )
    log(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
