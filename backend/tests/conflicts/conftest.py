"""A bare repo made the way LazyAF makes them, with a work tree to build card branches in."""

from __future__ import annotations

from pathlib import Path

import pytest

from lazyaf.git import overlap
from lazyaf.git.store import create_bare
from tests.gitutil import Work
from tests.jobs.conftest import make_server  # the live tests: a live server with a chosen agent

__all__ = ["make_server"]

BASE = {
    "README.md": "# Demo\n\nline 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\n",
    "src/app.py": "".join(f"app line {i}\n" for i in range(20)),
    "docs/guide.md": "guide\n",
}


@pytest.fixture(autouse=True)
def _cold() -> None:
    """Every test starts without kept git answers (they are per repo path, but paths repeat)."""
    overlap.forget()


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "repo.git"
    create_bare(path, "main")
    return path


@pytest.fixture
def work(tmp_path: Path, bare: Path) -> Work:
    work = Work(tmp_path / "work", bare)
    work.commit(dict(BASE), "Base")
    work.push("main")
    return work


def edit(text: str, line: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[line] = new + "\n"
    return "".join(lines)


def branch(work: Work, name: str, files: dict[str, str | bytes | None], start: str = "main") -> str:
    """Make branch ``name`` from ``start`` with one commit of ``files``, push it, and go back to main."""
    work.branch(name, start)
    sha = work.commit(files, f"Work on {name}")
    work.push(name)
    work.run("checkout", "-q", "main")
    return sha
