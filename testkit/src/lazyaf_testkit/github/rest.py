"""The REST operations the fake implements, keyed by GitHub's operationId.

Each handler reads the request from ``Ctx``, changes the state and returns a ``Reply``; lists
return every item with ``paginate=True`` and the dispatcher slices them by ``per_page``/``page``.
Behaviour follows GitHub's documentation, including its sharp edges: ``GET /pulls?head=`` without
``owner:`` is ignored, ``labels=a,b`` means both, ``since`` compares ``updated_at``, a reaction
that exists answers 200 instead of 201, and ``PATCH /pulls`` cannot change ``draft``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from lazyaf_testkit.github.fake import Ctx, GitHubHTTPError, Reply
from lazyaf_testkit.github.render import REACTIONS
from lazyaf_testkit.github.state import (
    Comment,
    Issue,
    Label,
    Reaction,
    Repo,
    ReviewComment,
    ReviewThread,
    User,
)

HANDLERS: dict[str, Callable[[Ctx], Reply]] = {}
T = TypeVar("T")


def route(operation_id: str) -> Callable[[Callable[[Ctx], Reply]], Callable[[Ctx], Reply]]:
    def register(handler: Callable[[Ctx], Reply]) -> Callable[[Ctx], Reply]:
        HANDLERS[operation_id] = handler
        return handler

    return register


def _invalid(resource: str, field: str, code: str = "invalid", message: str | None = None) -> GitHubHTTPError:
    error: dict[str, Any] = {"resource": resource, "field": field, "code": code}
    if message is not None:
        error["message"] = message
    return GitHubHTTPError(422, "Validation Failed", errors=[error])


def _body(ctx: Ctx) -> dict[str, Any]:
    return ctx.body if isinstance(ctx.body, dict) else {}


def _since(ctx: Ctx) -> float | None:
    value = ctx.query.get("since")
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise _invalid("Search", "since") from exc


def _ordered(ctx: Ctx, items: Sequence[T], key: Callable[[T], Any], *, default_desc: bool) -> list[T]:
    direction = ctx.query.get("direction")
    desc = direction == "desc" if direction else default_desc
    return sorted(items, key=key, reverse=desc)


# -- users, repos, rate limit -----------------------------------------------------------------


@route("users/get-authenticated")
def get_authenticated(ctx: Ctx) -> Reply:
    return Reply(body=ctx.render.full_user(ctx.require_user(), private=True))


@route("users/get-by-username")
def get_user(ctx: Ctx) -> Reply:
    user = ctx.fake.users.get(ctx.params["username"].lower())
    if user is None:
        raise GitHubHTTPError(404, "Not Found")
    return Reply(body=ctx.render.full_user(user, private=False))


@route("rate-limit/get")
def get_rate_limit(ctx: Ctx) -> Reply:
    buckets = {}
    for resource in ("core", "graphql", "search"):
        limit, remaining, reset = ctx.fake.rate_limit(resource)
        buckets[resource] = (limit, remaining, reset)
    return Reply(body=ctx.render.rate_limit(buckets))


@route("repos/get")
def get_repo(ctx: Ctx) -> Reply:
    return Reply(body=ctx.render.repository(ctx.repo(), ctx.user, full=True))


@route("repos/get-collaborator-permission-level")
def get_permission(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    ctx.require_user()
    user = ctx.fake.users.get(ctx.params["username"].lower())
    if user is None:
        raise GitHubHTTPError(404, "Not Found")
    role = repo.permission_of(user)
    # The legacy "permission" field folds maintain into write and triage into read.
    legacy = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}
    return Reply(
        body={
            "permission": legacy[role] if role else ("read" if not repo.private else "none"),
            "role_name": role or ("read" if not repo.private else "none"),
            "user": ctx.render.collaborator(user, role or "read") if role or not repo.private else None,
        }
    )


@route("issues/list-labels-for-repo")
def list_labels(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    return Reply(body=[ctx.render.label(repo, lb) for lb in repo.labels.values()], paginate=True)


@route("issues/list-milestones")
def list_milestones(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    state = ctx.query.get("state", "open")
    found = [m for m in repo.milestones.values() if state == "all" or m.state == state]
    return Reply(body=[ctx.render.milestone(repo, m) for m in found], paginate=True)


# -- issues -----------------------------------------------------------------------------------


def _matches(issue: Issue, ctx: Ctx, since: float | None) -> bool:
    q = ctx.query
    state = q.get("state", "open")
    if state != "all" and issue.state != state:
        return False
    if "labels" in q:
        wanted = {name.strip().lower() for name in q["labels"].split(",") if name.strip()}
        if not wanted <= {lb.name.lower() for lb in issue.labels}:
            return False
    milestone = q.get("milestone")
    if milestone == "none" and issue.milestone is not None:
        return False
    if milestone == "*" and issue.milestone is None:
        return False
    if milestone not in (None, "none", "*") and (
        issue.milestone is None or str(issue.milestone.number) != milestone
    ):
        return False
    assignee = q.get("assignee")
    logins = {u.login.lower() for u in issue.assignees}
    if assignee == "none" and logins or assignee == "*" and not logins:
        return False
    if assignee not in (None, "none", "*") and assignee.lower() not in logins:
        return False
    if "creator" in q and issue.user.login.lower() != q["creator"].lower():
        return False
    if "mentioned" in q:
        texts = [issue.body or "", *(c.body for c in issue.comments)]
        if not any(f"@{q['mentioned']}".lower() in t.lower() for t in texts):
            return False
    return since is None or issue.updated_at >= since


@route("issues/list-for-repo")
def list_issues(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    since = _since(ctx)
    found = [i for i in repo.issues.values() if _matches(i, ctx, since)]
    sort = ctx.query.get("sort", "created")
    keys: dict[str, Callable[[Issue], Any]] = {
        "created": lambda i: (i.created_at, i.number),
        "updated": lambda i: (i.updated_at, i.number),
        "comments": lambda i: (len(i.comments), i.number),
    }
    found = _ordered(ctx, found, keys[sort], default_desc=True)
    return Reply(body=[ctx.render.issue(i) for i in found], paginate=True)


@route("issues/get")
def get_issue(ctx: Ctx) -> Reply:
    return Reply(body=ctx.render.issue(ctx.issue(ctx.repo())))


def _labels(ctx: Ctx, repo: Repo, given: Iterable[Any]) -> list[Label]:
    names = [g["name"] if isinstance(g, dict) else str(g) for g in given]
    return [ctx.fake.label(repo, name) for name in names]


def _users(ctx: Ctx, logins: Iterable[str]) -> list[User]:
    users = []
    for login in logins:
        user = ctx.fake.users.get(login.lower())
        if user is None:
            raise _invalid("Issue", "assignees", "invalid", f"{login} is not a GitHub user")
        users.append(user)
    return users


def _apply_issue_fields(ctx: Ctx, repo: Repo, issue: Issue, data: dict[str, Any]) -> None:
    if "title" in data:
        if data["title"] in (None, ""):
            raise _invalid("Issue", "title", "missing_field")
        issue.title = str(data["title"])
    if "body" in data:
        issue.body = data["body"]
    if "labels" in data:
        issue.labels = _labels(ctx, repo, data["labels"] or [])
    if "assignees" in data:
        issue.assignees = _users(ctx, data["assignees"] or [])
    elif "assignee" in data:
        issue.assignees = _users(ctx, [data["assignee"]] if data["assignee"] else [])
    if "milestone" in data:
        number = data["milestone"]
        if number is None:
            issue.milestone = None
        else:
            found = repo.milestones.get(int(number))
            if found is None:
                raise _invalid("Issue", "milestone")
            issue.milestone = found
    state = data.get("state")
    if state == "closed" and issue.state == "open":
        issue.state, issue.closed_at, issue.closed_by = "closed", ctx.now, ctx.user
        issue.state_reason = data.get("state_reason") or "completed"
    elif state == "open" and issue.state == "closed":
        issue.state, issue.closed_at, issue.closed_by, issue.state_reason = "open", None, None, "reopened"


@route("issues/create")
def create_issue(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    user = ctx.require_user()
    data = _body(ctx)
    if data.get("title") in (None, ""):
        raise _invalid("Issue", "title", "missing_field")
    issue = ctx.fake.add_issue(repo, str(data["title"]), body=data.get("body"), user=user.login)
    _apply_issue_fields(ctx, repo, issue, {k: v for k, v in data.items() if k not in ("title", "body")})
    return Reply(
        201,
        ctx.render.issue(issue),
        {"location": f"{ctx.render.api}/repos/{repo.full_name}/issues/{issue.number}"},
    )


@route("issues/update")
def update_issue(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    issue = ctx.issue(repo)
    user = ctx.require_user()
    if issue.user is not user:
        ctx.require_write(repo)
    _apply_issue_fields(ctx, repo, issue, _body(ctx))
    issue.updated_at = ctx.now
    return Reply(body=ctx.render.issue(issue))


@route("issues/list-labels-on-issue")
def list_issue_labels(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    issue = ctx.issue(repo)
    return Reply(body=[ctx.render.label(repo, lb) for lb in issue.labels], paginate=True)


@route("issues/add-labels")
def add_labels(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    issue = ctx.issue(repo)
    ctx.require_write(repo)
    given = ctx.body.get("labels", []) if isinstance(ctx.body, dict) else (ctx.body or [])
    for label in _labels(ctx, repo, given):
        if label not in issue.labels:
            issue.labels.append(label)
    issue.updated_at = ctx.now
    return Reply(body=[ctx.render.label(repo, lb) for lb in issue.labels])


@route("issues/remove-label")
def remove_label(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    issue = ctx.issue(repo)
    ctx.require_write(repo)
    name = ctx.params["name"].lower()
    kept = [lb for lb in issue.labels if lb.name.lower() != name]
    if len(kept) == len(issue.labels):
        raise GitHubHTTPError(404, "Label does not exist")
    issue.labels, issue.updated_at = kept, ctx.now
    return Reply(body=[ctx.render.label(repo, lb) for lb in issue.labels])


# -- issue comments ---------------------------------------------------------------------------


def _comment(ctx: Ctx, repo: Repo) -> Comment:
    wanted = int(ctx.params["comment_id"]) if ctx.params["comment_id"].isdigit() else -1
    for issue in repo.issues.values():
        for comment in issue.comments:
            if comment.id == wanted:
                return comment
    raise GitHubHTTPError(404, "Not Found")


def _comment_list(ctx: Ctx, comments: list[Comment]) -> Reply:
    since = _since(ctx)
    found = [c for c in comments if since is None or c.updated_at >= since]
    sort = ctx.query.get("sort")
    if sort is not None:
        key: Callable[[Comment], Any] = (
            (lambda c: (c.updated_at, c.id)) if sort == "updated" else (lambda c: (c.created_at, c.id))
        )
        found = _ordered(ctx, found, key, default_desc=True)
    else:
        found = sorted(found, key=lambda c: c.id)
    return Reply(body=[ctx.render.comment(c) for c in found], paginate=True)


@route("issues/list-comments")
def list_comments(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    return _comment_list(ctx, list(ctx.issue(repo).comments))


@route("issues/list-comments-for-repo")
def list_repo_comments(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    return _comment_list(ctx, [c for i in repo.issues.values() for c in i.comments])


@route("issues/get-comment")
def get_comment(ctx: Ctx) -> Reply:
    return Reply(body=ctx.render.comment(_comment(ctx, ctx.repo())))


@route("issues/create-comment")
def create_comment(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    issue = ctx.issue(repo)
    user = ctx.require_user()
    if issue.locked and not repo.can_write(user):
        raise GitHubHTTPError(403, "Unable to create comment because issue is locked.")
    comment = ctx.fake.add_comment(issue, _body(ctx)["body"], user=user.login)
    location = f"{ctx.render.api}/repos/{repo.full_name}/issues/comments/{comment.id}"
    return Reply(201, ctx.render.comment(comment), {"location": location})


@route("issues/update-comment")
def update_comment(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    comment = _comment(ctx, repo)
    user = ctx.require_user()
    if comment.user is not user:
        ctx.require_write(repo)
    comment.body, comment.updated_at = _body(ctx)["body"], ctx.now
    return Reply(body=ctx.render.comment(comment))


@route("issues/delete-comment")
def delete_comment(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    comment = _comment(ctx, repo)
    if comment.user is not ctx.require_user():
        ctx.require_write(repo)
    comment.issue.comments.remove(comment)
    return Reply(204)


# -- reactions --------------------------------------------------------------------------------


def _react(ctx: Ctx, reactions: list[Reaction]) -> Reply:
    user = ctx.require_user()
    content = _body(ctx).get("content")
    if content not in REACTIONS:
        raise _invalid("Reaction", "content")
    for existing in reactions:
        if existing.user is user and existing.content == content:
            return Reply(200, ctx.render.reaction(existing))
    reaction = Reaction(user=user, content=content, created_at=ctx.now)
    reactions.append(reaction)
    return Reply(201, ctx.render.reaction(reaction))


def _reaction_list(ctx: Ctx, reactions: list[Reaction]) -> Reply:
    content = ctx.query.get("content")
    found = [r for r in reactions if content is None or r.content == content]
    return Reply(body=[ctx.render.reaction(r) for r in found], paginate=True)


@route("reactions/create-for-issue-comment")
def react_issue_comment(ctx: Ctx) -> Reply:
    return _react(ctx, _comment(ctx, ctx.repo()).reactions)


@route("reactions/list-for-issue-comment")
def list_issue_comment_reactions(ctx: Ctx) -> Reply:
    return _reaction_list(ctx, _comment(ctx, ctx.repo()).reactions)


@route("reactions/create-for-issue")
def react_issue(ctx: Ctx) -> Reply:
    return _react(ctx, ctx.issue(ctx.repo()).reactions)


@route("reactions/list-for-issue")
def list_issue_reactions(ctx: Ctx) -> Reply:
    return _reaction_list(ctx, ctx.issue(ctx.repo()).reactions)


@route("reactions/create-for-pull-request-review-comment")
def react_review_comment(ctx: Ctx) -> Reply:
    return _react(ctx, _review_comment(ctx, ctx.repo()).reactions)


@route("reactions/list-for-pull-request-review-comment")
def list_review_comment_reactions(ctx: Ctx) -> Reply:
    return _reaction_list(ctx, _review_comment(ctx, ctx.repo()).reactions)


# -- pull requests ----------------------------------------------------------------------------


def _head_ref(repo: Repo, head: str) -> str:
    owner, sep, ref = head.partition(":")
    if not sep:
        return head
    if owner.lower() != repo.owner.login.lower():
        raise _invalid(
            "PullRequest", "head", message="The fake GitHub has no forks; use a branch of this repo."
        )
    return ref


@route("pulls/list")
def list_pulls(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    state = ctx.query.get("state", "open")
    found = [p for p in repo.pulls() if state == "all" or p.state == state]
    head = ctx.query.get("head")
    # GitHub ignores a head filter without "owner:" (a classic cause of duplicate pull requests).
    if head and ":" in head:
        owner, _, ref = head.partition(":")
        found = [
            p for p in found if p.pull and p.pull.head == ref and owner.lower() == repo.owner.login.lower()
        ]
    if "base" in ctx.query:
        found = [p for p in found if p.pull and p.pull.base == ctx.query["base"]]
    sort = ctx.query.get("sort", "created")
    key: Callable[[Issue], Any] = (
        (lambda p: (p.updated_at, p.number)) if sort == "updated" else (lambda p: (p.created_at, p.number))
    )
    # GitHub: descending when sorting by creation (the default), ascending otherwise.
    found = _ordered(ctx, found, key, default_desc=sort == "created")
    return Reply(body=[ctx.render.pull(p, ctx.user, simple=True) for p in found], paginate=True)


@route("pulls/get")
def get_pull(ctx: Ctx) -> Reply:
    return Reply(body=ctx.render.pull(ctx.issue(ctx.repo(), "pull_number", pull=True), ctx.user))


@route("pulls/create")
def create_pull(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    user = ctx.require_write(repo)
    data = _body(ctx)
    if "issue" in data:
        raise _invalid(
            "PullRequest", "issue", message="The fake GitHub does not convert issues to pull requests."
        )
    if not data.get("title"):
        raise _invalid("PullRequest", "title", "missing_field")
    head, base = _head_ref(repo, data["head"]), data["base"]
    if repo.branches:
        if head not in repo.branches:
            raise _invalid("PullRequest", "head")
        if base not in repo.branches:
            raise _invalid("PullRequest", "base")
    if head == base:
        raise _invalid("PullRequest", "head", "custom", f"No commits between {base} and {head}")
    for existing in repo.pulls():
        assert existing.pull is not None
        if existing.state == "open" and existing.pull.head == head and existing.pull.base == base:
            raise _invalid(
                "PullRequest",
                "head",
                "custom",
                f"A pull request already exists for {repo.owner.login}:{head}.",
            )
    pr = ctx.fake.add_pull(
        repo,
        data["title"],
        head=head,
        base=base,
        body=data.get("body"),
        user=user.login,
        draft=bool(data.get("draft", False)),
    )
    assert pr.pull is not None
    pr.pull.maintainer_can_modify = bool(data.get("maintainer_can_modify", True))
    location = f"{ctx.render.api}/repos/{repo.full_name}/pulls/{pr.number}"
    return Reply(201, ctx.render.pull(pr, ctx.user), {"location": location})


@route("pulls/update")
def update_pull(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    pr = ctx.issue(repo, "pull_number", pull=True)
    user = ctx.require_user()
    if pr.user is not user:
        ctx.require_write(repo)
    data = _body(ctx)
    assert pr.pull is not None
    if "base" in data:
        if repo.branches and data["base"] not in repo.branches:
            raise _invalid("PullRequest", "base")
        pr.pull.base = data["base"]
    if "maintainer_can_modify" in data:
        pr.pull.maintainer_can_modify = bool(data["maintainer_can_modify"])
    _apply_issue_fields(ctx, repo, pr, {k: data[k] for k in ("title", "body", "state") if k in data})
    pr.updated_at = ctx.now
    return Reply(body=ctx.render.pull(pr, ctx.user))


# -- review comments --------------------------------------------------------------------------


def _all_review_comments(repo: Repo) -> list[ReviewComment]:
    return [rc for p in repo.pulls() if p.pull for t in p.pull.threads for rc in t.comments]


def _review_comment(ctx: Ctx, repo: Repo) -> ReviewComment:
    wanted = int(ctx.params["comment_id"]) if ctx.params["comment_id"].isdigit() else -1
    for rc in _all_review_comments(repo):
        if rc.id == wanted:
            return rc
    raise GitHubHTTPError(404, "Not Found")


def _review_list(ctx: Ctx, comments: list[ReviewComment]) -> Reply:
    since = _since(ctx)
    found = [c for c in comments if since is None or c.updated_at >= since]
    sort = ctx.query.get("sort")
    if sort is not None:
        key: Callable[[ReviewComment], Any] = (
            (lambda c: (c.updated_at, c.id)) if sort == "updated" else (lambda c: (c.created_at, c.id))
        )
        found = _ordered(ctx, found, key, default_desc=True)
    else:
        found = sorted(found, key=lambda c: c.id)
    return Reply(body=[ctx.render.review_comment(c) for c in found], paginate=True)


@route("pulls/list-review-comments-for-repo")
def list_repo_review_comments(ctx: Ctx) -> Reply:
    return _review_list(ctx, _all_review_comments(ctx.repo()))


@route("pulls/list-review-comments")
def list_review_comments(ctx: Ctx) -> Reply:
    pr = ctx.issue(ctx.repo(), "pull_number", pull=True)
    assert pr.pull is not None
    return _review_list(ctx, [rc for t in pr.pull.threads for rc in t.comments])


@route("pulls/get-review-comment")
def get_review_comment(ctx: Ctx) -> Reply:
    return Reply(body=ctx.render.review_comment(_review_comment(ctx, ctx.repo())))


@route("pulls/update-review-comment")
def update_review_comment(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    rc = _review_comment(ctx, repo)
    if rc.user is not ctx.require_user():
        ctx.require_write(repo)
    rc.body, rc.updated_at = _body(ctx)["body"], ctx.now
    return Reply(body=ctx.render.review_comment(rc))


@route("pulls/create-reply-for-review-comment")
def reply_review_comment(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    pr = ctx.issue(repo, "pull_number", pull=True)
    user = ctx.require_user()
    target = _review_comment(ctx, repo)
    thread: ReviewThread = target.thread
    if thread.pull is not pr:
        raise GitHubHTTPError(404, "Not Found")
    if target.in_reply_to is not None:
        # GitHub: replies to replies are not supported; answer on the thread's first comment.
        raise _invalid(
            "PullRequestReviewComment", "in_reply_to", "custom", "replies to replies are not supported"
        )
    rc = ctx.fake.add_review_reply(thread, _body(ctx)["body"], user=user.login)
    location = f"{ctx.render.api}/repos/{repo.full_name}/pulls/comments/{rc.id}"
    return Reply(201, ctx.render.review_comment(rc), {"location": location})
