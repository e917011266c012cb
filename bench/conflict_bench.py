#!/usr/bin/env python3
"""Benchmark conflict prediction: one repo's pass over 20 active card branches after a push.

One run: reuse (or build) the generated repository from ``repogen.py`` and lay it out as a LazyAF
data dir (a migrated SQLite database, the repo row, one card per branch, in review or in
progress). Each of the ``--branches`` card branches gets ``--branch-commits`` commits editing its
own files plus a few of a shared pool of hot files (so many pairs of branches touch the same
files, and some conflict); main moves on too, over some of the pool. Then:

* **cold**: the first pass of the repo (nothing kept: what a server restart costs), once;
* **after a push** (the figure with the target, < 1 s): a new commit on one card branch (in turn),
  then ``conflicts.service.refresh`` timed end to end: the database reads, the survey in a worker
  thread (merge base, changed paths, ``git merge-tree`` against main and against every branch
  whose paths meet), and the transaction that writes the predictions and records the events;
* **after main moves** (an approve): one branch merged into main, then a pass (every branch is
  checked against the new main);
* the **reference**, in the same run, after each push: one ``git merge-tree --write-tree`` of main
  and the pushed branch (into a throw-away object directory), and — fewer times, it is slow — the
  naive way: ``merge-tree`` of every pair and of every branch with main, nothing kept, no path
  filter.

Prints a markdown table (medians, p95; the ratio is the median of per-run ratios against the one
``merge-tree``) and writes ``bench/out/conflict_bench.json``.

    .venv/bin/python bench/conflict_bench.py                 # the default 4000-commit repository
    .venv/bin/python bench/conflict_bench.py --commits 300 --files 300 --runs 5   # a quick check

A benchmark, not a test: exits 0 whether or not the target is met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "backend" / "src"))

import repogen
from lazyaf.cards.models import Card, CardStatus
from lazyaf.conflicts import service
from lazyaf.conflicts.models import ConflictPrediction
from lazyaf.db.engine import make_engine, make_sessionmaker
from lazyaf.db.migrate import upgrade
from lazyaf.git import merge as git_merge
from lazyaf.git import overlap, run
from lazyaf.repos.models import Repo
from lazyaf.settings import Settings
from merge_bench import fast_import, git, link_or_copy, read_blobs

WORK = BENCH / "work"
OUT = BENCH / "out" / "conflict_bench.json"
TARGET_S = 1.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# -- the scenario ----------------------------------------------------------------------------------


class Scenario:
    """A data dir with the repo, its cards and their branches."""

    def __init__(self, root: Path, source: Path, args: argparse.Namespace) -> None:
        self.root = root
        self.settings = Settings(data_dir=root / "data", log_format="console")  # type: ignore[call-arg]
        self.settings.ensure_dirs()
        self.repo_id = uuid.uuid4()
        self.path = self.settings.git_repos_dir / f"{self.repo_id}.git"
        shutil.copytree(source, self.path, copy_function=link_or_copy)
        for key, value in (
            ("core.logAllRefUpdates", "true"),
            ("gc.auto", "0"),
            ("maintenance.auto", "false"),
        ):
            git("--git-dir", str(self.path), "config", key, value)
        self.rng = random.Random(args.seed)
        self.base = self.rev("refs/heads/main")
        listing = git(
            "--git-dir", str(self.path), "ls-tree", "-r", "--name-only", self.base
        ).splitlines()
        text = [p for p in listing if not p.endswith(".bin")]
        self.rng.shuffle(text)
        self.pool = text[: args.pool]
        own = text[args.pool :]
        self.cards = [uuid.uuid4() for _ in range(args.branches)]
        self.branches = [
            f"lazyaf/{c.hex[:8]}-bench-card-{i}" for i, c in enumerate(self.cards)
        ]
        self.files: dict[str, list[str]] = {}
        for i, branch in enumerate(self.branches):
            mine = own[i * args.own : (i + 1) * args.own] + self.rng.sample(
                self.pool, args.shared
            )
            self.files[branch] = mine
            self.commit(branch, self.base, mine, args.branch_commits)
        self.commit(
            "main",
            self.base,
            self.rng.sample(self.pool, args.shared * 2),
            args.main_commits,
        )
        self.pushes = 0

    def rev(self, name: str) -> str:
        return git("--git-dir", str(self.path), "rev-parse", name).strip()

    def commit(self, branch: str, start: str, paths: list[str], count: int) -> None:
        """``count`` commits on ``branch`` from ``start`` editing ``paths`` the way repogen edits."""
        files = read_blobs(self.path, start, paths)
        seed = self.rng.randrange(1 << 30)
        ref = f"refs/heads/{branch}"
        fast_import(
            self.path,
            lambda out: repogen.extra_commits(out, ref, start, files, count, seed),
        )

    def push(self) -> str:
        """One more commit on the next card branch (in turn), as an agent's push would add: a line
        changed in two of the files the branch works on."""
        branch = self.branches[self.pushes % len(self.branches)]
        self.pushes += 1
        tip = self.rev(f"refs/heads/{branch}")
        present = git(
            "--git-dir",
            str(self.path),
            "ls-tree",
            "-r",
            "--name-only",
            tip,
            "--",
            *self.files[branch],
        )
        paths = self.rng.sample(present.splitlines(), 2)
        files = read_blobs(self.path, tip, paths)

        def write(out: Any) -> None:
            who = f"Agent <agent@example.org> {1_800_000_000 + self.pushes} +0000".encode()
            message = f"Agent push {self.pushes}\n".encode()
            out.write(
                b"commit refs/heads/%s\ncommitter %s\ndata %d\n%s"
                % (branch.encode(), who, len(message), message)
            )
            out.write(b"from %s\n" % tip.encode())
            for path, lines in files.items():
                assert isinstance(lines, list)
                edited = list(lines) or [""]
                edited[self.rng.randrange(len(edited))] = (
                    f"# edited by push {self.pushes}"
                )
                body = ("\n".join(edited) + "\n").encode()
                out.write(
                    b"M 100644 inline %s\ndata %d\n%s\n"
                    % (path.encode(), len(body), body)
                )
            out.write(b"\ndone\n")

        fast_import(self.path, write)
        return branch

    async def database(self) -> Any:
        await asyncio.to_thread(upgrade, self.settings.sqlalchemy_url)
        engine = make_engine(self.settings.sqlalchemy_url)
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session:
            session.add(
                Repo(
                    id=self.repo_id,
                    name="bench",
                    default_branch="main",
                    is_ingested=True,
                )
            )
            await (
                session.flush()
            )  # before its cards: no relationship orders the inserts
            for i, (card_id, branch) in enumerate(
                zip(self.cards, self.branches, strict=True)
            ):
                status = CardStatus.IN_REVIEW if i % 2 else CardStatus.IN_PROGRESS
                session.add(
                    Card(
                        id=card_id,
                        repo_id=self.repo_id,
                        title=f"Card {i}",
                        status=status,
                        branch_name=branch,
                    )
                )
            await session.commit()
        return engine, sessionmaker


# -- the reference -----------------------------------------------------------------------------------


def one_merge_tree(path: Path, branch: str) -> float:
    """One ``git merge-tree --write-tree`` of main and ``branch``, its trees thrown away."""
    with overlap.Scratch(path) as scratch:
        env = scratch.env()
        started = time.perf_counter()
        done = _run(
            path,
            [
                "merge-tree",
                "--write-tree",
                "--name-only",
                "-z",
                "--no-messages",
                "main",
                branch,
            ],
            env,
        )
        seconds = time.perf_counter() - started
    if done not in (0, 1):
        raise RuntimeError(f"git merge-tree failed ({done})")
    return seconds


def naive(path: Path, branches: list[str]) -> float:
    """Every pair and every branch against main with ``merge-tree``: nothing kept, no path filter."""
    with overlap.Scratch(path) as scratch:
        env = scratch.env()
        started = time.perf_counter()
        for a, b in [*combinations(branches, 2), *(("main", b) for b in branches)]:
            _run(
                path,
                [
                    "merge-tree",
                    "--write-tree",
                    "--name-only",
                    "-z",
                    "--no-messages",
                    a,
                    b,
                ],
                env,
            )
        return time.perf_counter() - started


def _run(path: Path, args: list[str], env: dict[str, str]) -> int:
    return run.run(path, *args, env=env).returncode


# -- the run ---------------------------------------------------------------------------------------


async def timed_pass(
    sessionmaker: Any, scenario: Scenario, passes: service.Passes
) -> tuple[float, int]:
    started = time.perf_counter()
    outcome = await service.refresh(
        sessionmaker=sessionmaker,
        settings=scenario.settings,
        repo_id=scenario.repo_id,
        passes=passes,
    )
    seconds = time.perf_counter() - started
    if outcome.skipped:
        raise RuntimeError("the pass found nothing new after a push")
    return seconds, len(outcome.changed)


async def active_counts(sessionmaker: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    async with sessionmaker() as session:
        rows = await session.execute(
            select(
                ConflictPrediction.kind,
                ConflictPrediction.other_card_id.is_(None),
                func.count(),
            )
            .where(ConflictPrediction.cleared_at.is_(None))
            .group_by(
                ConflictPrediction.kind, ConflictPrediction.other_card_id.is_(None)
            )
        )
        return {
            f"{kind} with {'main' if target else 'cards'}": n
            for kind, target, n in rows.all()
        }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    info = repogen.ensure(
        repogen.RepoParams(args.commits, args.files, args.seed), WORK / "repos", log=log
    )
    root = Path(tempfile.mkdtemp(prefix="conflict-run-", dir=WORK))
    try:
        log("Laying out the scenario (branches, main, database) ...")
        scenario = Scenario(root, Path(info.path), args)
        engine, sessionmaker = await scenario.database()
        passes = service.Passes()
        overlap.forget()
        log("Cold pass ...")
        cold, _ = await timed_pass(sessionmaker, scenario, passes)
        found = await active_counts(sessionmaker)
        pushed: list[float] = []
        reference: list[float] = []
        naive_times: list[float] = []
        for run in range(args.runs):
            branch = scenario.push()
            seconds, _changed = await timed_pass(sessionmaker, scenario, passes)
            pushed.append(seconds)
            reference.append(one_merge_tree(scenario.path, branch))
            if run < args.naive_runs:
                naive_times.append(naive(scenario.path, scenario.branches))
            log(
                f"  push {run + 1}/{args.runs}: pass {seconds * 1000:.0f} ms, one merge-tree {reference[-1] * 1000:.0f} ms"
            )
        # An approve: the first branch that merges cleanly goes into main; every branch is checked
        # against the new main.
        for branch in scenario.branches:
            try:
                git_merge.merge(
                    scenario.path,
                    target_branch="main",
                    source=branch,
                    strategy="merge",
                    message=f"Approve {branch}\n",
                    author=("LazyAF Bench", "bench@example.org"),
                    refuse_markers=False,
                )
                break
            except git_merge.MergeConflict:
                continue
        after_main, _ = await timed_pass(sessionmaker, scenario, passes)
        await engine.dispose()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    ratios = [a / b for a, b in zip(pushed, reference, strict=True)]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load": os.getloadavg(),
        },
        "repository": {k: v for k, v in info.__dict__.items() if k != "path"},
        "scenario": {
            "branches": args.branches,
            "branch_commits": args.branch_commits,
            "files_per_branch": args.own + args.shared,
            "shared_pool": args.pool,
            "main_commits": args.main_commits,
            "predictions_after_cold_pass": found,
        },
        "cold_pass_s": cold,
        "after_push_s": {
            "median": statistics.median(pushed),
            "p95": p95(pushed),
            "all": pushed,
        },
        "one_merge_tree_s": {
            "median": statistics.median(reference),
            "p95": p95(reference),
        },
        "ratio_to_one_merge_tree": {
            "median": statistics.median(ratios),
            "min": min(ratios),
            "max": max(ratios),
        },
        "naive_all_pairs_s": {"median": statistics.median(naive_times)}
        if naive_times
        else None,
        "after_main_moves_s": after_main,
    }


def render(result: dict[str, Any]) -> str:
    r, s = result["repository"], result["scenario"]
    push, one = result["after_push_s"], result["one_merge_tree_s"]
    verdict = "met" if push["p95"] < TARGET_S else "MISSED"
    found = ", ".join(
        f"{n} {what}" for what, n in sorted(s["predictions_after_cold_pass"].items())
    )
    naive_row = result["naive_all_pairs_s"]
    lines = [
        (
            f"Repository: {r['commits']} commits, {r['files_at_head']} files, {r['pack_mib']} MiB pack. "
            f"{s['branches']} active card branches of {s['branch_commits']} commits over "
            f"{s['files_per_branch']} files each ({s['shared_pool']} hot files shared); main moved on by "
            f"{s['main_commits']} commits. Predictions after the first pass: {found}. "
            f"{len(push['all'])} pushes."
        ),
        "",
        "| measure | median | p95 | reference | ratio | target |",
        "| --- | --- | --- | --- | --- | --- |",
        (
            f"| pass after a push (DB + git + write + events) | {push['median'] * 1000:.0f} ms "
            f"| {push['p95'] * 1000:.0f} ms | one `git merge-tree` {one['median'] * 1000:.0f} ms "
            f"| ×{result['ratio_to_one_merge_tree']['median']:.1f} | < 1 s: {verdict} |"
        ),
        f"| cold pass (nothing kept: after a restart) | {result['cold_pass_s'] * 1000:.0f} ms | | | | |",
        f"| pass after main moves (an approve) | {result['after_main_moves_s'] * 1000:.0f} ms | | | | |",
    ]
    if naive_row:
        lines.append(
            f"| naive: `merge-tree` of every pair and with main, nothing kept | {naive_row['median'] * 1000:.0f} ms "
            "| | | | |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--runs", type=int, default=15, help="Pushes timed (one pass each)."
    )
    parser.add_argument(
        "--naive-runs",
        type=int,
        default=3,
        help="Runs of the naive all-pairs reference.",
    )
    parser.add_argument(
        "--commits",
        type=int,
        default=repogen.RepoParams.commits,
        help="Generated commits.",
    )
    parser.add_argument(
        "--files", type=int, default=repogen.RepoParams.files, help="Generated files."
    )
    parser.add_argument(
        "--seed", type=int, default=repogen.RepoParams.seed, help="Generator seed."
    )
    parser.add_argument(
        "--branches", type=int, default=20, help="Active card branches."
    )
    parser.add_argument(
        "--branch-commits", type=int, default=10, help="Commits on each card branch."
    )
    parser.add_argument(
        "--main-commits", type=int, default=10, help="Commits main moves on by."
    )
    parser.add_argument(
        "--own", type=int, default=12, help="Files only one branch edits, per branch."
    )
    parser.add_argument(
        "--shared", type=int, default=4, help="Hot files each branch edits too."
    )
    parser.add_argument(
        "--pool", type=int, default=30, help="The hot files branches share."
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep bench/work/conflict-run-*/."
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(bench(args))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(render(result))
    log(f"Wrote {OUT.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
