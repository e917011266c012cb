"""The real git client, with the extras these tests need (environment, stdin, timeouts)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_TIMEOUT = 60


def git(
    *args: str,
    cwd: Path | None = None,
    check: bool = True,
    env_extra: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = GIT_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, input=input, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def rev(path: Path, ref: str) -> str:
    return git("rev-parse", ref, cwd=path).stdout.strip()


def ls_remote(where: str | Path) -> list[str]:
    return sorted(git("ls-remote", str(where)).stdout.splitlines())


def fsck(bare: Path) -> None:
    git("--git-dir", str(bare), "fsck", "--full", "--strict")


def make_repo(path: Path, commits: int = 2, branch: str = "main") -> Path:
    """A work tree with ``commits`` commits on ``branch``."""
    path.mkdir(parents=True)
    git("init", "-q", "-b", branch, cwd=path)
    for i in range(commits):
        commit_file(path, f"file{i}.txt", f"content {i}\n".encode(), f"Commit {i}")
    return path


def commit_file(repo: Path, name: str, content: bytes, message: str) -> str:
    (repo / name).write_bytes(content)
    git("add", "--all", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return rev(repo, "HEAD")
