"""GitHub's JSON shapes for the fake's state, built on the spec's own ``components/examples``.

Each renderer starts from the official example (so every field GitHub sends is there, with a
plausible value), rewrites its URLs to the fake's, and overrides what the state knows. About one
official response example in five fails its own schema (missing ``has_discussions``, ``type`` on
a team, ...); the fixes are here, and ``tests/test_responses.py`` proves every answer validates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lazyaf_testkit.github.spec import Spec
from lazyaf_testkit.github.state import (
    Comment,
    Issue,
    Label,
    Milestone,
    Reaction,
    Repo,
    ReviewComment,
    User,
)

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rebase(value: Any, swaps: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in swaps:
            if value.startswith(old):
                return new + value[len(old) :]
        return value
    if isinstance(value, dict):
        return {k: _rebase(v, swaps) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebase(v, swaps) for v in value]
    return value


@dataclass
class Renderer:
    """Renders for one request: ``api`` is the base the client used (``http://h:p`` or ``…/api/v3``)."""

    spec: Spec
    api: str
    html: str

    def _example(self, name: str) -> Any:
        return self.spec.example(name)

    # -- people ------------------------------------------------------------------------------

    def user(self, user: User) -> dict[str, Any]:
        u = f"{self.api}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": user.node_id,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": u,
            "html_url": f"{self.html}/{user.login}",
            "followers_url": f"{u}/followers",
            "following_url": f"{u}/following{{/other_user}}",
            "gists_url": f"{u}/gists{{/gist_id}}",
            "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{u}/subscriptions",
            "organizations_url": f"{u}/orgs",
            "repos_url": f"{u}/repos",
            "events_url": f"{u}/events{{/privacy}}",
            "received_events_url": f"{u}/received_events",
            "type": user.type,
            "site_admin": False,
            "user_view_type": "public",
        }

    def full_user(self, user: User, *, private: bool) -> dict[str, Any]:
        """``private-user`` (``GET /user``) or ``public-user`` (``GET /users/{login}``)."""
        example = self._example("private-user")
        if not private:
            example = {k: v for k, v in example.items() if k in _PUBLIC_USER_KEYS}
        when = iso(user.created_at)
        out = {**example, **self.user(user), "name": user.name, "created_at": when, "updated_at": when}
        out["user_view_type"] = "private" if private else "public"  # the oneOf's discriminator
        return out

    def collaborator(self, user: User, role: str) -> dict[str, Any]:
        perms = permissions(role)
        return {**self.user(user), "permissions": perms, "role_name": role}

    # -- repos -------------------------------------------------------------------------------

    def _repo_swaps(self, repo: Repo) -> list[tuple[str, str]]:
        host = self.html.split("://", 1)[-1]
        return [
            ("https://api.github.com/repos/octocat/Hello-World", f"{self.api}/repos/{repo.full_name}"),
            ("https://github.com/octocat/Hello-World", f"{self.html}/{repo.full_name}"),
            ("git:github.com/octocat/Hello-World", f"git:{host}/{repo.full_name}"),
            ("git@github.com:octocat/Hello-World", f"git@{host}:{repo.full_name}"),
            ("https://svn.github.com/octocat/Hello-World", f"https://svn.{host}/{repo.full_name}"),
        ]

    def repository(self, repo: Repo, viewer: User | None, *, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = _rebase(self._example("full-repository"), self._repo_swaps(repo))
        if not full:
            for key in ("organization", "parent", "source", "network_count", "subscribers_count"):
                out.pop(key, None)
        open_issues = sum(1 for i in repo.issues.values() if i.state == "open")
        out.update(
            id=repo.id,
            node_id=repo.node_id,
            name=repo.name,
            full_name=repo.full_name,
            owner=self.user(repo.owner),
            private=repo.private,
            visibility="private" if repo.private else "public",
            description=repo.description,
            fork=False,
            default_branch=repo.default_branch,
            open_issues=open_issues,
            open_issues_count=open_issues,
            has_discussions=False,
            created_at=iso(repo.created_at),
            updated_at=iso(repo.created_at),
            pushed_at=iso(repo.created_at),
            topics=[],
            mirror_url=None,
            homepage=None,
            language=None,
            license=None,
            archived=False,
            disabled=False,
        )
        role = repo.permission_of(viewer)
        if role is not None or not repo.private:
            out["permissions"] = permissions(role or "read")
        else:
            out.pop("permissions", None)
        out.pop("template_repository", None)
        out.pop("security_and_analysis", None)
        return out

    # -- issues ------------------------------------------------------------------------------

    def label(self, repo: Repo, label: Label) -> dict[str, Any]:
        return {
            "id": label.id,
            "node_id": label.node_id,
            "url": f"{self.api}/repos/{repo.full_name}/labels/{label.name}",
            "name": label.name,
            "description": label.description,
            "color": label.color,
            "default": False,
        }

    def milestone(self, repo: Repo, ms: Milestone | None) -> dict[str, Any] | None:
        if ms is None:
            return None
        issues = [i for i in repo.issues.values() if i.milestone is ms]
        return {
            "url": f"{self.api}/repos/{repo.full_name}/milestones/{ms.number}",
            "html_url": f"{self.html}/{repo.full_name}/milestones/{ms.title}",
            "labels_url": f"{self.api}/repos/{repo.full_name}/milestones/{ms.number}/labels",
            "id": ms.id,
            "node_id": ms.node_id,
            "number": ms.number,
            "state": ms.state,
            "title": ms.title,
            "description": ms.description,
            "creator": self.user(ms.creator),
            "open_issues": sum(1 for i in issues if i.state == "open"),
            "closed_issues": sum(1 for i in issues if i.state == "closed"),
            "created_at": iso(ms.created_at),
            "updated_at": iso(ms.created_at),
            "closed_at": None,
            "due_on": None,
        }

    def rollup(self, url: str, reactions: Iterable[Reaction]) -> dict[str, Any]:
        counts = dict.fromkeys(REACTIONS, 0)
        for reaction in reactions:
            counts[reaction.content] += 1
        return {"url": url, "total_count": sum(counts.values()), **counts}

    def reaction(self, reaction: Reaction) -> dict[str, Any]:
        return {
            "id": reaction.id,
            "node_id": reaction.node_id,
            "user": self.user(reaction.user),
            "content": reaction.content,
            "created_at": iso(reaction.created_at),
        }

    def issue(self, issue: Issue) -> dict[str, Any]:
        repo = issue.repo
        base = f"{self.api}/repos/{repo.full_name}"
        url = f"{base}/issues/{issue.number}"
        kind = "pull" if issue.pull is not None else "issues"
        out: dict[str, Any] = {
            "id": issue.id,
            "node_id": issue.node_id,
            "url": url,
            "repository_url": base,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.html}/{repo.full_name}/{kind}/{issue.number}",
            "number": issue.number,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "title": issue.title,
            "body": issue.body,
            "user": self.user(issue.user),
            "labels": [self.label(repo, label) for label in issue.labels],
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(u) for u in issue.assignees],
            "milestone": self.milestone(repo, issue.milestone),
            "locked": issue.locked,
            "active_lock_reason": None,
            "comments": len(issue.comments),
            "closed_at": iso(issue.closed_at),
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_by": self.user(issue.closed_by) if issue.closed_by else None,
            "author_association": association(repo, issue.user),
            "performed_via_github_app": None,
            "reactions": self.rollup(f"{url}/reactions", issue.reactions),
            "timeline_url": f"{url}/timeline",
        }
        if issue.pull is not None:
            pulls = f"{base}/pulls/{issue.number}"
            out["pull_request"] = {
                "url": pulls,
                "html_url": f"{self.html}/{repo.full_name}/pull/{issue.number}",
                "diff_url": f"{self.html}/{repo.full_name}/pull/{issue.number}.diff",
                "patch_url": f"{self.html}/{repo.full_name}/pull/{issue.number}.patch",
                "merged_at": iso(issue.pull.merged_at),
            }
            out["draft"] = issue.pull.draft
        return out

    def comment(self, comment: Comment) -> dict[str, Any]:
        issue = comment.issue
        base = f"{self.api}/repos/{issue.repo.full_name}"
        kind = "pull" if issue.is_pull else "issues"
        url = f"{base}/issues/comments/{comment.id}"
        return {
            "id": comment.id,
            "node_id": comment.node_id,
            "url": url,
            "html_url": f"{self.html}/{issue.repo.full_name}/{kind}/{issue.number}#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self.user(comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "issue_url": f"{base}/issues/{issue.number}",
            "author_association": association(issue.repo, comment.user),
            "performed_via_github_app": None,
            "reactions": self.rollup(f"{url}/reactions", comment.reactions),
        }

    # -- pull requests -----------------------------------------------------------------------

    def _branch(self, pr: Issue, ref: str, sha: str, viewer: User | None) -> dict[str, Any]:
        repo = pr.repo
        return {
            "label": f"{repo.owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": self.repository(repo, viewer),
        }

    def pull(self, pr: Issue, viewer: User | None, *, simple: bool = False) -> dict[str, Any]:
        assert pr.pull is not None
        repo = pr.repo
        base = f"{self.api}/repos/{repo.full_name}"
        url = f"{base}/pulls/{pr.number}"
        html = f"{self.html}/{repo.full_name}/pull/{pr.number}"
        issue_url = f"{base}/issues/{pr.number}"
        merged = pr.pull.merged_at is not None
        out: dict[str, Any] = {
            "url": url,
            "id": pr.id,
            "node_id": pr.node_id,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_url,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{base}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{base}/statuses/{pr.pull.head_sha}",
            "number": pr.number,
            "state": pr.state,
            "locked": pr.locked,
            "title": pr.title,
            "user": self.user(pr.user),
            "body": pr.body,
            "labels": [self.label(repo, label) for label in pr.labels],
            "milestone": self.milestone(repo, pr.milestone),
            "active_lock_reason": None,
            "created_at": iso(pr.created_at),
            "updated_at": iso(pr.updated_at),
            "closed_at": iso(pr.closed_at),
            "merged_at": iso(pr.pull.merged_at),
            "merge_commit_sha": None,
            "assignee": self.user(pr.assignees[0]) if pr.assignees else None,
            "assignees": [self.user(u) for u in pr.assignees],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": self._branch(pr, pr.pull.head, pr.pull.head_sha, viewer),
            "base": self._branch(pr, pr.pull.base, pr.pull.base_sha, viewer),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": issue_url},
                "comments": {"href": f"{issue_url}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{base}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{base}/statuses/{pr.pull.head_sha}"},
            },
            "author_association": association(repo, pr.user),
            "auto_merge": None,
            "draft": pr.pull.draft,
        }
        if not simple:
            out.update(
                merged=merged,
                mergeable=None if merged or pr.state == "closed" else True,
                rebaseable=None,
                mergeable_state="unknown" if pr.pull.draft else "clean",
                merged_by=None,
                comments=len(pr.comments),
                review_comments=sum(len(t.comments) for t in pr.pull.threads),
                maintainer_can_modify=pr.pull.maintainer_can_modify,
                commits=1,
                additions=0,
                deletions=0,
                changed_files=0,
            )
        return out

    def review_comment(self, rc: ReviewComment) -> dict[str, Any]:
        thread = rc.thread
        pr = thread.pull
        assert pr.pull is not None
        base = f"{self.api}/repos/{pr.repo.full_name}"
        url = f"{base}/pulls/comments/{rc.id}"
        html = f"{self.html}/{pr.repo.full_name}/pull/{pr.number}#discussion_r{rc.id}"
        out: dict[str, Any] = {
            "url": url,
            "pull_request_review_id": rc.review_id,
            "id": rc.id,
            "node_id": rc.node_id,
            "diff_hunk": f"@@ -1,{thread.line} +1,{thread.line} @@",
            "path": thread.path,
            "position": thread.line,
            "original_position": thread.line,
            "commit_id": pr.pull.head_sha,
            "original_commit_id": pr.pull.head_sha,
            "user": self.user(rc.user),
            "body": rc.body,
            "created_at": iso(rc.created_at),
            "updated_at": iso(rc.updated_at),
            "html_url": html,
            "pull_request_url": f"{base}/pulls/{pr.number}",
            "author_association": association(pr.repo, rc.user),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "pull_request": {"href": f"{base}/pulls/{pr.number}"},
            },
            "start_line": None,
            "original_start_line": None,
            "start_side": None,
            "line": thread.line,
            "original_line": thread.line,
            "side": thread.side,
            "subject_type": "line",
            "reactions": self.rollup(f"{url}/reactions", rc.reactions),
        }
        if rc.in_reply_to is not None:
            out["in_reply_to_id"] = rc.in_reply_to.id
        return out

    def rate_limit(self, buckets: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
        """``buckets``: resource → (limit, remaining, reset epoch)."""

        def one(name: str) -> dict[str, int]:
            limit, remaining, reset = buckets[name]
            return {"limit": limit, "remaining": remaining, "reset": reset, "used": limit - remaining}

        return {"resources": {name: one(name) for name in buckets}, "rate": one("core")}


_PUBLIC_USER_KEYS = {
    "bio", "blog", "company", "email", "followers", "following", "hireable", "location",
    "name", "public_gists", "public_repos", "twitter_username",
}  # fmt: skip


def permissions(role: str) -> dict[str, bool]:
    order = ["read", "triage", "write", "maintain", "admin"]
    rank = order.index(role)
    return {
        "admin": rank >= 4,
        "maintain": rank >= 3,
        "push": rank >= 2,
        "triage": rank >= 1,
        "pull": True,
    }


def association(repo: Repo, user: User) -> str:
    if user.login == repo.owner.login:
        return "OWNER"
    if user.login in repo.collaborators:
        return "COLLABORATOR"
    if any(i.user is user for i in repo.issues.values()):
        return "CONTRIBUTOR" if any(i.is_pull and i.user is user for i in repo.issues.values()) else "NONE"
    return "NONE"
