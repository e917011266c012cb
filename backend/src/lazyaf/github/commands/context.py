"""What a command's agent is told about its thread, assembled in one place.

For the thread's issue and, once there is one, its pull request (one GraphQL query each:
``issueOrPullRequest`` with comments and review threads):

* the title, body, labels, author and state;
* the comments made **before the trigger**, not edited after it (GitHub's ``lastEditedAt``),
  not minimized, and not LazyAF's own (its marker);
* for a pull request, its unresolved review threads (resolved ones are counted), and from
  LazyAF's own copy of the branch the files changed and the recent commits;
* the trigger comment, last: the only instruction.

Every text from GitHub is sanitized (``sanitize``: HTML comments, zero-width and bidi characters,
hidden attributes; tags that would close the data block are defused) and each section is capped
by size, saying what was cut. The templates in ``prompts/github/`` put all of it inside a
``<github_data>`` block they call data, and the trigger alone inside ``<trigger_comment>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lazyaf.github.client import GitHubClient
from lazyaf.github.commands.gate import MARKER
from lazyaf.github.errors import GitHubNotFound
from lazyaf.github.sanitize import sanitize, sanitize_line

BODY_CHARS = 20_000
COMMENT_CHARS = 4_000
COMMENTS_CHARS = 40_000
THREADS_CHARS = 30_000
TRIGGER_CHARS = 20_000
MAX_FILES = 300
MAX_COMMITS = 20

_COMMENTS = (
    "comments(last: 100) { totalCount nodes {"
    " databaseId body createdAt updatedAt lastEditedAt isMinimized author { login } } }"
)
THREAD_QUERY = (
    "query LazyAFThread($owner: String!, $name: String!, $number: Int!) {"
    " repository(owner: $owner, name: $name) { issueOrPullRequest(number: $number) {"
    " __typename"
    " ... on Issue { number title body url issueState: state author { login }"
    " labels(first: 50) { nodes { name } } " + _COMMENTS + " }"
    " ... on PullRequest { number title body url pullState: state isDraft headRefName baseRefName"
    " isCrossRepository"
    " author { login } labels(first: 50) { nodes { name } } "
    + _COMMENTS
    + " reviewThreads(first: 100) { totalCount nodes { id isResolved isOutdated path line"
    " comments(first: 50) { nodes { databaseId body createdAt author { login } } } } } }"
    " } } }"
)


@dataclass
class Fetched:
    """One issue or pull request as GitHub answered (raw: filtered and sanitized by ``assemble``)."""

    number: int
    is_pr: bool
    title: str
    body: str
    url: str
    state: str
    author: str
    labels: list[str]
    comments: list[dict[str, Any]]
    comments_total: int
    threads: list[dict[str, Any]] = field(default_factory=list)
    draft: bool = False
    head: str | None = None
    base: str | None = None
    cross_repository: bool = False


async def fetch(client: GitHubClient, owner: str, name: str, number: int) -> Fetched:
    data = await client.graphql(THREAD_QUERY, {"owner": owner, "name": name, "number": number})
    node = ((data.get("repository") or {}).get("issueOrPullRequest")) or None
    if node is None:
        raise GitHubNotFound(f"{owner}/{name} has no issue or pull request #{number}.")
    is_pr = node.get("__typename") == "PullRequest"
    threads = (node.get("reviewThreads") or {}).get("nodes") or []
    comments = node.get("comments") or {}
    return Fetched(
        number=node["number"],
        is_pr=is_pr,
        title=node.get("title") or "",
        body=node.get("body") or "",
        url=node.get("url") or "",
        state=str(node.get("issueState") or node.get("pullState") or "").lower(),
        author=((node.get("author") or {}).get("login")) or "ghost",
        labels=[n["name"] for n in (node.get("labels") or {}).get("nodes") or [] if n and n.get("name")],
        comments=[c for c in comments.get("nodes") or [] if c],
        comments_total=int(comments.get("totalCount") or 0),
        threads=[t for t in threads if t],
        draft=bool(node.get("isDraft")),
        head=node.get("headRefName"),
        base=node.get("baseRefName"),
        cross_repository=bool(node.get("isCrossRepository")),
    )


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _cut_note(count: int, what: str) -> str | None:
    return f"{count} {what}(s) left out (size limit)" if count else None


def _comments(
    fetched: Fetched, trigger_at: datetime, trigger_id: int | None, new_since: datetime | None
) -> tuple[list[dict[str, Any]], list[str]]:
    kept: list[dict[str, Any]] = []
    notes: list[str] = []
    dropped = {"edited": 0, "minimized": 0}
    for c in fetched.comments:
        created = _time(c.get("createdAt"))
        if c.get("databaseId") == trigger_id or created is None or created >= trigger_at:
            continue  # the trigger itself, and everything after it
        if MARKER in (c.get("body") or ""):
            continue  # LazyAF's own
        edited = _time(c.get("lastEditedAt"))
        if edited is not None and edited > trigger_at:
            dropped["edited"] += 1  # changed after the command was given: not what the author saw
            continue
        if c.get("isMinimized"):
            dropped["minimized"] += 1
            continue
        kept.append(
            {
                "author": sanitize_line(((c.get("author") or {}).get("login")) or "ghost", limit=40),
                "at": c.get("createdAt"),
                "body": sanitize(c.get("body"), limit=COMMENT_CHARS),
                "new": new_since is not None and created > new_since,
            }
        )
    earlier = max(0, fetched.comments_total - len(fetched.comments))
    total = cut = 0
    for comment in reversed(kept):  # the newest are kept when the section is too long
        total += len(comment["body"])
        cut += total > COMMENTS_CHARS
    kept = kept[cut:]
    if earlier + cut:
        notes.append(f"{earlier + cut} older comment(s) left out (size limit)")
    if dropped["edited"]:
        notes.append(f"{dropped['edited']} comment(s) edited after the command left out")
    if dropped["minimized"]:
        notes.append(f"{dropped['minimized']} hidden (minimized) comment(s) left out")
    return kept, notes


def _threads(fetched: Fetched, trigger_at: datetime) -> tuple[list[dict[str, Any]], int, str | None]:
    open_threads = [t for t in fetched.threads if not t.get("isResolved")]
    resolved = len(fetched.threads) - len(open_threads)
    kept: list[dict[str, Any]] = []
    total = 0
    for index, thread in enumerate(open_threads, 1):
        comments = []
        for c in (thread.get("comments") or {}).get("nodes") or []:
            created = _time(c.get("createdAt"))
            if created is not None and created > trigger_at or MARKER in (c.get("body") or ""):
                continue
            body = sanitize(c.get("body"), limit=COMMENT_CHARS)
            total += len(body)
            comments.append(
                {
                    "id": c.get("databaseId"),
                    "author": sanitize_line(((c.get("author") or {}).get("login")) or "ghost", limit=40),
                    "body": body,
                }
            )
        if total > THREADS_CHARS:
            break
        first = next(iter((thread.get("comments") or {}).get("nodes") or []), None) or {}
        kept.append(
            {
                "index": index,
                "node_id": thread.get("id"),
                "first_comment_id": first.get("databaseId"),
                "path": sanitize_line(thread.get("path"), limit=300),
                "line": thread.get("line"),
                "outdated": bool(thread.get("isOutdated")),
                "comments": comments,
            }
        )
    cut = len(open_threads) - len(kept)
    return kept, resolved, _cut_note(cut, "unresolved review thread")


def _item(fetched: Fetched) -> dict[str, Any]:
    return {
        "number": fetched.number,
        "kind": "pull request" if fetched.is_pr else "issue",
        "title": sanitize_line(fetched.title, limit=300),
        "body": sanitize(fetched.body, limit=BODY_CHARS),
        "url": fetched.url,
        "author": sanitize_line(fetched.author, limit=40),
        "state": fetched.state,
        "labels": [sanitize_line(name, limit=100) for name in fetched.labels],
        "draft": fetched.draft,
        "head": fetched.head,
        "base": fetched.base,
    }


def assemble(
    *,
    repository: str,
    issue: Fetched | None,
    pull: Fetched | None,
    trigger: dict[str, Any],
    commits: list[dict[str, str]],
    files: list[dict[str, Any]],
    new_since: datetime | None = None,
) -> dict[str, Any]:
    """The ``github`` variable of the prompts/github templates."""
    trigger_at = _time(trigger.get("at")) or datetime.now(UTC)
    comments: list[dict[str, Any]] = []
    notes: list[str] = []
    for source in (issue, pull):
        if source is not None:
            found, said = _comments(source, trigger_at, trigger.get("comment_id"), new_since)
            for comment in found:
                comment["on"] = f"#{source.number}"
            comments += found
            notes += [f"#{source.number}: {n}" for n in said]
    comments.sort(key=lambda c: c["at"] or "")
    threads: list[dict[str, Any]] = []
    resolved = 0
    if pull is not None:
        threads, resolved, note = _threads(pull, trigger_at)
        if note:
            notes.append(note)
    if len(files) > MAX_FILES:
        notes.append(f"{len(files) - MAX_FILES} more changed files left out (size limit)")
    return {
        "repository": repository,
        "issue": _item(issue) if issue is not None else None,
        "pull": _item(pull) if pull is not None else None,
        "comments": comments,
        "threads": threads,
        "resolved_threads": resolved,
        "files": files[:MAX_FILES],
        "commits": commits[:MAX_COMMITS],
        "notes": notes,
        "trigger": {
            "author": sanitize_line(trigger.get("author") or "ghost", limit=40),
            "at": trigger.get("at"),
            "url": trigger.get("url"),
            "body": sanitize(trigger.get("body"), limit=TRIGGER_CHARS),
            "verb": trigger.get("verb"),
            "text": sanitize(trigger.get("text"), limit=TRIGGER_CHARS),
        },
    }
