"""What agents and verification commands find in their environment: an allowlist, not the runner's.

The runner's own environment holds its credentials (``LAZYAF_TOKEN``, the runner secret, the
model key it was started with). Agents and the repository's verification commands are code
LazyAF does not trust, so they start from an empty environment and get only:

- ``BASE_VARIABLES``: PATH, HOME, locale, terminal, time zone, user name, temp dir, proxies and
  CA bundles (what ordinary tools need to work, including reaching the model API);
- the git identity the harness commits with;
- for an agent, its own credential variables (the adapter's ``credentials``), from the runner's
  environment or, when unset there, from the server's assignment;
- names the runner was told to pass (``--pass-env``; never ``LAZYAF_*``).

Nothing starting with ``LAZYAF_`` ever gets through, whatever the lists say. Verification
commands get no model credential at all.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

BASE_VARIABLES = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TERM",
    "TZ",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    # Reaching the network from behind a proxy, with a company CA.
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
GIT_IDENTITY = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
FORBIDDEN_PREFIX = "LAZYAF_"


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether ``name`` is one of ``patterns`` (exact names, or prefixes ending in ``*``)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def select(env: Mapping[str, str], patterns: Iterable[str]) -> dict[str, str]:
    """The variables of ``env`` that ``patterns`` allow, never a ``LAZYAF_*`` one."""
    patterns = tuple(patterns)
    return {
        name: value
        for name, value in env.items()
        if matches(name, patterns) and not name.startswith(FORBIDDEN_PREFIX)
    }


def check_pass_env(names: Iterable[str]) -> list[str]:
    """``--pass-env`` names, refusing LazyAF's own (one sentence for the user)."""
    names = list(names)
    forbidden = [name for name in names if name.upper().startswith(FORBIDDEN_PREFIX)]
    if forbidden:
        raise ValueError(
            f"{', '.join(forbidden)}: LAZYAF_* variables are the runner's and never reach agents; "
            "pass other names."
        )
    return names


def verification_environment(
    runner_env: Mapping[str, str], *, identity: Mapping[str, str], pass_env: Iterable[str] = ()
) -> dict[str, str]:
    """The environment of a repository's setup/lint/test/build commands: no credential at all."""
    env = select(runner_env, (*BASE_VARIABLES, *pass_env))
    env.update(select(identity, GIT_IDENTITY))
    return env


def agent_environment(
    runner_env: Mapping[str, str],
    *,
    credentials: Iterable[str],
    server_env: Mapping[str, str],
    identity: Mapping[str, str],
    pass_env: Iterable[str] = (),
) -> dict[str, str]:
    """The base environment of an agent (its adapter adds its CLI's settings on top).

    ``server_env``: what the assignment carries (the server's model credentials and base URL);
    the runner's own non-empty values win, as a user who starts a runner with their own key
    expects."""
    credentials = tuple(credentials)
    env = select(runner_env, (*BASE_VARIABLES, *pass_env))
    own = {name: value for name, value in select(runner_env, credentials).items() if value}
    for name, value in select(server_env, credentials).items():
        own.setdefault(name, value)
    env.update(own)
    env.update(select(identity, GIT_IDENTITY))
    return env
