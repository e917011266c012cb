"""LazyAF's GitHub client against the fake GitHub: limits, retries, ETags, paging, errors, Enterprise."""

from __future__ import annotations

import logging
import traceback

import pytest
from lazyaf_testkit.github import FakeGitHub
from lazyaf_testkit.github.pytest_plugin import GitHubRepo

from lazyaf.github.client import GitHubClient, RetryPolicy, normalize_api_url
from lazyaf.github.errors import (
    GitHubAuthFailed,
    GitHubForbidden,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubRejected,
    GitHubUnavailable,
)
from tests.github.conftest import Setup

OWNER, NAME = "octo-org", "hello-world"


def _statuses(fake: FakeGitHub, operation: str) -> list[int]:
    return [c.status for c in fake.calls(operation)]


async def test_the_three_rate_limit_shapes_are_waited_out_then_the_request_succeeds(
    setup: Setup, client: GitHubClient
) -> None:
    setup.fake.rate_limit_next("repos/get", "retry_after", retry_after=3)
    setup.fake.rate_limit_next("repos/get", "secondary")
    setup.fake.rate_limit_next("repos/get", "primary", reset_in=30)
    repo = (await client.rest.repos.async_get(OWNER, NAME)).parsed_data
    assert repo.full_name == "octo-org/hello-world"
    # retry-after as given; the secondary limit's minute, doubled on the second rate-limit wait;
    # the primary limit until its reset (plus a second of slack).
    assert setup.clock.sleeps == [3.0, 120.0, 31.0]
    assert _statuses(setup.fake, "repos/get") == [403, 403, 403, 200]


async def test_a_zero_retry_after_waits_a_second_not_a_minute(setup: Setup, client: GitHubClient) -> None:
    setup.fake.rate_limit_next("issues/create", "retry_after", retry_after=0)
    created = await client.rest.issues.async_create(OWNER, NAME, title="From a card")
    assert created.status_code == 201
    assert setup.clock.sleeps == [1.0]
    assert len(setup.repo.issues) == 1  # a refused write is repeated: GitHub did not apply it


async def test_a_rate_limit_longer_than_max_wait_is_raised_with_its_reset(setup: Setup) -> None:
    setup.fake.rate_limit_next("repos/get", "primary", reset_in=3600)
    async with setup.client(policy=RetryPolicy(max_wait=900)) as client:
        with pytest.raises(GitHubRateLimited, match="rate limit for this token holds until") as caught:
            await client.rest.repos.async_get(OWNER, NAME)
    assert caught.value.retry_at == setup.clock.now + 3601 and caught.value.retryable
    assert setup.clock.sleeps == []


async def test_an_exhausted_graphql_quota_is_waited_out(setup: Setup) -> None:
    fake = FakeGitHub(clock=setup.clock, rate_limit=1)  # GitHub answers 200 with errors[].type RATE_LIMITED
    fake.add_repo("o/r")
    token = fake.add_token("o")
    async with GitHubClient(
        token,
        clock=setup.clock,
        sleep=setup.clock.sleep,
        transport=fake.transport(),
        policy=RetryPolicy(max_wait=4000),
    ) as client:
        await client.graphql("{ viewer { login } }")
        reset = client.rate_limits["graphql"].reset_at
        assert await client.graphql("{ viewer { login } }") == {"viewer": {"login": "o"}}
    assert setup.clock.sleeps == [reset - 1_750_000_000.0 + 1]
    assert [c.response.get("errors", [{}])[0].get("type") for c in fake.calls("graphql")] == [
        None,
        "RATE_LIMITED",
        None,
    ]
    fake.assert_clean()


async def test_a_502_is_retried_then_succeeds(setup: Setup, client: GitHubClient) -> None:
    setup.fake.fail_next("repos/get", 502)
    assert (await client.rest.repos.async_get(OWNER, NAME)).status_code == 200
    assert setup.clock.sleeps == [1.0]
    assert _statuses(setup.fake, "repos/get") == [502, 200]


async def test_github_down_for_good_is_unavailable_after_the_retries(
    setup: Setup, client: GitHubClient
) -> None:
    setup.fake.fail_next("repos/get", 503, times=10)
    with pytest.raises(GitHubUnavailable, match="GitHub is not answering") as caught:
        await client.rest.repos.async_get(OWNER, NAME)
    assert setup.clock.sleeps == [1.0, 2.0, 4.0] and caught.value.retryable
    assert caught.value.status_code == 503


async def test_a_post_is_not_repeated_after_a_502(setup: Setup, client: GitHubClient) -> None:
    # GitHub may have opened the PR before answering 502: the outbox, not the client, retries it
    # (finding the PR by its head first).
    setup.fake.fail_next("pulls/create", 502)
    with pytest.raises(GitHubUnavailable):
        await client.rest.pulls.async_create(OWNER, NAME, title="t", head="lazyaf/1-x", base="main")
    assert _statuses(setup.fake, "pulls/create") == [502] and setup.clock.sleeps == []


async def test_unchanged_polls_answer_304_from_the_etag_cache_and_spend_no_quota(
    setup: Setup, client: GitHubClient
) -> None:
    issue = setup.fake.add_issue(setup.repo, "Watch me")
    path = f"/repos/{OWNER}/{NAME}/issues/comments"
    first = await client.get_conditional(path, {"since": "2020-01-01T00:00:00Z"})
    assert first.modified and first.data == [] and first.etag
    remaining = client.rate_limit.remaining if client.rate_limit else None
    second = await client.get_conditional(path, {"since": "2020-01-01T00:00:00Z"})
    assert (second.modified, second.data) == (False, [])
    assert client.rate_limit is not None and client.rate_limit.remaining == remaining
    setup.fake.add_comment(issue, "@lazyaf plan", user="octocat")
    third = await client.get_conditional(path, {"since": "2020-01-01T00:00:00Z"})
    assert third.modified and [c["body"] for c in third.data] == ["@lazyaf plan"]
    calls = setup.fake.calls("issues/list-comments-for-repo")
    assert [c.status for c in calls] == [200, 304, 200]
    assert calls[1].headers["if-none-match"] == first.etag


async def test_issues_page_by_link_to_the_end_and_pull_requests_are_dropped_after(
    setup: Setup, client: GitHubClient
) -> None:
    for n in range(15):
        if n in (4, 10):
            setup.fake.add_pull(setup.repo, f"PR {n}", head=f"branch-{n}", labels=["lazyaf"])
        else:
            setup.fake.add_issue(setup.repo, f"Issue {n}", labels=["lazyaf"])
    issues = await client.list_issues(OWNER, NAME, per_page=3, labels="lazyaf")
    assert len(issues) == 13 and not any(i.pull_request for i in issues)
    assert sorted(i.title for i in issues) == sorted(f"Issue {n}" for n in range(15) if n not in (4, 10))
    calls = setup.fake.calls("issues/list-for-repo")
    assert (
        len(calls) == 5 and sum(len(c.response) for c in calls) == 15
    )  # the PRs came back, on pages 2 and 4
    assert [c.param("page") for c in calls] == [None, "2", "3", "4", "5"]
    assert calls[1].path == f"/repositories/{setup.repo.id}/issues"  # GitHub's links, followed as given
    assert all(c.param("labels") == "lazyaf" for c in calls)


async def test_mutations_are_spaced_and_reads_are_not(setup: Setup, client: GitHubClient) -> None:
    issue = setup.fake.add_issue(setup.repo, "x")
    await client.rest.issues.async_create_comment(OWNER, NAME, issue.number, body="one")
    await client.rest.issues.async_get(OWNER, NAME, issue.number)
    await client.rest.issues.async_create_comment(OWNER, NAME, issue.number, body="two")
    assert setup.clock.sleeps == [1.0]
    assert [c.body for c in issue.comments] == ["one", "two"]


async def test_the_remaining_quota_is_exposed_per_resource(setup: Setup, client: GitHubClient) -> None:
    assert client.rate_limit is None
    await client.rest.repos.async_get(OWNER, NAME)
    await client.graphql("query { viewer { login } }")
    core, graphql = client.rate_limits["core"], client.rate_limits["graphql"]
    assert (core.limit, core.remaining, core.used) == (5000, 4999, 1)
    assert graphql.remaining == 4999 and client.rate_limit == core


async def test_graphql_goes_through_the_same_client(setup: Setup, client: GitHubClient) -> None:
    pr = setup.fake.add_pull(setup.repo, "Plan: x", head="lazyaf/1-x", draft=True)
    setup.fake.add_review_thread(pr, "rename this", user="octocat")
    data = await client.graphql(
        """query($o: String!, $n: String!, $num: Int!) { repository(owner: $o, name: $n) {
             pullRequest(number: $num) { id isDraft reviewThreads(first: 50) { nodes { isResolved
               comments(first: 20) { nodes { body author { login } } } } } } } }""",
        {"o": OWNER, "n": NAME, "num": pr.number},
    )
    found = data["repository"]["pullRequest"]
    assert found["reviewThreads"]["nodes"][0]["isResolved"] is False
    ready = await client.graphql(
        """mutation($id: ID!) {
             markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }""",
        {"id": found["id"]},
        idempotent=True,
    )
    assert ready["markPullRequestReadyForReview"]["pullRequest"]["isDraft"] is False
    assert pr.pull is not None and pr.pull.draft is False


async def test_graphql_retries_queries_and_not_mutations(setup: Setup, client: GitHubClient) -> None:
    setup.fake.fail_next("graphql", 502)
    assert await client.graphql("{ viewer { login } }") == {"viewer": {"login": "lazyaf-bot"}}
    pr = setup.fake.add_pull(setup.repo, "x", head="b", draft=True)
    setup.fake.fail_next("graphql", 502)
    with pytest.raises(GitHubUnavailable):
        await client.graphql(
            """mutation($id: ID!) {
                 convertPullRequestToDraft(input: {pullRequestId: $id}) { clientMutationId } }""",
            {"id": pr.node_id},
        )
    assert setup.clock.sleeps == [1.0]


async def test_graphql_not_found_names_what_to_check(client: GitHubClient) -> None:
    with pytest.raises(
        GitHubNotFound, match="Could not resolve to a Repository with the name 'octo-org/nope'"
    ):
        await client.graphql('{ repository(owner: "octo-org", name: "nope") { id } }')


async def test_errors_say_what_to_fix(setup: Setup, client: GitHubClient) -> None:
    with pytest.raises(GitHubNotFound, match="no repository octo-org/missing at https://api.github.com"):
        await client.rest.repos.async_get(OWNER, "missing")
    async with setup.client(setup.fake.add_token("reader")) as reader:
        with pytest.raises(GitHubForbidden, match="Give it write access") as forbidden:
            await reader.rest.pulls.async_create(OWNER, NAME, title="t", head="b", base="main")
    assert "Resource not accessible by personal access token" in forbidden.value.detail
    await client.rest.pulls.async_create(OWNER, NAME, title="t", head="b", base="main")
    with pytest.raises(GitHubRejected, match="A pull request already exists for octo-org:b"):
        await client.rest.pulls.async_create(OWNER, NAME, title="t", head="b", base="main")
    setup.fake.revoke(setup.token)
    with pytest.raises(GitHubAuthFailed, match="revoked, has expired or is mistyped") as revoked:
        await client.rest.repos.async_get(OWNER, NAME)
    assert revoked.value.status == 401 and revoked.value.status_code == 502  # never LazyAF's own 401


async def test_an_unreachable_github_is_unavailable(setup: Setup) -> None:
    async with GitHubClient(
        "ghp_x", api_url="http://127.0.0.1:9", clock=setup.clock, sleep=setup.clock.sleep
    ) as c:
        with pytest.raises(GitHubUnavailable, match="cannot be reached .*check the network"):
            await c.rest.repos.async_get(OWNER, NAME)
    assert setup.clock.sleeps == [1.0, 2.0, 4.0]


async def test_the_token_is_in_no_repr_message_traceback_or_log(
    setup: Setup, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    token = setup.token
    setup.fake.fail_next("repos/get", 502)
    async with setup.client() as client:
        assert token not in repr(client) and token not in repr(vars(client))
        await client.rest.repos.async_get(OWNER, NAME)  # a retry: logged
        setup.fake.revoke(token)
        with pytest.raises(GitHubAuthFailed) as caught:
            await client.rest.repos.async_get(OWNER, NAME)
    text = "".join(traceback.format_exception(caught.value))
    out = capsys.readouterr()
    for where in (str(caught.value), repr(caught.value), text, caplog.text, out.out, out.err):
        assert token not in where
    assert "github_retry" in caplog.text + out.out + out.err  # the log was captured, and is clean
    assert all("authorization" not in c.headers for c in setup.fake.calls())


async def test_enterprise_base_url_serves_rest_and_graphql(github_repo: GitHubRepo) -> None:
    fake = github_repo.fake
    assert fake.url is not None
    for n in range(5):
        fake.add_issue(github_repo.repo, f"Issue {n}")
    async with GitHubClient(github_repo.token, api_url=f"{fake.url}/api/v3") as client:
        issues = await client.list_issues(OWNER, NAME, per_page=2)
        data = await client.graphql("{ viewer { login } }")
    assert len(issues) == 5 and data == {"viewer": {"login": "lazyaf-bot"}}
    assert {c.prefix for c in fake.calls("issues/list-for-repo")} == {"/api/v3"}
    assert [c.prefix for c in fake.calls("graphql")] == ["/api"]  # Enterprise's /api/graphql


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "https://api.github.com"),
        ("https://github.com", "https://api.github.com"),
        ("api.github.com/", "https://api.github.com"),
        ("ghe.example.com", "https://ghe.example.com/api/v3"),
        ("https://ghe.example.com/", "https://ghe.example.com/api/v3"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com/api/v3"),
    ],
)
def test_api_urls_are_normalized_for_github_and_enterprise(given: str | None, expected: str) -> None:
    assert normalize_api_url(given) == expected
