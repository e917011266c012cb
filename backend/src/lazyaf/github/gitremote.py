"""git against the link's ``git_url`` with its token: push a branch, check the remote answers.

The token reaches git only through the environment of the one git process that needs it:
``LAZYAF_GITHUB_TOKEN``, read by a credential helper given as configuration in the environment
too (``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``, git ≥ 2.31). Never in
argv (visible to every user in ``ps``), never in the URL (git prints URLs in errors and
stores them in config), never on disk. Everything git prints is scrubbed of the token before
it is logged or shown, in case a server echoes it back.

Errors become ``lazyaf.github.errors``, so the outbox treats a refused push like a refused API
call: a 401 holds the write until the link is fixed, an unreachable host is retried later.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog

from lazyaf.git.run import environment, git_binary
from lazyaf.github.errors import (
    GitHubAuthFailed,
    GitHubError,
    GitHubForbidden,
    GitHubNotFound,
    GitHubRejected,
    GitHubUnavailable,
)
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

TOKEN_ENV = "LAZYAF_GITHUB_TOKEN"
# Answers git's "get" with the token from the environment; "store" and "erase" do nothing.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; echo username=x-access-token; echo "password=${'
    + TOKEN_ENV
    + '}"; }; f'
)
PUSH_TIMEOUT = 600.0
LS_REMOTE_TIMEOUT = 60.0

_AUTH = ("authentication failed", "invalid username or password", "returned error: 401", "could not read")
_FORBIDDEN = ("returned error: 403", "permission to", "denied to", "write access to repository not granted")
_MISSING = (
    "repository not found",
    "not found",
    "does not appear to be a git repository",
    "returned error: 404",
)
_UNREACHABLE = (
    "could not resolve",
    "failed to connect",
    "couldn't connect",
    "connection refused",
    "connection timed out",
    "network is unreachable",
    "operation timed out",
    "returned error: 5",
    "the remote end hung up",
    "ssl",
)


@dataclass(frozen=True)
class GitOutput:
    returncode: int
    stdout: str
    stderr: str


def token_env(token: str) -> dict[str, str]:
    """The environment of a git process that may use ``token`` (and nothing else of the server's)."""
    return environment(
        **{
            TOKEN_ENV: token,
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "credential.helper",
            "GIT_CONFIG_VALUE_0": "",  # forget every other helper
            "GIT_CONFIG_KEY_1": "credential.helper",
            "GIT_CONFIG_VALUE_1": CREDENTIAL_HELPER,
            "GIT_ASKPASS": "true",  # never prompt: an answer from the helper or a failure
            "SSH_ASKPASS": "true",
        }
    )


def scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


async def run_git(
    settings: Settings, args: Sequence[str], *, token: str, cwd: Path | None = None, timeout: float
) -> GitOutput:
    """Run ``git args`` with the token in its environment; output scrubbed of the token."""
    command = [git_binary(settings.git_binary), *args]
    try:
        with anyio.fail_after(timeout):
            done = await anyio.run_process(
                command, cwd=cwd, env=token_env(token), check=False, stdin=subprocess.DEVNULL
            )
    except TimeoutError:
        return GitOutput(124, "", f"git {args[0]} took longer than {timeout:.0f} s (operation timed out)")
    return GitOutput(
        done.returncode,
        scrub(done.stdout.decode(errors="replace"), token),
        scrub(done.stderr.decode(errors="replace"), token),
    )


async def ls_remote(settings: Settings, git_url: str, token: str) -> None:
    """Check that ``git_url`` answers with this token (read access); raise a GitHubError if not."""
    out = await run_git(settings, ["ls-remote", "--heads", git_url], token=token, timeout=LS_REMOTE_TIMEOUT)
    if out.returncode != 0:
        raise classify(out.stderr, git_url, "read")


async def push_branch(
    settings: Settings, repo_path: Path, git_url: str, token: str, sha: str, branch: str
) -> str:
    """Push ``sha`` to ``branch`` at ``git_url`` (forward only); git's one-line summary of it."""
    refspec = f"{sha}:refs/heads/{branch}"
    out = await run_git(
        settings,
        ["push", "--porcelain", "--no-verify", git_url, refspec],
        token=token,
        cwd=repo_path,
        timeout=PUSH_TIMEOUT,
    )
    status = _ref_status(out.stdout, branch)
    if out.returncode == 0:
        return status or "pushed"
    if status and status.startswith("!"):
        reason = status.split("(", 1)[-1].rstrip(")") if "(" in status else status
        if "non-fast-forward" in reason or "fetch first" in reason:
            raise GitHubRejected(
                f"GitHub's {branch} has commits LazyAF's branch lacks, so the push was refused; "
                "bring them into LazyAF's branch (or delete the branch on GitHub), then open the pull "
                "request again."
            )
        raise GitHubRejected(f"GitHub refused the push of {branch} to {git_url} ({reason}).")
    raise classify(out.stderr, git_url, "push to")


def _ref_status(porcelain: str, branch: str) -> str | None:
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].endswith(f"refs/heads/{branch}"):
            return f"{parts[0]} {parts[2]}".strip()
    return None


def classify(stderr: str, git_url: str, verb: str) -> GitHubError:
    """A GitHubError saying what to fix, from what git printed."""
    text = stderr.lower()
    said = " ".join(line.strip() for line in stderr.strip().splitlines()[-2:])[:300]
    quoted = f' (git said: "{said}")' if said else ""
    if any(sign in text for sign in _FORBIDDEN):
        return GitHubForbidden(
            f"The token may not {verb} {git_url}{quoted}; give it write access to the repository "
            "(fine-grained: Contents read/write; classic: the repo scope)."
        )
    if any(sign in text for sign in _AUTH):
        return GitHubAuthFailed(
            f"{git_url} refused the token{quoted}: it was revoked, has expired or is mistyped. "
            "Create a new token and link the repository again."
        )
    if any(sign in text for sign in _UNREACHABLE):
        return GitHubUnavailable(
            f"Cannot reach {git_url}{quoted}; check the link's git URL and the network. "
            "LazyAF will try again later."
        )
    if any(sign in text for sign in _MISSING):
        return GitHubNotFound(
            f"No git repository at {git_url}{quoted}, or the token cannot see it; check the link's git URL."
        )
    return GitHubUnavailable(f"git could not {verb} {git_url}{quoted}. LazyAF will try again later.")
