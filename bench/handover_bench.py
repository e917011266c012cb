"""Workflow step hand-over: from one step's end to the next step's agent process running.

A benchmark, not a test: it prints a markdown table, writes everything (raw per-run times too) to
``bench/out/handover_bench.json`` and exits 0 whether or not the target is met (non-zero only when
it could not measure). Run it with the checkout's venv::

    .venv/bin/python bench/handover_bench.py               # 30 plan_build runs (+3 warm-up) on 1 runner
    .venv/bin/python bench/handover_bench.py --runs 10 --runners 2

One LazyAF server (``runner_bench.Server``: its own session, a scratch data dir under the system
temp dir) serves a small generated repository (41 files, 8 commits), with a pool of local runners
running the ``command`` agent: a bash script that reads ``$EPOCHREALTIME`` first thing (no fork)
and appends it to ``<marks>/<card id>``, then writes what its step asks for (the plan step: the
plan file the prompt names, with its front matter; the build step: a source file) and exits.

Each run starts a card with the ``plan_build`` workflow (no checks set, so verify is skipped) and
waits for it to reach review. Per run:

* **hand-over** (the figure this measures): the build step's agent timestamp minus the plan
  step's job ``completed_at`` (stamped by the backend as it records the plan attempt's end, before
  the engine checks the plan step's paths, reads the plan from git, renders the build prompt,
  queues the build job and commits; then the runner is told, claims, prepares its workspace and
  starts the agent);
* **reference, same run**: the plan step's dispatch, ``POST /api/cards/{id}/start`` to the plan
  agent's timestamp, the path a card dragged to In Progress takes (runner_bench's dispatch
  latency) — a hand-over should cost no more than a fresh start.

Runs go one at a time on idle runners; the first ``--warmup`` are left out (they fill the
runner's mirror). Target: p95(hand-over) under 100 ms on this machine.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from runner_bench import (
    OUT,
    BenchError,
    Server,
    fmt,
    git_env,
    load_average,
    make_source_repo,
    stop_all,
    summary,
    ts,
)

TARGET_MS = 100.0
PLAN_FILE = "docs/plans/*.md"


def agent_command(marks: Path) -> str:
    """Take the time first (no fork), file it by card, then do what the step asks: write the plan
    where the plan prompt says (only that file: the harness checks), or a source file."""
    script = (
        't=$EPOCHREALTIME; w=$1; p=$2; n=${w%/repo}; n=${n##*/}; printf "%s\\n" "$t" >> "$0/$n"; '
        "plan=$(grep -o -m1 'Write the plan to `docs/plans/[^`]*`' \"$p\"); "
        'if [ -n "$plan" ]; then plan=${plan#*\\`}; plan=${plan%\\`}; mkdir -p "$w/${plan%/*}"; '
        'printf -- "---\\nfiles:\\n  - bench.py\\n---\\n# Plan\\n\\nWrite bench.py.\\n" > "$w/$plan"; '
        'else printf "print(%s)\\n" "$t" > "$w/bench.py"; fi'
    )
    return shlex.join(["bash", "-c", script, str(marks), "{workdir}", "{prompt_file}"])


def one_run(
    server: Server, repo: dict[str, Any], marks: Path, index: int
) -> dict[str, Any]:
    server.wait_runners_idle()
    time.sleep(
        0.1
    )  # let the runners' claim / no-job exchange after the last run settle
    card = server.api(
        "POST", f"/repos/{repo['id']}/cards", {"title": f"Handover {index}"}
    )
    t0 = time.time()
    server.api("POST", f"/cards/{card['id']}/start", {"workflow": "plan_build"})
    deadline = time.monotonic() + 120
    while True:
        status = server.api("GET", f"/cards/{card['id']}")["status"]
        if status in ("in_review", "failed"):
            break
        if time.monotonic() > deadline:
            raise BenchError(f"card {card['id']} still {status} after 120 s")
        time.sleep(0.05)
    (run,) = server.api("GET", f"/cards/{card['id']}/runs")
    plan_step, build_step = run["steps"][0], run["steps"][1]
    record: dict[str, Any] = {
        "card_id": card["id"],
        "status": status,
        "run_status": run["status"],
        "t_start": t0,
    }
    if status != "in_review":
        record["error"] = run["error"]
        return record
    plan_job = server.api("GET", f"/jobs/{plan_step['job_id']}")
    build_job = server.api("GET", f"/jobs/{build_step['job_id']}")
    stamps = [float(line) for line in (marks / card["id"]).read_text().split()]
    if len(stamps) != 2:
        raise BenchError(
            f"card {card['id']}: {len(stamps)} agent starts recorded, not 2"
        )
    plan_done = ts(plan_job["completed_at"])
    assert plan_done is not None
    record.update(
        plan_agent_at=stamps[0],
        build_agent_at=stamps[1],
        plan_completed_at=plan_done,
        build_queued_at=ts(build_job["queued_at"]),
        build_claimed_at=ts(build_job["started_at"]),
        handover=stamps[1] - plan_done,
        dispatch=stamps[0] - t0,
    )
    record["handover_split"] = {
        "plan done → build queued (engine + commit)": record["build_queued_at"]
        - plan_done,
        "build queued → claimed": record["build_claimed_at"]
        - record["build_queued_at"],
        "claimed → agent running (workspace, spawn)": stamps[1]
        - record["build_claimed_at"],
    }
    return record


def render(result: dict[str, Any]) -> str:
    cfg = result["config"]
    s = result["summary"]
    lines = [
        (
            f"### Step hand-over: {cfg['runs']} plan_build runs one at a time, {cfg['runners']} local "
            f"runner(s) ({cfg['warmup']} warm-up runs left out, {result['failed_runs']} failed)"
        ),
        "",
        "| | p50 | p95 | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, row in s.items():
        lines.append(
            f"| {label} | {fmt(row['p50_ms'])} | {fmt(row['p95_ms'])} | {fmt(row['max_ms'])} |"
        )
    p95 = s["hand-over: plan step done → build agent running"]["p95_ms"]
    ref = s["reference: start → plan agent running (a fresh dispatch)"]["p95_ms"]
    verdict = "met" if p95 < TARGET_MS else "missed"
    lines += [
        "",
        (
            f"Target p95(hand-over) < {TARGET_MS:.0f} ms: **{verdict}** ({fmt(p95)}; the same run's fresh "
            f"dispatch p95 {fmt(ref)}, ratio ×{p95 / ref:.2f})."
        ),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="measured plan_build runs")
    parser.add_argument("--warmup", type=int, default=3, help="runs left out first")
    parser.add_argument(
        "--runners", type=int, default=1, help="local runners in the pool"
    )
    parser.add_argument("--out", type=Path, default=OUT / "handover_bench.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (stop_all(), sys.exit(143)))
    atexit.register(stop_all)
    workdir = Path(tempfile.mkdtemp(prefix="lazyaf-handover-bench-"))
    began = time.monotonic()

    def log(message: str) -> None:
        print(
            f"[{time.monotonic() - began:6.1f}s] {message}", file=sys.stderr, flush=True
        )

    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_average()},
        "config": {"runs": args.runs, "warmup": args.warmup, "runners": args.runners},
    }
    server = None
    try:
        marks, home = workdir / "marks", workdir / "home"
        marks.mkdir()
        home.mkdir()
        env = git_env(home)
        source = workdir / "source"
        make_source_repo(source, env)
        server = Server(workdir, agent_command=agent_command(marks), home=home)
        repo = server.ingest("bench", source, env)
        server.scale(args.runners)
        log(
            f"server up on {server.url}; {args.warmup}+{args.runs} runs on {args.runners} runner(s)"
        )
        records = []
        for i in range(args.warmup + args.runs):
            record = one_run(server, repo, marks, i)
            record["warmup"] = i < args.warmup
            if record["status"] != "in_review":
                log(f"  run {i}: {record['status']}: {record.get('error')}")
            records.append(record)
        measured = [r for r in records if not r["warmup"] and "handover" in r]
        splits = (
            {
                k: [r["handover_split"][k] for r in measured]
                for k in measured[0]["handover_split"]
            }
            if measured
            else {}
        )
        result["summary"] = {
            "hand-over: plan step done → build agent running": summary(
                [r["handover"] for r in measured]
            ),
            **{f"  {label}": summary(values) for label, values in splits.items()},
            "reference: start → plan agent running (a fresh dispatch)": summary(
                [r["dispatch"] for r in measured]
            ),
        }
        result["failed_runs"] = sum(r["status"] != "in_review" for r in records)
        result["raw"] = records
        result["machine"]["load_average_after"] = load_average()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(render(result))
        log(f"wrote {args.out}")
        return 0
    except BenchError as exc:
        print(f"handover_bench: {exc}", file=sys.stderr)
        if server is not None:
            print(server.log_tail(), file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
