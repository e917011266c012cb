"""The dulwich backend's check that a pushed ref reaches only objects the repository has."""

from __future__ import annotations

from dulwich.object_store import MemoryObjectStore
from dulwich.objects import Blob, Commit, Tag, Tree

from lazyaf.gitserver.connectivity import ConnectivityChecker

MISSING = b"f" * 40


def blob(data: bytes) -> Blob:
    return Blob.from_string(data)


def tree(**entries: Blob | Tree) -> Tree:
    result = Tree()
    for name, obj in entries.items():
        result.add(name.encode(), 0o040000 if isinstance(obj, Tree) else 0o100644, obj.id)
    return result


def commit(root: Tree, *parents: Commit, message: bytes = b"m") -> Commit:
    result = Commit()
    result.tree = root.id
    result.parents = [p.id for p in parents]
    result.author = result.committer = b"T <t@example.com>"
    result.author_time = result.commit_time = 1700000000
    result.author_timezone = result.commit_timezone = 0
    result.message = message
    return result


def store_with(*objects: Blob | Tree | Commit | Tag) -> MemoryObjectStore:
    store = MemoryObjectStore()
    for obj in objects:
        store.add_object(obj)
    return store


def test_new_commit_on_top_of_a_tip_with_its_objects_is_complete() -> None:
    a, b = blob(b"a"), blob(b"b")
    base_tree = tree(a=a)
    base = commit(base_tree)
    new_tree = tree(a=a, b=b)
    new = commit(new_tree, base)
    store = store_with(a, b, base_tree, base, new_tree, new)

    checker = ConnectivityChecker(store, tips=[base.id], received={b.id, new_tree.id, new.id})

    assert checker.missing(new.id) is None


def test_new_commit_with_a_blob_never_sent_is_incomplete() -> None:
    base_tree = tree(a=blob(b"a"))
    base = commit(base_tree)
    lost = blob(b"lost")
    new_tree = tree(a=blob(b"a"), lost=lost)
    new = commit(new_tree, base)
    store = store_with(blob(b"a"), base_tree, base, new_tree, new)

    checker = ConnectivityChecker(store, tips=[base.id], received={new_tree.id, new.id})

    assert checker.missing(new.id) == lost.id


def test_blobs_unchanged_from_the_parent_are_trusted_not_looked_up() -> None:
    # The parent's blob is absent from this store; only a diff-based walk can pass.
    old = blob(b"old")
    sub = tree(old=old)
    base = commit(tree(sub=sub))
    new_tree = tree(sub=sub, extra=blob(b"x"))
    new = commit(new_tree, base)
    store = store_with(tree(sub=sub), sub, base, blob(b"x"), new_tree, new)

    checker = ConnectivityChecker(store, tips=[base.id], received={new.id, new_tree.id})

    assert checker.missing(new.id) is None


def test_unreachable_leftover_commit_is_checked_not_trusted() -> None:
    # A commit left behind by an earlier refused push: present, but its tree is not.
    leftover = commit(tree(a=blob(b"gone")))
    store = store_with(leftover)

    checker = ConnectivityChecker(store, tips=[], received=set())

    assert checker.missing(leftover.id) == tree(a=blob(b"gone")).id


def test_old_commit_reachable_from_a_tip_is_complete() -> None:
    first_tree = tree(a=blob(b"1"))
    first = commit(first_tree)
    second_tree = tree(a=blob(b"2"))
    second = commit(second_tree, first)
    store = store_with(blob(b"1"), blob(b"2"), first_tree, first, second_tree, second)

    checker = ConnectivityChecker(store, tips=[second.id], received=set())

    assert checker.missing(first.id) is None


def test_missing_parent_is_reported() -> None:
    root = tree(a=blob(b"a"))
    orphan = commit(root)
    child = commit(root, orphan)
    store = store_with(blob(b"a"), root, child)

    checker = ConnectivityChecker(store, tips=[], received={child.id, root.id})

    assert checker.missing(child.id) == orphan.id


def test_tag_of_a_missing_commit_is_incomplete() -> None:
    tag = Tag()
    tag.name = b"v1"
    tag.object = (Commit, MISSING)
    tag.tagger = b"T <t@example.com>"
    tag.tag_time = 1700000000
    tag.tag_timezone = 0
    tag.message = b"v1"
    store = store_with(tag)

    assert ConnectivityChecker(store, tips=[], received={tag.id}).missing(tag.id) == MISSING


def test_a_failed_check_does_not_vouch_for_what_it_walked() -> None:
    lost = blob(b"lost")
    bad_tree = tree(lost=lost)
    bad = commit(bad_tree)
    store = store_with(bad_tree, bad)
    checker = ConnectivityChecker(store, tips=[], received={bad.id, bad_tree.id})

    assert checker.missing(bad.id) == lost.id
    assert checker.missing(bad.id) == lost.id
