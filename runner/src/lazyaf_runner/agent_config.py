"""The agent's configuration from the default branch, not from the branch it works on.

Claude Code reads its project configuration from the working directory when it starts:
``.claude/`` (settings with hooks, an ``env`` that can set ``ANTHROPIC_BASE_URL``, commands,
agents), ``.mcp.json`` (tools), ``CLAUDE.md`` and friends (instructions). On a pull request's
branch those files are the pull request author's: whoever can open a pull request could hand the
agent its own hooks, tools or API URL (the CVE-2026-21852 class). So, for jobs that ask for it
(``Assign.agent_config_from_base``), those paths are replaced by the default branch's before the
agent starts, and put back before the harness commits:

* ``swap`` writes the base's files from git objects (never by following a link in the work tree)
  after deleting the branch's; the branch's tracked files there get git's ``skip-worktree`` bit and
  the base's extra files an entry in ``.git/info/exclude``, so neither ``git add --all`` nor
  ``git commit -a`` (the agent's or the harness's) records the swap;
* ``restore`` deletes the swapped files, clears those bits and entries and checks the branch's
  files out again from HEAD: the work tree holds the branch's configuration, as the agent found
  it, and the harness commit cannot include the base's.

The agent cannot change its own configuration on such a branch (its edits there are discarded):
the price of never running a configuration the branch brought.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lazyaf_runner.workspace import Workspace, WorkspaceError

# Read from the working directory by Claude Code when it starts (claude-code-action's list, with
# LazyAF's own folder).
AGENT_CONFIG_PATHS = (
    ".claude",
    ".claude.json",
    ".mcp.json",
    "CLAUDE.md",
    "CLAUDE.local.md",
    ".ripgreprc",
    ".lazyaf",
)
EXCLUDE_MARK = "# lazyaf: agent configuration from the default branch"


@dataclass
class Swap:
    """What ``swap`` changed, for ``restore`` to undo."""

    skipped: list[str] = field(default_factory=list)  # the branch's tracked files, marked skip-worktree
    excluded: list[str] = field(default_factory=list)  # the base's files the branch lacks


async def _list(workspace: Workspace, *args: str) -> list[str]:
    out = (await workspace.git(*args, check="Reading the agent's configuration files failed")).out
    return [name for name in out.split("\0") if name]


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


async def swap(workspace: Workspace, base_sha: str) -> Swap:
    """Replace the work tree's agent configuration by the one at ``base_sha``."""
    repo = workspace.repo
    tracked = await _list(workspace, "ls-files", "-z", "--", *AGENT_CONFIG_PATHS)
    # (mode, type, sha, path) of every file the base has under those paths.
    entries = []
    for line in await _list(workspace, "ls-tree", "-r", "-z", base_sha, "--", *AGENT_CONFIG_PATHS):
        meta, _, path = line.partition("\t")
        mode, kind, sha = meta.split()
        if kind == "blob":
            entries.append((mode, sha, path))
    if tracked:
        await workspace.git(
            "update-index", "--skip-worktree", "--", *tracked, check="Setting the configuration aside failed"
        )
    for name in AGENT_CONFIG_PATHS:
        await asyncio.to_thread(_remove, repo / name)
    for mode, sha, path in entries:
        await _write_blob(workspace, mode, sha, repo / path)
    result = Swap(skipped=tracked, excluded=[p for _, _, p in entries if p not in set(tracked)])
    if result.excluded:
        lines = [EXCLUDE_MARK, *(f"/{_escape(p)}" for p in result.excluded)]
        await asyncio.to_thread(_append, await _exclude_file(workspace), lines)
    return result


async def _exclude_file(workspace: Workspace) -> Path:
    out = (await workspace.git("rev-parse", "--git-path", "info/exclude", check="Finding .git failed")).out
    path = Path(out.strip())
    return path if path.is_absolute() else workspace.repo / path


async def _write_blob(workspace: Workspace, mode: str, sha: str, target: Path) -> None:
    content = await _blob(workspace, sha)
    await asyncio.to_thread(_place, target, mode, content)


async def _blob(workspace: Workspace, sha: str) -> bytes:
    process = await asyncio.create_subprocess_exec(
        "git",
        "cat-file",
        "blob",
        sha,
        cwd=workspace.repo,
        env=workspace.env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise WorkspaceError(
            f"Reading the default branch's configuration failed: {err.decode(errors='replace')}"
        )
    return out


def _place(target: Path, mode: str, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == "120000":  # a link the default branch holds (trusted: it is the base's)
        os.symlink(content.decode(), target)
        return
    target.write_bytes(content)
    target.chmod(0o755 if mode == "100755" else 0o644)


def _append(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write("\n" + "\n".join(lines) + "\n")


def _escape(path: str) -> str:
    # .gitignore syntax: a leading "#" or "!" and the glob characters are literal only escaped.
    escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in path)
    return f"\\{escaped}" if escaped[:1] in ("#", "!") else escaped


async def restore(workspace: Workspace, swapped: Swap) -> None:
    """Put the branch's agent configuration back, as HEAD has it, before the harness commits."""
    repo = workspace.repo
    for name in AGENT_CONFIG_PATHS:
        await asyncio.to_thread(_remove, repo / name)
    if swapped.skipped:
        await workspace.git(
            "update-index",
            "--no-skip-worktree",
            "--",
            *swapped.skipped,
            check="Restoring the configuration failed",
        )
    at_head = await _list(workspace, "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", *AGENT_CONFIG_PATHS)
    if at_head:
        await workspace.git("checkout", "HEAD", "--", *at_head, check="Restoring the configuration failed")
    if swapped.excluded:
        ours = {EXCLUDE_MARK, *(f"/{_escape(p)}" for p in swapped.excluded)}
        await asyncio.to_thread(_drop_lines, await _exclude_file(workspace), ours)


def _drop_lines(path: Path, ours: set[str]) -> None:
    if path.exists():
        kept = [line for line in path.read_text(encoding="utf-8").splitlines() if line not in ours]
        path.write_text("\n".join(kept).rstrip("\n") + "\n", encoding="utf-8")
