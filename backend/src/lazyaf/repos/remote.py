"""Check that a repo's origin answers: ``git ls-remote`` on its ``remote_url``, off the event loop.

One git process, ``git ls-remote --symref -- URL HEAD refs/heads/*``, run in a worker thread with
the server's clean git environment (``lazyaf.git.run.environment``): the answer says whether the
remote answered, which branch its HEAD names, and how many branches it has.

Credentials: remote URLs are stored without them (``validation.strip_credentials``). The one
credential LazyAF may use is a GitHub link's token, and only for the link's own ``git_url``; it
reaches git through the environment of that one process (``github.gitremote.token_env``), never
in argv or the URL, and whatever git prints is scrubbed of it. An ssh remote uses the server
user's own keys, never prompting (``BatchMode``). Only the file, git, http(s) and ssh transports
are allowed: ``ext::`` would run a command.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog

from lazyaf.git.run import environment, git_binary, in_thread
from lazyaf.github.gitremote import scrub, token_env

log = structlog.get_logger(__name__)

TIMEOUT = 30.0
"""Seconds a remote has to answer."""
ALLOWED_PROTOCOLS = "file:git:http:https:ssh"
SSH_COMMAND = "ssh -o BatchMode=yes -o ConnectTimeout=15"

_AUTH = (
    "could not read username",
    "could not read password",
    "authentication failed",
    "invalid username or password",
    "returned error: 401",
    "returned error: 403",
    "permission denied",
    "host key verification failed",
)
_MISSING = ("repository not found", "does not appear to be a git repository", "returned error: 404")
_UNREACHABLE = (
    "could not resolve",
    "failed to connect",
    "couldn't connect",
    "connection refused",
    "connection timed out",
    "timed out",
    "network is unreachable",
    "no route to host",
    "returned error: 5",
    "ssl",
)


@dataclass(frozen=True)
class RemoteAnswer:
    """What the remote said: ``ok`` with its HEAD's branch and branch count, or ``error``."""

    ok: bool
    default_branch: str | None = None
    branches: int = 0
    error: str | None = None


def same_remote(a: str, b: str) -> bool:
    """Whether two git URLs name the same repository (scheme and host case, a trailing / or .git aside)."""

    def key(url: str) -> tuple[str, str, str]:
        parts = urlsplit(url.strip())
        path = parts.path.rstrip("/").removesuffix(".git")
        return parts.scheme.lower(), parts.netloc.lower(), path

    return key(a) == key(b)


def _environment(token: str | None) -> dict[str, str]:
    extra = {"GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS, "GIT_SSH_COMMAND": SSH_COMMAND}
    if token:
        return {**token_env(token), **extra}
    return environment(**extra)


def _ls_remote(git: str, url: str, token: str | None) -> subprocess.CompletedProcess[bytes] | None:
    """Run git ls-remote (sync: in a worker thread); None when it took longer than ``TIMEOUT``."""
    try:
        return subprocess.run(
            [git, "ls-remote", "--symref", "--", url, "HEAD", "refs/heads/*"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_environment(token),
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None


async def check(git: str, url: str, *, token: str | None = None) -> RemoteAnswer:
    """Ask ``url`` for its HEAD and branches; never raises for what the remote answers."""
    done = await in_thread(_ls_remote, git_binary(git), url, token)
    if done is None:
        return RemoteAnswer(
            ok=False,
            error=f"{url} did not answer within {TIMEOUT:.0f} s; check the URL and the network, "
            "then try again.",
        )
    stderr = scrub(done.stderr.decode("utf-8", "replace"), token or "")
    if done.returncode != 0:
        log.info("remote_check_failed", url=url, returncode=done.returncode)
        return RemoteAnswer(ok=False, error=explain(stderr, url, has_token=bool(token)))
    return _parse(done.stdout.decode("utf-8", "replace"))


def _parse(stdout: str) -> RemoteAnswer:
    default_branch, branches = None, 0
    for line in stdout.splitlines():
        target, _, name = line.partition("\t")
        if target.startswith("ref: ") and name == "HEAD":
            default_branch = target.removeprefix("ref: ").removeprefix("refs/heads/")
        elif name.startswith("refs/heads/"):
            branches += 1
    return RemoteAnswer(ok=True, default_branch=default_branch, branches=branches)


def explain(stderr: str, url: str, *, has_token: bool) -> str:
    """A sentence saying what to fix, from what git printed."""
    text = stderr.lower()
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    said = " ".join(lines[:2])[:300]
    quoted = f' (git said: "{said}")' if said else ""
    if "not allowed" in text and "transport" in text:
        return (
            f"LazyAF checks only file, git, http(s) and ssh remotes, not {url}{quoted}; "
            "set a URL of one of those kinds."
        )
    if any(sign in text for sign in _AUTH):
        if has_token:
            return (
                f"{url} refused the GitHub link's token{quoted}; it was revoked, has expired or lacks "
                "access. Link the repo again with a token that can read it."
            )
        return (
            f"{url} wants credentials LazyAF does not have{quoted}. LazyAF never stores them in the URL: "
            "for a GitHub repository link the repo to GitHub with a token (its git URL must be this one); "
            "for ssh, give the server's user a key the remote accepts."
        )
    if any(sign in text for sign in _MISSING):
        return f"No git repository at {url}{quoted}; check the remote URL in the repo's settings."
    if any(sign in text for sign in _UNREACHABLE):
        return f"Cannot reach {url}{quoted}; check the URL and the network, then try again."
    return f"git could not read {url}{quoted}; check the remote URL in the repo's settings."
