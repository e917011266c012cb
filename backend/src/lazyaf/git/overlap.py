"""What branches would collide: their changed paths, and merges tried without changing the repo.

Conflict prediction (``lazyaf.conflicts``) asks the bare repository, for commits it names by id:

* ``merge_base``: the best common ancestor of two commits (``git merge-base``);
* ``changed_paths``: the paths a range changes (``git diff-tree -r --name-only --no-renames``: a
  rename is its old and its new path, both of which another change may touch);
* ``conflicting_files``: the files a merge of two commits would conflict in (``git merge-tree
  --write-tree``, the ort machinery of ``git merge``); the trees it writes go into a quarantine
  (``Scratch``) that is deleted afterwards, so the repository is left as it was;
* ``read_text``: a file of a commit (a card's plan), read with dulwich.

Each answer depends only on the commit ids asked about, so it is kept (``Memo``, bounded, shared
by worker threads): after a push, only questions about the pushed branch's new tip reach git.
Everything here is sync: async code calls it through ``git.run.in_thread``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Generic, TypeVar

from dulwich.errors import NotTreeError
from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, Commit, ObjectID, SubmoduleEncountered
from dulwich.repo import Repo as DulwichRepo

from lazyaf.git import merge as git_merge
from lazyaf.git import run

V = TypeVar("V")

MEMO_SIZE = 8192
"""Answers kept per kind of question (a few hundred bytes each)."""
TEXT_LIMIT = 65536
"""Bytes of a file ``read_text`` returns (a plan's front matter is at its top)."""


class OverlapError(RuntimeError):
    """git failed for a reason other than the ones callers expect (no merge base, a conflict)."""


class Memo(Generic[V]):
    """A bounded map of answers, least recently used out first; safe across worker threads."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V) -> V:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# An empty string stands for "no merge base" (unrelated histories): None means "not asked yet".
_bases: Memo[str] = Memo()
_paths: Memo[frozenset[str]] = Memo()
_conflicts: Memo[tuple[str, ...]] = Memo()
_texts: Memo[tuple[str | None]] = Memo()


def forget() -> None:
    """Drop every kept answer (benchmarks measure a cold start with it)."""
    for memo in (_bases, _paths, _conflicts, _texts):
        memo.clear()


def merge_base(repo: Path, a: str, b: str) -> str | None:
    """The best common ancestor of commits ``a`` and ``b``; None when they share no history."""
    key = (str(repo), *sorted((a, b)))
    known = _bases.get(key)
    if known is None:
        done = run.run(repo, "merge-base", a, b)
        if done.returncode not in (0, 1):
            raise OverlapError(f"git merge-base failed in {repo.name}: {run.first_line(done.stderr)}")
        known = _bases.put(key, done.stdout.decode().strip() if done.returncode == 0 else "")
    return known or None


def changed_paths(repo: Path, base: str, tip: str) -> frozenset[str]:
    """Every path that differs between commits ``base`` and ``tip`` (renames as both paths)."""
    if base == tip:
        return frozenset()
    key = (str(repo), base, tip)
    known = _paths.get(key)
    if known is None:
        out = run.run(
            repo, "diff-tree", "-r", "-z", "--name-only", "--no-renames", "--no-commit-id", base, tip
        )
        if out.returncode != 0:
            raise OverlapError(f"git diff-tree failed in {repo.name}: {run.first_line(out.stderr)}")
        names = out.stdout.split(b"\0")
        known = _paths.put(key, frozenset(n.decode("utf-8", "surrogateescape") for n in names if n))
    return known


class Scratch:
    """A quarantine for the trees ``merge-tree`` writes, made on first use, deleted on exit.
    Several merge-trees may write into it at once (git writes each object to a temporary file
    and renames it into place)."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._quarantine: git_merge._Quarantine | None = None
        self._lock = threading.Lock()  # worker threads share it (predict.survey_at)

    def env(self) -> dict[str, str]:
        with self._lock:
            if self._quarantine is None:
                self._quarantine = git_merge._Quarantine(self.repo)
            return self._quarantine.env()

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        # Every merge-tree using it has ended: the survey waits for its answers inside the block.
        if self._quarantine is not None:
            self._quarantine.discard()
            self._quarantine = None


def conflicting_files(repo: Path, a: str, b: str, scratch: Scratch) -> tuple[str, ...] | None:
    """The files a merge of commits ``a`` and ``b`` would conflict in (empty: it merges cleanly);
    None when they share no history."""
    ours, theirs = sorted((a, b))  # the same question either way round: one answer kept
    key = (str(repo), ours, theirs)
    known = _conflicts.get(key)
    if known is not None:
        return known
    args = ("merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", ours, theirs)
    done = run.run(repo, *args, env=scratch.env())
    if done.returncode == 128 and "unrelated histories" in run.first_line(done.stderr):
        return None
    if done.returncode not in (0, 1):
        raise OverlapError(f"git merge-tree failed in {repo.name}: {run.first_line(done.stderr)}")
    _tree, *names = done.stdout.split(b"\0")
    files = tuple(dict.fromkeys(n.decode("utf-8", "surrogateescape") for n in names if n))
    return _conflicts.put(key, files)


def read_text(repo: Path, commit: str, path: str) -> str | None:
    """The text of file ``path`` in commit ``commit`` (its first ``TEXT_LIMIT`` bytes); None when
    the commit has no such file."""
    key = (str(repo), commit, path)
    known = _texts.get(key)
    if known is not None:
        return known[0]
    text: str | None = None
    with DulwichRepo(str(repo)) as dulwich:
        try:
            obj = dulwich[ObjectID(commit.encode())]
            if isinstance(obj, Commit):
                _mode, sha = tree_lookup_path(dulwich.__getitem__, obj.tree, path.encode())
                blob = dulwich[sha]
                if isinstance(blob, Blob):
                    text = blob.data[:TEXT_LIMIT].decode("utf-8", "replace")
        except (KeyError, NotTreeError, SubmoduleEncountered, ValueError):
            text = None
    return _texts.put(key, (text,))[0]
