"""How LazyAF runs the git binary: one resolved path and one clean environment for every caller
(the git server, diffs, merges), so no user's or system's git config changes what git does."""

from __future__ import annotations

import functools
import os
import shutil

# Only what git needs to find programs and temporary space; nothing else leaks in from the server.
PASSED_ENV = ("PATH", "SYSTEMROOT", "COMSPEC", "TMPDIR", "TEMP", "TMP")


@functools.cache
def git_binary(name: str = "git") -> str:
    # Resolved once: a bare "git" is looked up along PATH on every spawn (measured in the bench).
    return shutil.which(name) or name


def clean_env(**extra: str) -> dict[str, str]:
    """The server's PATH and temp dirs, no system or global config, no prompts, the C locale."""
    env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.update(extra)
    return env
