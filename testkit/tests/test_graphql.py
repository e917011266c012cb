"""GraphQL on the fake: documents checked against GitHub's schema, review threads, ready-for-review."""

from __future__ import annotations

from typing import Any

import httpx

from lazyaf_testkit.github import FakeGitHub
from lazyaf_testkit.github.state import Repo

THREADS = """
query($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      id isDraft headRefName
      reviewThreads(first: 2) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { id isResolved path line comments(first: 10) { nodes { databaseId body author { login } } } }
      }
    }
  }
}
"""


def _gql(gh: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = gh.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_review_threads_with_is_resolved_and_paging(fake: FakeGitHub, repo: Repo, gh: httpx.Client) -> None:
    pr = fake.add_pull(repo, "Feature", head="feature", draft=True)
    first = fake.add_review_thread(pr, "rename this", path="a.py", line=3, user="octocat")
    fake.add_review_reply(first, "agreed", user="lazyaf-bot")
    fake.add_review_thread(pr, "done already", resolved=True)
    fake.add_review_thread(pr, "third")
    body = _gql(gh, THREADS, owner="octo-org", name="hello-world", number=pr.number)
    threads = body["data"]["repository"]["pullRequest"]["reviewThreads"]
    assert threads["totalCount"] == 3 and threads["pageInfo"]["hasNextPage"] is True
    assert [t["isResolved"] for t in threads["nodes"]] == [False, True]
    assert [c["body"] for c in threads["nodes"][0]["comments"]["nodes"]] == ["rename this", "agreed"]
    assert threads["nodes"][0]["comments"]["nodes"][0]["author"] == {"login": "octocat"}


def test_mark_ready_for_review_undrafts_the_pull_request(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client
) -> None:
    pr = fake.add_pull(repo, "Plan: x", head="lazyaf/1-x", draft=True)
    mutation = """mutation($id: ID!) {
      markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } }
    }"""
    body = _gql(gh, mutation, id=pr.node_id)
    assert body["data"]["markPullRequestReadyForReview"]["pullRequest"] == {"isDraft": False}
    assert pr.pull is not None and pr.pull.draft is False
    assert gh.get(f"/repos/octo-org/hello-world/pulls/{pr.number}").json()["draft"] is False
    assert fake.calls("graphql")[0].graphql_fields == ("markPullRequestReadyForReview",)


def test_resolving_and_replying_to_a_thread(fake: FakeGitHub, repo: Repo, gh: httpx.Client) -> None:
    pr = fake.add_pull(repo, "x", head="b")
    thread = fake.add_review_thread(pr, "fix")
    reply = """mutation($t: ID!, $b: String!) {
      addPullRequestReviewThreadReply(input: {pullRequestReviewThreadId: $t, body: $b}) { comment { body } }
    }"""
    answer = _gql(gh, reply, t=thread.node_id, b="Fixed in abc123")["data"]["addPullRequestReviewThreadReply"]
    assert answer["comment"] == {"body": "Fixed in abc123"}
    assert [c.body for c in thread.comments] == ["fix", "Fixed in abc123"]
    resolve = """mutation($t: ID!) {
      resolveReviewThread(input: {threadId: $t}) { thread { isResolved resolvedBy { login } } }
    }"""
    assert _gql(gh, resolve, t=thread.node_id)["data"]["resolveReviewThread"]["thread"] == {
        "isResolved": True,
        "resolvedBy": {"login": "lazyaf-bot"},
    }


def test_a_document_off_the_schema_is_a_violation_with_githubs_hint(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client
) -> None:
    query = """{ repository(owner: "octo-org", name: "hello-world") {
      pullRequest(number: 1) { reviewThreads(first: 1) { nodes { resolved } } } } }"""
    body = _gql(gh, query)
    assert "Did you mean 'isResolved'" in body["errors"][0]["message"]
    assert [v.kind for v in fake.problems()] == ["graphql"]
    fake.violations.clear()


def test_a_connection_without_first_or_last_is_a_violation(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client
) -> None:
    pr = fake.add_pull(repo, "x", head="b")
    _gql(
        gh,
        THREADS.replace("reviewThreads(first: 2)", "reviewThreads"),
        owner="octo-org",
        name="hello-world",
        number=pr.number,
    )
    assert "requires `first` or `last`" in fake.problems()[0].message
    fake.violations.clear()


def test_not_found_is_githubs_answer_not_a_violation(fake: FakeGitHub, repo: Repo, gh: httpx.Client) -> None:
    body = _gql(gh, THREADS, owner="octo-org", name="nope", number=1)
    assert body["data"] == {"repository": None}
    assert body["errors"][0]["type"] == "NOT_FOUND"
    assert fake.problems() == []


def test_a_field_the_fake_does_not_serve_is_named(fake: FakeGitHub, repo: Repo, gh: httpx.Client) -> None:
    _gql(gh, '{ repository(owner: "octo-org", name: "hello-world") { stargazerCount } }')
    assert "Repository.stargazerCount is GitHub's, but the fake does not serve it yet" in str(fake.problems())
    fake.violations.clear()


def test_graphql_needs_a_token_and_counts_its_own_quota(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client
) -> None:
    assert (
        gh.post("/graphql", json={"query": "{ viewer { login } }"}, headers={"Authorization": ""}).status_code
        == 401
    )
    response = gh.post("/graphql", json={"query": "{ viewer { login } rateLimit { remaining } }"})
    assert response.json()["data"]["viewer"] == {"login": "lazyaf-bot"}
    assert response.headers["x-ratelimit-resource"] == "graphql"


def test_graphql_faults_and_enterprise_endpoint(fake: FakeGitHub, repo: Repo, token: str) -> None:
    fake.fail_next("graphql", 502)
    with httpx.Client(
        transport=fake.transport(),
        base_url="https://ghe.example.com",
        headers={"Authorization": f"bearer {token}"},
    ) as gh:
        assert gh.post("/api/graphql", json={"query": "{ viewer { login } }"}).status_code == 502
        assert gh.post("/api/graphql", json={"query": "{ viewer { login } }"}).status_code == 200
    assert [c.prefix for c in fake.calls("graphql")] == ["/api", "/api"]
