"""GitHub webhook deliveries for tests: the official example payloads, signed as GitHub signs them.

``examples("issue_comment", "created")`` yields fresh copies of ``@octokit/webhooks-examples``'
payloads; ``signed_request(payload, "issue_comment", secret)`` gives the exact bytes and headers
GitHub would POST. The examples carry no headers or signatures, and none of the
``issue_comment`` examples is on a pull request: ``on_pull_request`` derives that case the way
GitHub shapes it (``issue.pull_request`` present).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from typing import Any

from lazyaf_testkit.github import data


def events() -> list[str]:
    """Every event name that has examples (``issue_comment``, ``ping``, ``pull_request``, ...)."""
    return [entry["name"] for entry in data.webhook_examples()]


def examples(event: str, action: str | None = None) -> list[dict[str, Any]]:
    """Deep copies of the official example payloads of ``event`` (only ``action``'s when given)."""
    for entry in data.webhook_examples():
        if entry["name"] == event:
            found = [e for e in entry["examples"] if action is None or e.get("action") == action]
            if not found:
                raise KeyError(f"no {event} example has action {action!r}; actions: {entry['actions']}")
            return copy.deepcopy(found)
    raise KeyError(f"no webhook examples for event {event!r}")


def on_pull_request(issue_comment: dict[str, Any]) -> dict[str, Any]:
    """An ``issue_comment`` payload moved onto a pull request (marked by ``issue.pull_request``)."""
    payload = copy.deepcopy(issue_comment)
    issue = payload["issue"]
    repo_html = payload["repository"]["html_url"]
    number = issue["number"]
    issue["pull_request"] = {
        "url": f"{payload['repository']['url']}/pulls/{number}",
        "html_url": f"{repo_html}/pull/{number}",
        "diff_url": f"{repo_html}/pull/{number}.diff",
        "patch_url": f"{repo_html}/pull/{number}.patch",
        "merged_at": None,
    }
    issue["html_url"] = f"{repo_html}/pull/{number}"
    return payload


def sign(secret: str | bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def signed_request(
    payload: dict[str, Any] | bytes, event: str, secret: str | bytes, *, delivery: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a delivery as GitHub sends it: JSON body, signed with ``secret``."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": sign(secret, body),
    }
    return body, headers
