"""Every operation the fake implements answers with a body that validates against GitHub's schema.

The fake validates each answer against the documented response schema as it sends it (a
mismatch is a ``response`` violation); this walk calls every implemented operation with a 2xx
outcome, so a clean fake at the end proves the whole set.
"""

from __future__ import annotations

import httpx

from lazyaf_testkit.github import FakeGitHub
from lazyaf_testkit.github.rest import HANDLERS
from lazyaf_testkit.github.state import Repo

R = "/repos/octo-org/hello-world"


def test_every_implemented_operation_answers_within_its_schema(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client
) -> None:
    fake.add_user("octocat")
    fake.milestone(repo, "v1")
    issue = fake.add_issue(
        repo, "Seeded", labels=["bug"], assignees=["octocat"], milestone="v1", user="octocat"
    )
    fake.add_comment(issue, "first", user="octocat")
    pr = fake.add_pull(repo, "Seeded PR", head="feature")
    thread = fake.add_review_thread(pr, "nit: rename", path="a.py", line=3, user="octocat")
    review_id = thread.comments[0].id

    ok = [
        gh.get("/user"),
        gh.get("/users/octocat"),
        gh.get("/rate_limit"),
        gh.get(R),
        gh.get(f"{R}/collaborators/lazyaf-bot/permission"),
        gh.get(f"{R}/collaborators/octocat/permission"),
        gh.get(f"{R}/labels"),
        gh.get(f"{R}/milestones"),
        gh.get(
            f"{R}/issues", params={"state": "all", "labels": "bug", "milestone": "1", "assignee": "octocat"}
        ),
        gh.get(f"{R}/issues/{issue.number}"),
        gh.post(
            f"{R}/issues",
            json={"title": "New", "body": "b", "labels": ["x"], "assignees": ["octocat"], "milestone": 1},
        ),
        gh.patch(
            f"{R}/issues/{issue.number}",
            json={"state": "closed", "state_reason": "not_planned", "milestone": None},
        ),
        gh.get(f"{R}/issues/{issue.number}/labels"),
        gh.post(f"{R}/issues/{issue.number}/labels", json={"labels": ["triaged"]}),
        gh.delete(f"{R}/issues/{issue.number}/labels/bug"),
        gh.get(f"{R}/issues/{issue.number}/comments", params={"since": "2000-01-01T00:00:00Z"}),
        gh.get(f"{R}/issues/comments", params={"sort": "updated", "direction": "asc"}),
    ]
    created = gh.post(f"{R}/issues/{issue.number}/comments", json={"body": "hello"})
    comment_id = created.json()["id"]
    ok += [
        created,
        gh.get(f"{R}/issues/comments/{comment_id}"),
        gh.patch(f"{R}/issues/comments/{comment_id}", json={"body": "- [x] plan"}),
        gh.post(f"{R}/issues/comments/{comment_id}/reactions", json={"content": "eyes"}),
        gh.post(f"{R}/issues/comments/{comment_id}/reactions", json={"content": "eyes"}),
        gh.get(f"{R}/issues/comments/{comment_id}/reactions"),
        gh.post(f"{R}/issues/{issue.number}/reactions", json={"content": "+1"}),
        gh.get(f"{R}/issues/{issue.number}/reactions"),
        gh.post(f"{R}/pulls/comments/{review_id}/reactions", json={"content": "rocket"}),
        gh.get(f"{R}/pulls/comments/{review_id}/reactions"),
        gh.delete(f"{R}/issues/comments/{comment_id}"),
        gh.get(f"{R}/pulls", params={"state": "all", "head": "octo-org:feature"}),
        gh.post(
            f"{R}/pulls",
            json={
                "title": "Card 7",
                "head": "lazyaf/7-x",
                "base": "main",
                "body": "Closes #1",
                "draft": True,
            },
        ),
        gh.get(f"{R}/pulls/{pr.number}"),
        gh.patch(f"{R}/pulls/{pr.number}", json={"title": "Renamed", "body": "new", "state": "closed"}),
        gh.get(f"{R}/pulls/comments", params={"since": "2000-01-01T00:00:00Z"}),
        gh.get(f"{R}/pulls/{pr.number}/comments"),
        gh.get(f"{R}/pulls/comments/{review_id}"),
        gh.post(f"{R}/pulls/{pr.number}/comments/{review_id}/replies", json={"body": "done"}),
    ]
    octocat_token = fake.add_token("octocat")
    ok.append(
        gh.patch(
            f"{R}/pulls/comments/{review_id}",
            json={"body": "edited"},
            headers={"Authorization": f"token {octocat_token}"},
        )
    )
    assert [r.status_code for r in ok if not r.is_success] == []
    exercised = {c.operation for c in fake.calls() if 200 <= c.status < 300}
    assert exercised == set(HANDLERS), f"not exercised: {set(HANDLERS) - exercised}"
    # The fake validated each answer against the documented schema as it sent it.
    assert fake.problems() == []


def test_the_official_examples_fail_their_own_schema_and_the_fake_does_not_use_them_raw(
    fake: FakeGitHub,
) -> None:
    # A finding worth keeping in view: GitHub's own pull-request example lacks a required field.
    errors = fake.spec.validate("/components/schemas/pull-request", fake.spec.example("pull-request"))
    assert errors == ["at requested_teams/0: 'type' is a required property"]
