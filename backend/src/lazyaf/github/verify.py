"""Verify a link: the token works, may write to the repository, and ``git_url`` answers with it.

Each step's failure is the answer's ``error``, a sentence that says what to fix; later steps are
not tried (a revoked token would only fail them again).
"""

from __future__ import annotations

from lazyaf.github import gitremote
from lazyaf.github.client import GitHubClient
from lazyaf.github.errors import GitHubError
from lazyaf.github.models import GitHubLink
from lazyaf.github.schemas import VerifyRead
from lazyaf.settings import Settings

WRITE_ROLES = ("admin", "maintain", "write")


async def verify(settings: Settings, link: GitHubLink, client: GitHubClient, token: str) -> VerifyRead:
    """Check the token, its permission on ``owner/name``, and ``git_url``; never raises a GitHubError."""
    answer = VerifyRead(ok=False)
    try:
        user = (await client.rest.users.async_get_authenticated()).parsed_data
        answer.login = user.login
        repo = (await client.rest.repos.async_get(link.owner, link.name)).parsed_data
        answer.default_branch = repo.default_branch
        level = (
            await client.rest.repos.async_get_collaborator_permission_level(link.owner, link.name, user.login)
        ).parsed_data
        answer.permission = level.role_name or level.permission
        if answer.permission not in WRITE_ROLES and level.permission not in WRITE_ROLES:
            answer.error = (
                f"The token ({user.login}) has {answer.permission} access to {link.full_name}; "
                "LazyAF needs write access to push branches and open pull requests. Give the token write "
                "access (fine-grained: Contents, Issues and Pull requests read/write; classic: repo) or use "
                "another token."
            )
            return _quota(answer, client)
        await gitremote.ls_remote(settings, link.git_url, token)
    except GitHubError as exc:
        answer.error = exc.detail
        return _quota(answer, client)
    answer.ok = True
    return _quota(answer, client)


def _quota(answer: VerifyRead, client: GitHubClient) -> VerifyRead:
    if client.rate_limit is not None:
        answer.rate_limit_remaining = client.rate_limit.remaining
    return answer
