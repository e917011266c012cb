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


Files = dict[str, str | bytes | None]


class Work:
    """A work tree whose `origin` is a bare repo under test."""

    def __init__(self, path: Path, bare: Path) -> None:
        self.path, self.bare = path, bare
        git("init", "-q", "-b", "main", str(path))
        git("remote", "add", "origin", str(bare), cwd=path)

    def commit(self, files: Files, message: str = "Change files") -> str:
        """Write (str/bytes) or delete (None) files, commit everything and return the commit id."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
        git("add", "-A", cwd=self.path)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.path)
        return rev(self.path, "HEAD")

    def run(self, *args: str) -> None:
        git(*args, cwd=self.path)

    def branch(self, name: str, start: str = "main") -> None:
        git("checkout", "-q", "-B", name, start, cwd=self.path)

    def push(self, *branches: str) -> None:
        """Force-push the given branches, or every branch and tag when none are named."""
        refspecs = branches or ("--tags", "refs/heads/*:refs/heads/*")
        git("push", "-q", "--force", "origin", *refspecs, cwd=self.path)
