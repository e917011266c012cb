"""The fake behaves like GitHub where LazyAF depends on it: paging, ETags, limits, faults, permissions."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from lazyaf_testkit.clock import FakeClock as Clock
from lazyaf_testkit.github import FakeGitHub, data
from lazyaf_testkit.github.state import Repo

R = "/repos/octo-org/hello-world"


def _walk(gh: httpx.Client, url: str, **params: str) -> tuple[list[dict[str, object]], list[str]]:
    items: list[dict[str, object]] = []
    urls = []
    response = gh.get(url, params=params)
    while True:
        urls.append(str(response.url))
        items += response.json()
        nxt = response.links.get("next")
        if nxt is None:
            return items, urls
        response = gh.get(nxt["url"])


def test_issues_page_by_link_to_the_end_with_pull_requests_mixed_in(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client
) -> None:
    for n in range(15):
        if n % 5 == 2:
            fake.add_pull(repo, f"PR {n}", head=f"b{n}")
        else:
            fake.add_issue(repo, f"Issue {n}")
    items, urls = _walk(gh, f"{R}/issues", per_page="3")
    assert len(urls) == 5
    assert len(items) == 15 and len([i for i in items if "pull_request" not in i]) == 12
    # GitHub's next links name the repository by id, as the recorded fixtures show.
    assert urls[1] == f"https://api.github.com/repositories/{repo.id}/issues?per_page=3&page=2"
    assert [i["number"] for i in items] == list(range(15, 0, -1))


def test_link_header_carries_prev_first_last(fake: FakeGitHub, repo: Repo, gh: httpx.Client) -> None:
    for n in range(7):
        fake.add_issue(repo, f"Issue {n}")
    response = gh.get(f"{R}/issues", params={"per_page": 3, "page": 2})
    assert set(response.links) == {"prev", "next", "last", "first"}
    assert response.links["last"]["url"].endswith("per_page=3&page=3")
    assert "link" not in gh.get(f"{R}/issues", params={"per_page": 10}).headers


def test_if_none_match_answers_304_and_spares_the_quota(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client
) -> None:
    issue = fake.add_issue(repo, "Watch me")
    first = gh.get(f"{R}/issues")
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    again = gh.get(f"{R}/issues", headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    fake.add_comment(issue, "changed")
    assert gh.get(f"{R}/issues", headers={"If-None-Match": etag}).status_code == 200


def test_rate_limit_headers_count_down_and_refill_at_reset(
    fake: FakeGitHub, clock: Clock, repo: Repo, gh: httpx.Client
) -> None:
    first = gh.get(R)
    second = gh.get(R)
    assert int(first.headers["x-ratelimit-remaining"]) - int(second.headers["x-ratelimit-remaining"]) == 1
    assert first.headers["x-ratelimit-resource"] == "core"
    clock.advance(int(first.headers["x-ratelimit-reset"]) - clock.now)
    assert gh.get(R).headers["x-ratelimit-remaining"] == "4999"


def test_an_exhausted_quota_answers_403_until_reset(clock: Clock) -> None:
    fake = FakeGitHub(clock=clock, rate_limit=2)
    fake.add_repo("o/r")
    token = fake.add_token("o")
    with httpx.Client(
        transport=fake.transport(),
        base_url="https://api.github.com",
        headers={"Authorization": f"token {token}"},
    ) as gh:
        assert [gh.get("/repos/o/r").status_code for _ in range(3)] == [200, 200, 403]
        refused = gh.get("/repos/o/r")
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert "rate limit exceeded" in refused.json()["message"]
        clock.advance(3600)
        assert gh.get("/repos/o/r").status_code == 200
    fake.assert_clean()


def test_scripted_faults_hit_the_named_operation_n_times(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client
) -> None:
    fake.fail_next("pulls/create", 502, times=2)
    body = {"title": "t", "head": "b", "base": "main"}
    first = gh.post(f"{R}/pulls", json=body)
    assert first.status_code == 502 and first.headers["content-type"].startswith("text/html")
    assert gh.get(R).status_code == 200  # other operations are untouched
    assert [gh.post(f"{R}/pulls", json=body).status_code for _ in range(2)] == [502, 201]
    assert len(repo.pulls()) == 1


def test_the_three_rate_limit_shapes(fake: FakeGitHub, clock: Clock, repo: Repo, gh: httpx.Client) -> None:
    fake.rate_limit_next("repos/get", "retry_after", retry_after=3)
    fake.rate_limit_next("repos/get", "secondary")
    fake.rate_limit_next("repos/get", "primary", reset_in=30)
    retry_after, secondary, primary = (gh.get(R) for _ in range(3))
    assert (retry_after.status_code, retry_after.headers["retry-after"]) == (403, "3")
    assert "secondary rate limit" in secondary.json()["message"] and "retry-after" not in secondary.headers
    assert primary.headers["x-ratelimit-remaining"] == "0"
    assert primary.headers["x-ratelimit-reset"] == str(int(clock.now) + 30)
    assert gh.get(R).status_code == 200


def test_tokens_unknown_or_revoked_are_bad_credentials(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client, token: str
) -> None:
    assert gh.get(R, headers={"Authorization": "token ghp_nope"}).json()["message"] == "Bad credentials"
    fake.revoke(token)
    assert gh.get(R).status_code == 401


def test_permissions_decide_reads_and_writes(fake: FakeGitHub, repo: Repo, gh: httpx.Client) -> None:
    fake.add_repo("octo-org/secret", private=True)
    assert gh.get("/repos/octo-org/secret").status_code == 404
    reader = fake.add_token("reader")
    denied = gh.post(
        f"{R}/pulls",
        json={"title": "t", "head": "b", "base": "main"},
        headers={"Authorization": f"token {reader}"},
    )
    assert denied.status_code == 403
    assert denied.json()["message"] == "Resource not accessible by personal access token"
    assert gh.get(R).json()["permissions"]["push"] is True
    assert gh.get(R, headers={"Authorization": f"token {reader}"}).json()["permissions"]["push"] is False


def test_a_second_pull_request_for_a_head_is_refused(fake: FakeGitHub, repo: Repo, gh: httpx.Client) -> None:
    body = {"title": "t", "head": "lazyaf/1-x", "base": "main"}
    assert gh.post(f"{R}/pulls", json=body).status_code == 201
    again = gh.post(f"{R}/pulls", json={**body, "head": "octo-org:lazyaf/1-x"})
    assert again.status_code == 422
    assert again.json()["errors"][0]["message"] == "A pull request already exists for octo-org:lazyaf/1-x."


def test_head_filter_needs_the_owner_prefix_as_on_github(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client
) -> None:
    fake.add_pull(repo, "one", head="a")
    fake.add_pull(repo, "two", head="b")
    assert len(gh.get(f"{R}/pulls", params={"head": "octo-org:a"}).json()) == 1
    assert len(gh.get(f"{R}/pulls", params={"head": "a"}).json()) == 2  # silently ignored


def test_pull_requests_need_existing_branches_when_the_repo_lists_them(
    fake: FakeGitHub, gh: httpx.Client
) -> None:
    fake.add_repo("octo-org/strict", collaborators={"lazyaf-bot": "write"}, branches=["main", "ready"])
    missing = gh.post("/repos/octo-org/strict/pulls", json={"title": "t", "head": "nope", "base": "main"})
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (422, "head")
    ok = gh.post("/repos/octo-org/strict/pulls", json={"title": "t", "head": "ready", "base": "main"})
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("params", "titles"),
    [
        ({"labels": "bug,ui"}, ["both"]),
        ({"labels": "bug"}, ["both", "bug"]),
        ({"assignee": "none"}, ["bug", "plain"]),
        ({"assignee": "octocat"}, ["both"]),
        ({"milestone": "*"}, ["bug"]),
        ({"milestone": "none", "state": "all"}, ["closed", "both", "plain"]),
        ({"state": "closed"}, ["closed"]),
        ({"creator": "octocat", "state": "all"}, ["plain"]),
    ],
)
def test_issue_filters_match_githubs(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client, params: dict[str, str], titles: list[str]
) -> None:
    fake.add_user("octocat")
    fake.add_issue(repo, "closed", state="closed")
    fake.add_issue(repo, "both", labels=["bug", "ui"], assignees=["octocat"])
    fake.add_issue(repo, "bug", labels=["bug"], milestone="v1")
    fake.add_issue(repo, "plain", user="octocat")
    found = gh.get(f"{R}/issues", params={**params, "sort": "created", "direction": "asc"}).json()
    assert sorted(i["title"] for i in found) == sorted(titles)


def test_since_compares_updated_at(fake: FakeGitHub, clock: Clock, repo: Repo, gh: httpx.Client) -> None:
    issue = fake.add_issue(repo, "old")
    fake.add_comment(issue, "first")
    clock.advance(60)
    later = fake.add_comment(issue, "second")
    since = later.created_at
    stamp = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    comments = gh.get(f"{R}/issues/comments", params={"since": stamp}).json()
    assert [c["body"] for c in comments] == ["second"]
    assert [i["title"] for i in gh.get(f"{R}/issues", params={"since": stamp}).json()] == ["old"]


def test_an_existing_reaction_answers_200(fake: FakeGitHub, repo: Repo, gh: httpx.Client) -> None:
    comment = fake.add_comment(fake.add_issue(repo, "x"), "@lazyaf plan")
    url = f"{R}/issues/comments/{comment.id}/reactions"
    assert [gh.post(url, json={"content": "eyes"}).status_code for _ in range(2)] == [201, 200]
    assert len(comment.reactions) == 1


def test_enterprise_paths_are_served_under_api_v3(fake: FakeGitHub, repo: Repo, token: str) -> None:
    with httpx.Client(
        transport=fake.transport(),
        base_url="https://ghe.example.com/api/v3",
        headers={"Authorization": f"token {token}"},
    ) as gh:
        for n in range(4):
            fake.add_issue(repo, f"i{n}")
        first = gh.get(f"{R}/issues", params={"per_page": 2})
        assert first.json()[0]["url"].startswith("https://ghe.example.com/api/v3/repos/")
        assert first.links["next"]["url"].startswith(
            f"https://ghe.example.com/api/v3/repositories/{repo.id}/"
        )
        assert gh.get(first.links["next"]["url"]).status_code == 200
    assert {c.prefix for c in fake.calls()} == {"/api/v3"}


def test_paging_matches_githubs_recorded_paginate_issues_fixture(
    fake: FakeGitHub, repo: Repo, gh: httpx.Client
) -> None:
    """``@octokit/fixtures``' paginate-issues (13 issues, per_page=3) as recorded from api.github.com."""
    recorded = data.fixture("paginate-issues")
    for n in range(13):
        fake.add_issue(repo, f"Test issue {n + 1}")
    pages = []
    response = gh.get(f"{R}/issues", params={"per_page": 3})
    while True:
        pages.append(response)
        if "next" not in response.links:
            break
        response = gh.get(response.links["next"]["url"])
    assert [len(p.json()) for p in pages] == [len(i["response"]) for i in recorded] == [3, 3, 3, 3, 1]
    for page, interaction in zip(pages, recorded, strict=True):
        ours = page.headers.get("link", "").replace(f"/repositories/{repo.id}/", "/repositories/1000/")
        assert ours == interaction["headers"].get("link", "")
        assert {h for h in interaction["headers"] if h.startswith(("x-ratelimit", "etag"))} <= set(
            page.headers
        )
        # Every field GitHub sent in 2017 is still in the fake's issues.
        assert set(interaction["response"][0]) <= set(page.json()[0])
