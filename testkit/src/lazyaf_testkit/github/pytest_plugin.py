"""Pytest fixtures for the fake GitHub.

Load them with ``pytest_plugins = ["lazyaf_testkit.github.pytest_plugin"]`` in a top conftest.

* ``fake_github``: a fresh ``FakeGitHub`` served on 127.0.0.1 (``fake_github.url``), also usable
  in-process (``fake_github.transport()``). At teardown it asserts 0 unknown operations and 0
  schema violations, so every test that talks to it is held to GitHub's contract; a test that
  provokes violations on purpose clears ``fake_github.violations`` after checking them.
* ``github_repo``: ``octo-org/hello-world`` on that fake, with ``lazyaf-bot`` (write) whose token
  is ``github_repo.token``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lazyaf_testkit.github.fake import FakeGitHub
from lazyaf_testkit.github.server import serve
from lazyaf_testkit.github.state import Repo


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    with serve(fake):
        yield fake
    fake.assert_clean()


@dataclass
class GitHubRepo:
    fake: FakeGitHub
    repo: Repo
    token: str
    login: str

    @property
    def owner(self) -> str:
        return self.repo.owner.login

    @property
    def name(self) -> str:
        return self.repo.name


@pytest.fixture
def github_repo(fake_github: FakeGitHub) -> GitHubRepo:
    repo = fake_github.add_repo("octo-org/hello-world", collaborators={"lazyaf-bot": "write"})
    token = fake_github.add_token("lazyaf-bot")
    return GitHubRepo(fake=fake_github, repo=repo, token=token, login="lazyaf-bot")
