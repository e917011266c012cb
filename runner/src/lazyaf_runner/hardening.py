"""What keeps the runner's credentials and files from the agents it runs.

- ``make_non_dumpable``: agents run as the runner's own user, and a process may read the
  environment (``/proc/<pid>/environ``) and memory (``/proc/<pid>/mem``, ptrace) of any other
  process of its user. A non-dumpable process is exempt: its /proc files belong to root and
  ptrace is refused to anyone without ``CAP_SYS_PTRACE``. In a Docker runner (no capabilities,
  no-new-privileges) that puts the runner's token out of the agent's reach; on a local runner
  it is hardening only (the user's other processes hold the same secrets).
- ``prepare_work_root``: workspaces live in a folder of the runner's own (created 0700),
  never one another user could plant files or symlinks in.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import stat
import sys
from pathlib import Path

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def _prctl(option: int, arg: int = 0) -> int:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    result: int = libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0)
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


def make_non_dumpable() -> bool:
    """Mark this process non-dumpable (Linux); False where that does not exist.

    Children get their own flag back on exec (an agent's processes stay ordinary), so only
    the runner's environment and memory are closed to them."""
    if not sys.platform.startswith("linux"):
        return False
    _prctl(PR_SET_DUMPABLE, 0)
    return True


def is_dumpable() -> bool:
    """Whether this process is dumpable (True where the flag does not exist)."""
    if not sys.platform.startswith("linux"):
        return True
    return _prctl(PR_GET_DUMPABLE) == 1


def default_work_root() -> Path:
    """Where a runner keeps its workspaces unless told otherwise: ``$XDG_STATE_HOME/lazyaf/work``
    (``~/.local/state/lazyaf/work``). State rather than ``$XDG_RUNTIME_DIR``: that one is
    usually a small RAM disk, and a runner's mirrors are worth keeping across reboots."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "lazyaf" / "work"


class WorkRootError(Exception):
    """The work root cannot be used; the message says why and what to do."""


def prepare_work_root(path: Path) -> Path:
    """Create ``path`` (0700) or check it: it must be a folder of this user's that no one else
    can write to. Returns it absolute."""
    path = path.expanduser().absolute()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise WorkRootError(
            f"Cannot use {path} as the work folder: {exc.strerror or exc}; pick another with --work-dir."
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise WorkRootError(f"{path} is not a folder; pick another with --work-dir.")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise WorkRootError(
            f"{path} belongs to uid {info.st_uid}, not to this runner's user (uid {os.geteuid()}); "
            "another user could plant files there. Pick a folder of your own with --work-dir."
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise WorkRootError(
            f"{path} is writable by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run `chmod 700 {path}` or pick another folder with --work-dir."
        )
    return path
