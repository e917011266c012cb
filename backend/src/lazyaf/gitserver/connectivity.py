"""Is everything a pushed ref would point at really in the repository? (for the dulwich backend)

dulwich's receive-pack sets a ref to whatever sha the client names, even one nobody sent,
leaving a broken repository; C git refuses with "missing necessary objects". This is that check.

It relies on the invariant every ref already keeps: the closure of an existing ref is complete.
So the walk from a new sha stops at commits reachable from existing refs, and a commit's tree is
compared with its first parent's, descending only into entries that differ (what is equal to
the parent's is as complete as the parent). Cost grows with what the push changed, not with
the size of the repository, except when a push reuses an old commit that is not a ref tip:
then the ancestry of the tips is computed once.
"""

from __future__ import annotations

import stat
from collections.abc import Container, Iterable

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit, ObjectID, ShaFile, Tag, Tree


class _Missing(Exception):
    def __init__(self, sha: ObjectID) -> None:
        super().__init__(sha.decode("ascii", "replace"))
        self.sha = sha


def _is_gitlink(mode: int) -> bool:
    return stat.S_IFMT(mode) == 0o160000


class ConnectivityChecker:
    """Checks new ref values against one repository; reuse it for every ref of one push.

    Args:
        store: the repository's object store.
        tips: the values of the refs before the push (their closures are complete).
        received: shas of the objects this push sent (anything else existed before).
    """

    def __init__(
        self, store: BaseObjectStore, tips: Iterable[ObjectID], received: Container[ObjectID]
    ) -> None:
        self._store = store
        self._tips = set(tips)
        self._received = received
        self._ancestry: set[ObjectID] | None = None
        self._commits: set[ObjectID] = set()
        self._trees: set[ObjectID] = set()

    def missing(self, sha: ObjectID) -> ObjectID | None:
        """The first object missing from ``sha``'s closure, or None when it is complete."""
        # Objects are marked complete tentatively during one walk, and kept only if it succeeds.
        commits, trees = set(self._commits), set(self._trees)
        try:
            self._check(sha)
        except _Missing as exc:
            self._commits, self._trees = commits, trees
            return exc.sha
        return None

    def _get(self, sha: ObjectID) -> ShaFile:
        try:
            return self._store[sha]
        except KeyError:
            raise _Missing(sha) from None

    def _check(self, sha: ObjectID) -> None:
        seen: set[ObjectID] = set()
        while True:
            if sha in seen or sha in self._tips:
                return
            seen.add(sha)
            obj = self._get(sha)
            if isinstance(obj, Tag):
                sha = obj.object[1]
                continue
            if isinstance(obj, Commit):
                self._check_commits(sha)
            elif isinstance(obj, Tree):
                self._check_tree(sha, None)
            return

    def _is_complete_commit(self, sha: ObjectID) -> bool:
        if sha in self._commits or sha in self._tips:
            return True
        if sha in self._received:
            return False
        return sha in self._tip_ancestry()

    def _tip_ancestry(self) -> set[ObjectID]:
        if self._ancestry is None:
            self._ancestry = set()
            stack = list(self._tips)
            while stack:
                sha = stack.pop()
                if sha in self._ancestry:
                    continue
                obj = self._store[sha] if sha in self._store else None
                if isinstance(obj, Tag):
                    stack.append(obj.object[1])
                elif isinstance(obj, Commit):
                    self._ancestry.add(sha)
                    stack.extend(obj.parents)
        return self._ancestry

    def _commit(self, sha: ObjectID) -> Commit:
        obj = self._get(sha)
        if not isinstance(obj, Commit):
            raise _Missing(sha)
        return obj

    def _check_commits(self, start: ObjectID) -> None:
        stack = [start]
        while stack:
            sha = stack.pop()
            if self._is_complete_commit(sha):
                continue
            commit = self._commit(sha)
            base = self._commit(commit.parents[0]).tree if commit.parents else None
            self._check_tree(commit.tree, base)
            self._commits.add(sha)
            stack.extend(commit.parents)

    def _tree(self, sha: ObjectID) -> Tree:
        obj = self._get(sha)
        if not isinstance(obj, Tree):
            raise _Missing(sha)
        return obj

    def _check_tree(self, root: ObjectID, root_base: ObjectID | None) -> None:
        stack: list[tuple[ObjectID, ObjectID | None]] = [(root, root_base)]
        while stack:
            sha, base = stack.pop()
            if sha == base or sha in self._trees:
                continue
            old = {} if base is None else {e.path: (e.mode, e.sha) for e in self._tree(base).iteritems()}
            for entry in self._tree(sha).iteritems():
                before = old.get(entry.path)
                if _is_gitlink(entry.mode) or (before is not None and before[1] == entry.sha):
                    continue
                if stat.S_ISDIR(entry.mode):
                    stack.append((entry.sha, before[1] if before and stat.S_ISDIR(before[0]) else None))
                elif entry.sha not in self._store:
                    raise _Missing(entry.sha)
            self._trees.add(sha)
