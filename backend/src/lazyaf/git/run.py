"""How LazyAF runs git: one resolved binary, one clean environment, one way off the event loop.

Every git process the backend starts is built here (``command``, ``environment``), so no user's
or system's git config changes what git does, whoever calls it: the git server, diffs, merges.
Work on a repository is sync (git processes, dulwich file reads) and always runs in a worker
thread (``in_thread``); the git server streams packs through async subprocesses
(``lazyaf.gitserver.gitproc``) built from the same ``command`` and ``environment``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ParamSpec, TypeVar

import anyio.to_thread

P = ParamSpec("P")
T = TypeVar("T")

# Only what git needs to find programs and temporary space; nothing else leaks in from the server.
PASSED_ENV = ("PATH", "SYSTEMROOT", "COMSPEC", "TMPDIR", "TEMP", "TMP")


@functools.cache
def git_binary(name: str = "git") -> str:
    # Resolved once: a bare "git" is looked up along PATH on every spawn (measured in the bench).
    return shutil.which(name) or name


def environment(**extra: str) -> dict[str, str]:
    """The server's PATH and temp dirs, no system or global config, no prompts, the C locale."""
    env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.update(extra)
    return env


def command(repo: Path, *args: str) -> list[str]:
    """The argument list running git ``args`` on the bare repository ``repo``."""
    # --git-dir, not -C: no repository discovery, the path is the repository.
    return [git_binary(), f"--git-dir={repo}", *args]


def run(
    repo: Path, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run git to completion in ``repo`` (sync: call it in a worker thread); the caller reads
    ``returncode``. ``env`` adds to ``environment()``."""
    return subprocess.run(
        command(repo, *args), input=stdin, capture_output=True, env=environment(**(env or {})), check=False
    )


def first_line(stderr: bytes) -> str:
    """git's message, for an error: its first non-empty line."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[0] if lines else "no message"


async def in_thread(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run sync git work (``func``) in a worker thread: the one way async code touches a repository."""
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))
