"""Ref reads and compare-and-swap moves on a bare repo (sync; call through a worker thread)."""

from __future__ import annotations

from pathlib import Path

from dulwich.objects import Blob, Commit, Tree
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


def read_file(path: Path, branch: str, names: tuple[str, ...]) -> str | None:
    """The text of the first of ``names`` found at the root of ``branch``, if any."""
    with DulwichRepo(str(path)) as repo:
        try:
            commit = repo[repo.refs[b"refs/heads/" + branch.encode()]]
        except KeyError:
            return None
        assert isinstance(commit, Commit)
        tree = repo[commit.tree]
        assert isinstance(tree, Tree)
        for name in names:
            try:
                _, sha = tree[name.encode()]
            except KeyError:
                continue
            blob = repo[sha]
            if isinstance(blob, Blob):
                return blob.data[:65536].decode("utf-8", "replace")
    return None
