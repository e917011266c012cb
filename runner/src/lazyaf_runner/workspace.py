"""One job attempt's working copy: clone, branch, commit what the agent left, measure, push, remove.

The harness, not the model, is responsible for commit and push. Git runs as a subprocess with an
argument list and a clean environment; credentials travel in environment config, never argv.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from lazyaf_runner.protocol import Stats

AGENT_NAME = "LazyAF Agent"
AGENT_EMAIL = "agent@lazyaf.local"


class WorkspaceError(Exception):
    """A git step failed; the message is the sentence to put on the job."""


@dataclass
class GitResult:
    code: int
    out: str
    err: str


def git_environment(token: str | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for git: no prompts, no user/system config, an auth header when there is a token."""
    env = {k: v for k, v in (base or os.environ).items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME=AGENT_NAME,
        GIT_AUTHOR_EMAIL=AGENT_EMAIL,
        GIT_COMMITTER_NAME=AGENT_NAME,
        GIT_COMMITTER_EMAIL=AGENT_EMAIL,
    )
    if token:
        basic = base64.b64encode(f"lazyaf:{token}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
        )
    return env


async def run_git(*args: str, cwd: Path, env: dict[str, str]) -> GitResult:
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return GitResult(
        process.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


class Workspace:
    def __init__(self, root: Path, *, token: str | None) -> None:
        self.root = root
        self.repo = root / "repo"
        self.env = git_environment(token)
        self.base_sha: str | None = None
        self.branch_start_sha: str | None = None

    async def git(self, *args: str, check: str | None = None) -> GitResult:
        result = await run_git(*args, cwd=self.repo if self.repo.exists() else self.root, env=self.env)
        if check is not None and result.code != 0:
            raise WorkspaceError(f"{check}: {_last_line(result.err or result.out)}")
        return result

    async def prepare(self, *, url: str, branch: str, base_branch: str, branch_sha: str | None) -> None:
        """Clone the base branch only, then continue the card branch when it exists, else start it.

        A single-branch clone keeps dispatch fast however many card branches the repo has grown;
        the identity comes from the environment, so no config writes are needed.
        """
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        await self.git(
            "clone",
            "--quiet",
            "--no-tags",
            "--single-branch",
            "--branch",
            base_branch,
            url,
            str(self.repo),
            check=f"Clone of {url} failed",
        )
        self.base_sha = (
            await self.git("rev-parse", "HEAD", check="Reading the base branch failed")
        ).out.strip()
        start = f"origin/{base_branch}"
        if branch_sha is not None and branch != base_branch:
            await self.git(
                "fetch",
                "--quiet",
                "--no-tags",
                "origin",
                f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
                check=f"Fetching {branch} failed",
            )
            self.branch_start_sha = branch_sha
            start = f"origin/{branch}"
        await self.git("checkout", "--quiet", "-B", branch, start, check=f"Checkout of {branch} failed")

    async def merge_base_branch(self, base_branch: str) -> list[str]:
        """Bring the base branch in (for conflict resolution); the files left conflicting, if any."""
        result = await self.git("merge", "--no-edit", "--no-ff", f"origin/{base_branch}")
        if result.code == 0:
            return []
        conflicted = await self.git("diff", "--name-only", "--diff-filter=U", "-z")
        files = [name for name in conflicted.out.split("\0") if name]
        if not files:
            raise WorkspaceError(f"Merging {base_branch} failed: {_last_line(result.err or result.out)}")
        return files

    async def commit_leftovers(self, message: str) -> bool:
        """Commit whatever the agent left uncommitted; True if there was something."""
        await self.git("add", "--all", check="Staging the agent's changes failed")
        staged = await self.git("diff", "--cached", "--quiet")
        merging = (self.repo / ".git" / "MERGE_HEAD").exists()
        if staged.code == 0 and not merging:
            return False
        await self.git(
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            message,
            check="Committing the agent's changes failed",
        )
        return True

    async def head(self) -> str:
        return (await self.git("rev-parse", "HEAD", check="Reading HEAD failed")).out.strip()

    async def stats(self) -> Stats:
        """The card branch against its base: commits since the merge-base, files and lines changed."""
        assert self.base_sha is not None
        merge_base = (await self.git("merge-base", self.base_sha, "HEAD")).out.strip() or self.base_sha
        commits = int((await self.git("rev-list", "--count", f"{merge_base}..HEAD")).out.strip() or 0)
        numstat = (await self.git("diff", "--numstat", "--no-renames", merge_base, "HEAD")).out
        added = removed = files = 0
        for line in numstat.splitlines():
            parts = line.split("\t", 2)
            if len(parts) != 3:
                continue
            files += 1
            added += int(parts[0]) if parts[0].isdigit() else 0
            removed += int(parts[1]) if parts[1].isdigit() else 0
        return Stats(
            commits=commits,
            files_changed=files,
            lines_added=added,
            lines_removed=removed,
        )

    async def push(self, ref: str) -> None:
        result = await self.git("push", "--quiet", "--force", "origin", f"HEAD:{ref}")
        if result.code != 0:
            raise WorkspaceError(f"Push refused: {_last_line(result.err)}")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
