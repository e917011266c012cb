"""A fake GitHub built from GitHub's official data (``@octokit/openapi``, ``@octokit/webhooks-examples``,
``@octokit/graphql-schema``, ``@octokit/fixtures``), for LazyAF's backend, CLI and end-to-end tests.

Start with ``FakeGitHub`` (``fake.py``), the ``fake_github`` fixture (``pytest_plugin.py``) and
``webhooks.examples`` / ``webhooks.signed_request``.
"""

from lazyaf_testkit.github.fake import Call, FakeGitHub, Violation
from lazyaf_testkit.github.server import serve

__all__ = ["Call", "FakeGitHub", "Violation", "serve"]
