"""``lazyaf cards``: list a repo's cards."""

from __future__ import annotations

from typing import Any

import click

from lazyaf_cli import output
from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.options import Command
from lazyaf_cli.output import short

STATUSES = ("todo", "in_progress", "in_review", "done", "failed")
COLUMNS = ("ID", "STATUS", "PRIORITY", "TITLE", "BRANCH")


@click.command(cls=Command)
@click.argument("repo_ref", metavar="REPO")
@click.option("--status", type=click.Choice(STATUSES), help="Only cards in this column.")
@pass_app
def cards(app: AppContext, repo_ref: str, status: str | None) -> None:
    """List REPO's cards, column by column.

    REPO is a repo's name or id.

    A running card's status says what its job is doing (queued, or its phase).

    With --json: the API's list of cards, each {id, repo_id, title,
    description, status, position, priority, branch_name, job_id,
    max_attempts, conflict_files, merge_sha, created_at, updated_at, ...}.
    """
    repo = app.api.find_repo(repo_ref)
    found = app.api.list_cards(repo["id"], status=status)
    if app.as_json:
        app.print_json(found)
        return
    if not found:
        where = f" in {status}" if status else ""
        click.echo(f"No cards{where} in {repo['name']}; add one with `lazyaf card new {repo['name']} TITLE`.")
        return
    jobs = {j["id"]: j for j in app.api.current_jobs(repo["id"])} if _any_running(found) else {}
    click.echo(output.table([COLUMNS, *(_row(card, jobs) for card in found)]))


def _any_running(found: list[dict[str, Any]]) -> bool:
    return any(card["status"] == "in_progress" for card in found)


def _row(card: dict[str, Any], jobs: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    state = output.status(card["status"])
    job = jobs.get(card.get("job_id") or "")
    if card["status"] == "in_progress" and job is not None:
        state += f" ({job.get('phase') or job['status']})"
    if card.get("conflict_files"):
        state += click.style(" (conflict)", fg="red")
    return (
        short(card["id"]),
        state,
        output.priority(card.get("priority")),
        output.first_line(card["title"], 60),
        card.get("branch_name") or "-",
    )
