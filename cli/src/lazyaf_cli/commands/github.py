"""``lazyaf github``: link a repo to GitHub, check the link, sync its issues into cards.

The GitHub token never goes on the command line (every user of the machine can read a
process's argv): it is read from an environment variable (``--token-env VAR``), from a hidden
prompt, or from standard input when that is not a terminal.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.options import Command, Group
from lazyaf_cli.output import plural


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
@pass_app
def link(
    app: AppContext,
    repo_ref: str,
    full_name: str,
    token_env: str | None,
    api_url: str | None,
    git_url: str | None,
    on_approve: str | None,
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
