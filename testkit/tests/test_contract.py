"""The fake holds requests to GitHub's description: unknown operations, bad queries, bad bodies."""

from __future__ import annotations

import httpx
import pytest

from lazyaf_testkit.github import FakeGitHub
from lazyaf_testkit.github.spec import load


@pytest.mark.parametrize(
    ("method", "path", "operation", "params"),
    [
        ("GET", "/repos/o/r/issues", "issues/list-for-repo", {"owner": "o", "repo": "r"}),
        ("GET", "/repos/o/r/issues/comments", "issues/list-comments-for-repo", {"owner": "o", "repo": "r"}),
        ("GET", "/repos/o/r/issues/12", "issues/get", {"owner": "o", "repo": "r", "issue_number": "12"}),
        (
            "PATCH",
            "/repos/o/r/issues/comments/5",
            "issues/update-comment",
            {"owner": "o", "repo": "r", "comment_id": "5"},
        ),
        (
            "GET",
            "/repos/o/r/contents/src/a%20b.py",
            "repos/get-content",
            {"owner": "o", "repo": "r", "path": "src/a b.py"},
        ),
        (
            "GET",
            "/repos/o/r/git/ref/heads/lazyaf/12-x",
            "git/get-ref",
            {"owner": "o", "repo": "r", "ref": "heads/lazyaf/12-x"},
        ),
    ],
)
def test_requests_resolve_to_github_operations(
    method: str, path: str, operation: str, params: dict[str, str]
) -> None:
    match = load().resolve(method, path)
    assert match is not None
    assert (match.operation.id, match.params) == (operation, params)


def test_every_operation_of_the_description_is_indexed() -> None:
    spec = load()
    counted = sum(
        1
        for item in spec.document["paths"].values()
        for m in item
        if m in ("get", "post", "put", "patch", "delete")
    )
    assert len(spec.operations) == counted > 1000


def test_an_unknown_operation_is_a_501_and_a_violation(fake: FakeGitHub, gh: httpx.Client) -> None:
    response = gh.delete("/repos/octo-org/hello-world/issues")
    assert response.status_code == 501
    assert "no GitHub operation is DELETE" in response.json()["message"]
    [violation] = fake.problems()
    assert violation.kind == "unknown_operation"
    with pytest.raises(AssertionError, match="1 contract violation"):
        fake.assert_clean()
    fake.violations.clear()


def test_a_known_operation_the_fake_lacks_is_named(fake: FakeGitHub, gh: httpx.Client) -> None:
    response = gh.get("/repos/octo-org/hello-world/actions/runs")
    assert response.status_code == 501
    assert [v.kind for v in fake.problems()] == ["unimplemented"]
    assert "actions/list-workflow-runs-for-repo" in str(fake.problems()[0])
    fake.violations.clear()


def test_a_body_off_the_schema_is_a_violation(fake: FakeGitHub, gh: httpx.Client) -> None:
    gh.post(
        "/repos/octo-org/hello-world/pulls", json={"title": "t", "head": "x", "base": "main", "draft": "yes"}
    )
    gh.patch("/repos/octo-org/hello-world/issues/comments/1", json={"text": "x"})
    messages = [v.message for v in fake.problems()]
    assert "pulls/create body at draft: 'yes' is not of type 'boolean'" in messages
    assert "issues/update-comment body at (root): 'body' is a required property" in messages
    fake.violations.clear()


def test_a_misspelt_or_invalid_query_parameter_is_a_violation(fake: FakeGitHub, gh: httpx.Client) -> None:
    gh.get("/repos/octo-org/hello-world/issues", params={"label": "bug", "state": "opened", "per_page": "x"})
    messages = sorted(v.message for v in fake.problems())
    assert messages == [
        "issues/list-for-repo has no query parameter 'label'",
        "issues/list-for-repo query per_page: 'x' is not an integer",
        "issues/list-for-repo query state: 'opened' is not one of ['open', 'closed', 'all']",
    ]
    fake.violations.clear()


def test_a_body_sent_to_an_operation_without_one_is_a_violation(fake: FakeGitHub, gh: httpx.Client) -> None:
    gh.request("GET", "/repos/octo-org/hello-world", json={"x": 1})
    assert [v.message for v in fake.problems()] == ["repos/get takes no JSON body, but one was sent"]
    fake.violations.clear()


def test_calls_are_recorded_without_the_token(fake: FakeGitHub, gh: httpx.Client, token: str) -> None:
    gh.post("/repos/octo-org/hello-world/issues", json={"title": "Bug"})
    [call] = fake.calls("issues/create")
    assert (call.method, call.path, call.status, call.body) == (
        "POST",
        "/repos/octo-org/hello-world/issues",
        201,
        {"title": "Bug"},
    )
    assert call.response["number"] == 1
    assert token not in repr(fake.calls())
