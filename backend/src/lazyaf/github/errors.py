"""What can go wrong talking to GitHub, as LazyAF errors whose messages say what to fix.

The tree (under ``lazyaf.errors.LazyAFError``; the HTTP status is LazyAF's answer when one of
these ends a request, never GitHub's: a revoked GitHub token must not look like a LazyAF 401)::

    x GitHubError           502  base; ``status`` is GitHub's, ``retryable`` says whether later may work
      x GitHubAuthFailed    502  401: the token was revoked, expired or mistyped
      x GitHubForbidden     502  403 (not a rate limit): the token lacks a permission
      x GitHubNotFound      502  404: no such owner/name, or the token cannot see it
      x GitHubRejected      502  400/409/422 and GraphQL errors: GitHub refused the request as sent
      x GitHubUnavailable   503  5xx after the retries, or GitHub unreachable (retryable)
      x GitHubRateLimited   503  a rate limit that lasts longer than LazyAF waits (``retry_at``, retryable)

No message or repr ever contains the token.
"""

from __future__ import annotations

from lazyaf.errors import LazyAFError


class GitHubError(LazyAFError):
    status_code = 502
    code = "github_error"
    retryable = False

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r}, status={self.status})"


class GitHubAuthFailed(GitHubError):
    code = "github_auth_failed"


class GitHubForbidden(GitHubError):
    code = "github_forbidden"


class GitHubNotFound(GitHubError):
    code = "github_not_found"


class GitHubRejected(GitHubError):
    code = "github_rejected"


class GitHubUnavailable(GitHubError):
    status_code = 503
    code = "github_unavailable"
    retryable = True


class GitHubRateLimited(GitHubError):
    status_code = 503
    code = "github_rate_limited"
    retryable = True

    def __init__(self, detail: str, *, status: int | None = None, retry_at: float) -> None:
        super().__init__(detail, status=status)
        self.retry_at = retry_at
