"""``lazyaf card diff|comment|request-changes|approve|reject|retry``: the review half of the loop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

from lazyaf_cli import output, resolve
from lazyaf_cli.commands.card import card, queued
from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.output import short

APPROVE_PATH = "/api/cards/{card_id}/approve"
DIFF_COLOURS = (
    ("+++", {"bold": True}),
    ("---", {"bold": True}),
    ("+", {"fg": "green"}),
    ("-", {"fg": "red"}),
    ("@@", {"fg": "cyan"}),
    ("diff --git", {"bold": True}),
)


@card.command("diff")
@click.argument("card_ref", metavar="CARD")
@click.option(
    "--stat", is_flag=True, help="List the changed files with their line counts instead of the patch."
)
@pass_app
def diff(app: AppContext, card_ref: str, stat: bool) -> None:
    """Print CARD's changes (paged on a terminal).

    The diff of CARD's branch against the default branch, from their merge-base.

    On a terminal the patch is coloured and paged through $PAGER (else less),
    after a line naming the commit you are reading: `lazyaf card approve CARD
    --head SHA` merges only that commit. Piped, it is a plain patch that `git
    apply` takes.

    With --json: {"base_sha", "head_sha", "merge_base_sha", "total_files",
    "additions", "deletions", "files": [{path, old_path, status, additions,
    deletions, binary, too_large, hunks}], "patch"}.
    """
    found = resolve.card(app.api, card_ref)
    pages = list(app.api.card_diff_pages(found.card["id"], found.repo["id"]))
    first = pages[0]
    files = [f for page in pages for f in page["files"]]
    if app.as_json:
        merged = {key: first[key] for key in ("base_sha", "head_sha", "merge_base_sha", "total_files")}
        merged.update(additions=first["additions"], deletions=first["deletions"], files=files)
        merged["patch"] = "".join(page["patch"] for page in pages)
        app.print_json(merged)
        return
    branch = found.card.get("branch_name")
    summary = (
        f"{branch} at {first['head_sha'][:7]} against {found.repo['default_branch']}: "
        f"{output.plural(first['total_files'], 'file')}, +{first['additions']} -{first['deletions']}"
    )
    if not files:
        app.info(f"No changes: {summary}.")
        return
    if stat:
        width = max(len(f["path"]) for f in files)
        for f in files:
            counts = "binary" if f["binary"] else f"+{f['additions']} -{f['deletions']}"
            click.echo(f"{f['status'][:1].upper()}  {f['path'].ljust(width)}  {counts}")
        click.echo(summary)
        return
    if output.is_terminal():
        click.echo_via_pager(_coloured(summary, pages))
    else:
        for page in pages:
            click.echo(page["patch"], nl=False)


def _coloured(summary: str, pages: list[dict[str, Any]]) -> Iterator[str]:
    yield click.style(f"# {summary}", fg="yellow") + "\n"
    for page in pages:
        for line in page["patch"].splitlines(keepends=True):
            style = next((s for prefix, s in DIFF_COLOURS if line.startswith(prefix)), None)
            yield click.style(line.rstrip("\n"), **style) + "\n" if style else line


@card.command("comment")
@click.argument("card_ref", metavar="CARD")
@click.argument("text")
@click.option("--file", "path", metavar="FILE", help="Anchor the comment to FILE in the card's diff.")
@click.option("--line", type=click.IntRange(min=1), metavar="N", help="...and to line N of its new side.")
@pass_app
def comment(app: AppContext, card_ref: str, text: str, path: str | None, line: int | None) -> None:
    """Comment on CARD, or on a line of its diff.

    TEXT applies to the whole card, or to --file FILE (and --line N) of its diff.

    Open comments go to the agent with the next `lazyaf card request-changes`.

    With --json: the comment {id, card_id, body, file, line, snippet, job_id, created_at}.
    """
    if line is not None and path is None:
        raise click.ClickException("--line needs --file: say which file the line is in.")
    found = resolve.card(app.api, card_ref)
    body: dict[str, Any] = {"body": text}
    if path is not None:
        body["file"] = path
    if line is not None:
        body["line"] = line
    made = app.api.request("POST", f"/cards/{found.card['id']}/comments", json=body)
    if app.as_json:
        app.print_json(made)
        return
    where = f" on {path}" + (f":{line}" if line is not None else "") if path else ""
    click.echo(
        f"Commented{where} on '{found.card['title']}'; send it to the agent with "
        f"`lazyaf card request-changes {short(found.card['id'])}`."
    )


@card.command("request-changes")
@click.argument("card_ref", metavar="CARD")
@click.option("-m", "--message", metavar="TEXT", help="Add TEXT as a comment on the whole card first.")
@click.option("-f", "--follow", is_flag=True, help="Stream the agent's log until the card is back in review.")
@pass_app
def request_changes(app: AppContext, card_ref: str, message: str | None, follow: bool) -> None:
    """Send CARD back to its agent with your comments.

    The agent gets the open comments (and any conflicts to resolve).

    The agent works on the same branch, resuming its session when it can. Add
    comments first with `lazyaf card comment`, or pass -m TEXT. --follow and
    --json as for `lazyaf card start`.
    """
    found = resolve.card(app.api, card_ref)
    card_id = found.card["id"]
    if message is not None:
        app.api.request("POST", f"/cards/{card_id}/comments", json={"body": message})
    answer = app.api.request("POST", f"/cards/{card_id}/request-changes")
    # The answer's sequence number is from before the request's own events: follow from there.
    queued(
        app, answer["card"], answer["job"], follow=follow, since=app.api.last_seq, verb="Requested changes to"
    )


@card.command("retry")
@click.argument("card_ref", metavar="CARD")
@click.option(
    "-f", "--follow", is_flag=True, help="Stream the agent's log until the card reaches review or fails."
)
@pass_app
def retry(app: AppContext, card_ref: str, follow: bool) -> None:
    """Run a failed CARD again.

    A new job on the same branch, told why the last attempt failed.

    --follow and --json as for `lazyaf card start`.
    """
    found = resolve.card(app.api, card_ref)
    answer = app.api.request("POST", f"/cards/{found.card['id']}/retry")
    queued(app, answer["card"], answer["job"], follow=follow, since=app.api.last_seq, verb="Retrying")


@card.command("approve")
@click.argument("card_ref", metavar="CARD")
@click.option(
    "--head",
    metavar="SHA",
    help="Merge only if the branch is still at SHA (as `card show` or `card diff` printed it).",
)
@pass_app
def approve(app: AppContext, card_ref: str, head: str | None) -> None:
    """Merge CARD's branch; the card is done.

    The branch goes into the repo's default branch on LazyAF's git server.

    The branch head read here (or --head SHA) is sent as the commit you approve,
    so the server refuses if the agent pushed since (when the server supports
    it). A conflict leaves everything as it was and names the files: request
    changes to have the agent resolve them.

    With --json: {"card": card, "merge_sha": sha}.
    """
    found = resolve.card(app.api, card_ref)
    current, repo = found.card, found.repo
    branch = current.get("branch_name")
    sha = app.api.branch_sha(repo["id"], branch) if branch else None
    if head is not None:
        if sha is None or not sha.startswith(head.lower()):
            raise click.ClickException(
                f"Branch {branch or '(none)'} is at {sha[:7] if sha else 'nothing'}, not {head}: "
                f"read it again with `lazyaf card diff {short(current['id'])}`."
            )
    body = (
        {"expected_head": sha}
        if sha and app.api.accepts_field("post", APPROVE_PATH, "expected_head")
        else None
    )
    answer = app.api.request("POST", f"/cards/{current['id']}/approve", json=body)
    if app.as_json:
        app.print_json(answer)
        return
    merged, target = answer["merge_sha"], repo["default_branch"]
    if merged == sha:
        how = f"fast-forwarded {target} to {branch} ({merged[:7]})"
    else:
        how = f"merged {branch}" + (f" ({sha[:7]})" if sha else "") + f" into {target} as {merged[:7]}"
    click.echo(f"Approved '{current['title']}': {how}.")


@card.command("reject")
@click.argument("card_ref", metavar="CARD")
@click.option("--delete-branch", is_flag=True, help="Also delete the card's branch (its job history stays).")
@pass_app
def reject(app: AppContext, card_ref: str, delete_branch: bool) -> None:
    """Send reviewed CARD back to To Do.

    Its branch stays unless --delete-branch.

    With --json: the card.
    """
    found = resolve.card(app.api, card_ref)
    body = {"delete_branch": True} if delete_branch else None
    answer = app.api.request("POST", f"/cards/{found.card['id']}/reject", json=body)
    if app.as_json:
        app.print_json(answer)
        return
    kept = "deleted its branch" if delete_branch else f"kept its branch {found.card.get('branch_name')}"
    click.echo(f"Rejected '{found.card['title']}': back in To Do; {kept}.")
