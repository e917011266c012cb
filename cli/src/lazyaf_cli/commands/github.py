"""``lazyaf github``: link a repo to GitHub, check the link, sync its issues into cards, give
``@lazyaf`` commands as if commented (``run``) and see what arrived (``deliveries``).

The GitHub token never goes on the command line (every user of the machine can read a
process's argv): it is read from an environment variable (``--token-env VAR``), from a hidden
prompt, or from standard input when that is not a terminal.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.options import Command, Group
from lazyaf_cli.output import first_line, plural, table


@click.group(cls=Group)
def github() -> None:
    """Link repos to GitHub: issues become cards, cards become pull requests."""


@github.command(cls=Command)
@click.argument("repo_ref", metavar="REPO")
@click.argument("full_name", metavar="OWNER/NAME")
@click.option(
    "--token-env",
    metavar="VAR",
    help="Read the GitHub token from the environment variable VAR (else a hidden prompt, or stdin).",
)
@click.option(
    "--api-url", metavar="URL", help="GitHub Enterprise: the server's URL (default api.github.com)."
)
@click.option("--git-url", metavar="URL", help="Push branches to URL (default https://HOST/OWNER/NAME.git).")
@click.option(
    "--on-approve",
    type=click.Choice(["merge", "pull_request"]),
    help="What Approve does: merge inside LazyAF, or open a pull request.",
)
@click.option(
    "--allow",
    "allow",
    metavar="LOGIN",
    multiple=True,
    help="Let this GitHub user give @lazyaf commands in comments (repeat for more; replaces the list).",
)
@click.option(
    "--webhook-secret-env",
    metavar="VAR",
    help="Read the webhook secret (the one set on GitHub's webhook) from the environment variable VAR.",
)
@pass_app
def link(
    app: AppContext,
    repo_ref: str,
    full_name: str,
    token_env: str | None,
    api_url: str | None,
    git_url: str | None,
    on_approve: str | None,
    allow: tuple[str, ...],
    webhook_secret_env: str | None,
) -> None:
    """Link REPO to the GitHub repository OWNER/NAME.

    The token needs write access to the repository (fine-grained: Contents, Issues and
    Pull requests read/write; classic: repo). It is stored encrypted and never shown again.
    Give it with --token-env VAR (e.g. --token-env GITHUB_TOKEN), type it at the hidden
    prompt, or pipe it on stdin; when the repo is linked already, an empty answer keeps the
    stored token. (--token is LazyAF's own server token, not GitHub's.)

    With --json: the link as the API returns it ({owner, name, has_token, ...}).
    """
    owner, slash, name = full_name.partition("/")
    if not slash or not owner or not name or "/" in name:
        raise click.ClickException(f"'{full_name}' is not OWNER/NAME; e.g. octo-org/hello-world.")
    repo = app.api.find_repo(repo_ref)
    linked = app.api.request_or_none("GET", f"/repos/{repo['id']}/github") is not None
    token = _read_token(token_env, required=not linked)
    body: dict[str, Any] = {"owner": owner, "name": name}
    for key, value in (
        ("token", token),
        ("api_url", api_url),
        ("git_url", git_url),
        ("on_approve", on_approve),
    ):
        if value:
            body[key] = value
    if allow:
        body["allowed_users"] = list(allow)
    if webhook_secret_env:
        secret = os.environ.get(webhook_secret_env, "").strip()
        if not secret:
            raise click.ClickException(
                f"${webhook_secret_env} is not set or empty; export the webhook secret in it first."
            )
        body["webhook_secret"] = secret
    result = app.api.request("PUT", f"/repos/{repo['id']}/github", json=body)
    if app.as_json:
        app.print_json(result)
        return
    kept = "kept the stored token" if not token else "token stored encrypted"
    click.echo(
        f"Linked {repo['name']} to {result['owner']}/{result['name']} ({kept}); "
        f"check it with `lazyaf github verify {repo['name']}`."
    )


def _read_token(env_var: str | None, *, required: bool) -> str | None:
    if env_var:
        value = os.environ.get(env_var, "").strip()
        if not value:
            raise click.ClickException(
                f"${env_var} is not set or empty; export the GitHub token in it first."
            )
        return value
    if not sys.stdin.isatty():
        value = sys.stdin.readline().strip()
    else:
        prompt = "GitHub token (hidden" + ("" if required else "; empty keeps the stored one") + ")"
        value = click.prompt(prompt, hide_input=True, default="", show_default=False, err=True).strip()
    if not value and required:
        raise click.ClickException(
            "No GitHub token given; pass --token-env VAR, type it at the prompt, or pipe it on stdin."
        )
    return value or None


@github.command(cls=Command)
@click.argument("repo_ref", metavar="REPO")
@pass_app
def verify(app: AppContext, repo_ref: str) -> None:
    """Check REPO's GitHub link: the token, its write access, and that git can reach the repository.

    Exits 1 with what to fix when something is wrong. With --json: {ok, login, permission,
    default_branch, rate_limit_remaining, error}.
    """
    repo = app.api.find_repo(repo_ref)
    answer = app.api.request("POST", f"/repos/{repo['id']}/github/verify")
    if app.as_json:
        app.print_json(answer)
        if not answer["ok"]:
            raise SystemExit(1)
        return
    if not answer["ok"]:
        raise click.ClickException(answer["error"])
    quota = answer.get("rate_limit_remaining")
    left = f"; {quota:,} GitHub requests left this hour" if quota is not None else ""
    click.echo(
        f"OK: {answer['login']} has {answer['permission']} access (default branch "
        f"{answer['default_branch']}) and git reaches the repository{left}."
    )


@github.command(cls=Command)
@click.argument("repo_ref", metavar="REPO")
@pass_app
def sync(app: AppContext, repo_ref: str) -> None:
    """Sync REPO's GitHub issues into cards now, by its sync rule.

    With --json: {created, updated, closed, skipped}.
    """
    repo = app.api.find_repo(repo_ref)
    result = app.api.request("POST", f"/repos/{repo['id']}/github/sync/run")
    if app.as_json:
        app.print_json(result)
        return
    click.echo(
        f"Synced {repo['name']}: {plural(result['created'], 'card')} created, {result['updated']} updated, "
        f"{result['closed']} closed, {plural(result['skipped'], 'issue')} skipped."
    )


VERBS = ("plan", "refine", "build", "oneshot", "iterate", "status", "cancel")
FINAL = ("done", "failed", "cancelled")


@github.command(cls=Command)
@click.argument("verb", type=click.Choice(VERBS))
@click.option("--repo", "repo_ref", metavar="REPO", help="The LazyAF repo (linked to GitHub); required.")
@click.option("--issue", type=click.IntRange(1), metavar="N", help="Give the command on issue #N.")
@click.option("--pr", type=click.IntRange(1), metavar="N", help="Give the command on pull request #N.")
@click.option("--text", default="", metavar="TEXT", help="Free text after the verb, as in a comment.")
@click.option("--wait", is_flag=True, help="Wait until the command has finished, and exit 1 if it failed.")
@pass_app
def run(
    app: AppContext, verb: str, repo_ref: str | None, issue: int | None, pr: int | None, text: str, wait: bool
) -> None:
    """Give VERB on an issue or pull request, as if `@lazyaf VERB TEXT` was commented there.

    The command goes through the same pipeline as comments (a delivery of source "cli"), from you,
    the person at the machine: no allowlist applies. Its progress comment appears on GitHub;
    `lazyaf github deliveries` shows what became of it. With --json: the delivery (and with
    --wait, the command too).
    """
    api = app.api  # a bad --server is said first
    if repo_ref is None:
        raise click.ClickException("Name the repo with --repo REPO (see `lazyaf repos`).")
    if (issue is None) == (pr is None):
        raise click.ClickException("Give the thread with exactly one of --issue N and --pr N.")
    repo = api.find_repo(repo_ref)
    body = {"repo_id": repo["id"], "verb": verb, "text": text, "issue": issue, "pr": pr}
    delivery = app.api.request(
        "POST", "/github/commands", json={k: v for k, v in body.items() if v is not None}
    )
    delivery = _settled(app, delivery)
    where = f"#{issue or pr}"
    if delivery["status"] != "accepted":
        if app.as_json:
            app.print_json(delivery)
        raise click.ClickException(f"`{verb}` on {where} was {delivery['status']}: {delivery['reason']}")
    command = app.api.request("GET", f"/github/commands/{delivery['command_id']}")
    if wait and command["status"] not in FINAL:
        command = _finished(app, command)
    if app.as_json:
        app.print_json({"delivery": delivery, "command": command})
    elif command["status"] in FINAL:
        click.echo(f"`{verb}` on {where} of {repo['name']}: {command['status']}.")
    else:
        click.echo(
            f"`{verb}` on {where} of {repo['name']} is {command['status']}; its progress comment on GitHub "
            "follows it (or pass --wait)."
        )
    if command["status"] == "failed":
        raise click.ClickException(f"`{verb}` failed: {first_line(command['error'])}")


def _settled(app: AppContext, delivery: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while delivery["status"] == "queued":
        if time.monotonic() > deadline:
            raise click.ClickException(
                "The server has not looked at the command yet; see `lazyaf github deliveries`."
            )
        time.sleep(0.2)
        delivery = app.api.request("GET", f"/github/deliveries/{delivery['id']}")
    return delivery


def _finished(app: AppContext, command: dict[str, Any]) -> dict[str, Any]:
    while command["status"] not in FINAL:
        time.sleep(1.0)
        command = app.api.request("GET", f"/github/commands/{command['id']}")
    return command


@github.command(cls=Command)
@click.option("--repo", "repo_ref", metavar="REPO", help="Only this repo's deliveries.")
@click.option(
    "--status",
    type=click.Choice(["queued", "accepted", "ignored", "failed"]),
    help="Only those in this state.",
)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True, help="Show this many.")
@pass_app
def deliveries(app: AppContext, repo_ref: str | None, status: str | None, limit: int) -> None:
    """What arrived from GitHub (webhook, poller) and from `lazyaf github run`, newest first, and what
    became of it: accepted (a command), ignored or failed, and why.

    With --json: the list as the API returns it.
    """
    params: dict[str, Any] = {"limit": limit}
    if repo_ref:
        params["repo_id"] = app.api.find_repo(repo_ref)["id"]
    if status:
        params["status"] = status
    found = app.api.request("GET", "/github/deliveries", params=params)
    if app.as_json:
        app.print_json(found)
        return
    if not found:
        click.echo("Nothing has arrived yet.")
        return
    rows: list[tuple[str, ...]] = [("RECEIVED", "DOOR", "EVENT", "REPOSITORY", "STATUS", "WHY")]
    for d in found:
        event = d["event"] + (f".{d['action']}" if d["action"] else "")
        rows.append(
            (
                d["received_at"][:19].replace("T", " "),
                d["source"],
                event,
                d["repository"] or "-",
                d["status"],
                first_line(d["reason"], 80) if d["reason"] else "",
            )
        )
    click.echo(table(rows))
