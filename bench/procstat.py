"""Memory and CPU of a process tree, read straight from /proc (Linux only, no psutil).

RSS is summed over the root and all its descendants, so pages that several processes map (a
pack mmapped by upload-pack and pack-objects) count once per process, as `ps` would. PSS
splits shared pages between their users, so its sum is closer to what the tree really holds.

A child caught between fork and exec is a copy of its parent: after a fork (uvloop spawns
subprocesses with libuv's fork) its RSS counts the parent's copy-on-write pages again, and
after a vfork it reports the parent's very address space. Either way it costs next to no
memory, yet a 20 ms sampler catches it in a few runs out of five, so the raw sum is flaky.
The sampler therefore keeps two peaks: ``peak`` leaves such not-yet-exec'd children out
(same executable and command line as their parent), ``peak_raw`` counts every process.

CPU is each live process's user + system time plus the time of the children it has reaped
(cutime/cstime), so read it once the tree is back at rest.
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


def tree_edges(root: int) -> list[tuple[int, int | None]]:
    """(pid, parent pid) for the root (parent None) and every live descendant."""
    edges: list[tuple[int, int | None]] = []
    todo: list[tuple[int, int | None]] = [(root, None)]
    while todo:
        pid, parent = todo.pop()
        edges.append((pid, parent))
        todo.extend((kid, pid) for kid in _children(pid))
    return edges


def tree(root: int) -> list[int]:
    """The root pid and every live descendant."""
    return [pid for pid, _ in tree_edges(root)]


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size: pages shared with other processes count by their share."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def tree_rss(root: int) -> int:
    return sum(rss_bytes(pid) for pid in tree(root))


def _identity(pid: int) -> tuple[str, bytes] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return os.readlink(f"/proc/{pid}/exe"), f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None  # gone, or a zombie


def is_unexeced(pid: int, parent: int | None) -> bool:
    """True for a child that has forked but not exec'd yet: same program and arguments as its parent."""
    if parent is None:
        return False
    mine = _identity(pid)
    return mine is not None and mine == _identity(parent)


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


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = [a.decode(errors="replace") for a in f.read().split(b"\0")[:4] if a]
    except (FileNotFoundError, ProcessLookupError):
        words = []
    if not words:  # a zombie (exited, not yet reaped) has no command line
        try:
            words = [f"[{Path(f'/proc/{pid}/comm').read_text().strip()}]"]
        except (FileNotFoundError, ProcessLookupError):
            words = ["[?]"]
    return " ".join(w.rsplit("/", 1)[-1] if i == 0 else w for i, w in enumerate(words))[:60]


class PeakSampler:
    """Sample the summed RSS (and optionally PSS) of a process tree every ``interval`` s in a thread."""

    def __init__(self, root: int, interval: float = 0.02, pss: bool = False) -> None:
        self.root = root
        self.interval = interval
        self.pss = pss  # costlier: the kernel walks each process's pages
        self.peak = 0  # without not-yet-exec'd fork children
        self.peak_raw = 0  # every process
        self.peak_pss = 0  # without not-yet-exec'd fork children
        self.samples = 0
        self.breakdown: list[tuple[str, float]] = []  # (command, RSS MiB) at ``peak``
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        edges = tree_edges(self.root)
        rss = {pid: rss_bytes(pid) for pid, _ in edges}
        counted = [pid for pid, parent in edges if not is_unexeced(pid, parent)]
        self.samples += 1
        self.peak_raw = max(self.peak_raw, sum(rss.values()))
        total = sum(rss[pid] for pid in counted)
        if total > self.peak:
            self.peak = total
            self.breakdown = [(_name(pid), round(rss[pid] / MIB, 1)) for pid in counted]
        if self.pss:
            self.peak_pss = max(self.peak_pss, sum(pss_bytes(pid) for pid in counted))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
