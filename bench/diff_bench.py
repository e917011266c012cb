#!/usr/bin/env python3
"""Benchmark LazyAF's review diff (`lazyaf.git.diff.diff`) against plain `git diff`.

One run: build (or reuse) the generated repository of `repogen.py`, copy it once into
bench/work/diff/ and add a branch that touches 500 files (edits, adds, deletes, renames, a few
binary assets) forked from main~60, while main moved on. Then time, interleaved and in turn,
`diff()` of the whole branch (limit=500), `diff()` of its first page (the default limit=100),
and the references `git diff --patch <merge-base> <branch>` and `git diff --numstat`. Prints a
markdown table (medians, median of per-run ratios to `git diff --patch`) and writes
bench/out/diff_bench.json.

A benchmark, not a test: exits 0 whether or not the 1.5x target is met. Run it with the
backend's virtualenv: `.venv/bin/python bench/diff_bench.py [--runs 9]`.
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
from pathlib import Path
from typing import TypedDict

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent / "backend" / "src"))

import repogen  # noqa: E402
from lazyaf.git import diff as git_diff  # noqa: E402

WORK = BENCH / "work"
OUT = BENCH / "out" / "diff_bench.json"
# Bump when the branch generator changes, so stale copies are not reused.
BRANCH_VERSION = 1
BRANCH = "lazyaf/1-bench-500-files"
FORK_BACK = 60  # the branch forks from main~60; main has moved on since
COMMITS_ON_BRANCH = 10
TARGET = 1.5
WORDS = repogen.WORDS


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C")
    return env


def git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["git", f"--git-dir={repo}", *args], input=stdin, capture_output=True, env=git_env(), check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


# -- the branch -----------------------------------------------------------------------------


def read_blobs(repo: Path, shas: list[str]) -> dict[str, bytes]:
    out = git(repo, "cat-file", "--batch", stdin="".join(f"{s}\n" for s in shas).encode())
    blobs: dict[str, bytes] = {}
    at = 0
    for sha in shas:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        blobs[sha] = out[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1
    return blobs


def edit_text(rng: random.Random, content: bytes) -> bytes:
    """Replace, insert or delete a few lines in one to three places, like a small code change."""
    lines = content.decode().split("\n")
    for _ in range(rng.choice((1, 1, 2, 3))):
        at = rng.randrange(len(lines))
        new = [
            f"    {rng.choice(WORDS)}_{rng.randrange(100)} = review({rng.choice(WORDS)})" for _ in range(3)
        ]
        op = rng.random()
        if op < 0.5:
            lines[at : at + rng.randrange(1, 4)] = new[: rng.randrange(1, 4)]
        elif op < 0.85:
            lines[at:at] = new
        elif len(lines) > 8:
            del lines[at : at + rng.randrange(1, 4)]
    return "\n".join(lines).encode()


def edit_binary(rng: random.Random, content: bytes) -> bytes:
    start = rng.randrange(len(content))
    patch = rng.randbytes(1024)
    return content[:start] + patch + content[start + len(patch) :]


def plan_changes(repo: Path, fork: str, touched: int, seed: int) -> list[list[bytes]]:
    """fast-import file commands per commit: ~86 % edits (5 binary), 5 % adds, 4 % deletes, 5 % renames."""
    rng = random.Random(seed)
    listing = git(repo, "ls-tree", "-r", "-z", fork).split(b"\0")
    files: dict[str, str] = {}  # path -> blob id
    for record in filter(None, listing):
        meta, name = record.split(b"\t", 1)
        files[name.decode()] = meta.split()[2].decode()
    text = sorted(p for p in files if not p.endswith((".bin", ".csv")))
    binary = sorted(p for p in files if p.endswith(".bin"))
    n_add, n_del, n_ren, n_bin = touched * 5 // 100, touched * 4 // 100, touched * 5 // 100, 5
    n_edit = touched - n_add - n_del - n_ren - n_bin
    chosen = rng.sample(text, n_edit + n_del + n_ren)
    edits, deletes, renames = chosen[:n_edit], chosen[n_edit : n_edit + n_del], chosen[n_edit + n_del :]
    bins = rng.sample(binary, n_bin)
    blobs = read_blobs(repo, sorted({files[p] for p in edits + renames + bins}))
    commands: list[bytes] = []
    for path in edits:
        commands.append(inline(path, edit_text(rng, blobs[files[path]])))
    for path in bins:
        commands.append(inline(path, edit_binary(rng, blobs[files[path]])))
    for i in range(n_add):
        lines = [f"def {rng.choice(WORDS)}_{j}() -> None:\n    return {rng.choice(WORDS)}" for j in range(40)]
        commands.append(inline(f"review/new_{i}_{rng.choice(WORDS)}.py", "\n".join(lines).encode() + b"\n"))
    for path in deletes:
        commands.append(b"D %s\n" % path.encode())
    for i, path in enumerate(renames):
        new = f"moved/{path}"
        commands.append(b"R %s %s\n" % (path.encode(), new.encode()))
        if i % 2:  # half of them edited too, still similar enough to count as renames
            commands.append(inline(new, edit_text(rng, blobs[files[path]])))
    rng.shuffle(commands)
    per = -(-len(commands) // COMMITS_ON_BRANCH)
    return [commands[i : i + per] for i in range(0, len(commands), per)]


def inline(path: str, content: bytes) -> bytes:
    return b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(content), content)


def add_branch(repo: Path, touched: int, seed: int) -> None:
    fork = git(repo, "rev-parse", f"{repogen.BRANCH}~{FORK_BACK}").decode().strip()
    stream = bytearray()
    for n, commands in enumerate(plan_changes(repo, fork, touched, seed)):
        when = repogen.START_TIME + 20 * 365 * 86400 + n * 3600
        who = b"Bench Agent <agent@example.org> %d +0000" % when
        stream += b"commit refs/heads/%s\nauthor %s\ncommitter %s\n" % (BRANCH.encode(), who, who)
        message = f"Review bench change {n}\n".encode()
        stream += b"data %d\n%s\n" % (len(message), message)
        # Later commits continue from the branch's tip in fast-import's memory.
        if n == 0:
            stream += b"from %s\n" % fork.encode()
        stream += b"".join(commands) + b"\n"
    git(repo, "fast-import", "--quiet", "--done", stdin=bytes(stream) + b"done\n")


def ensure_repo(params: repogen.RepoParams, touched: int, seed: int) -> Path:
    info = repogen.ensure(params, WORK / "repos", log=log)
    dest = WORK / "diff" / f"{params.key}-t{touched}-s{seed}-b{BRANCH_VERSION}.git"
    if dest.is_dir():
        log(f"Reusing {dest}")
        return dest
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"Copying {info.path} and adding a branch touching {touched} files ...")
    shutil.copytree(info.path, tmp)
    add_branch(tmp, touched, seed)
    tmp.rename(dest)
    return dest


# -- timing ---------------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def operations(repo: Path, merge_base: str) -> dict[str, Callable[[], object]]:
    base = repogen.BRANCH
    return {
        "git diff --patch": lambda: git(repo, "diff", "--patch", merge_base, BRANCH),
        "git diff --numstat": lambda: git(repo, "diff", "--numstat", merge_base, BRANCH),
        "diff() all 500 files (limit=500)": lambda: git_diff.diff(repo, base, BRANCH, limit=500),
        "diff() first page (limit=100)": lambda: git_diff.diff(repo, base, BRANCH),
        "diff() last page (offset=400, limit=100)": lambda: git_diff.diff(repo, base, BRANCH, offset=400),
    }


class Facts(TypedDict):
    files: int
    statuses: dict[str, int]
    binary: int
    additions: int
    deletions: int
    patch_bytes: int


def check(repo: Path, merge_base: str, touched: int) -> Facts:
    """The result is right before it is fast: the patch equals git's, every file is there."""
    result = git_diff.diff(repo, repogen.BRANCH, BRANCH, limit=touched)
    reference = git(repo, "diff", "--patch", merge_base, BRANCH).decode("utf-8", "replace")
    statuses: dict[str, int] = {}
    for f in result.files:
        statuses[f.status] = statuses.get(f.status, 0) + 1
    if result.patch != reference or result.total_files != touched or result.merge_base_sha != merge_base:
        raise SystemExit("diff() disagrees with git diff; not timing a wrong answer.")
    return {
        "files": result.total_files,
        "statuses": statuses,
        "binary": sum(f.binary for f in result.files),
        "additions": result.additions,
        "deletions": result.deletions,
        "patch_bytes": len(reference.encode()),
    }


def run(repo: Path, runs: int) -> dict[str, list[float]]:
    merge_base = git(repo, "merge-base", repogen.BRANCH, BRANCH).decode().strip()
    ops = operations(repo, merge_base)
    for action in ops.values():  # warm the page cache and the imports
        action()
    times: dict[str, list[float]] = {name: [] for name in ops}
    names = list(ops)
    for n in range(runs):
        order = names[n % len(names) :] + names[: n % len(names)]  # who goes first rotates
        for name in order:
            times[name].append(timed(ops[name]))
        log(
            f"run {n + 1}/{runs}: "
            + ", ".join(f"{k.split(' (')[0]} {v[-1] * 1000:.0f} ms" for k, v in times.items())
        )
    return times


class Summary(TypedDict):
    median_ms: float
    min_ms: float
    ratio_median: float
    runs_ms: list[float]


def summarise(times: dict[str, list[float]]) -> dict[str, Summary]:
    reference = times["git diff --patch"]
    summary: dict[str, Summary] = {}
    for name, samples in times.items():
        ratios = [s / r for s, r in zip(samples, reference, strict=True)]
        summary[name] = {
            "median_ms": round(statistics.median(samples) * 1000, 1),
            "min_ms": round(min(samples) * 1000, 1),
            "ratio_median": round(statistics.median(ratios), 3),
            "runs_ms": [round(s * 1000, 1) for s in samples],
        }
    return summary


def render(summary: dict[str, Summary], facts: Facts, runs: int) -> str:
    rows = [
        (
            f"Branch: {facts['files']} files {facts['statuses']}, {facts['binary']} binary, "
            f"+{facts['additions']} -{facts['deletions']}, patch {facts['patch_bytes'] / 1024:.0f} KiB. "
            f"{runs} runs, interleaved; ×ratio = median of per-run ratios to `git diff --patch`."
        ),
        "",
        "| operation | median | min | ×ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, entry in summary.items():
        rows.append(
            f"| {name} | {entry['median_ms']} ms | {entry['min_ms']} ms | ×{entry['ratio_median']:.2f} |"
        )
    worst = max(entry["ratio_median"] for name, entry in summary.items() if name.startswith("diff()"))
    verdict = "met" if worst <= TARGET else "MISSED"
    rows += ["", f"Target: diff() within {TARGET}× of `git diff --patch`: {verdict} (worst ×{worst:.2f})."]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the review diff against git diff.")
    parser.add_argument("--runs", type=int, default=7, help="Timed runs per operation (default 7).")
    parser.add_argument("--commits", type=int, default=repogen.RepoParams.commits)
    parser.add_argument("--files", type=int, default=repogen.RepoParams.files)
    parser.add_argument("--seed", type=int, default=repogen.RepoParams.seed)
    parser.add_argument("--touched", type=int, default=500, help="Files the branch touches (default 500).")
    parser.add_argument(
        "--out", type=Path, default=OUT, help="JSON results (default bench/out/diff_bench.json)."
    )
    ns = parser.parse_args(argv)
    repo = ensure_repo(repogen.RepoParams(ns.commits, ns.files, ns.seed), ns.touched, ns.seed)
    merge_base = git(repo, "merge-base", repogen.BRANCH, BRANCH).decode().strip()
    facts = check(repo, merge_base, ns.touched)
    times = run(repo, ns.runs)
    summary = summarise(times)
    print(render(summary, facts, ns.runs))
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(
        json.dumps(
            {
                "repo": str(repo),
                "branch": BRANCH,
                "merge_base": merge_base,
                "git": git(repo, "version").decode().strip(),
                "python": platform.python_version(),
                "load_average": os.getloadavg(),
                "branch_facts": facts,
                "runs": ns.runs,
                "operations": summary,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
