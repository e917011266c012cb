"""``lazyaf land --pr``: ask the server to push a branch to GitHub and open its pull request, then
wait for the server's outbox to do it."""

from __future__ import annotations

import time
from typing import Any

import click

from lazyaf_cli.context import AppContext

WAIT_SECONDS = 180.0
POLL_SECONDS = 0.5


def land_pr(app: AppContext, repo_ref: str, branch: str | None, *, draft: bool, base: str | None) -> None:
    repo = app.api.find_repo(repo_ref)
    branch = branch or repo["default_branch"]
    body: dict[str, Any] = {"branch": branch, "draft": draft}
    if base:
        body["base"] = base
    queued = app.api.request("POST", f"/repos/{repo['id']}/github/pull-request", json=body)
    op = wait_for(app, repo["id"], queued["op"]["id"])
    result = op["result"]
    if app.as_json:
        app.print_json(
            {"repo": repo["name"], "branch": branch, **{k: result[k] for k in ("number", "url", "reused")}}
        )
        return
    verb = "Found the open" if result["reused"] else "Opened"
    click.echo(f"{verb} pull request #{result['number']} for {branch}: {result['url']}")


def wait_for(app: AppContext, repo_id: str, op_id: str) -> dict[str, Any]:
    """The outbox row once it is done; a one-line error when it is held or takes too long."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        op: dict[str, Any] = app.api.request("GET", f"/repos/{repo_id}/github/outbox/{op_id}")
        if op["status"] == "done":
            return op
        if op["status"] == "held":
            raise click.ClickException(
                f"{op['last_error']} The pull request is kept on the server and goes out once the link is "
                "fixed (`lazyaf github link`, then `lazyaf github verify`)."
            )
        if time.monotonic() > deadline:
            why = f" (last try: {op['last_error']})" if op.get("last_error") else ""
            raise click.ClickException(
                f"The pull request is still waiting to go out{why}; the server keeps trying, "
                "and the board shows it when it is open."
            )
        time.sleep(POLL_SECONDS)
