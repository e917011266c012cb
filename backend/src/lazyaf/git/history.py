"""A bare repo's branches and commits, read with dulwich (sync; call through ``git.run.in_thread``).

Branch tips come from the one ref reader (``git.refs``). A dulwich Repo is not safe to share
across threads, so every call opens its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dulwich.objects import Commit
from dulwich.refs import Ref, check_ref_format
from dulwich.repo import Repo as DulwichRepo

from lazyaf.git import refs


class BranchNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class BranchInfo:
    name: str
    sha: str


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    authored_at: datetime
    committer_name: str
    committed_at: datetime
    message: str


def is_valid_branch_name(name: str) -> bool:
    """git's check-ref-format rules for ``refs/heads/<name>``."""
    if not name or name.startswith("-") or name == "HEAD":
        return False
    return bool(check_ref_format(Ref(b"refs/heads/" + name.encode("utf-8", "surrogateescape"))))


def list_branches(path: Path) -> list[BranchInfo]:
    return sorted(
        (BranchInfo(name=n, sha=sha) for n, sha in refs.branches(path).items()), key=lambda b: b.name
    )


def _when(timestamp: int, offset: int) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone(timedelta(seconds=offset))).astimezone(UTC)


def _split_identity(identity: bytes) -> tuple[str, str]:
    text = identity.decode("utf-8", "replace")
    name, _, rest = text.partition(" <")
    return name.strip(), rest.rstrip(">").strip()


def _info(commit: Commit) -> CommitInfo:
    author_name, author_email = _split_identity(commit.author)
    committer_name, _ = _split_identity(commit.committer)
    encoding = (commit.encoding or b"utf-8").decode("ascii", "replace")
    try:
        message = commit.message.decode(encoding, "replace")
    except LookupError:
        message = commit.message.decode("utf-8", "replace")
    return CommitInfo(
        sha=commit.id.decode(),
        parents=[p.decode() for p in commit.parents],
        author_name=author_name,
        author_email=author_email,
        authored_at=_when(commit.author_time, commit.author_timezone),
        committer_name=committer_name,
        committed_at=_when(commit.commit_time, commit.commit_timezone),
        message=message,
    )


def list_commits(
    path: Path, branch: str, *, limit: int, offset: int = 0, exclude: str | None = None
) -> list[CommitInfo]:
    """Commits reachable from ``branch``, newest first (commit date order, like ``git log``).

    Raises:
        BranchNotFound: the branch does not exist.
    """
    # Commits of ``branch`` not reachable from ``exclude`` (a card branch's own commits).
    tip, stop = refs.branch_shas(path, branch, exclude or branch)
    if tip is None:
        raise BranchNotFound(branch)
    with DulwichRepo(str(path)) as opened:
        repo: Any = opened  # dulwich >= 1.2 types ids as a NewType of bytes
        exclude_ids = [stop.encode()] if exclude and stop else None
        walker = repo.get_walker(include=[tip.encode()], exclude=exclude_ids, max_entries=offset + limit)
        entries = [entry.commit for entry in walker]
    return [_info(commit) for commit in entries[offset:]]


def list_commits_between(path: Path, head: str, base: str, *, limit: int) -> list[CommitInfo]:
    """Commits reachable from commit ``head`` but not from commit ``base``, newest first (``base..head``).

    Raises:
        BranchNotFound: ``head`` is not a commit of the repo.
    """
    with DulwichRepo(str(path)) as opened:
        repo: Any = opened  # dulwich >= 1.2 types ids as a NewType of bytes
        try:
            tip = repo[head.encode()]
        except KeyError:
            raise BranchNotFound(head) from None
        stop = [base.encode()] if base.encode() in repo.object_store else None
        walker = repo.get_walker(include=[tip.id], exclude=stop, max_entries=limit)
        return [_info(entry.commit) for entry in walker]
