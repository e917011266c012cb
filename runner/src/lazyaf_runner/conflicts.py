"""Conflict markers in a runner's work tree: the rule (``lazyaf_protocol.conflict_markers``) applied
to what an agent left before the harness commits it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lazyaf_protocol.conflict_markers import PICKAXE, batch_request, files_introducing, parse_batch, parse_raw
from lazyaf_protocol.conflict_markers import refusal as refusal

if TYPE_CHECKING:
    from lazyaf_runner.workspace import Workspace


async def _git(workspace: Workspace, *args: str, stdin: bytes | None = None) -> tuple[int, bytes]:
    process = await asyncio.create_subprocess_exec(
        "git",
        "--literal-pathspecs",
        *args,
        cwd=workspace.repo,
        env=workspace.env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


async def snapshot(workspace: Workspace, paths: Sequence[str]) -> dict[str, str | None]:
    """What each conflicting file held right after the harness merged the base branch in."""
    return {p: await asyncio.to_thread(_digest, workspace.repo / p) for p in paths}


async def unmerged_untouched(workspace: Workspace, merged: Mapping[str, str | None]) -> list[str]:
    """Paths git still lists as unmerged whose file is exactly as the merge left it.

    Text conflicts left alone are also caught by their markers; this catches the others (a binary
    file, a file deleted on one side), which ``git add --all`` would otherwise settle silently.
    An unmerged path the agent edited counts as its answer (its markers are checked after)."""
    if not merged:
        return []
    _, out = await _git(workspace, "ls-files", "--unmerged", "-z")
    entries = [entry.split(b"\t", 1) for entry in out.split(b"\0") if b"\t" in entry]
    paths = dict.fromkeys(name.decode("utf-8", "surrogateescape") for _, name in entries)
    return [
        p for p in paths if p in merged and await asyncio.to_thread(_digest, workspace.repo / p) == merged[p]
    ]


async def staged_markers(workspace: Workspace, target: str) -> list[str]:
    """Stage everything, then the files whose staged version introduces markers over ``target``'s
    version (and over the version at the merge base of ``target`` and HEAD: a branch made before
    the target dropped markers of its own does not bring them back)."""
    code, _ = await _git(workspace, "add", "--all")
    if code != 0:
        return []  # committing reports the failure with git's words
    _, raw = await _git(
        workspace,
        "diff-index",
        "--cached",
        "-r",
        "-z",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        f"-G{PICKAXE}",
        target,
    )
    changed = parse_raw(raw)
    if not changed:
        return []
    at_base = await _blob_ids_at_merge_base(workspace, target, [c.path for c in changed])
    oids = [o for c in changed for o in (c.old, c.new) if o is not None] + list(at_base.values())
    _, content = await _git(workspace, "cat-file", "--batch", stdin=batch_request(oids))
    blobs = parse_batch(content)
    extra = {path: blobs[oid] for path, oid in at_base.items() if oid in blobs}
    return files_introducing(changed, blobs, extra)


async def _blob_ids_at_merge_base(workspace: Workspace, target: str, paths: Sequence[str]) -> dict[str, str]:
    """The blob id of each of ``paths`` at the merge base of ``target`` and HEAD, when that is not
    ``target`` itself (nothing to add then)."""
    code, out = await _git(workspace, "merge-base", target, "HEAD")
    base = out.decode().strip()
    if code != 0 or not base or base == target:
        return {}
    _, listed = await _git(workspace, "ls-tree", "-r", "-z", "--full-tree", base, "--", *paths)
    found = {}
    for entry in listed.split(b"\0"):
        if b"\t" in entry:
            meta, name = entry.split(b"\t", 1)
            found[name.decode("utf-8", "surrogateescape")] = meta.split()[2].decode()
    return found
