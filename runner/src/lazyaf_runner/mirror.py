"""A runner's git cache: one bare mirror per repository, and a spare checkout ready for the next job.

A fresh clone per job puts the network, the server and a whole checkout between a started card
and its agent. Instead each runner keeps, under ``<work root>/.cache/slot-<n>/``:

- ``mirrors/<hash of the URL>.git``: a bare repository holding the branches jobs needed (the
  base branch, card branches being continued) as ``refs/heads/*``. A job fetches only when the
  mirror's ref differs from the sha the backend sent in the assignment, so an unchanged base
  branch costs no fetch at all. Fetches are forced (``+``): a rewritten branch just moves.
- ``spare/``: a ``clone --shared`` of a mirror (objects through alternates, nothing copied),
  checked out on the base branch; its ``origin`` fetches from the mirror and pushes to the
  server. A job renames it to its own workspace and puts its card branch there (only the refs
  are written when the commit is the one checked out; else ``git checkout`` writes the files
  that differ); a new spare is made in the background after each job. A plain repository, not
  a ``git worktree``, so moving it is a rename and ``.git`` stays a directory.
- after a job pushed, its commit goes into the mirror as the card branch (``learn``), while the
  server records the completion: a workflow's next step on this runner starts from it without
  a fetch (the server's sha in the assignment still decides: a branch elsewhere is fetched).

A slot belongs to one runner process at a time (an exclusive ``flock`` held for the process's
life), so two runners on one machine never share a mirror, and a runner started later reuses a
slot (and its warm mirrors) freed by one that exited. A slot keeps the ``MAX_MIRRORS`` mirrors
used last, so disk use is bounded by the peak number of runners; job workspaces are removed after
each job as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import structlog

from lazyaf_runner.workspace import NO_HOOKS, WorkspaceError, last_line, run_git, without_credentials

log = structlog.get_logger(__name__)

_SHA1 = re.compile(r"[0-9a-f]{40}")
MAX_LEARN_BYTES = 64 * 1024 * 1024
"""Bytes of loose objects ``learn`` copies at most (beyond: the next job fetches)."""
MAX_MIRRORS = 8
"""Mirrors a slot keeps; the least recently used go first."""

try:
    import fcntl
except ImportError:  # pragma: no cover (not a POSIX system: one slot per process id instead)
    fcntl = None  # type: ignore[assignment]


def read_ref(git_dir: Path, name: str) -> str | None:
    """The sha ``name`` (``refs/heads/x``) points at in ``git_dir``, read from disk without a git
    process (a loose ref, else packed-refs); None when absent or not readable."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        value = (git_dir / name).read_text().strip()
        if len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value):
            return value
        return None  # a symbolic ref or something odd: let git decide
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in (git_dir / "packed-refs").read_text().splitlines():
            sha, _, ref = line.partition(" ")
            if ref == name and not line.startswith(("#", "^")):
                return sha
    return None


_MIRROR_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"


def _reset_config(mirror: Path) -> None:
    """Give a mirror the config ``git init --bare`` wrote, whatever is there now.

    In a container the agent runs as the runner's user and could have edited it (a proxy, a URL
    rewrite: where the next fetch sends the credential), or pointed it elsewhere (``commondir``)."""
    for redirect in ("commondir", "config.worktree"):
        with contextlib.suppress(FileNotFoundError):
            (mirror / redirect).unlink()
    config = mirror / "config"
    with contextlib.suppress(FileNotFoundError):
        config.unlink()  # a symlink is replaced, not followed
    config.write_text(_MIRROR_CONFIG)


@dataclass
class Spare:
    url: str
    base_branch: str
    path: Path  # the repository (its .git inside)
    head: str | None  # the commit checked out, clean


_SAFE_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


def switch_clean_checkout(repo: Path, branch: str, sha: str) -> bool:
    """Put a clean checkout whose HEAD commit is ``sha`` on ``branch`` (made or reset to ``sha``).

    What ``git checkout -B branch sha`` does when ``sha`` is already checked out (index and files
    unchanged: only the branch ref and HEAD are written), without a git process on the dispatch
    path. False when the name is unusual or the refs cannot be written: then run git instead.
    """
    if not _SAFE_BRANCH.fullmatch(branch) or ".." in branch or branch.endswith((".lock", ".")):
        return False
    git_dir = repo / ".git"
    ref = git_dir / "refs" / "heads" / branch
    try:
        # The checkout is this job's alone and nothing runs in it yet: plain writes will do.
        if not ref.parent.is_dir():
            ref.parent.mkdir(parents=True)
        ref.write_text(f"{sha}\n")
        (git_dir / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
    except OSError:
        return False
    return True


def _copy_objects(source: Path, mirror_objects: Path, head: str) -> bool:
    """Copy the loose objects of ``source`` into ``mirror_objects``, each checked against its name;
    whether the commit ``head`` is in the mirror afterwards (loose). False, copying nothing, when
    ``source`` holds packs or more than ``MAX_LEARN_BYTES``, or an object is not what it is named."""
    if any((source / "pack").glob("*.pack")):
        return False
    found: list[tuple[str, Path]] = []
    total = 0
    for folder in source.iterdir():
        if len(folder.name) != 2 or not folder.is_dir() or folder.is_symlink():
            continue
        for item in folder.iterdir():
            name = folder.name + item.name
            if not _SHA1.fullmatch(name) or not item.is_file() or item.is_symlink():
                continue
            total += item.stat().st_size
            if total > MAX_LEARN_BYTES:
                return False
            found.append((name, item))
    checked: list[tuple[str, bytes]] = []
    for name, item in found:
        data = item.read_bytes()
        if _object_name(data) != name:
            raise ValueError(f"object {name} in the work tree is not what its name says")
        checked.append((name, data))
    for name, data in checked:
        target = mirror_objects / name[:2] / name[2:]
        if target.exists():
            continue
        target.parent.mkdir(exist_ok=True)
        partial = target.with_name(f".tmp-{name[2:]}-{os.getpid()}")
        partial.write_bytes(data)
        os.replace(partial, target)  # readers see a whole object or none
    return (mirror_objects / head[:2] / head[2:]).is_file()


def _object_name(data: bytes, limit: int = 1 << 30) -> str:
    """The sha-1 of a loose object's inflated content (what git names it), inflated a MiB at a time
    and at most ``limit`` bytes (a deflate bomb is refused, not expanded)."""
    digest = hashlib.sha1()  # noqa: S324 (git's object names, not a security hash here)
    inflater = zlib.decompressobj()
    size = 0
    chunk = inflater.decompress(data, 1 << 20)
    while chunk:
        size += len(chunk)
        if size > limit:
            raise ValueError("a loose object inflates beyond the limit")
        digest.update(chunk)
        chunk = inflater.decompress(inflater.unconsumed_tail, 1 << 20)
    if not inflater.eof:
        raise ValueError("a loose object is truncated")
    return digest.hexdigest()


def _write_ref(ref: Path, sha: str) -> None:
    ref.parent.mkdir(parents=True, exist_ok=True)
    partial = ref.with_name(f".{ref.name}.lazyaf-tmp")
    partial.write_text(f"{sha}\n")
    os.replace(partial, ref)


class GitCache:
    """One runner's mirrors and spare checkout (see the module docstring)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.slot: Path | None = None
        self._lock_file: IO[str] | None = None
        self._fetch_lock = asyncio.Lock()
        self._spare: Spare | None = None
        self._spare_task: asyncio.Task[Spare | None] | None = None

    # -- the slot --

    def _claim_slot(self) -> Path:
        if self.slot is not None:
            return self.slot
        self.root.mkdir(parents=True, exist_ok=True)
        n = 0
        while True:
            slot = self.root / f"slot-{n}"
            if fcntl is None:
                slot = self.root / f"pid-{os.getpid()}"
                break
            handle = open(self.root / f"slot-{n}.lock", "a")  # noqa: SIM115 (held for the process's life)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                n += 1
                continue
            self._lock_file = handle
            break
        slot.mkdir(exist_ok=True)
        # A spare left by an earlier process: we do not know what it holds.
        for leftover in ("spare", "spare.new"):
            shutil.rmtree(slot / leftover, ignore_errors=True)
        self.slot = slot
        log.debug("git_cache_slot", slot=str(slot))
        return slot

    def close(self) -> None:
        if self._spare_task is not None:
            self._spare_task.cancel()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # -- mirrors --

    def mirror_path(self, url: str) -> Path:
        key = hashlib.sha256(url.encode()).hexdigest()[:24]
        return self._claim_slot() / "mirrors" / f"{key}.git"

    async def _mirror_path(self, url: str) -> Path:
        if self.slot is None:  # the first use claims the slot and tidies it: file work, off the loop
            await asyncio.to_thread(self._claim_slot)
        return self.mirror_path(url)

    async def _git(self, *args: str, cwd: Path, check: str, credential: bool = False) -> str:
        """Run git with hooks off; with the credential in its environment only when it talks to
        the server (``credential``)."""
        env = self.env if credential else without_credentials(self.env)
        result = await run_git(*NO_HOOKS, *args, cwd=cwd, env=env)
        if result.code != 0:
            raise WorkspaceError(f"{check}: {last_line(result.err or result.out)}")
        return result.out

    async def update(self, url: str, wanted: dict[str, str | None]) -> dict[str, str]:
        """Make the mirror of ``url`` hold each branch of ``wanted`` (name -> the sha expected, or
        None when unknown); the shas the branches point at afterwards.

        No fetch when every branch is already at its expected sha."""
        mirror = await self._mirror_path(url)
        with contextlib.suppress(OSError):
            os.utime(mirror)  # used now (the eviction order)
        refs = {name: read_ref(mirror, f"refs/heads/{name}") for name in wanted}
        if all(sha is not None and refs[name] == sha for name, sha in wanted.items()):
            return {name: sha for name, sha in refs.items() if sha is not None}
        async with self._fetch_lock:
            # What the lock's last holder put here (``learn``: the commit a previous step pushed).
            refs = {name: read_ref(mirror, f"refs/heads/{name}") for name in wanted}
            if all(sha is not None and refs[name] == sha for name, sha in wanted.items()):
                return {name: sha for name, sha in refs.items() if sha is not None}
            if not (mirror / "HEAD").exists():
                mirror.parent.mkdir(parents=True, exist_ok=True)
                await self._git(
                    "init",
                    "--quiet",
                    "--bare",
                    "--template=",
                    str(mirror),
                    cwd=mirror.parent,
                    check=f"Creating the mirror of {url} failed",
                )
                await asyncio.to_thread(self._evict, keep=mirror)
            names = " and ".join(wanted)
            # The fetch carries the credential; the mirror's config is the runner's alone again.
            await asyncio.to_thread(_reset_config, mirror)
            await self._git(
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                url,
                *(f"+refs/heads/{name}:refs/heads/{name}" for name in wanted),
                cwd=mirror,
                check=f"Fetching {names} from {url} failed",
                credential=True,
            )
        found = {name: read_ref(mirror, f"refs/heads/{name}") for name in wanted}
        missing = [name for name, sha in found.items() if sha is None]
        if missing:
            out = await self._git(
                "rev-parse",
                *(f"refs/heads/{name}" for name in missing),
                cwd=mirror,
                check=f"Reading {', '.join(missing)} in the mirror failed",
            )
            found.update(zip(missing, out.split(), strict=False))
        return {name: sha for name, sha in found.items() if sha is not None}

    async def learn(self, url: str, branch: str, sha: str, objects: Path) -> bool:
        """Put a commit this runner pushed into the mirror of ``url`` as ``branch``: the card's next
        step, on this runner, then finds its branch there and fetches nothing. Best effort (False:
        nothing learned, and the next job fetches as usual).

        A work tree borrows the mirror's objects (``clone --shared``), so what a job added is the
        loose objects of its own ``objects`` directory: they are copied into the mirror, each one
        checked against its name first (an agent may have written anything there), without a git
        process. A work tree holding packs (an agent that repacked or fetched) is left alone: its
        new objects may not all be loose. The server's sha in the next assignment still decides:
        a branch the server moved elsewhere is fetched."""
        mirror = await self._mirror_path(url)
        unusual = not _SAFE_BRANCH.fullmatch(branch) or ".." in branch or branch.endswith((".lock", "."))
        if unusual or not _SHA1.fullmatch(sha) or not (mirror / "HEAD").exists():
            return False
        async with self._fetch_lock:
            try:
                learned = await asyncio.to_thread(_copy_objects, objects, mirror / "objects", sha)
                if learned:
                    ref = mirror / "refs" / "heads" / branch
                    await asyncio.to_thread(_write_ref, ref, sha)
            except (OSError, ValueError, zlib.error) as exc:
                log.info("mirror_learn_failed", branch=branch, error=str(exc))
                return False
        return learned

    def _evict(self, *, keep: Path) -> None:
        """Remove the least recently used mirrors beyond ``MAX_MIRRORS`` (never ``keep``)."""
        mirrors = [m for m in keep.parent.glob("*.git") if m != keep]
        mirrors.sort(key=lambda m: m.stat().st_mtime, reverse=True)
        for old in mirrors[MAX_MIRRORS - 1 :]:
            shutil.rmtree(old, ignore_errors=True)

    # -- the spare checkout --

    async def _make_spare(self, url: str, base_branch: str, checkout: str | None = None) -> Spare:
        """A spare checkout of ``url`` on ``checkout`` (a branch of the mirror; the base by default)."""
        branch = checkout or base_branch
        mirror = await self._mirror_path(url)
        assert self.slot is not None
        slot = self.slot
        target = slot / "spare.new"
        await asyncio.to_thread(shutil.rmtree, target, True)
        await self._git(
            "clone",
            "--quiet",
            "--shared",
            "--no-tags",
            "--template=",
            "--branch",
            branch,
            # origin fetches from the mirror (local, fast) and pushes to the server.
            "--config",
            f"remote.origin.pushurl={url}",
            str(mirror),
            str(target),
            cwd=slot,
            check=f"Checking out {branch} failed",
        )
        final = slot / "spare"
        await asyncio.to_thread(shutil.rmtree, final, True)
        os.rename(target, final)
        return Spare(url, base_branch, final, read_ref(final / ".git", f"refs/heads/{branch}"))

    def prepare_spare(self, url: str, base_branch: str, checkout: str | None = None) -> None:
        """Start making a spare checkout of ``url`` in the background (after a job, off its path),
        on ``checkout`` when given: the branch a job just pushed and ``learn`` kept, which a
        workflow's next step starts from (another job checks its own start out, as from the base)."""
        if self._spare_task is not None and not self._spare_task.done():
            return
        if self._spare is not None and (self._spare.url, self._spare.base_branch) == (url, base_branch):
            return

        async def make() -> Spare | None:
            try:
                spare = await self._make_spare(url, base_branch, checkout)
            except (WorkspaceError, OSError) as exc:
                log.warning("spare_checkout_failed", error=str(exc))
                return None
            self._spare = spare
            return spare

        self._spare_task = asyncio.get_running_loop().create_task(make(), name="spare-checkout")

    async def take_spare(self, url: str, base_branch: str, dest: Path) -> str | None:
        """Move a checkout of ``url`` (on ``base_branch`` or another commit of it) to ``dest``:
        the spare if it is of this repo, else a new one made now. The commit checked out, clean
        (None: unknown)."""
        if self._spare_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._spare_task)
            self._spare_task = None
        spare, self._spare = self._spare, None
        if spare is None or spare.url != url or not spare.path.is_dir():
            if spare is not None:
                await asyncio.to_thread(shutil.rmtree, spare.path, True)
            spare = await self._make_spare(url, base_branch)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.rename(spare.path, dest)
        return spare.head
