"""Webhook helpers over the official examples; the fake served on 127.0.0.1 and driven from outside."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys

import httpx
import pytest

from lazyaf_testkit.github import FakeGitHub, webhooks
from lazyaf_testkit.github.pytest_plugin import GitHubRepo


def test_examples_of_an_event_and_action() -> None:
    created = webhooks.examples("issue_comment", "created")
    assert created and all(e["action"] == "created" for e in created)
    assert len(webhooks.examples("issue_comment")) >= len(created)
    assert "pull_request_review_comment" in webhooks.events()
    created[0]["comment"]["body"] = "changed"
    assert webhooks.examples("issue_comment", "created")[0]["comment"]["body"] != "changed"  # copies
    with pytest.raises(KeyError, match="no webhook examples"):
        webhooks.examples("no_such_event")


def test_no_issue_comment_example_is_on_a_pull_request_so_we_derive_one() -> None:
    examples = webhooks.examples("issue_comment")
    assert not any("pull_request" in e["issue"] for e in examples)
    derived = webhooks.on_pull_request(examples[0])
    assert derived["issue"]["pull_request"]["url"].endswith(f"/pulls/{derived['issue']['number']}")
    assert "pull_request" not in examples[0]["issue"]


def test_signed_request_is_what_github_sends() -> None:
    payload = webhooks.examples("issue_comment", "created")[0]
    body, headers = webhooks.signed_request(payload, "issue_comment", "s3cret")
    assert json.loads(body) == payload
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == expected
    assert headers["X-GitHub-Event"] == "issue_comment"
    assert headers["User-Agent"] == "GitHub-Hookshot/test"
    assert headers["Content-Type"] == "application/json"
    _, again = webhooks.signed_request(payload, "issue_comment", "s3cret")
    assert again["X-GitHub-Delivery"] != headers["X-GitHub-Delivery"]
    flipped = body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]
    assert webhooks.sign("s3cret", flipped) != expected


def test_the_fixture_serves_on_loopback(github_repo: GitHubRepo) -> None:
    fake = github_repo.fake
    assert fake.url is not None and fake.url.startswith("http://127.0.0.1:")
    headers = {"Authorization": f"token {github_repo.token}"}
    response = httpx.get(f"{fake.url}/repos/octo-org/hello-world", headers=headers)
    assert response.json()["full_name"] == "octo-org/hello-world"
    assert response.json()["url"] == f"{fake.url}/repos/octo-org/hello-world"


def test_the_control_api_seeds_and_reports(fake_github: FakeGitHub) -> None:
    seed = {
        "tokens": [{"user": "bot", "token": "ghp_e2e"}],
        "repos": [{"full_name": "o/r", "collaborators": {"bot": "write"}}],
        "issues": [{"repo": "o/r", "title": "From e2e", "labels": ["bug"]}],
        "comments": [{"repo": "o/r", "number": 1, "body": "@lazyaf plan", "user": "alice"}],
    }
    assert httpx.post(f"{fake_github.url}/_fake/seed", json=seed).json() == {
        "issues": [1],
        "pulls": [],
        "comments": [fake_github.repo("o/r").issues[1].comments[0].id],
    }
    httpx.post(f"{fake_github.url}/_fake/faults", json={"operation": "issues/get", "status": 502})
    headers = {"Authorization": "token ghp_e2e"}
    assert httpx.get(f"{fake_github.url}/repos/o/r/issues/1", headers=headers).status_code == 502
    assert httpx.get(f"{fake_github.url}/repos/o/r/issues/1", headers=headers).json()["title"] == "From e2e"
    calls = httpx.get(f"{fake_github.url}/_fake/calls").json()
    assert [(c["operation"], c["status"]) for c in calls] == [("issues/get", 502), ("issues/get", 200)]
    assert httpx.get(f"{fake_github.url}/_fake/violations").json() == []


def test_it_runs_as_a_program_for_end_to_end_tests() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lazyaf_testkit.github"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("fake-github listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        assert httpx.get(f"{url}/_fake/violations").json() == []
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
