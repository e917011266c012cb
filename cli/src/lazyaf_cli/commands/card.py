"""``lazyaf card ...``: one card through the loop — new, start (and follow), show, logs, cancel.

The review half (diff, comment, request-changes, approve, reject, retry) is in ``review.py``.
"""

from __future__ import annotations

import math
import sys
from typing import IO, Any

import click

from lazyaf_cli import output, resolve
from lazyaf_cli.client import Card, Job
from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.follow import SUCCESS_CARD, Follower, LogPrinter, job_facts, job_title, print_history
from lazyaf_cli.options import Group
from lazyaf_cli.output import Spinner, first_line, short

INTERRUPTED = 130
"""Exit status after Ctrl-C, as shells report a process ended by SIGINT."""


@click.group(cls=Group)
def card() -> None:
    """Create, start, follow, review and approve one card.

    CARD is a card's id, a unique prefix of it (the 8 characters the board
    shows, e.g. 3f2a1b9c), or REPO#prefix. REPO is a repo's name or id.
    Failures print one line and exit 1.
    """


class PriorityType(click.ParamType):  # type: ignore[type-arg]
    name = "priority"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip().lower()
        if text in output.PRIORITIES:
            return output.PRIORITIES.index(text)
        if text.isdigit() and 0 <= int(text) < len(output.PRIORITIES):
            return int(text)
        self.fail(f"'{value}' is not a priority; use low, normal, high or urgent (or 0-3).", param, ctx)


@card.command("new")
@click.argument("repo_ref", metavar="REPO")
@click.argument("title")
@click.option("--description", metavar="TEXT", help="Say what to do, in as much detail as the agent needs.")
@click.option(
    "--description-file",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE",
    help="Read the description from FILE ('-' reads standard input).",
)
@click.option(
    "--priority", type=PriorityType(), help="Set the priority: low, normal (default), high, urgent."
)
@click.option("--max-attempts", type=click.IntRange(1, 20), help="Allow this many agent passes (default 3).")
@pass_app
def new(
    app: AppContext,
    repo_ref: str,
    title: str,
    description: str | None,
    description_file: IO[str] | None,
    priority: int | None,
    max_attempts: int | None,
) -> None:
    """Add a card to REPO's To Do column.

    The card, titled TITLE, goes at the bottom of the column.

    Prints the new card's id (the whole id; its first 8 characters are enough
    for other commands). With --json: the card, as `lazyaf card show --json`
    has it under "card".
    """
    if description is not None and description_file is not None:
        raise click.ClickException("Pass either --description or --description-file, not both.")
    if description_file is not None:
        description = description_file.read()
    repo = app.api.find_repo(repo_ref)
    fields: dict[str, Any] = {"title": title}
    for key, value in (("description", description), ("priority", priority), ("max_attempts", max_attempts)):
        if value is not None:
            fields[key] = value
    created = app.api.create_card(repo["id"], fields)
    if app.as_json:
        app.print_json(created)
        return
    click.echo(created["id"])
    app.info(
        f"Created '{created['title']}' in {repo['name']}'s To Do; "
        f"start it with `lazyaf card start {short(created['id'])} --follow`."
    )


@card.command("start")
@click.argument("card_ref", metavar="CARD")
@click.option(
    "-f", "--follow", is_flag=True, help="Stream the agent's log until the card reaches review or fails."
)
@pass_app
def start(app: AppContext, card_ref: str, follow: bool) -> None:
    """Start CARD's agent; --follow streams its log.

    Queues an agent job for CARD, which moves to In Progress.

    With --follow, print the agent's log as it works — its text in full, each
    tool call on one line — and the job's phases, until the card reaches review
    (exit 0) or fails (exit 1). Ctrl-C stops following; the job goes on.

    With --json: {"card": card, "job": job}; with --follow, one JSON object per
    line instead: {"type": "started", "card", "job"}, then "event" (job_id,
    attempt, seq, event), "job" (job) and "card" (card) lines as things happen,
    and last {"type": "end", "card", "job"}.
    """
    found = resolve.card(app.api, card_ref)
    job = app.api.request("POST", f"/cards/{found.card['id']}/start")
    queued(app, found.card, job, follow=follow, since=app.api.last_seq, verb="Started")


def queued(app: AppContext, card: Card, job: Job, *, follow: bool, since: int | None, verb: str) -> None:
    """Report a job just queued for ``card``; with ``follow``, follow the card until it settles."""
    card = app.api.get_card(card["id"])
    if not follow:
        if app.as_json:
            app.print_json({"card": card, "job": job})
            return
        click.echo(
            f"{verb} '{card['title']}' ({job['kind']} job {short(job['id'])}, {job['status']}); "
            f"follow it with `lazyaf card logs {short(card['id'])} --follow`."
        )
        return
    if app.as_json:
        app.print_json_line({"type": "started", "card": card, "job": job})
    else:
        click.echo(click.style(f"{verb} '{card['title']}'", bold=True) + f" — {job_title(job)}")
    follow_card(app, card, job, since=since)


def follow_card(app: AppContext, card: Card, job: Job | None, *, since: int | None) -> None:
    """Print the log so far, then follow; exit 0 at review, 1 when the card fails or is sent back."""
    spinner = Spinner(enabled=None if not app.as_json else False)
    printer = LogPrinter(app, spinner)
    follower = Follower(app, card, printer, spinner)
    try:
        if job is not None:
            print_history(app.api, printer, job)
        card = follower.run(since, job)
    except KeyboardInterrupt:
        spinner.stop()
        app.info(
            f"Stopped following; the job goes on. Follow again with `lazyaf card logs {short(card['id'])} "
            f"--follow`, or cancel it with `lazyaf card cancel {short(card['id'])}`."
        )
        sys.exit(INTERRUPTED)
    finally:
        spinner.stop()
    finish(app, card)


def finish(app: AppContext, card: Card) -> None:
    """Say how the followed card ended; a one-line error (exit 1) unless it is ready for review."""
    job = app.api.get_job(card["job_id"]) if card.get("job_id") else None
    ref = short(card["id"])
    if app.as_json:
        app.print_json_line({"type": "end", "card": card, "job": job})
    elif card["status"] in SUCCESS_CARD:
        facts = [f for f in (output.stats(job or {}), ", ".join(job_facts(job or {}))) if f]
        click.echo(
            click.style(f"✓ '{card['title']}' is {card['status'].replace('_', ' ')}", fg="green")
            + (f": {'; '.join(facts)}" if facts else "")
            + (
                f". Next: `lazyaf card diff {ref}`, then `lazyaf card approve {ref}`."
                if card["status"] == "in_review"
                else "."
            )
        )
    if card["status"] in SUCCESS_CARD:
        return
    if card["status"] == "failed":
        reason = first_line((job or {}).get("error")) or "no reason given"
        raise click.ClickException(
            f"Card '{card['title']}' failed: {reason.rstrip('.')}. "
            f"See `lazyaf card show {ref}`; retry with `lazyaf card retry {ref}`."
        )
    ended = (job or {}).get("status", "stopped")
    column = output.COLUMNS.get(card["status"], card["status"])
    raise click.ClickException(f"Card '{card['title']}' went back to {column}: its job was {ended}.")


@card.command("logs")
@click.argument("card_ref", metavar="CARD")
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing as the agent works, until the card settles."
)
@click.option(
    "--all", "all_jobs", is_flag=True, help="Print every job's log, oldest first, not just the latest."
)
@pass_app
def logs(app: AppContext, card_ref: str, follow: bool, all_jobs: bool) -> None:
    """Print the agent's log of CARD.

    The log of CARD's latest job (with --all, of every job, oldest first).

    Assistant text is printed in full, each tool call on one line, failed tool
    results and errors in red. With --follow, a running card is followed until
    it reaches review (exit 0) or fails (exit 1), and a card that already has
    ends the same way; Ctrl-C stops following.

    With --json: one JSON object per line, {"type": "event", "job_id",
    "attempt", "seq", "event"}; with --follow, also the lines `card start
    --follow --json` prints.
    """
    found = resolve.card(app.api, card_ref)
    since = app.api.last_seq
    current = found.card
    if not current.get("job_id"):
        raise click.ClickException(
            f"Card '{current['title']}' has not run yet; start it with "
            f"`lazyaf card start {short(current['id'])} --follow`."
        )
    jobs = app.api.card_jobs(current["id"])
    latest = next((j for j in jobs if j["id"] == current["job_id"]), jobs[-1])
    printer = LogPrinter(app, Spinner(enabled=False))
    for job in jobs if all_jobs else [latest]:
        if all_jobs and len(jobs) > 1:
            printer.header(job)
        if job is latest and follow and current["status"] == "in_progress":
            follow_card(app, current, latest, since=since)
            return
        print_history(app.api, printer, job)
    if follow:
        finish(app, current)


@card.command("show")
@click.argument("card_ref", metavar="CARD")
@pass_app
def show(app: AppContext, card_ref: str) -> None:
    """Show CARD: status, branch, changes, cost, last error.

    Also the branch head, attempts used, the current job and the description.

    With --json: {"card": card, "repo": {"id", "name"}, "head_sha": sha or null,
    "job": the current job or null, "jobs": every job oldest first,
    "total_cost_usd": number or null}.
    """
    found = resolve.card(app.api, card_ref)
    current, repo = found.card, found.repo
    jobs = app.api.card_jobs(current["id"])
    job = next((j for j in jobs if j["id"] == current.get("job_id")), None)
    head = app.api.branch_sha(repo["id"], current["branch_name"]) if current.get("branch_name") else None
    costs = [j["cost_usd"] for j in jobs if j.get("cost_usd") is not None]
    total = math.fsum(costs) if costs else None
    if app.as_json:
        app.print_json(
            {
                "card": current,
                "repo": {"id": repo["id"], "name": repo["name"]},
                "head_sha": head,
                "job": job,
                "jobs": jobs,
                "total_cost_usd": total,
            }
        )
        return
    rows = _show_rows(app, current, repo, jobs, job, head, total)
    click.echo(click.style(current["title"], bold=True))
    width = max(len("last error"), *(len(label) for label, _ in rows))  # the same columns for every card
    for label, value in rows:
        click.echo(f"  {label.ljust(width)}  {value}")
    if current.get("description"):
        click.echo("")
        click.echo("\n".join(f"  {line}" for line in current["description"].rstrip().splitlines()))


def _show_rows(
    app: AppContext,
    current: Card,
    repo: dict[str, Any],
    jobs: list[Job],
    job: Job | None,
    head: str | None,
    total: float | None,
) -> list[tuple[str, str]]:
    rows = [("id", current["id"]), ("repo", repo["name"]), ("status", output.status(current["status"]))]
    if current.get("conflict_files"):
        rows.append(("conflicts", click.style(", ".join(current["conflict_files"]), fg="red")))
    if current.get("branch_name"):
        at = f" at {head[:7]}" if head else click.style(" (deleted)", fg="red")
        rows.append(("branch", f"{current['branch_name']}{at}"))
    if head and current["status"] != "done":
        rows.append(("changes", _branch_changes(app, current, repo)))
    if current.get("merge_sha"):
        rows.append(("merged", f"into {repo['default_branch']} as {current['merge_sha'][:7]}"))
    rows.append(("priority", output.priority(current.get("priority"))))
    used = sum(1 for j in jobs if j["status"] != "cancelled")
    rows.append(("attempts", f"{used} of {current['max_attempts']} used"))
    if job is not None:
        state = job.get("phase") if job["status"] == "running" and job.get("phase") else None
        rows.append(("job", job_title(job) + (f", {state}" if state else "")))
    if total is not None:
        rows.append(("cost", f"{output.cost(total)} in {output.plural(len(jobs), 'job')}"))
    failed = next((j for j in reversed(jobs) if j.get("error")), None)
    if failed is not None and (current["status"] == "failed" or failed is job):
        rows.append(("last error", click.style(output.first_line(failed["error"], 300), fg="red")))
    if current.get("waiting_reason"):
        rows.append(("waiting", str(current["waiting_reason"])))
    return rows


def _branch_changes(app: AppContext, current: Card, repo: dict[str, Any]) -> str:
    diff = app.api.request("GET", f"/cards/{current['id']}/diff", params={"limit": 1})
    commits = len(app.api.card_commits(current["id"]))
    return (
        f"{output.plural(commits, 'commit')}, {output.plural(diff['total_files'], 'file')}, "
        f"+{diff['additions']} -{diff['deletions']} against {repo['default_branch']}"
    )


@card.command("cancel")
@click.argument("card_ref", metavar="CARD")
@pass_app
def cancel(app: AppContext, card_ref: str) -> None:
    """Cancel CARD's job; the card goes back to To Do.

    A queued job ends at once; a running one once its runner has stopped the agent.

    With --json: the job, as the API returns it.
    """
    found = resolve.card(app.api, card_ref)
    current = found.card
    if not current.get("job_id"):
        raise click.ClickException(f"Card '{current['title']}' has no job to cancel.")
    job = app.api.request("POST", f"/jobs/{current['job_id']}/cancel")
    if app.as_json:
        app.print_json(job)
        return
    if job["status"] == "cancelled":
        click.echo(f"Cancelled the {job['kind']} job of '{current['title']}'; the card is back in To Do.")
    else:
        click.echo(
            f"Asked the runner to stop the {job['kind']} job of '{current['title']}'; "
            "the card goes back to To Do once it has."
        )
