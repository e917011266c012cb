"""The harness never commits a conflict: unmerged paths left as the merge made them, and conflict
markers the base branch lacks, are found in a real work tree after a real ``git merge``."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_workspace import BRANCH, cache, finish, git, job, server, sha

from lazyaf_runner import conflicts as cm
from lazyaf_runner.mirror import GitCache
from lazyaf_runner.workspace import Workspace

__all__ = ["cache", "server"]  # the fixtures of test_workspace.py

CONFLICTED = b"a\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> origin/main\n"


async def _conflicting(cache: GitCache, server: Path, tmp_path: Path, files: dict[str, bytes]) -> Workspace:
    """A resolve job's work tree: the card branch and main changed ``files`` differently, and the
    harness has merged main in (leaving them conflicting)."""
    first = await job(cache, server, base_sha=sha(server, "main"))
    for name in files:
        (first.repo / name).write_bytes(b"branch\n" + files[name])
    await first.commit_leftovers("Branch change")
    await first.push(f"refs/heads/{BRANCH}")
    branch_head = sha(first.repo, "HEAD")
    await finish(first)
    src = tmp_path / "src"
    for name in files:
        (src / name).write_bytes(b"main\n" + files[name])
    git("add", ".", cwd=src)
    git("commit", "-q", "-m", "main change", cwd=src)
    git("push", "-q", str(server), "main", cwd=src)
    resolve = await job(cache, server, branch_sha=branch_head, base_sha=sha(server, "main"))
    assert sorted(await resolve.merge_base_branch("main")) == sorted(files)
    return resolve


async def test_an_agent_that_does_nothing_leaves_every_conflict_unmerged(
    cache: GitCache, server: Path, tmp_path: Path
) -> None:
    ws = await _conflicting(cache, server, tmp_path, {"a.txt": b"x\n", "b.txt": b"y\n"})
    merged = await cm.snapshot(ws, ["a.txt", "b.txt"])
    assert await cm.unmerged_untouched(ws, merged) == ["a.txt", "b.txt"]
    assert await cm.staged_markers(ws, ws.base_sha or "") == ["a.txt", "b.txt"]


async def test_half_resolved_names_only_the_file_left_alone(
    cache: GitCache, server: Path, tmp_path: Path
) -> None:
    ws = await _conflicting(cache, server, tmp_path, {"a.txt": b"x\n", "b.txt": b"y\n"})
    merged = await cm.snapshot(ws, ["a.txt", "b.txt"])
    (ws.repo / "a.txt").write_text("resolved\n")  # written, not staged: the harness stages it
    assert await cm.unmerged_untouched(ws, merged) == ["b.txt"]
    assert await cm.staged_markers(ws, ws.base_sha or "") == ["b.txt"]


async def test_markers_staged_by_the_agent_are_caught_and_a_clean_resolution_passes(
    cache: GitCache, server: Path, tmp_path: Path
) -> None:
    ws = await _conflicting(cache, server, tmp_path, {"a.txt": b"x\n", "b.txt": b"y\n"})
    merged = await cm.snapshot(ws, ["a.txt", "b.txt"])
    (ws.repo / "a.txt").write_text("resolved\n")
    (ws.repo / "b.txt").write_text("kept one side\n>>>>>>> origin/main\n")  # half a cleanup
    git("add", "b.txt", cwd=ws.repo)
    assert await cm.unmerged_untouched(ws, merged) == []
    assert await cm.staged_markers(ws, ws.base_sha or "") == ["b.txt"]
    (ws.repo / "b.txt").write_text("resolved too\n")
    assert await cm.staged_markers(ws, ws.base_sha or "") == []
    assert await ws.commit_leftovers("Resolve") is True


async def test_an_untouched_binary_conflict_is_unresolved(
    cache: GitCache, server: Path, tmp_path: Path
) -> None:
    ws = await _conflicting(cache, server, tmp_path, {"logo.bin": b"\0\1\2"})
    merged = await cm.snapshot(ws, ["logo.bin"])
    assert await cm.unmerged_untouched(ws, merged) == ["logo.bin"]
    assert await cm.staged_markers(ws, ws.base_sha or "") == []  # no marker lines in a binary


@pytest.mark.parametrize(
    ("content", "flagged"),
    [
        (CONFLICTED, True),
        (b"Notes\n=======\n\nplain text\n", False),
        (b"<<<<<<<< eight is not a marker\n", False),
    ],
)
async def test_markers_written_by_any_job_are_caught(
    cache: GitCache, server: Path, content: bytes, flagged: bool
) -> None:
    ws = await job(cache, server, base_sha=sha(server, "main"))
    (ws.repo / "NOTES.md").write_bytes(content)
    assert await cm.staged_markers(ws, ws.base_sha or "") == (["NOTES.md"] if flagged else [])


async def test_markers_already_on_the_target_are_not_the_agents(
    cache: GitCache, server: Path, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "fixture.txt").write_bytes(CONFLICTED)  # a merge tool's test fixture, on main
    git("add", ".", cwd=src)
    git("commit", "-q", "-m", "fixture", cwd=src)
    git("push", "-q", str(server), "main", cwd=src)
    ws = await job(cache, server, base_sha=sha(server, "main"))
    (ws.repo / "fixture.txt").write_bytes(b"first line\n" + CONFLICTED)  # edited, markers kept
    assert await cm.staged_markers(ws, ws.base_sha or "") == []


async def test_a_branch_older_than_a_fix_on_the_target_is_not_blamed_for_its_markers(
    cache: GitCache, server: Path, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "fixture.txt").write_bytes(CONFLICTED)
    git("add", ".", cwd=src)
    git("commit", "-q", "-m", "markers committed by mistake", cwd=src)
    git("push", "-q", str(server), "main", cwd=src)
    first = await job(cache, server, base_sha=sha(server, "main"))
    (first.repo / "other.txt").write_text("work\n")
    await first.commit_leftovers("Branch work")
    await first.push(f"refs/heads/{BRANCH}")
    branch_head = sha(first.repo, "HEAD")
    await finish(first)
    (src / "fixture.txt").write_text("fixed on main\n")
    git("commit", "-q", "-am", "drop the markers", cwd=src)
    git("push", "-q", str(server), "main", cwd=src)
    ws = await job(cache, server, branch_sha=branch_head, base_sha=sha(server, "main"))
    (ws.repo / "other.txt").write_text("more work\n")
    assert await cm.staged_markers(ws, ws.base_sha or "") == []
    (ws.repo / "other.txt").write_bytes(CONFLICTED)
    assert await cm.staged_markers(ws, ws.base_sha or "") == ["other.txt"]


def test_the_refusal_names_the_files() -> None:
    message = cm.refusal([f"f{i}" for i in range(12)])
    assert "conflict markers" in message and "f0, f1" in message and "and 2 more" in message
    assert "Nothing was committed or pushed" in message
    assert "left merge conflicts unresolved in: a.txt." in cm.refusal(["a.txt"], unmerged=True)
