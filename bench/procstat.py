"""Memory and CPU of a process tree, read straight from /proc (Linux only, no psutil).

RSS is summed over the root and all its descendants, so file pages that several processes
map (a pack mmapped by upload-pack and pack-objects) count once per process, as `ps` would.
CPU is the root's own time plus the time of the children it has reaped (cutime/cstime), so
read it after the tree's children have exited.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids.extend(int(k) for k in f.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return kids


def tree(root: int) -> list[int]:
    """The root pid and every descendant still alive."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(_children(pid))
    return pids


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def tree_rss(root: int) -> int:
    return sum(rss_bytes(pid) for pid in tree(root))


def cpu_seconds(pid: int) -> float:
    """User + system time of ``pid`` and of the children it has waited for."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    # After the command name: state is field 3, utime..cstime are fields 14..17.
    return sum(int(v) for v in fields[11:15]) / TICK


def tree_cpu(root: int) -> float:
    """CPU time of the whole tree: each live process's own time plus what it has reaped.

    A child that exited and was reaped moves into its parent's cutime/cstime, so the sum
    stays right as processes come and go (unless one exits between two reads).
    """
    return sum(cpu_seconds(pid) for pid in tree(root))


def wait_settled(root: int, baseline: set[int], timeout: float = 5.0) -> bool:
    """Wait until the tree holds no process beyond ``baseline`` (its idle, long-lived members)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(tree(root)) <= baseline:
            return True
        time.sleep(0.01)
    return False


class PeakSampler:
    """Sample the summed RSS of a process tree every ``interval`` seconds in a thread."""

    def __init__(self, root: int, interval: float = 0.02) -> None:
        self.root = root
        self.interval = interval
        self.peak = 0
        self.peak_procs = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = tree(self.root)
            total = sum(rss_bytes(pid) for pid in pids)
            self.samples += 1
            if total > self.peak:
                self.peak = total
            self.peak_procs = max(self.peak_procs, len(pids))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
