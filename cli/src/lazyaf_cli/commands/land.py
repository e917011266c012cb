"""``lazyaf land``: push a branch from LazyAF's git server to the repo's real remote."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from lazyaf_cli import git as gitlib
from lazyaf_cli.client import Repo
from lazyaf_cli.commands import pull_request
from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.git import GitFailed, RefStatus
from lazyaf_cli.options import Command
from lazyaf_cli.output import listing, plural

_NO_CREDENTIALS_SIGNS = ("could not read username", "could not read password")
_AUTH_SIGNS = (
    "authentication failed",
    "permission denied",
    "invalid username or password",
    "returned error: 401",
    "returned error: 403",
    "access denied",
)
_MISSING_SIGNS = ("does not appear to be a git repository", "not found", "no such file or directory")
_UNREACHABLE_SIGNS = (
    "could not resolve",
    "failed to connect",
    "couldn't connect",
    "connection refused",
    "connection timed out",
    "network is unreachable",
)


@click.command(cls=Command)
@click.argument("repo_ref", metavar="REPO")
@click.option("--branch", metavar="BRANCH", help="Land BRANCH (default: the repo's default branch).")
@click.option("--remote", metavar="URL", help="Push to URL instead of the remote recorded at ingest.")
@click.option(
    "--to", "target", metavar="BRANCH", help="Name the branch BRANCH on the remote (default: same name)."
)
@click.option("--force", is_flag=True, help="Overwrite the remote branch even if it has commits yours lacks.")
@click.option("--pr", is_flag=True, help="Push through the repo's GitHub link and open a pull request.")
@click.option("--draft", is_flag=True, help="With --pr: open the pull request as a draft.")
@click.option(
    "--base", metavar="BRANCH", help="With --pr: the branch to merge into (default GitHub's default)."
)
@pass_app
def land(
    app: AppContext,
    repo_ref: str,
    branch: str | None,
    remote: str | None,
    target: str | None,
    force: bool,
    pr: bool,
    draft: bool,
    base: str | None,
) -> None:
    """Push a branch of REPO from LazyAF to the real remote.

    REPO is a repo's name or id. BRANCH is fetched from LazyAF's git server and
    pushed to the remote (--remote URL, else the origin URL recorded at ingest)
    under the same name, or as --to BRANCH. Without --force the remote branch
    only moves forward: if it has commits BRANCH lacks, nothing changes, and
    the error says how many and how to bring them into LazyAF. Your own git
    credentials are used for the remote.

    With --pr, the server pushes BRANCH to the repo's GitHub link (`lazyaf github
    link`) with the link's token and opens a pull request, or finds the one already
    open (a card's branch gets the card's title, summary and `Closes #n`). The
    write waits in the server's outbox while GitHub is down and is never done twice.

    With --json: {"repo", "branch", "target", "remote", "sha", "result"}, where
    result is "new", "updated", "forced", "unchanged" or "behind" (the remote
    already has BRANCH and more: nothing to land); with --pr, {"repo", "branch",
    "number", "url", "reused"}.
    """
    if not pr and (draft or base):
        raise click.ClickException("--draft and --base go with --pr; add --pr to open a pull request.")
    if pr:
        if remote or target or force:
            raise click.ClickException(
                "--pr pushes through the repo's GitHub link: drop --remote, --to and --force."
            )
        pull_request.land_pr(app, repo_ref, branch, draft=draft, base=base)
        return
    repo = app.api.find_repo(repo_ref)
    url = remote or repo.get("remote_url")
    if not url:
        raise click.ClickException(f"Repo '{repo['name']}' has no remote URL; pass --remote URL.")
    branch = branch or repo["default_branch"]
    target = target or branch
    if not gitlib.is_valid_branch_name(app.git, target):
        raise click.ClickException(f"'{target}' is not a valid branch name; pick another --to.")
    check_branch(app, repo, branch)
    with tempfile.TemporaryDirectory(prefix="lazyaf-land-", ignore_cleanup_errors=True) as tmp:
        refs, sha = transfer(app, repo, url, branch, target, force, Path(tmp))
    if app.as_json:
        app.print_json(
            {
                "repo": repo["name"],
                "branch": branch,
                "target": target,
                "remote": gitlib.redact(url),
                "sha": sha,
                "result": _result_kind(refs),
            }
        )
        return
    click.echo(describe_result(refs, repo, branch, target, url, sha))


def check_branch(app: AppContext, repo: Repo, branch: str) -> None:
    names = sorted(b["name"] for b in app.api.list_branches(repo["id"]))
    if branch not in names:
        raise branch_missing(repo, branch, names)


def branch_missing(repo: Repo, branch: str, names: list[str]) -> click.ClickException:
    if not names:
        return click.ClickException(
            f"Repo '{repo['name']}' has no branches yet; push to it with `lazyaf ingest` first."
        )
    return click.ClickException(
        f"Branch '{branch}' not found in repo '{repo['name']}'; its branches: {listing(names)}."
    )


def transfer(
    app: AppContext, repo: Repo, url: str, branch: str, target: str, force: bool, scratch: Path
) -> tuple[list[RefStatus], str]:
    """Fetch BRANCH from LazyAF into a scratch bare repo, then push it to the remote as TARGET.

    Returns the push's ref statuses and the commit pushed.
    """
    app.git.run("init", "--bare", "--quiet", "--template=", str(scratch))
    try:
        app.git.stream(
            "-C",
            str(scratch),
            "fetch",
            "--no-tags",
            *gitlib.progress_flag(),
            repo["clone_url"],
            f"+refs/heads/{branch}:refs/heads/{branch}",
            env=gitlib.lazyaf_env(app.token),
        )
    except GitFailed as exc:
        if "couldn't find remote ref" in exc.text:
            raise branch_missing(
                repo, branch, [b["name"] for b in app.api.list_branches(repo["id"])]
            ) from None
        raise click.ClickException(
            f"Fetching {branch} from the LazyAF server failed: {exc.reason()}."
        ) from None
    sha = app.git.output("-C", str(scratch), "rev-parse", f"refs/heads/{branch}")
    refspec = f"{'+' if force else ''}refs/heads/{branch}:refs/heads/{target}"
    try:
        # The LazyAF token stays out of this environment: it must never travel to the remote.
        return app.git.push(scratch, url, [refspec], env=gitlib.no_prompt_env()), sha
    except GitFailed as exc:
        rejected = next((r for r in exc.refs if r.rejected), None)
        if rejected is not None and rejected.reason in ("non-fast-forward", "fetch first"):
            ahead = compare_with_remote(app, scratch, url, branch, target)
            if ahead is not None and ahead[1] == 0:
                # Everything LazyAF has is on the remote already: nothing to land.
                return [BEHIND], sha
            raise click.ClickException(explain_remote_ahead(repo, url, branch, target, ahead)) from None
        raise click.ClickException(explain_push_failure(exc, url, branch, target)) from None


BEHIND = RefStatus(flag="<", src="", dst="", summary="behind")
"""Not git's: the remote branch already holds LazyAF's branch and more."""


def compare_with_remote(
    app: AppContext, scratch: Path, url: str, branch: str, target: str
) -> tuple[int, int] | None:
    """(commits the remote's TARGET has that BRANCH lacks, and the other way round); None if unknown."""
    try:
        app.git.run(
            "-C",
            str(scratch),
            "fetch",
            "--no-tags",
            "--quiet",
            url,
            f"+refs/heads/{target}:refs/lazyaf/remote",
            env=gitlib.no_prompt_env(),
        )
        counts = app.git.output(
            "-C",
            str(scratch),
            "rev-list",
            "--left-right",
            "--count",
            f"refs/lazyaf/remote...refs/heads/{branch}",
        )
    except GitFailed:
        return None
    theirs, ours = (int(n) for n in counts.split())
    return theirs, ours


def explain_remote_ahead(
    repo: Repo, url: str, branch: str, target: str, ahead: tuple[int, int] | None
) -> str:
    remote, clone = gitlib.redact(url), repo["clone_url"]
    lacking, them = (
        ("commits", "them")
        if ahead is None
        else (plural(ahead[0], "commit"), "it" if ahead[0] == 1 else "them")
    )
    return (
        f"The remote's {target} has {lacking} that LazyAF's {branch} lacks: pull {them} in "
        f"(`git pull {remote} {target}` in a clone of LazyAF's repo, then `git push {clone} {branch}`) "
        f"or pass --force to overwrite {them}."
    )


def explain_push_failure(exc: GitFailed, url: str, branch: str, target: str) -> str:
    shown = gitlib.redact(url)
    rejected = next((r for r in exc.refs if r.rejected), None)
    if rejected is not None:
        return f"The remote refused the push of {target}: {rejected.reason}."
    text = exc.text.lower()
    if any(sign in text for sign in _NO_CREDENTIALS_SIGNS):
        return (
            f"The remote at {shown} wants credentials git does not have ({exc.reason()}); "
            "set up a git credential helper, SSH key or token for it."
        )
    if any(sign in text for sign in _AUTH_SIGNS):
        return (
            f"The remote at {shown} refused your credentials ({exc.reason()}); "
            "check your git credential helper, SSH key or token."
        )
    if any(sign in text for sign in _UNREACHABLE_SIGNS):
        return f"Cannot reach the remote at {shown} ({exc.reason()}); check the URL and your network."
    if any(sign in text for sign in _MISSING_SIGNS):
        return f"No git repository at {shown} ({exc.reason()}); check --remote or the repo's remote URL."
    return f"Pushing to {shown} failed: {exc.reason()}."


def _result_kind(refs: list[RefStatus]) -> str:
    flag = refs[0].flag if refs else " "
    return {"=": "unchanged", "*": "new", "+": "forced", "<": "behind"}.get(flag, "updated")


def describe_result(refs: list[RefStatus], repo: Repo, branch: str, target: str, url: str, sha: str) -> str:
    shown, short = gitlib.redact(url), sha[:7]
    flag = refs[0].flag if refs else " "
    source = f"{repo['name']} {branch} ({short})"
    if flag == "<":
        return (
            f"Nothing to land: {target} at {shown} already has {branch} ({short}) and more. "
            f"Bring its new commits into LazyAF with `git push {repo['clone_url']} {target}:{branch}` "
            "from a clone that has them."
        )
    if flag == "=":
        return f"Nothing to land: {target} at {shown} is already at {short}."
    if flag == "*":
        return f"Landed {source} at {shown} as new branch {target}."
    if flag == "+":
        return f"Landed {source} at {shown} as {target}, overwriting it ({refs[0].summary.split()[0]})."
    return f"Landed {source} at {shown} as {target} ({refs[0].summary if refs else 'updated'})."
