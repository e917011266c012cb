"""The fake GitHub's own tests: it must hold clients to GitHub's contract and keep it itself."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lazyaf_testkit.clock import FakeClock
from lazyaf_testkit.github import FakeGitHub
from lazyaf_testkit.github.state import Repo

pytest_plugins = ["lazyaf_testkit.github.pytest_plugin"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeGitHub]:
    """An in-process fake with a settable clock; clean at the end unless a test cleared it."""
    fake = FakeGitHub(clock=clock)
    yield fake
    fake.assert_clean()


@pytest.fixture
def repo(fake: FakeGitHub) -> Repo:
    return fake.add_repo("octo-org/hello-world", collaborators={"lazyaf-bot": "write", "reader": "read"})


@pytest.fixture
def token(fake: FakeGitHub, repo: Repo) -> str:
    return fake.add_token("lazyaf-bot")


@pytest.fixture
def gh(fake: FakeGitHub, token: str) -> Iterator[httpx.Client]:
    """A plain httpx client on the fake, authenticated as lazyaf-bot (write)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    with httpx.Client(
        transport=fake.transport(), base_url="https://api.github.com", headers=headers
    ) as client:
        yield client
