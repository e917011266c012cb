"""The webhook door, attacked and exercised with GitHub's own example deliveries
(``@octokit/webhooks-examples``), signed as GitHub signs them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lazyaf_testkit.github.webhooks import examples, on_pull_request, sign, signed_request

from lazyaf.settings import Settings
from tests.github.commands_support import SECRET, count, deliver, deliveries, drain, link_for_commands
from tests.github.conftest import Setup


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    cases = []
    for event in ("issue_comment", "pull_request_review_comment", "pull_request_review"):
        for index, payload in enumerate(examples(event)):
            cases.append((f"{event}-{payload.get('action')}-{index}", event, payload))
    # The examples have no comment on a pull request's conversation: derived as GitHub shapes it.
    for index, payload in enumerate(examples("issue_comment", "created")):
        cases.append((f"issue_comment-on-pull-request-{index}", "issue_comment", on_pull_request(payload)))
    return cases


CASES = _cases()


async def _codertocat(api: httpx.AsyncClient, setup: Setup, payload: dict[str, Any]) -> dict[str, Any]:
    """The examples' repository and author on the fake GitHub (the author's id as in the payload)."""
    setup.fake.add_repo("Codertocat/Hello-World")
    author = (payload.get("comment") or payload.get("review"))["user"]
    setup.fake.add_user(author["login"]).id = author["id"]
    return await link_for_commands(api, setup, full_name="Codertocat/Hello-World", allowed=(author["login"],))


@pytest.mark.parametrize(("name", "event", "payload"), CASES, ids=[c[0] for c in CASES])
async def test_every_example_delivery_is_accepted_and_routed(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, name: str, event: str, payload: dict[str, Any]
) -> None:
    repo = await _codertocat(api, setup, payload)
    comment = payload.get("comment") or payload["review"]
    comment["body"] = "Looks good.\n\n@lazyaf status"
    response = await deliver(api, payload, event)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    await drain(app, rounds=1)

    (found,) = await deliveries(api)
    assert found["source"] == "webhook" and found["event"] == event and found["repo_id"] == repo["id"]
    handled = (event, payload["action"]) in {
        ("issue_comment", "created"),
        ("pull_request_review_comment", "created"),
        ("pull_request_review", "submitted"),
    }
    if not handled:
        assert found["status"] == "ignored" and f"'{payload['action']}' is not a command" in found["reason"]
        return
    assert found["status"] == "accepted", found["reason"]
    command = (await api.get(f"/api/github/commands/{found['command_id']}")).json()
    assert command["verb"] == "status" and command["actor_login"] == comment["user"]["login"]
    number = (payload.get("issue") or payload.get("pull_request"))["number"]
    card = (await api.get(f"/api/cards/{command['card_id']}")).json()
    assert card["github_issue_number"] == number
    async with app.state.sessionmaker() as session:
        from sqlalchemy import text

        row = (
            await session.execute(
                text(
                    "SELECT is_pr, comment_kind FROM github_thread t "
                    "JOIN github_command c ON c.thread_id = t.id"
                )
            )
        ).one()
    is_pr = event != "issue_comment" or "pull_request" in payload["issue"]
    kind = {"issue_comment": "issue_comment", "pull_request_review_comment": "review_comment"}.get(
        event, "review"
    )
    assert (bool(row.is_pr), row.comment_kind) == (is_pr, kind)


@pytest.fixture
async def linked(api: httpx.AsyncClient, setup: Setup) -> dict[str, Any]:
    setup.fake.add_user("octocat")
    return await link_for_commands(api, setup, allowed=("octocat",))


def _comment_payload(setup: Setup, body: str = "@lazyaf status") -> dict[str, Any]:
    payload = examples("issue_comment", "created")[0]
    issue = setup.fake.add_issue(setup.repo, "A bug")
    comment = setup.fake.add_comment(issue, body, user="octocat")
    payload["repository"]["full_name"] = "octo-org/hello-world"
    payload["issue"]["number"] = issue.number
    payload["comment"].update(id=comment.id, body=body)
    payload["comment"]["user"].update(login="octocat", id=comment.user.id, type="User")
    return payload


ATTACKS = {
    "a flipped byte": lambda body, headers: (body[:-2] + bytes([body[-2] ^ 1]) + body[-1:], headers),
    "no signature header": lambda body, headers: (
        body,
        {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"},
    ),
    "a SHA-1 signature only": lambda body, headers: (
        body,
        {
            **{k: v for k, v in headers.items() if k != "X-Hub-Signature-256"},
            "X-Hub-Signature": "sha1=" + __import__("hmac").new(SECRET.encode(), body, "sha1").hexdigest(),
        },
    ),
    "another secret": lambda body, headers: (body, {**headers, "X-Hub-Signature-256": sign("guessed", body)}),
    "a signature of other bytes": lambda body, headers: (
        body,
        {**headers, "X-Hub-Signature-256": sign(SECRET, body + b" ")},
    ),
    "an empty signature": lambda body, headers: (body, {**headers, "X-Hub-Signature-256": ""}),
    "the hex without its prefix": lambda body, headers: (
        body,
        {**headers, "X-Hub-Signature-256": headers["X-Hub-Signature-256"].removeprefix("sha256=")},
    ),
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
async def test_a_delivery_whose_signature_does_not_check_is_refused_and_nothing_is_stored(
    api: httpx.AsyncClient, linked: dict[str, Any], setup: Setup, settings: Settings, attack: Any
) -> None:
    body, headers = signed_request(_comment_payload(setup), "issue_comment", SECRET)
    body, headers = attack(body, headers)
    before = {t: count(settings, t) for t in ("github_delivery", "github_command", "github_thread", "card")}
    response = await api.post("/api/github/webhook", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthorized"
    assert "X-Hub-Signature-256" in response.json()["detail"] or "signature" in response.json()["detail"]
    assert {t: count(settings, t) for t in before} == before


async def test_a_sha1_only_delivery_is_told_why(
    api: httpx.AsyncClient, linked: dict[str, Any], setup: Setup
) -> None:
    body, headers = signed_request(_comment_payload(setup), "issue_comment", SECRET)
    del headers["X-Hub-Signature-256"]
    headers["X-Hub-Signature"] = "sha1=" + "0" * 40
    response = await api.post("/api/github/webhook", content=body, headers=headers)
    assert response.status_code == 401 and "SHA-1" in response.json()["detail"]


async def test_a_replayed_delivery_is_a_duplicate_and_runs_nothing_twice(
    api: httpx.AsyncClient, app: FastAPI, linked: dict[str, Any], setup: Setup, settings: Settings
) -> None:
    body, headers = signed_request(_comment_payload(setup), "issue_comment", SECRET)
    first = await api.post("/api/github/webhook", content=body, headers=headers)
    assert first.status_code == 202
    await drain(app)
    again = await api.post("/api/github/webhook", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    await drain(app)
    assert count(settings, "github_delivery") == 1 and count(settings, "github_command") == 1
    # The same comment under a new delivery id (GitHub's "redeliver" makes one) is no second command.
    body, headers = signed_request(json.loads(body), "issue_comment", SECRET)
    assert (await api.post("/api/github/webhook", content=body, headers=headers)).status_code == 202
    await drain(app)
    assert count(settings, "github_command") == 1
    latest = (await deliveries(api))[0]
    assert latest["status"] == "ignored" and "Already handled" in latest["reason"]


async def test_ping_is_answered_200_and_recorded(
    api: httpx.AsyncClient, app: FastAPI, linked: dict[str, Any]
) -> None:
    payload = examples("ping")[0]
    payload["repository"] = {
        "full_name": "octo-org/hello-world",
        "name": "hello-world",
        "owner": {"login": "octo-org"},
    }
    response = await deliver(api, payload, "ping")
    assert response.status_code == 200 and response.json()["status"] == "pong"
    await drain(app, rounds=1)
    (found,) = await deliveries(api)
    assert found["status"] == "ignored" and found["reason"].startswith("ping")


async def test_a_delivery_over_the_cap_is_refused_before_anything_is_read(
    api: httpx.AsyncClient, linked: dict[str, Any], settings: Settings
) -> None:
    settings.github_webhook_max_bytes = 4096
    body = json.dumps({"padding": "x" * 10_000}).encode()
    headers = {
        "X-GitHub-Event": "issue_comment",
        "X-GitHub-Delivery": "big",
        "X-Hub-Signature-256": sign(SECRET, body),
    }
    response = await api.post("/api/github/webhook", content=body, headers=headers)
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"
    assert count(settings, "github_delivery") == 0


async def test_a_signed_delivery_for_another_repository_is_recorded_and_ignored(
    api: httpx.AsyncClient, app: FastAPI, linked: dict[str, Any], setup: Setup
) -> None:
    payload = _comment_payload(setup)
    payload["repository"]["full_name"] = "octo-org/other"
    assert (await deliver(api, payload, "issue_comment")).status_code == 202
    (found,) = await deliveries(api)
    assert found["status"] == "ignored" and "octo-org/other" in found["reason"] and found["repo_id"] is None
