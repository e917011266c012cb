"""GitHub's GraphQL API on the fake: documents validated against ``@octokit/graphql-schema``, then run.

The schema comes from the official introspection JSON (``build_schema`` on GitHub's SDL fails on
duplicate fields). graphql-core's interface-deprecation check rejects GitHub's schema, so the
schema's own validation errors are cleared before documents are validated. Documents that do
not validate, bad variables, a connection without ``first``/``last`` and any field the fake
does not model are violations; ``NOT_FOUND``/``FORBIDDEN`` answers are GitHub's own and are not.

Objects are served as dict views whose values are plain data or ``(info, **args)`` callables;
graphql-core does the selection, nullability and scalar work, so answers have GitHub's shape.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    build_client_schema,
    execute,
    parse,
    validate,
)
from graphql.language import FieldNode

from lazyaf_testkit.github import data
from lazyaf_testkit.github.render import iso
from lazyaf_testkit.github.state import Comment, Issue, Repo, ReviewComment, ReviewThread, User

if TYPE_CHECKING:
    from lazyaf_testkit.github.fake import FakeGitHub, _Request

View = dict[str, Any]
Info = GraphQLResolveInfo[Any]  # resolver info; its context is a _Context


@cache
def schema() -> GraphQLSchema:
    built = build_client_schema(data.graphql_introspection())  # type: ignore[arg-type]
    built._validation_errors = []  # GitHub's schema trips graphql-core's interface-deprecation rule
    return built


class DomainError(Exception):
    """An answer GitHub gives in ``errors`` with a ``type`` (NOT_FOUND, FORBIDDEN, ...)."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_


@dataclass
class _Context:
    fake: FakeGitHub
    viewer: User
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _resolve(source: Any, info: Info, **args: Any) -> Any:
    if not isinstance(source, dict):
        return None
    if info.field_name not in source:
        info.context.missing.append(f"{info.parent_type.name}.{info.field_name}")
        return None
    value = source[info.field_name]
    return value(info, **args) if callable(value) else value


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _uncursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(base64.b64decode(cursor).decode().split(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise DomainError(
            "INVALID_CURSOR_ARGUMENTS", f"`{cursor}` does not appear to be a valid cursor."
        ) from exc


def connection(items: Sequence[Any], view: Callable[[Any], View]) -> Callable[..., View]:
    """A GitHub connection over ``items`` (``first``/``after``/``last``/``before``; one bound required)."""

    def resolve(info: Info, **args: Any) -> View:
        first, last = args.get("first"), args.get("last")
        where = f"{info.parent_type.name}.{info.field_name}"
        if first is None and last is None:
            info.context.problems.append(f"{where}: GitHub requires `first` or `last` on a connection")
        for bound in (first, last):
            if bound is not None and not 0 <= bound <= 100:
                info.context.problems.append(f"{where}: `first`/`last` must be between 0 and 100")
        start, end = 0, len(items)
        after, before = _uncursor(args.get("after")), _uncursor(args.get("before"))
        if after is not None:
            start = after + 1
        if before is not None:
            end = min(end, before)
        if first is not None:
            end = min(end, start + first)
        if last is not None:
            start = max(start, end - last)
        window = list(enumerate(items))[start:end]
        return {
            "nodes": [view(item) for _, item in window],
            "edges": [{"cursor": _cursor(i), "node": view(item)} for i, item in window],
            "totalCount": len(items),
            "pageInfo": {
                "hasNextPage": end < len(items),
                "hasPreviousPage": start > 0,
                "startCursor": _cursor(window[0][0]) if window else None,
                "endCursor": _cursor(window[-1][0]) if window else None,
            },
        }

    return resolve


class _Views:
    def __init__(self, fake: FakeGitHub, viewer: User, api: str) -> None:
        self.fake, self.viewer, self.html = fake, viewer, fake.html_url

    def actor(self, user: User | None) -> View | None:
        if user is None:
            return None
        return {
            "__typename": "Bot" if user.type == "Bot" else "User",
            "id": user.node_id,
            "databaseId": user.id,
            "login": user.login,
            "name": user.name,
            "url": f"{self.html}/{user.login}",
            "resourcePath": f"/{user.login}",
            "avatarUrl": lambda info, **a: f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
        }

    def user(self, user: User) -> View:
        view = self.actor(user)
        assert view is not None
        return view

    def repo(self, repo: Repo) -> View:
        role = repo.permission_of(self.viewer)

        def numbered(kind: str) -> Callable[..., View | None]:
            def resolve(info: Info, number: int, **_: Any) -> View | None:
                issue = repo.issues.get(number)
                if (
                    issue is None
                    or (kind == "pull" and not issue.is_pull)
                    or (kind == "issue" and issue.is_pull)
                ):
                    what = "PullRequest" if kind == "pull" else "Issue"
                    raise DomainError(
                        "NOT_FOUND", f"Could not resolve to a {what} with the number of {number}."
                    )
                return self.issue(issue)

            return resolve

        return {
            "__typename": "Repository",
            "id": repo.node_id,
            "databaseId": repo.id,
            "name": repo.name,
            "nameWithOwner": repo.full_name,
            "owner": self.actor(repo.owner),
            "url": f"{self.html}/{repo.full_name}",
            "isPrivate": repo.private,
            "defaultBranchRef": {"__typename": "Ref", "name": repo.default_branch, "prefix": "refs/heads/"},
            "viewerPermission": role.upper() if role else ("READ" if not repo.private else None),
            "pullRequest": numbered("pull"),
            "issue": numbered("issue"),
            "issueOrPullRequest": numbered("any"),
        }

    def label(self, label: Any) -> View:
        return {
            "__typename": "Label",
            "id": label.node_id,
            "name": label.name,
            "color": label.color,
            "description": label.description,
        }

    def comment(self, c: Comment) -> View:
        return {
            "__typename": "IssueComment",
            "id": c.node_id,
            "databaseId": c.id,
            "fullDatabaseId": str(c.id),
            "body": c.body,
            "author": self.actor(c.user),
            "authorAssociation": "OWNER" if c.user is c.issue.repo.owner else "NONE",
            "createdAt": iso(c.created_at),
            "updatedAt": iso(c.updated_at),
            "lastEditedAt": iso(c.updated_at) if c.updated_at != c.created_at else None,
            "url": f"{self.html}/{c.issue.repo.full_name}/issues/{c.issue.number}#issuecomment-{c.id}",
            "isMinimized": c.minimized,
            "minimizedReason": None,
            "viewerDidAuthor": c.user is self.viewer,
        }

    def review_comment(self, rc: ReviewComment) -> View:
        thread = rc.thread
        return {
            "__typename": "PullRequestReviewComment",
            "id": rc.node_id,
            "databaseId": rc.id,
            "fullDatabaseId": str(rc.id),
            "body": rc.body,
            "author": self.actor(rc.user),
            "createdAt": iso(rc.created_at),
            "updatedAt": iso(rc.updated_at),
            "url": f"{self.html}/{thread.pull.repo.full_name}/pull/{thread.pull.number}#discussion_r{rc.id}",
            "path": thread.path,
            "line": thread.line,
            "originalLine": thread.line,
            "diffHunk": f"@@ -1,{thread.line} +1,{thread.line} @@",
            "outdated": thread.outdated,
            "isMinimized": False,
            "minimizedReason": None,
            "state": "SUBMITTED",
            "replyTo": lambda info, **a: self.review_comment(rc.in_reply_to) if rc.in_reply_to else None,
            "viewerDidAuthor": rc.user is self.viewer,
        }

    def thread(self, t: ReviewThread) -> View:
        return {
            "__typename": "PullRequestReviewThread",
            "id": t.node_id,
            "isResolved": t.resolved,
            "isOutdated": t.outdated,
            "isCollapsed": t.resolved,
            "path": t.path,
            "line": t.line,
            "originalLine": t.line,
            "startLine": None,
            "diffSide": t.side,
            "subjectType": "LINE",
            "resolvedBy": self.actor(t.resolved_by),
            "viewerCanReply": True,
            "viewerCanResolve": t.pull.repo.can_write(self.viewer) and not t.resolved,
            "viewerCanUnresolve": t.pull.repo.can_write(self.viewer) and t.resolved,
            "comments": connection(t.comments, self.review_comment),
            "pullRequest": lambda info, **a: self.issue(t.pull),
        }

    def issue(self, i: Issue) -> View:
        view: View = {
            "__typename": "PullRequest" if i.is_pull else "Issue",
            "id": i.node_id,
            "databaseId": i.id,
            "number": i.number,
            "title": i.title,
            "body": i.body or "",
            "url": f"{self.html}/{i.repo.full_name}/{'pull' if i.is_pull else 'issues'}/{i.number}",
            "author": self.actor(i.user),
            "createdAt": iso(i.created_at),
            "updatedAt": iso(i.updated_at),
            "closed": i.state == "closed",
            "closedAt": iso(i.closed_at),
            "locked": i.locked,
            "labels": connection(i.labels, self.label),
            "assignees": connection(i.assignees, self.user),
            "comments": connection(i.comments, self.comment),
            "repository": lambda info, **a: self.repo(i.repo),
        }
        if i.pull is None:
            view["state"] = i.state.upper()
            view["stateReason"] = i.state_reason.upper() if i.state_reason else None
            return view
        merged = i.pull.merged_at is not None
        view.update(
            state="MERGED" if merged else i.state.upper(),
            merged=merged,
            mergedAt=iso(i.pull.merged_at),
            isDraft=i.pull.draft,
            headRefName=i.pull.head,
            baseRefName=i.pull.base,
            headRefOid=i.pull.head_sha,
            baseRefOid=i.pull.base_sha,
            isCrossRepository=False,
            maintainerCanModify=i.pull.maintainer_can_modify,
            mergeable="UNKNOWN" if i.pull.draft else "MERGEABLE",
            permalink=view["url"],
            reviewThreads=connection(i.pull.threads, self.thread),
        )
        return view

    def node(self, obj: object) -> View | None:
        if isinstance(obj, Issue):
            return self.issue(obj)
        if isinstance(obj, Comment):
            return self.comment(obj)
        if isinstance(obj, ReviewThread):
            return self.thread(obj)
        if isinstance(obj, ReviewComment):
            return self.review_comment(obj)
        if isinstance(obj, Repo):
            return self.repo(obj)
        if isinstance(obj, User):
            return self.actor(obj)
        return None


def _root(fake: FakeGitHub, viewer: User, api: str) -> tuple[View, View]:
    views = _Views(fake, viewer, api)

    def find(node_id: str, kind: type, what: str) -> Any:
        obj = fake.nodes.get(node_id)
        if not isinstance(obj, kind) or (
            isinstance(obj, Issue) and what == "PullRequest" and not obj.is_pull
        ):
            raise DomainError("NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'")
        repo = _repo_of(obj)
        if repo is not None and not repo.can_read(viewer):
            raise DomainError("NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'")
        return obj

    def writable(obj: Any, *, author: User | None = None) -> None:
        repo = _repo_of(obj)
        if repo is not None and not repo.can_write(viewer) and author is not viewer:
            raise DomainError("FORBIDDEN", "Resource not accessible by personal access token")

    def repository(info: Info, owner: str, name: str, **_: Any) -> View:
        repo = fake.repos.get(f"{owner}/{name}".lower())
        if repo is None or not repo.can_read(viewer):
            raise DomainError(
                "NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'."
            )
        return views.repo(repo)

    def rate_limit(info: Info, **_: Any) -> View:
        limit, remaining, reset = fake.rate_limit("graphql")
        return {
            "limit": limit,
            "remaining": remaining,
            "used": limit - remaining,
            "cost": 1,
            "nodeCount": 1,
            "resetAt": iso(reset),
        }

    def set_draft(draft: bool) -> Callable[..., View]:
        def mutate(info: Info, input: dict[str, Any]) -> View:
            pr = find(input["pullRequestId"], Issue, "PullRequest")
            writable(pr, author=pr.user)
            pr.pull.draft = draft
            pr.updated_at = fake.now()
            return {"clientMutationId": input.get("clientMutationId"), "pullRequest": views.issue(pr)}

        return mutate

    def set_resolved(resolved: bool) -> Callable[..., View]:
        def mutate(info: Info, input: dict[str, Any]) -> View:
            thread = find(input["threadId"], ReviewThread, "PullRequestReviewThread")
            writable(thread)
            thread.resolved, thread.resolved_by = resolved, viewer if resolved else None
            return {"clientMutationId": input.get("clientMutationId"), "thread": views.thread(thread)}

        return mutate

    def thread_reply(info: Info, input: dict[str, Any]) -> View:
        thread = find(input["pullRequestReviewThreadId"], ReviewThread, "PullRequestReviewThread")
        rc = fake.add_review_reply(thread, input["body"], user=viewer.login)
        return {"clientMutationId": input.get("clientMutationId"), "comment": views.review_comment(rc)}

    def add_comment(info: Info, input: dict[str, Any]) -> View:
        issue = find(input["subjectId"], Issue, "Issue")
        comment = fake.add_comment(issue, input["body"], user=viewer.login)
        edge = {"cursor": _cursor(len(issue.comments) - 1), "node": views.comment(comment)}
        return {
            "clientMutationId": input.get("clientMutationId"),
            "commentEdge": edge,
            "subject": views.issue(issue),
            "timelineEdge": None,
        }

    query: View = {
        "repository": repository,
        "viewer": lambda info, **a: views.actor(viewer),
        "rateLimit": rate_limit,
        "node": lambda info, id, **a: views.node(find(id, object, "node")),
        "nodes": lambda info, ids, **a: [views.node(fake.nodes[i]) if i in fake.nodes else None for i in ids],
    }
    mutation: View = {
        "markPullRequestReadyForReview": set_draft(False),
        "convertPullRequestToDraft": set_draft(True),
        "resolveReviewThread": set_resolved(True),
        "unresolveReviewThread": set_resolved(False),
        "addPullRequestReviewThreadReply": thread_reply,
        "addComment": add_comment,
    }
    return query, mutation


def _repo_of(obj: object) -> Repo | None:
    if isinstance(obj, Repo):
        return obj
    if isinstance(obj, Issue):
        return obj.repo
    if isinstance(obj, Comment):
        return obj.issue.repo
    if isinstance(obj, ReviewThread):
        return obj.pull.repo
    if isinstance(obj, ReviewComment):
        return obj.thread.pull.repo
    return None


def _top_fields(document: Any, operation_name: str | None) -> tuple[str, tuple[str, ...]]:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None or (definition.name and definition.name.value == operation_name)
        ):
            names = tuple(
                s.name.value for s in definition.selection_set.selections if isinstance(s, FieldNode)
            )
            return definition.operation.value, names
    return "query", ()


def handle(fake: FakeGitHub, req: _Request) -> tuple[int, dict[str, str], bytes]:
    """Answer ``POST /graphql`` (``/api/graphql`` on Enterprise)."""
    from lazyaf_testkit.github.fake import Reply

    payload = req.json()
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        fake._violate("graphql", req, "graphql", 'the body is not {"query": ..., "variables": ...}')
        return fake._finish(req, "graphql", Reply(400, {"message": "Problems parsing JSON"}), "graphql")
    try:
        document = parse(payload["query"])
    except GraphQLError as exc:
        fake._violate("graphql", req, "graphql", f"does not parse: {exc.message}")
        return fake._finish(req, "graphql", Reply(200, {"errors": [exc.formatted]}), "graphql")
    kind, fields = _top_fields(document, payload.get("operationName"))
    fault = next((f for f in (fake._take_fault(f"graphql:{name}") for name in fields) if f), None)
    fault = fault or fake._take_fault("graphql")
    if fault is not None:
        return fake._answer_fault(req, "graphql", fault)
    user, denied = fake._authenticate(req)
    if denied is not None or user is None:
        body: dict[str, Any] = {
            "message": "This endpoint requires you to be authenticated.",
            "documentation_url": "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql",
        }
        return fake._finish(req, "graphql", Reply(401, body), "graphql", count=False, graphql_fields=fields)
    exhausted = fake._exhausted("graphql")
    if exhausted is not None:
        body = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]}
        return fake._finish(req, "graphql", Reply(200, body), "graphql", count=False, graphql_fields=fields)
    errors = validate(schema(), document)
    if errors:
        for error in errors:
            fake._violate("graphql", req, "graphql", error.message)
        reply = Reply(200, {"errors": [e.formatted for e in errors]})
        return fake._finish(req, "graphql", reply, "graphql", graphql_fields=fields)
    context = _Context(fake, user)
    query, mutation = _root(fake, user, req.origin + req.prefix)
    result = execute(
        schema(),
        document,
        root_value=mutation if kind == "mutation" else query,
        context_value=context,
        variable_values=payload.get("variables") or {},
        operation_name=payload.get("operationName"),
        field_resolver=_resolve,
    )
    assert isinstance(result, ExecutionResult)
    body = _format(fake, req, result, context)
    return fake._finish(req, "graphql", Reply(200, body), "graphql", graphql_fields=fields)


def _format(fake: FakeGitHub, req: _Request, result: ExecutionResult, context: _Context) -> dict[str, Any]:
    for name in context.missing:
        fake._violate("graphql", req, "graphql", f"{name} is GitHub's, but the fake does not serve it yet")
    for problem in context.problems:
        fake._violate("graphql", req, "graphql", problem)
    body: dict[str, Any] = {"data": result.data}
    errors = []
    for error in result.errors or []:
        formatted = dict(error.formatted)
        if isinstance(error.original_error, DomainError):
            formatted["type"] = error.original_error.type
        else:
            fake._violate("graphql", req, "graphql", error.message)
        errors.append(formatted)
    if errors:
        body["errors"] = errors
    json.dumps(body)  # fail here, not in the transport, if a view leaked a non-JSON value
    return body
