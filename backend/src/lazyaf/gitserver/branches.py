"""Ref reads and compare-and-swap moves on a bare repo (sync; call through a worker thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dulwich.repo import Repo as DulwichRepo


def ref_sha(path: Path, ref: str) -> str | None:
    with DulwichRepo(str(path)) as repo:
        try:
            return repo.refs[ref.encode()].decode()
        except KeyError:
            return None


def move_branch(path: Path, branch: str, *, old: str | None, new: str) -> bool:
    """Point ``refs/heads/<branch>`` at ``new`` only if it still points at ``old`` (None: does not exist)."""
    name = b"refs/heads/" + branch.encode()
    with DulwichRepo(str(path)) as repo:
        if new.encode() not in repo.object_store:
            return False
        if old is None:
            return bool(repo.refs.add_if_new(name, new.encode(), message=b"lazyaf: job completed"))
        return bool(repo.refs.set_if_equals(name, old.encode(), new.encode(), message=b"lazyaf: job completed"))


def delete_branch(path: Path, branch: str) -> bool:
    """Remove ``refs/heads/<branch>``; False when it did not exist."""
    with DulwichRepo(str(path)) as repo:
        return bool(repo.refs.remove_if_equals(b"refs/heads/" + branch.encode(), None))


def set_ref(path: Path, ref: str, sha: str) -> None:
    """Point ``ref`` (a full name) at ``sha``, whatever it held."""
    with DulwichRepo(str(path)) as repo:
        refs: Any = repo.refs  # dulwich >= 1.2 types names and ids as NewTypes of bytes
        refs.set_if_equals(ref.encode(), None, sha.encode(), message=b"lazyaf: approved")
