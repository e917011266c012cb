"""The poller door: comments found by asking GitHub run once; the same comment by webhook as well
is not run twice; old comments, edits and chatter never become commands."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from lazyaf.jobs.models import Job
from lazyaf.settings import Settings
from tests.github.commands_support import (
    comment_payload,
    count,
    deliver,
    deliveries,
    drain,
    link_for_commands,
    review_comment_payload,
)
from tests.github.conftest import Setup, push_commits


async def test_the_poller_finds_a_comment_runs_it_once_and_the_webhook_copy_does_not_run_again(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, settings: Settings, tmp_path: Path
) -> None:
    fake = setup.fake
    fake.add_user("octocat")
    issue = fake.add_issue(setup.repo, "Add a greeting", user="octocat")
    fake.add_comment(issue, "@lazyaf plan (an old comment, before polling began)", user="octocat")
    setup.clock.advance(30)
    repo = await link_for_commands(api, setup, allowed=("octocat",), poll_interval_s=30)
    assert repo["link"]["commands"]["poll_comments"] is True
    push_commits(settings, repo, tmp_path)
    poller = app.state.github.commands.poller
    setup.clock.advance(30)
    fake.add_comment(issue, "Just chatting.", user="octocat")
    trigger = fake.add_comment(issue, "@lazyaf plan", user="octocat")

    assert len(await poller.tick(1000.0)) == 1
    (found,) = await deliveries(api)
    assert (found["source"], found["delivery_id"]) == ("poll", f"poll:issue_comment:{trigger.id}")
    await drain(app)
    found = (await deliveries(api))[0]
    assert found["status"] == "accepted", found
    async with app.state.sessionmaker() as session:
        assert len((await session.scalars(select(Job))).all()) == 1
    assert [r.content for r in trigger.reactions] == ["eyes"]

    # The next poll asks with the ETag: GitHub says 304, nothing new is stored.
    assert await poller.tick(1010.0) == []  # not due yet
    calls = len(fake.calls("issues/list-comments-for-repo"))
    assert len(await poller.tick(1030.0)) == 1
    answered = fake.calls("issues/list-comments-for-repo")[calls:]
    assert answered and answered[0].headers.get("if-none-match")
    assert len(await deliveries(api)) == 1

    # The same comment by webhook too: recorded, and not run again.
    assert (await deliver(api, comment_payload(trigger), "issue_comment")).status_code == 202
    await drain(app)
    latest = (await deliveries(api))[0]
    assert latest["source"] == "webhook" and latest["status"] == "ignored"
    assert "came by poll too" in latest["reason"]
    assert count(settings, "github_command") == 1 and count(settings, "job") == 1

    # An edited comment is no command (nor is it by webhook: only "created" is).
    chatter = [c for c in issue.comments if c.body == "Just chatting."][0]
    setup.clock.advance(30)
    chatter.body, chatter.updated_at = "Just chatting. @lazyaf build", setup.clock()
    assert len(await poller.tick(1060.0)) == 1
    assert len(await deliveries(api)) == 2


async def test_the_poller_hears_review_comments_and_the_webhook_first_wins_too(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, settings: Settings, tmp_path: Path
) -> None:
    fake = setup.fake
    fake.add_user("octocat")
    repo = await link_for_commands(api, setup, allowed=("octocat",))
    push_commits(settings, repo, tmp_path)
    setup.clock.advance(30)
    pr = fake.add_pull(setup.repo, "A change", head="feature", user="octocat")
    thread = fake.add_review_thread(pr, "@lazyaf status", user="octocat")
    ask = thread.comments[0]
    assert (await deliver(api, review_comment_payload(ask), "pull_request_review_comment")).status_code == 202
    await drain(app)
    assert len(await app.state.github.commands.poller.tick(2000.0)) == 1
    await drain(app)
    found = await deliveries(api)
    assert [(d["source"], d["status"]) for d in found] == [("poll", "ignored"), ("webhook", "accepted")]
    assert "came by webhook too" in found[0]["reason"]
    assert count(settings, "github_command") == 1
    replies = [c for c in thread.comments if "lazyaf:reply" in c.body]
    assert len(replies) == 1  # the status answer, in the review thread


async def test_polling_off_asks_github_nothing(api: httpx.AsyncClient, app: FastAPI, setup: Setup) -> None:
    setup.fake.add_user("octocat")
    await link_for_commands(api, setup, allowed=("octocat",), poll_comments=False)
    assert await app.state.github.commands.poller.tick(3000.0) == []
    assert setup.fake.calls("issues/list-comments-for-repo") == []


async def test_nobody_allowed_is_not_polled_and_allowing_someone_later_starts_from_then(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup
) -> None:
    fake = setup.fake
    fake.add_user("octocat")
    repo = await link_for_commands(api, setup)  # commands and polling on, nobody allowed yet
    poller = app.state.github.commands.poller
    assert await poller.tick(4000.0) == []
    assert fake.calls("issues/list-comments-for-repo") == []
    issue = fake.add_issue(setup.repo, "Old business", user="octocat")
    fake.add_comment(issue, "@lazyaf plan (made while nobody was allowed)", user="octocat")
    setup.clock.advance(30)
    response = await api.put(
        f"/api/repos/{repo['id']}/github",
        json={"owner": "octo-org", "name": "hello-world", "allowed_users": ["octocat"]},
    )
    assert response.status_code == 200
    setup.clock.advance(30)
    fresh = fake.add_comment(issue, "@lazyaf status", user="octocat")
    assert len(await poller.tick(4001.0)) == 1
    assert [d["delivery_id"] for d in await deliveries(api)] == [f"poll:issue_comment:{fresh.id}"]


async def test_ignored_deliveries_are_pruned_after_two_weeks_and_commands_are_kept(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, settings: Settings
) -> None:
    from datetime import UTC, datetime, timedelta

    fake = setup.fake
    fake.add_user("octocat")
    await link_for_commands(api, setup, allowed=("octocat",))
    issue = fake.add_issue(setup.repo, "Something", user="octocat")
    await deliver(api, comment_payload(fake.add_comment(issue, "just talk", user="octocat")), "issue_comment")
    await deliver(
        api, comment_payload(fake.add_comment(issue, "@lazyaf status", user="octocat")), "issue_comment"
    )
    await drain(app)
    assert sorted(d["status"] for d in await deliveries(api)) == ["accepted", "ignored"]
    commands = app.state.github.commands
    assert await commands.prune(datetime.now(UTC) + timedelta(days=13)) == 0
    assert await commands.prune(datetime.now(UTC) + timedelta(days=15)) == 1
    assert [d["status"] for d in await deliveries(api)] == ["accepted"]
    assert count(settings, "github_command") == 1
