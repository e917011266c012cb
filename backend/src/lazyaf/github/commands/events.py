"""The normalized event both doors produce: one comment on one thread, with its author.

A webhook's payload (``issue_comment``, ``pull_request_review_comment``, ``pull_request_review``),
a comment the poller listed, and the CLI's ``lazyaf github run`` all become a ``CommentEvent``;
the gate and everything after it see only that. Payloads are read tolerantly (GitHub's own
examples do not all match its schema): a missing field is ``None``, never an error, and what
cannot be read at all is a ``Malformed`` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

HANDLED = {
    ("issue_comment", "created"),
    ("pull_request_review_comment", "created"),
    ("pull_request_review", "submitted"),
}
KIND_OF_EVENT = {
    "issue_comment": "issue_comment",
    "pull_request_review_comment": "review_comment",
    "pull_request_review": "review",
}


class Malformed(Exception):
    """The payload lacks what a command needs; the message says what."""


@dataclass(frozen=True)
class CommentEvent:
    source: str  # webhook | poll | cli
    event: str
    action: str
    repository: str  # owner/name as GitHub spells it
    number: int  # the issue or pull request
    is_pr: bool
    kind: str  # issue_comment | review_comment | review | cli
    comment_id: int | None
    body: str
    author_login: str
    author_id: int | None
    author_type: str  # User | Bot | Organization | LazyAF (the CLI)
    created_at: str | None
    url: str | None
    title: str = ""
    reply_to_id: int | None = None  # review comments: the first comment of their thread

    @property
    def key(self) -> str | None:
        """What makes a comment one command whichever door it came through."""
        return f"{self.kind}:{self.comment_id}" if self.comment_id is not None else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CommentEvent:
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})  # type: ignore[arg-type]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def repository_of(payload: dict[str, Any]) -> str | None:
    repo = _dict(payload.get("repository"))
    full = _str(repo.get("full_name"))
    if full:
        return full
    owner = _str(_dict(repo.get("owner")).get("login"))
    name = _str(repo.get("name"))
    return f"{owner}/{name}" if owner and name else None


def from_webhook(event: str, payload: dict[str, Any]) -> CommentEvent:
    """A handled webhook delivery as a ``CommentEvent`` (the caller checked ``HANDLED``)."""
    action = _str(payload.get("action")) or ""
    repository = repository_of(payload)
    if repository is None:
        raise Malformed("The payload names no repository.")
    if event == "issue_comment":
        issue, comment = _dict(payload.get("issue")), _dict(payload.get("comment"))
        number, is_pr = _int(issue.get("number")), bool(issue.get("pull_request"))
        title = _str(issue.get("title")) or ""
        reply_to = None
    elif event == "pull_request_review_comment":
        pull, comment = _dict(payload.get("pull_request")), _dict(payload.get("comment"))
        number, is_pr, title = _int(pull.get("number")), True, _str(pull.get("title")) or ""
        reply_to = _int(comment.get("in_reply_to_id")) or _int(comment.get("id"))
    else:  # pull_request_review
        pull, comment = _dict(payload.get("pull_request")), _dict(payload.get("review"))
        number, is_pr, title = _int(pull.get("number")), True, _str(pull.get("title")) or ""
        reply_to = None
    if number is None:
        raise Malformed(f"The {event} payload has no issue or pull request number.")
    user = _dict(comment.get("user")) or _dict(payload.get("sender"))
    login = _str(user.get("login"))
    if not login:
        raise Malformed(f"The {event} payload does not say who wrote the comment.")
    return CommentEvent(
        source="webhook",
        event=event,
        action=action,
        repository=repository,
        number=number,
        is_pr=is_pr,
        kind=KIND_OF_EVENT[event],
        comment_id=_int(comment.get("id")),
        body=_str(comment.get("body")) or "",
        author_login=login,
        author_id=_int(user.get("id")),
        author_type=_str(user.get("type")) or "User",
        created_at=_str(comment.get("created_at")) or _str(comment.get("submitted_at")),
        url=_str(comment.get("html_url")),
        title=title,
        reply_to_id=reply_to,
    )


_NUMBER_IN_URL = re.compile(r"/(?:issues|pulls|pull)/(\d+)(?:$|[/#?])")


def from_polled(kind: str, repository: str, comment: dict[str, Any]) -> CommentEvent:
    """A comment the poller listed (``issue_comment`` from issues/comments, ``review_comment`` from
    pulls/comments) as the event a webhook would have brought."""
    if kind == "issue_comment":
        match = _NUMBER_IN_URL.search(_str(comment.get("issue_url")) or "")
        html = _str(comment.get("html_url")) or ""
        is_pr = "/pull/" in html
        event, reply_to = "issue_comment", None
    else:
        match = _NUMBER_IN_URL.search(_str(comment.get("pull_request_url")) or "")
        is_pr, event = True, "pull_request_review_comment"
        reply_to = _int(comment.get("in_reply_to_id")) or _int(comment.get("id"))
    if match is None:
        raise Malformed("The comment does not say which issue or pull request it is on.")
    user = _dict(comment.get("user"))
    return CommentEvent(
        source="poll",
        event=event,
        action="created",
        repository=repository,
        number=int(match.group(1)),
        is_pr=is_pr,
        kind=kind,
        comment_id=_int(comment.get("id")),
        body=_str(comment.get("body")) or "",
        author_login=_str(user.get("login")) or "ghost",
        author_id=_int(user.get("id")),
        author_type=_str(user.get("type")) or "User",
        created_at=_str(comment.get("created_at")),
        url=_str(comment.get("html_url")),
        reply_to_id=reply_to,
    )
