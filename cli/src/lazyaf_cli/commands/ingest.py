"""``lazyaf ingest``: copy a local git repository into LazyAF with a real ``git push``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import click

from lazyaf_cli import git as gitlib
from lazyaf_cli.client import Repo
from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.git import Git, GitFailed, RefStatus
from lazyaf_cli.options import Command
from lazyaf_cli.output import listing

# The server's rule for repo names (lazyaf.repos.schemas: NAME_PATTERN, not shaped like a repo
# id, not ending in .git, since the name is the clone URL's last part), checked here first so a
# bad name gets a plain answer before anything is created.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
NAME_MAX = 100
ID_SHAPED = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Source:
    """The repository being ingested, as read from disk before anything is sent."""

    path: Path
    branches: list[str]
    tags: list[str]
    current: str | None
    origin: str | None
    is_work_tree: bool
    remote_only: list[str]
    """Branches of ``origin`` (its remote-tracking refs) with no local branch of that name: what a
    fresh clone has. --all-branches pushes them too; --branch may name one."""

    def ref(self, branch: str) -> str:
        """Where ``branch`` lives in this repository."""
        return f"refs/remotes/origin/{branch}" if branch not in self.branches else f"refs/heads/{branch}"


@click.command(cls=Command)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", metavar="NAME", help="Name the repo NAME (default: the folder's name).")
@click.option("--branch", metavar="BRANCH", help="Push BRANCH instead of the current branch.")
@click.option(
    "--all-branches", is_flag=True, help="Push every branch, and origin's branches this clone lacks."
)
@pass_app
def ingest(app: AppContext, path: Path, name: str | None, branch: str | None, all_branches: bool) -> None:
    """Copy the git repository at PATH into LazyAF.

    Creates the repo on the server and pushes to it with git: the current branch
    (or BRANCH with --branch, or every branch with --all-branches) and all tags.
    The current branch (or BRANCH) becomes the repo's default branch. PATH is the
    top of a work tree or a bare repository; only commits are copied, not
    uncommitted changes. The URL of PATH's `origin` remote, if any, is recorded
    (without credentials) as the remote that `lazyaf land` pushes to.

    A fresh clone has origin's other branches only as remote-tracking branches
    (origin/NAME): --all-branches pushes those too, as NAME, unless a local
    branch has that name; --branch may name one of them.

    Nothing is left behind if any step fails.

    With --json: {"repo": the repo as `lazyaf repos --json` shows it,
    "branches": [names], "tags": [names], "from_origin": [branches pushed from
    origin's remote-tracking branches]}.
    """
    if branch is not None and all_branches:
        raise click.ClickException("Pass either --branch or --all-branches, not both.")
    source = read_source(app.git, path)
    name = check_name(name, source)
    default = choose_default_branch(source, branch, path)
    if all_branches:
        refspecs = ["refs/heads/*:refs/heads/*"]
        refspecs += [f"{source.ref(b)}:refs/heads/{b}" for b in source.remote_only]
    else:
        refspecs = [f"{source.ref(default)}:refs/heads/{default}"]
    if source.tags:
        refspecs.append("refs/tags/*:refs/tags/*")

    repo = app.api.ingest_repo(name=name, remote_url=source.origin, default_branch=default)
    try:
        pushed = app.git.push(source.path, repo["clone_url"], refspecs, env=gitlib.lazyaf_env(app.token))
    # The record and its bare repo exist only to receive this push: on any failure, remove them.
    except GitFailed as exc:
        discard(app, repo)
        raise click.ClickException(
            f"Pushing to the LazyAF server failed: {exc.reason()}; nothing was ingested."
        ) from None
    except BaseException:
        discard(app, repo)
        raise
    report(app, app.api.get_repo(repo["id"]), source, pushed)


def read_source(git: Git, path: Path) -> Source:
    """Check PATH is the top of a git repository with commits, and read its branches, tags and origin."""
    if not path.is_dir():
        raise click.ClickException(f"'{path}' is not a directory; pass the folder of a git repository.")
    probe = git.run(
        "-C",
        str(path),
        "rev-parse",
        "--is-bare-repository",
        "--is-inside-git-dir",
        "--is-shallow-repository",
        "--absolute-git-dir",
        check=False,
    )
    if probe.returncode != 0:
        failure = GitFailed([], probe.returncode, probe.stderr.splitlines())
        if "not a git repository" in failure.text:
            raise click.ClickException(
                f"'{path}' is not a git repository; "
                "pass the top folder of a git work tree or a bare repository."
            )
        raise click.ClickException(f"Cannot read the git repository at '{path}': {failure.reason()}.")
    is_bare, inside_git_dir, is_shallow, git_dir = probe.stdout.splitlines()
    in_git_dir = is_bare == "true" or inside_git_dir == "true"
    top = Path(git_dir) if in_git_dir else Path(git.output("-C", str(path), "rev-parse", "--show-toplevel"))
    if top.resolve() != path.resolve():
        raise click.ClickException(f"'{path}' is inside the git repository at '{top}'; pass '{top}' instead.")
    if is_shallow == "true":
        raise click.ClickException(
            f"'{path}' is a shallow clone; run `git -C {path} fetch --unshallow`, then ingest it."
        )
    branches = gitlib.ref_names(git, top, "heads")
    if not branches:
        raise click.ClickException(f"'{path}' has no commits yet; commit something, then ingest it.")
    tracking = gitlib.ref_names(git, top, "remotes/origin")
    return Source(
        path=top,
        branches=branches,
        tags=gitlib.ref_names(git, top, "tags"),
        current=gitlib.current_branch(git, top),
        origin=gitlib.config_value(git, top, "remote.origin.url"),
        is_work_tree=not in_git_dir,
        remote_only=[b for b in tracking if b != "HEAD" and b not in branches],
    )


def check_name(name: str | None, source: Source) -> str:
    if name is None:
        folder = source.path.parent if source.path.name == ".git" else source.path
        derived = folder.name
        while derived.lower().endswith(".git"):
            derived = derived[:-4]
        if not _valid_name(derived):
            raise click.ClickException(
                f"Cannot name the repo after the folder '{derived}'; "
                "pass --name NAME using letters, digits, '.', '_' and '-'."
            )
        if ID_SHAPED.fullmatch(derived):
            raise click.ClickException(
                f"Cannot name the repo after the folder '{derived}': it looks like a repo id; "
                "pass --name NAME."
            )
        return derived
    if not _valid_name(name):
        raise click.ClickException(
            f"Invalid repo name '{name}': use letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit (at most {NAME_MAX} characters)."
        )
    if ID_SHAPED.fullmatch(name):
        raise click.ClickException(f"Invalid repo name '{name}': it looks like a repo id; pick another.")
    if name.lower().endswith(".git"):
        raise click.ClickException(
            f"Invalid repo name '{name}': drop the .git (the clone URL adds it): --name {name[:-4]}."
        )
    return name


def _valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX and NAME_PATTERN.match(name) is not None


def choose_default_branch(source: Source, branch: str | None, path: Path) -> str:
    """--branch, else the checked-out branch, else main, master or the first branch."""
    if branch is not None:
        if branch not in source.branches and branch not in source.remote_only:
            known = source.branches + [f"origin/{b}" for b in source.remote_only]
            raise click.ClickException(
                f"Branch '{branch}' not found in '{path}'; its branches: {listing(known)}."
            )
        return branch
    if source.current in source.branches:
        assert source.current is not None
        return source.current
    return next((b for b in ("main", "master") if b in source.branches), source.branches[0])


def discard(app: AppContext, repo: Repo) -> None:
    try:
        app.api.delete_repo(repo["id"])
    except click.ClickException as exc:
        app.info(f"Could not remove the unfinished repo {repo['id']}: {exc.message}")


def report(app: AppContext, repo: Repo, source: Source, pushed: list[RefStatus]) -> None:
    """Print what landed where; a note on stderr when uncommitted work stayed behind."""
    branches = [r.dst.removeprefix("refs/heads/") for r in pushed if r.dst.startswith("refs/heads/")]
    tags = [r.dst.removeprefix("refs/tags/") for r in pushed if r.dst.startswith("refs/tags/")]
    default = repo["default_branch"]
    branches.sort(key=lambda b: (b != default, b))
    from_origin = [b for b in branches if b in source.remote_only]
    if app.as_json:
        app.print_json({"repo": repo, "branches": branches, "tags": tags, "from_origin": from_origin})
        return
    shown = [
        b + (" (default)" if b == default else "") + (f" (from origin/{b})" if b in from_origin else "")
        for b in branches
    ]
    click.echo(f"Ingested {repo['name']} (id {repo['id']}) from {source.path}")
    click.echo(f"  branches  {listing(shown) if shown else 'none'}")
    click.echo(f"  tags      {listing(tags) if tags else 'none'}")
    click.echo(f"  remote    {gitlib.redact(repo['remote_url']) if repo.get('remote_url') else 'none'}")
    click.echo(f"  clone     {repo['clone_url']}")
    if source.origin and repo.get("remote_url") != source.origin:
        app.info(
            "Note: the credentials in the origin URL were not stored; "
            "`lazyaf land` pushes with your own git credentials (a credential helper)."
        )
    if source.is_work_tree and _has_uncommitted_changes(app.git, source.path):
        app.info(f"Note: uncommitted changes in {source.path} were not ingested; only commits are copied.")


def _has_uncommitted_changes(git: Git, path: Path) -> bool:
    proc = git.run("-C", str(path), "status", "--porcelain", "--untracked-files=no", check=False)
    return proc.returncode == 0 and bool(proc.stdout.strip())
