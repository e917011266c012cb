"""``/_fake/...``: seed and inspect a fake GitHub from another process (Playwright e2e, shell).

``POST /_fake/seed`` takes ``{"users": [...], "tokens": [{"user", "token"}], "repos": [{"full_name",
"private", "default_branch", "collaborators", "branches"}], "issues": [{"repo", "title", "body", "user",
"labels", "assignees", "milestone", "state"}], "pulls": [{"repo", "title", "head", "base", "body",
"user", "draft"}], "comments": [{"repo", "number", "body", "user"}]}``;
``POST /_fake/faults`` takes ``{"operation", "status"}`` or ``{"operation", "kind", "retry_after",
"reset_in"}`` (plus ``times``); ``GET /_fake/calls`` and ``GET /_fake/violations`` report.
These paths are not GitHub's and are never recorded as calls.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lazyaf_testkit.github.fake import FakeGitHub


def seed(fake: FakeGitHub, spec: dict[str, Any]) -> dict[str, Any]:
    """Apply a seed document; answers the numbers given to issues and pulls, in order."""
    for user in spec.get("users", []):
        if isinstance(user, str):
            fake.add_user(user)
        else:
            fake.add_user(user["login"], type=user.get("type", "User"))
    for token in spec.get("tokens", []):
        fake.add_token(token["user"], token["token"])
    for repo in spec.get("repos", []):
        fake.add_repo(
            repo["full_name"],
            private=repo.get("private", False),
            default_branch=repo.get("default_branch", "main"),
            collaborators=repo.get("collaborators"),
            branches=repo.get("branches", ()),
        )
    issues = [
        fake.add_issue(
            fake.repo(i["repo"]),
            i["title"],
            body=i.get("body", ""),
            user=i.get("user"),
            labels=i.get("labels", ()),
            assignees=i.get("assignees", ()),
            milestone=i.get("milestone"),
            state=i.get("state", "open"),
        ).number
        for i in spec.get("issues", [])
    ]
    pulls = [
        fake.add_pull(
            fake.repo(p["repo"]),
            p["title"],
            head=p["head"],
            base=p.get("base"),
            body=p.get("body", ""),
            user=p.get("user"),
            draft=p.get("draft", False),
        ).number
        for p in spec.get("pulls", [])
    ]
    comments = [
        fake.add_comment(fake.repo(c["repo"]).issues[c["number"]], c["body"], user=c.get("user")).id
        for c in spec.get("comments", [])
    ]
    return {"issues": issues, "pulls": pulls, "comments": comments}


def handle(fake: FakeGitHub, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    payload = json.loads(body) if body.strip() else {}
    answer: Any
    if (method, path) == ("POST", "/_fake/seed"):
        answer = seed(fake, payload)
    elif (method, path) == ("POST", "/_fake/faults"):
        times = payload.get("times", 1)
        if "kind" in payload:
            fake.rate_limit_next(
                payload["operation"],
                payload["kind"],
                times=times,
                retry_after=payload.get("retry_after", 1),
                reset_in=payload.get("reset_in", 1),
            )
        else:
            fake.fail_next(payload["operation"], payload.get("status", 502), times=times)
        answer = {"ok": True}
    elif (method, path) == ("GET", "/_fake/calls"):
        answer = [asdict(call) for call in fake.calls()]
    elif (method, path) == ("GET", "/_fake/violations"):
        answer = [str(v) for v in fake.problems()]
    else:
        return 404, {"content-type": "application/json"}, b'{"message": "no such control path"}'
    return 200, {"content-type": "application/json"}, json.dumps(answer).encode()
