"""Files of a commit, read with dulwich (sync: call through ``lazyaf.git.run.in_thread``).

The README of a commit never changes, so its text is kept per (repo, commit): starting cards
while the default branch stays put reads it once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from dulwich.errors import NotTreeError
from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.repo import Repo as DulwichRepo

README_NAMES = ("README.md", "README.rst", "README.txt", "README")
README_LIMIT = 65536
"""Bytes of a README read; a prompt quotes far less."""
CACHE_SIZE = 64

_readmes: OrderedDict[tuple[str, str], str | None] = OrderedDict()
_lock = threading.Lock()  # worker threads share the cache


def _first_of(path: Path, commit_sha: str, names: tuple[str, ...]) -> str | None:
    with DulwichRepo(str(path)) as repo:
        try:
            commit = repo[ObjectID(commit_sha.encode())]
        except KeyError:
            return None
        if not isinstance(commit, Commit):
            return None
        tree = repo[commit.tree]
        if not isinstance(tree, Tree):
            return None
        for name in names:
            try:
                _, sha = tree[name.encode()]
            except KeyError:
                continue
            blob = repo[sha]
            if isinstance(blob, Blob):
                return blob.data[:README_LIMIT].decode("utf-8", "replace")
    return None


def readme(path: Path, commit_sha: str) -> str | None:
    """The text of the README at the root of ``commit_sha`` (the first of ``README_NAMES``), if any."""
    key = (str(path), commit_sha)
    with _lock:
        if key in _readmes:
            _readmes.move_to_end(key)
            return _readmes[key]
    text = _first_of(path, commit_sha, README_NAMES)
    with _lock:
        _readmes[key] = text
        while len(_readmes) > CACHE_SIZE:
            _readmes.popitem(last=False)
    return text


FILE_LIMIT = 262_144
"""Bytes of a file ``text_at`` reads (a plan, a progress file): a prompt quotes less."""


def text_at(path: Path, commit_sha: str | None, file_path: str, limit: int = FILE_LIMIT) -> str | None:
    """The text of ``file_path`` (a repo path, ``a/b.md``) at ``commit_sha``; None when the commit
    or the file is missing, or the path names a directory."""
    if commit_sha is None:
        return None
    with DulwichRepo(str(path)) as repo:
        try:
            commit = repo[ObjectID(commit_sha.encode())]
        except KeyError:
            return None
        if not isinstance(commit, Commit):
            return None
        try:
            _, sha = tree_lookup_path(repo.__getitem__, commit.tree, file_path.encode())
        except (KeyError, NotTreeError):
            return None
        blob = repo[sha]
        if not isinstance(blob, Blob):
            return None
        return blob.data[:limit].decode("utf-8", "replace")
