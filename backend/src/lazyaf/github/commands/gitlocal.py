"""git on LazyAF's own bare repo for commands: a thread branch's commits and files, and bringing a
pull request's branch in from GitHub (fast-forward only: LazyAF's work is never dropped)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import anyio

from lazyaf.git.run import environment, git_binary
from lazyaf.github import gitremote
from lazyaf.github.errors import GitHubRejected
from lazyaf.settings import Settings

FETCH_TIMEOUT = 300.0


async def _git(settings: Settings, path: Path, *args: str) -> tuple[int, str]:
    done = await anyio.run_process(
        [git_binary(settings.git_binary), *args],
        cwd=path,
        env=environment(),
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, done.stdout.decode("utf-8", "replace")


async def commits(
    settings: Settings, path: Path, base: str, head: str, limit: int = 20
) -> list[dict[str, str]]:
    """The newest ``limit`` commits on ``head`` not on ``base``: ``[{sha, subject}]``."""
    code, out = await _git(settings, path, "log", f"-n{limit}", "--format=%h%x09%s", f"{base}..{head}", "--")
    if code != 0:
        return []
    return [
        dict(zip(("sha", "subject"), line.split("\t", 1), strict=False)) for line in out.splitlines() if line
    ]


async def files(settings: Settings, path: Path, base: str, head: str) -> list[dict[str, Any]]:
    """Files ``head`` changed since its merge base with ``base``: ``[{path, added, removed}]``."""
    code, out = await _git(settings, path, "diff", "--numstat", "--no-renames", f"{base}...{head}", "--")
    if code != 0:
        return []
    found = []
    for line in out.splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3:
            added, removed, name = parts
            found.append(
                {
                    "path": name,
                    "added": int(added) if added.isdigit() else None,
                    "removed": int(removed) if removed.isdigit() else None,
                }
            )
    return found


async def is_ancestor(settings: Settings, path: Path, older: str, newer: str) -> bool:
    code, _ = await _git(settings, path, "merge-base", "--is-ancestor", older, newer)
    return code == 0


async def bring_in(
    settings: Settings, path: Path, git_url: str, token: str, branch: str, current: str | None
) -> str:
    """Fetch ``branch`` from GitHub and move LazyAF's ``branch`` forward to it when it is behind.

    Returns the sha LazyAF's branch points at afterwards. A branch that diverged (work on both
    sides) is refused: a person has to bring the two together.
    """
    scratch = f"refs/lazyaf/github/{branch}"
    out = await gitremote.run_git(
        settings,
        ["fetch", "--no-tags", "--quiet", git_url, f"+refs/heads/{branch}:{scratch}"],
        token=token,
        cwd=path,
        timeout=FETCH_TIMEOUT,
    )
    if out.returncode != 0:
        raise gitremote.classify(out.stderr, git_url, "fetch from")
    code, fetched = await _git(settings, path, "rev-parse", "--verify", f"{scratch}^{{commit}}")
    fetched = fetched.strip()
    if code != 0 or not fetched:
        raise GitHubRejected(f"GitHub's {branch} could not be read after fetching it.")
    if current is None or current == fetched or await is_ancestor(settings, path, current, fetched):
        code, _ = await _git(settings, path, "update-ref", f"refs/heads/{branch}", fetched, current or "")
        if code != 0:
            raise GitHubRejected(f"LazyAF's {branch} moved while it was brought up to date; try again.")
        return fetched
    if await is_ancestor(settings, path, fetched, current):
        return current  # LazyAF is ahead (its work is not pushed yet): keep it
    raise GitHubRejected(
        f"{branch} has commits on GitHub that LazyAF's branch lacks and the other way round; "
        "merge them on one side first, then give the command again."
    )
