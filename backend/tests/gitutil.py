"""Helpers that drive the real git client in tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)


def make_source_repo(path: Path, commits: int = 2, branch: str = "main") -> Path:
    """A work tree with ``commits`` commits on ``branch``."""
    path.mkdir(parents=True)
    git("init", "-q", "-b", branch, cwd=path)
    for i in range(commits):
        (path / f"file{i}.txt").write_text(f"content {i}\n")
        git("add", ".", cwd=path)
        git("commit", "-q", "-m", f"Commit {i}\n\nBody of commit {i}.", cwd=path)
    return path


def rev(path: Path, ref: str) -> str:
    return git("rev-parse", ref, cwd=path).stdout.strip()
