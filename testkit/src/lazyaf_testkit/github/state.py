"""The in-memory GitHub behind the fake: users, tokens, repos, issues, pull requests, comments.

Plain dataclasses; the REST and GraphQL layers render them into GitHub's JSON shapes. Issues and
pull requests share a repo's number sequence, as on GitHub; a pull request is an ``Issue`` whose
``pull`` is set. Timestamps are epoch seconds from the fake's clock (GitHub's resolution is one
second, which is what ``since`` filters see).
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Literal

Permission = Literal["admin", "maintain", "write", "triage", "read"]
WRITE_ROLES = ("admin", "maintain", "write")
_ids = itertools.count(1001)


def next_id() -> int:
    return next(_ids)


def node_id(prefix: str, ident: int) -> str:
    return f"{prefix}_{base64.b64encode(f'{prefix}{ident}'.encode()).decode().rstrip('=')}"


@dataclass
class User:
    login: str
    type: Literal["User", "Bot", "Organization"] = "User"
    name: str | None = None
    id: int = field(default_factory=next_id)
    created_at: float = 0.0

    @property
    def node_id(self) -> str:
        return node_id("U" if self.type != "Bot" else "BOT", self.id)


@dataclass
class Token:
    value: str
    user: User
    revoked: bool = False


@dataclass
class Label:
    name: str
    color: str = "ededed"
    description: str | None = None
    id: int = field(default_factory=next_id)

    @property
    def node_id(self) -> str:
        return node_id("LA", self.id)


@dataclass
class Milestone:
    number: int
    title: str
    creator: User
    created_at: float
    state: Literal["open", "closed"] = "open"
    description: str | None = None
    id: int = field(default_factory=next_id)

    @property
    def node_id(self) -> str:
        return node_id("MI", self.id)


@dataclass
class Reaction:
    user: User
    content: str
    created_at: float
    id: int = field(default_factory=next_id)

    @property
    def node_id(self) -> str:
        return node_id("REA", self.id)


@dataclass
class Comment:
    """An issue (or pull request conversation) comment."""

    issue: Issue
    user: User
    body: str
    created_at: float
    updated_at: float
    minimized: bool = False
    reactions: list[Reaction] = field(default_factory=list)
    id: int = field(default_factory=next_id)

    @property
    def node_id(self) -> str:
        return node_id("IC", self.id)


@dataclass
class ReviewComment:
    """A comment in a pull request review thread (on a line of the diff)."""

    thread: ReviewThread
    user: User
    body: str
    created_at: float
    updated_at: float
    in_reply_to: ReviewComment | None = None
    reactions: list[Reaction] = field(default_factory=list)
    id: int = field(default_factory=next_id)
    review_id: int = field(default_factory=next_id)

    @property
    def node_id(self) -> str:
        return node_id("PRRC", self.id)


@dataclass
class ReviewThread:
    pull: Issue
    path: str
    line: int
    side: Literal["LEFT", "RIGHT"] = "RIGHT"
    resolved: bool = False
    resolved_by: User | None = None
    outdated: bool = False
    comments: list[ReviewComment] = field(default_factory=list)
    id: int = field(default_factory=next_id)

    @property
    def node_id(self) -> str:
        return node_id("PRRT", self.id)


@dataclass
class Pull:
    """What makes an issue a pull request."""

    head: str
    base: str
    head_sha: str
    base_sha: str
    draft: bool = False
    merged_at: float | None = None
    maintainer_can_modify: bool = True
    threads: list[ReviewThread] = field(default_factory=list)


@dataclass
class Issue:
    repo: Repo
    number: int
    title: str
    body: str | None
    user: User
    created_at: float
    updated_at: float
    state: Literal["open", "closed"] = "open"
    state_reason: str | None = None
    closed_at: float | None = None
    closed_by: User | None = None
    labels: list[Label] = field(default_factory=list)
    assignees: list[User] = field(default_factory=list)
    milestone: Milestone | None = None
    locked: bool = False
    comments: list[Comment] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    pull: Pull | None = None
    id: int = field(default_factory=next_id)

    @property
    def node_id(self) -> str:
        return node_id("PR" if self.pull is not None else "I", self.id)

    @property
    def is_pull(self) -> bool:
        return self.pull is not None


@dataclass
class Repo:
    owner: User
    name: str
    private: bool = False
    default_branch: str = "main"
    description: str | None = None
    collaborators: dict[str, Permission] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    milestones: dict[int, Milestone] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # name → head sha; empty: any head is accepted
    created_at: float = 0.0
    id: int = field(default_factory=next_id)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    @property
    def node_id(self) -> str:
        return node_id("R", self.id)

    def next_number(self) -> int:
        number = next(self._numbers)
        while number in self.issues:
            number = next(self._numbers)
        return number

    def permission_of(self, user: User | None) -> Permission | None:
        """The user's role here (owner → admin); None when they have none."""
        if user is None:
            return None
        if user.login == self.owner.login:
            return "admin"
        return self.collaborators.get(user.login)

    def can_read(self, user: User | None) -> bool:
        return not self.private or self.permission_of(user) is not None

    def can_write(self, user: User | None) -> bool:
        return self.permission_of(user) in WRITE_ROLES

    def pulls(self) -> list[Issue]:
        return [issue for issue in self.issues.values() if issue.pull is not None]
