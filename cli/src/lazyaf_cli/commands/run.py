"""``lazyaf run``: a work order — a card in REPO that runs a workflow at once — optionally followed."""

from __future__ import annotations

import json
import math
import sys
import time
from datetime import datetime
from typing import Any

import click

from lazyaf_cli import output
from lazyaf_cli.client import Card
from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.follow import Follower, LogPrinter, print_history
from lazyaf_cli.options import Command
from lazyaf_cli.output import Spinner, first_line, short

INTERRUPTED = 130
WorkOrder = dict[str, Any]
ENDED = {"succeeded", "failed", "cancelled"}
"""A work order's final statuses; ``waiting`` (its plan waits for a review) ends following too."""
FOLLOW_UP_KINDS = {"retry", "fix", "resolve", "followup", "refine"}
"""Attempt kinds worth a header: another pass of a step, not its first."""


@click.command(cls=Command)
@click.argument("repo_ref", metavar="REPO")
@click.argument("prompt", metavar="PROMPT")
@click.option("--workflow", metavar="NAME", help="Run this workflow (default: the repo's, build unless set).")
@click.option("--title", metavar="TITLE", help="Title the card (default: the prompt's first line).")
@click.option("--review-plan", is_flag=True, help="Stop after the plan step for your review.")
@click.option(
    "-f", "--follow", is_flag=True, help="Stream the steps and the agent's log until the work order ends."
)
@pass_app
def run(
    app: AppContext,
    repo_ref: str,
    prompt: str,
    workflow: str | None,
    title: str | None,
    review_plan: bool,
    follow: bool,
) -> None:
    """Have an agent do PROMPT in REPO: a work order.

    Creates a card in REPO whose description is PROMPT and starts it at once
    with a workflow (plan_build: write a plan, build it, run the repo's checks;
    `lazyaf` lists them with GET /api/workflows?repo=REPO). REPO is a repo's
    name or id. Prints the work order's id; the card is reviewed as any other.

    With --follow, print each step as it starts and ends and the agent's log,
    until the work order succeeds (exit 0: the card is in review), its plan
    waits for your review (exit 0), or it fails or is cancelled (exit 1, with
    the reason). Ctrl-C stops following; the work goes on.

    With --json: the work order {id, card_id, repo, title, workflow, status,
    phase, card_status, branch, steps: [...]}; with --follow, one JSON object
    per line: {"type": "started", "work_order"}, then "event", "job", "card"
    and "run" lines as things happen, last {"type": "end", "work_order", "card"}.
    """
    body: dict[str, Any] = {"repo": repo_ref, "prompt": prompt, "review_plan": review_plan}
    if workflow is not None:
        body["workflow"] = workflow
    if title is not None:
        body["title"] = title
    order: WorkOrder = app.api.request("POST", "/work-orders", json=body)
    since = app.api.last_seq
    ref = short(order["card_id"])
    if not follow:
        if app.as_json:
            app.print_json(order)
            return
        click.echo(order["id"])
        app.info(
            f"Started work order {short(order['id'])} in {order['repo']}: {describe(order)}, card "
            f"'{order['title']}' (#{ref}). Follow it with `lazyaf card logs {ref} --follow`."
        )
        return
    if app.as_json:
        app.print_json_line({"type": "started", "work_order": order})
    else:
        click.echo(
            click.style(f"Started '{order['title']}'", bold=True)
            + f" — work order {short(order['id'])}, {describe(order)}"
        )
    follow_order(app, order, since=since)


def describe(order: WorkOrder) -> str:
    """``plan_build (plan → build → verify)``."""
    return f"{order['workflow']} ({' → '.join(step_name(s) for s in order['steps'])})"


def step_name(step: dict[str, Any]) -> str:
    return f"{step['kind']} {step['iteration']}" if step.get("iteration") else str(step["kind"])


def step_facts(step: dict[str, Any]) -> list[str]:
    """How long a step took, what it changed and what it cost."""
    facts = []
    seconds = _between(step.get("started_at"), step.get("finished_at"))
    if seconds is not None:
        facts.append(output.duration(seconds))
    if changed := output.stats(step):
        facts.append(changed)
    if step.get("cost_usd") is not None:
        facts.append(output.cost(step["cost_usd"]))
    return facts


def _between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


class RunFollower(Follower):
    """Follows a work order: its card's log (as ``Follower``), and its run's steps from
    ``run_updated`` events, until the run ends or waits for a person."""

    def __init__(self, app: AppContext, order: WorkOrder, card: Card, printer: LogPrinter, spinner: Spinner):
        super().__init__(app, card, printer, spinner)
        self.order = order
        self._step_started = time.monotonic()

    def finished(self) -> bool:
        return self.order["status"] in ENDED or self.order["status"] == "waiting"

    def _apply(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "run_updated" and data.get("run", {}).get("id") == self.order["id"]:
            self._run_changed(data["run"])
        else:
            super()._apply(kind, data)

    def _run_changed(self, run: dict[str, Any]) -> None:
        before = {s["id"]: s for s in self.order["steps"]}
        changed = ("status", "phase", "error", "finished_at", "steps")
        self.order = {**self.order, **{k: run[k] for k in changed}}
        if self.app.as_json:
            self.spinner.echo(json.dumps({"type": "run", "run": run}, separators=(",", ":")))
            return
        for step in run["steps"]:
            was = before.get(step["id"], {}).get("status")
            if step["status"] == was:
                continue
            name = step_name(step)
            if step["status"] == "running":
                self.step_header(step)
            elif step["status"] == "succeeded":
                facts = step_facts(step)
                self.printer.note(f"{name} done" + (f": {', '.join(facts)}" if facts else ""), colour="green")
            elif step["status"] == "failed":
                reason = first_line(step.get("error")) or "no reason given"
                self.printer.note(f"{name} failed: {reason}", colour="red")
            elif step["status"] in ("cancelled", "skipped"):
                why = f": {first_line(step['error'])}" if step.get("error") else ""
                self.printer.note(f"{name} {step['status']}{why}", colour="magenta")
        if run.get("phase") == "plan_review":
            self.printer.note("the plan waits for your review")

    def step_header(self, step: dict[str, Any]) -> None:
        """``── step 2/3: build``, as a step begins."""
        self._step_started = time.monotonic()
        if not self.app.as_json:
            where = f"{step['position'] + 1}/{len(self.order['steps'])}"
            self.spinner.echo(click.style(f"── step {where}: {step_name(step)}", bold=True))

    def _set_job(self, job: dict[str, Any] | None, *, announce: bool) -> None:
        # A step's first attempt is announced by its step line; another pass of it gets a header.
        super()._set_job(job, announce=announce and job is not None and job.get("kind") in FOLLOW_UP_KINDS)

    def _resync(self) -> None:
        super()._resync()
        self.order = self.app.api.request("GET", f"/work-orders/{self.order['id']}")

    def _progress(self) -> str:
        if self.reconnecting is not None or self.job is None or self.job["status"] == "queued":
            return super()._progress()
        steps = self.order["steps"]
        at = next((s for s in steps if s["status"] == "running"), None)
        where = f"step {at['position'] + 1}/{len(steps)} {step_name(at)}" if at else self.order["status"]
        phase = self.job.get("phase") or self.job["status"]
        return f"{self.order['workflow']} · {where} · {phase} · {output.elapsed_since(self._step_started)}"


def follow_order(app: AppContext, order: WorkOrder, *, since: int | None) -> None:
    """Follow a work order until it ends; exit 0 when it succeeded or waits for the plan's review."""
    card = app.api.get_card(order["card_id"])
    spinner = Spinner(enabled=None if not app.as_json else False)
    printer = LogPrinter(app, spinner)
    follower = RunFollower(app, order, card, printer, spinner)
    job = app.api.get_job(card["job_id"]) if card.get("job_id") else None
    try:
        for step in order["steps"]:
            if step["status"] == "running":
                follower.step_header(step)
        if job is not None:
            print_history(app.api, printer, job)
        follower.run(since, job)
    except KeyboardInterrupt:
        spinner.stop()
        app.info(
            f"Stopped following; the work order goes on. Follow it again with "
            f"`lazyaf card logs {short(card['id'])} --follow`."
        )
        sys.exit(INTERRUPTED)
    finally:
        spinner.stop()
    finish(app, app.api.request("GET", f"/work-orders/{order['id']}"))


def finish(app: AppContext, order: WorkOrder) -> None:
    """Say how the work order ended; a one-line error (exit 1) when it failed or was cancelled."""
    ref, wo = short(order["card_id"]), short(order["id"])
    if app.as_json:
        app.print_json_line({"type": "end", "work_order": order, "card": app.api.get_card(order["card_id"])})
    elif order["status"] == "succeeded":
        costs = [s["cost_usd"] for s in order["steps"] if s.get("cost_usd") is not None]
        progress = app.api.request("GET", f"/work-orders/{order['id']}/git-progress")
        facts = [f for f in (output.stats(progress), output.cost(math.fsum(costs)) if costs else "") if f]
        click.echo(
            click.style(f"✓ Work order {wo} succeeded: '{order['title']}' is in review", fg="green")
            + (f"; {'; '.join(facts)}" if facts else "")
            + f". Next: `lazyaf card diff {ref}`, then `lazyaf card approve {ref}`."
        )
    elif order["status"] == "waiting":
        click.echo(
            click.style(f"✓ The plan of '{order['title']}' waits for your review", fg="green")
            + f": read it with `lazyaf card diff {ref}`; `lazyaf card approve {ref}` builds it, "
            f"`lazyaf card request-changes {ref}` plans again."
        )
    if order["status"] in ("succeeded", "waiting"):
        return
    if order["status"] == "failed":
        step = next((s for s in order["steps"] if s["status"] == "failed"), None)
        at = f" at its {step_name(step)} step" if step else ""
        reason = first_line((step or {}).get("error") or order.get("error")) or "no reason given"
        raise click.ClickException(
            f"Work order {wo} failed{at}: {reason.rstrip('.')}. "
            f"See `lazyaf card show {ref}`; retry with `lazyaf card retry {ref}`."
        )
    raise click.ClickException(
        f"Work order {wo} was {order['status']}; its card '{order['title']}' is back in To Do."
    )
