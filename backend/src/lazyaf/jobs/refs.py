"""What the dispatch path reads from a repo's git data: branch tips and the README, cheaply.

Both run for every started card and every claim. A branch tip is a file read (loose ref or
packed-refs) with no repository object opened, cheap enough to do on the event loop. The README
of a commit never changes, so its text is kept per (repo, commit): starting cards while the
default branch stays put reads it once.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import anyio.to_thread
from dulwich.objects import Blob, Commit, Tree
from dulwich.refs import DiskRefsContainer, Ref
from dulwich.repo import Repo as DulwichRepo

README_CACHE_SIZE = 64
_readmes: OrderedDict[tuple[str, str], str | None] = OrderedDict()


def branch_shas(path: Path, *branches: str) -> list[str | None]:
    """Where each branch of the bare repository at ``path`` points now (None: absent)."""
    refs = DiskRefsContainer(path)
    shas: list[str | None] = []
    for branch in branches:
        try:
            shas.append(refs[Ref(b"refs/heads/" + branch.encode())].decode())
        except KeyError:
            shas.append(None)
    return shas


def _read_readme(path: Path, commit_sha: str, names: tuple[str, ...]) -> str | None:
    with DulwichRepo(str(path)) as repo:
        try:
            commit = repo[commit_sha.encode()]
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
                return blob.data[:65536].decode("utf-8", "replace")
    return None


async def readme_at(path: Path, commit_sha: str, names: tuple[str, ...]) -> str | None:
    """The text of the first of ``names`` at the root of ``commit_sha``, if any (cached)."""
    key = (str(path), commit_sha)
    if key in _readmes:
        _readmes.move_to_end(key)
        return _readmes[key]
    text = await anyio.to_thread.run_sync(_read_readme, path, commit_sha, names)
    _readmes[key] = text
    while len(_readmes) > README_CACHE_SIZE:
        _readmes.popitem(last=False)
    return text
