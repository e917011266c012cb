"""Refs of a bare repository: the one reader, and the compare-and-swap moves LazyAF makes.

Every ref read in the backend goes through ``read`` (or its shorthands): dulwich's
``DiskRefsContainer`` reads the loose ref file or ``packed-refs``, with no repository object
opened. Writes open the repository, so they leave a reflog entry (``core.logallrefupdates``).

Everything here is sync file I/O: async code calls it through ``lazyaf.git.run.in_thread``,
never inline. Measured on this machine (two branch tips of a small repo): ~20 µs inline, ~70 µs
through the worker-thread hop. The hop's ~50 µs is well under a millisecond of a dispatch that
takes ~70 ms, and it keeps a slow or busy disk from stalling every socket the server holds;
callers that need several refs read them in one call, so one hop.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from dulwich.objects import ObjectID
from dulwich.refs import DiskRefsContainer, Ref
from dulwich.repo import Repo as DulwichRepo

HEADS = "refs/heads/"


def _name(ref: str) -> Ref:
    return Ref(ref.encode("utf-8", "surrogateescape"))


def _oid(sha: str) -> ObjectID:
    return ObjectID(sha.encode())


def read(path: Path, *refs: str) -> list[str | None]:
    """Where each of ``refs`` (full names; symbolic refs followed) points now; None: absent."""
    container = DiskRefsContainer(path)
    shas: list[str | None] = []
    for ref in refs:
        try:
            shas.append(container[_name(ref)].decode())
        except KeyError:
            shas.append(None)
    return shas


def branch_shas(path: Path, *branches: str) -> list[str | None]:
    """Where each branch points now (None: it does not exist)."""
    return read(path, *(HEADS + branch for branch in branches))


def branches(path: Path) -> dict[str, str]:
    """Every branch and its tip, by name."""
    heads = DiskRefsContainer(path).as_dict(_name(HEADS.rstrip("/")))
    return {name.decode("utf-8", "replace"): sha.decode() for name, sha in heads.items()}


def free_branch_name(path: Path, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``…: the first that no branch of the repo has."""
    for candidate in (name, *(f"{name}-{n}" for n in range(2, 100))):
        if branch_shas(path, candidate) == [None]:
            return candidate
    return f"{name}-{secrets.token_hex(4)}"


def move_branch(path: Path, branch: str, *, old: str | None, new: str, reason: str) -> bool:
    """Point ``refs/heads/<branch>`` at ``new`` only if it still points at ``old`` (None: only if
    the branch does not exist) and ``new`` is in the repository; False otherwise."""
    name, message = _name(HEADS + branch), f"lazyaf: {reason}".encode()
    with DulwichRepo(str(path)) as repo:
        if _oid(new) not in repo.object_store:
            return False
        if old is None:
            return bool(repo.refs.add_if_new(name, _oid(new), message=message))
        return bool(repo.refs.set_if_equals(name, _oid(old), _oid(new), message=message))


def delete_branch(path: Path, branch: str) -> bool:
    """Remove ``refs/heads/<branch>``; False when it did not exist."""
    with DulwichRepo(str(path)) as repo:
        name = _name(HEADS + branch)
        # remove_if_equals(name, None) answers True for a ref that was never there.
        return name in repo.refs and bool(repo.refs.remove_if_equals(name, None))


def set_ref(path: Path, ref: str, sha: str, *, reason: str) -> None:
    """Point ``ref`` (a full name) at ``sha``, whatever it held."""
    with DulwichRepo(str(path)) as repo:
        repo.refs.set_if_equals(_name(ref), None, _oid(sha), message=f"lazyaf: {reason}".encode())
