"""One job attempt's working copy: check out, branch, commit what the agent left, measure, push, remove.

The harness, not the model, is responsible for commit and push. Git runs as a subprocess with an
argument list and a clean environment; credentials travel in environment config, never argv.

Once the agent has run, the work tree's ``.git`` is the agent's: its hooks, its config
(``core.fsmonitor``, filter drivers, ``url.<x>.insteadOf``, ``http.proxy``) are code and
redirections the agent chose. So git runs in the work tree without the credential in its
environment and with hooks off, and the push, the one step that needs the credential, runs
from a fresh bare repository made for it, which borrows the work tree's objects but none of its
config (and reads no user config either: ``GIT_CONFIG_GLOBAL=/dev/null``).
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lazyaf_protocol.messages import Stats

if TYPE_CHECKING:
    from lazyaf_runner.mirror import GitCache

AGENT_NAME = "LazyAF Agent"
AGENT_EMAIL = "agent@lazyaf.local"


class WorkspaceError(Exception):
    """A git step failed; the message is the sentence to put on the job.

    ``unreachable``: the server did not answer at all (down, restarting), worth another try."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


# curl's words (after git's "unable to access '<url>':") for a server that is not answering.
_UNREACHABLE = (
    "Failed to connect",
    "Couldn't connect",
    "Connection refused",
    "Connection reset",
    "Empty reply from server",
    "Recv failure",
    "returned error: 502",
    "returned error: 503",
    "returned error: 504",
)


@dataclass
class GitResult:
    code: int
    out: str
    err: str


def git_environment(token: str | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for git: no prompts, no user/system config, an auth header when there is a token.

    The header is sent with every request (``http.extraHeader``), not only after a 401: on
    loopback a request without it would be the user's, and a runner must never be taken for one."""
    env = {k: v for k, v in (base or os.environ).items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,  # the user's ~/.gitconfig (an agent may write it) is not read
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


def without_credentials(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the git config it carries (the auth header)."""
    return {
        k: v
        for k, v in env.items()
        if not k.startswith(("GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }


NO_HOOKS = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
"""Options that keep a repository's own hooks and file monitor from running."""


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


class Workspace:
    """``<root>/repo``: taken from the runner's git cache, checked out on the card branch."""

    def __init__(self, root: Path, *, cache: GitCache) -> None:
        self.root = root
        self.repo = root / "repo"
        self.cache = cache
        self.env = without_credentials(cache.env)  # for the work tree: see the module docstring
        self.url: str | None = None
        self.base_branch: str | None = None
        self.base_sha: str | None = None
        self.branch_start_sha: str | None = None

    async def git(self, *args: str, check: str | None = None) -> GitResult:
        result = await run_git(
            *NO_HOOKS, *args, cwd=self.repo if self.repo.exists() else self.root, env=self.env
        )
        if check is not None and result.code != 0:
            raise WorkspaceError(f"{check}: {last_line(result.err or result.out)}")
        return result

    async def prepare(
        self,
        *,
        url: str,
        branch: str,
        base_branch: str,
        branch_sha: str | None,
        base_sha: str | None = None,
    ) -> None:
        """Check out the card branch where it is (a retry continues it), else start it on the base.

        The runner's mirror of the repo fetches only what it lacks (nothing, when the backend's
        shas are already there); the work tree is the cache's spare checkout, moved here.
        """
        from lazyaf_runner.mirror import switch_clean_checkout

        self.url, self.base_branch = url, base_branch
        if self.root.exists():  # left by a runner that died mid-job
            await asyncio.to_thread(shutil.rmtree, self.root, True)
        self.root.mkdir(parents=True)
        wanted: dict[str, str | None] = {base_branch: base_sha}
        continuing = branch_sha is not None and branch != base_branch
        if continuing:
            wanted[branch] = branch_sha
        shas = await self.cache.update(url, wanted)
        if base_branch not in shas:
            raise WorkspaceError(f"Reading the base branch {base_branch} failed: it is not in {url}")
        self.base_sha = shas[base_branch]
        start = self.base_sha
        if continuing:
            self.branch_start_sha = start = shas[branch]
        checked_out = await self.cache.take_spare(url, base_branch, self.repo)
        if checked_out == start and switch_clean_checkout(self.repo, branch, start):
            return
        await self.git(
            "checkout", "--quiet", "--force", "-B", branch, start, check=f"Checkout of {branch} failed"
        )

    async def merge_base_branch(self, base_branch: str) -> list[str]:
        """Bring the base branch in (for conflict resolution); the files left conflicting, if any."""
        assert self.base_sha is not None
        # The checkout's origin/<base> dates from when it was made: point it at the base of this job.
        await self.git(
            "update-ref",
            f"refs/remotes/origin/{base_branch}",
            self.base_sha,
            check=f"Updating origin/{base_branch} failed",
        )
        result = await self.git("merge", "--no-edit", "--no-ff", f"origin/{base_branch}")
        if result.code == 0:
            return []
        conflicted = await self.git("diff", "--name-only", "--diff-filter=U", "-z")
        files = [name for name in conflicted.out.split("\0") if name]
        if not files:
            raise WorkspaceError(f"Merging {base_branch} failed: {last_line(result.err or result.out)}")
        return files

    async def commit_leftovers(self, message: str) -> bool:
        """Commit what the agent left uncommitted (or a merge it left open); True if there was something."""
        await self.git("add", "--all", check="Staging the agent's changes failed")
        result = await self.git("commit", "--quiet", "--no-verify", "-m", message)
        if result.code == 0:
            return True
        if "nothing to commit" in result.out or "nothing added to commit" in result.out:
            return False
        raise WorkspaceError(f"Committing the agent's changes failed: {last_line(result.err or result.out)}")

    async def head(self) -> str:
        return (await self.git("rev-parse", "HEAD", check="Reading HEAD failed")).out.strip()

    async def summary(self) -> tuple[str, Stats]:
        """HEAD and the card branch against its base: commits not on the base, and the files and
        lines changed since their merge base. Two git processes."""
        assert self.base_sha is not None
        listed = await self.git(
            "rev-list", f"{self.base_sha}..HEAD", check="Listing the branch's commits failed"
        )
        commits = listed.out.split()
        head = commits[0] if commits else await self.head()  # rev-list starts at HEAD
        numstat = (await self.git("diff", "--numstat", "--no-renames", f"{self.base_sha}...HEAD")).out
        added = removed = files = 0
        for line in numstat.splitlines():
            parts = line.split("\t", 2)
            if len(parts) != 3:
                continue
            files += 1
            added += int(parts[0]) if parts[0].isdigit() else 0
            removed += int(parts[1]) if parts[1].isdigit() else 0
        stats = Stats(commits=len(commits), files_changed=files, lines_added=added, lines_removed=removed)
        return head, stats

    async def stats(self) -> Stats:
        return (await self.summary())[1]

    async def push(self, ref: str, *, token: str | None = None) -> None:
        """Push HEAD to ``ref`` with ``token`` (the attempt's: the one credential that may write it),
        from a fresh repository borrowing the work tree's objects (see the module docstring): none
        of the agent's hooks or config applies to the credentialed step."""
        assert self.url is not None
        head = await self.head()
        # git_environment drops every GIT_* of its base: the runner's own credential does not come along.
        env = git_environment(token, self.cache.env) if token else self.cache.env
        scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="lazyaf-push-"))
        try:
            made = await run_git(
                "init", "--quiet", "--bare", "--template=", str(scratch), cwd=scratch, env=self.env
            )
            if made.code != 0:
                raise WorkspaceError(f"Preparing the push failed: {last_line(made.err or made.out)}")
            objects = (self.repo / ".git" / "objects").resolve()
            await asyncio.to_thread((scratch / "objects" / "info" / "alternates").write_text, f"{objects}\n")
            result = await run_git(
                *NO_HOOKS,
                "push",
                "--quiet",
                "--force",
                self.url,
                f"{head}:{ref}",
                cwd=scratch,
                env=env,
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)
        if result.code != 0:
            unreachable = any(words in result.err for words in _UNREACHABLE)
            raise WorkspaceError(f"Push refused: {last_line(result.err)}", unreachable=unreachable)

    async def keep_pushed(self, branch: str, head: str) -> bool:
        """Put the commit this job pushed into the runner's mirror as ``branch`` (the card's next
        step starts from it without a fetch when the server moved the branch there); best effort."""
        if self.url is None:
            return False
        return await self.cache.learn(self.url, branch, head, self.repo / ".git" / "objects")

    def remove(self) -> None:
        """Remove the work tree (the mirror's objects it borrowed stay in the cache)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def prepare_next(self, checkout: str | None = None) -> None:
        """Have the cache make a spare checkout of this repo for the next job, in the background
        (on ``checkout``, a branch the mirror holds, else on the base branch)."""
        if self.url is not None and self.base_branch is not None:
            self.cache.prepare_spare(self.url, self.base_branch, checkout)
