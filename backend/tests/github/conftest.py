"""A fake GitHub with a settable clock, and LazyAF's client wired to it in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from lazyaf_testkit.clock import FakeClock
from lazyaf_testkit.github import FakeGitHub
from lazyaf_testkit.github.state import Repo

from lazyaf.github.client import GitHubClient


@dataclass
class Setup:
    fake: FakeGitHub
    clock: FakeClock
    repo: Repo
    token: str

    def client(self, token: str | None = None, **kwargs: object) -> GitHubClient:
        return GitHubClient(
            token or self.token,
            clock=self.clock,
            sleep=self.clock.sleep,
            transport=self.fake.transport(),
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture
def setup() -> Iterator[Setup]:
    clock = FakeClock()
    fake = FakeGitHub(clock=clock)
    repo = fake.add_repo("octo-org/hello-world", collaborators={"lazyaf-bot": "write", "reader": "read"})
    yield Setup(fake=fake, clock=clock, repo=repo, token=fake.add_token("lazyaf-bot"))
    fake.assert_clean()  # 0 unknown operations, 0 schema violations


@pytest.fixture
async def client(setup: Setup) -> AsyncIterator[GitHubClient]:
    async with setup.client() as client:
        yield client
