"""The one ref reader and the branch moves, against a bare repository the real git client wrote."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lazyaf.git import refs, run
from lazyaf.git.store import create_bare
from tests.gitutil import Work, git, rev


@pytest.fixture
def work(tmp_path: Path) -> Work:
    bare = tmp_path / "repo.git"
    create_bare(bare, "main")
    work = Work(tmp_path / "work", bare)
    work.commit({"a.txt": "a\n"}, "First")
    work.branch("lazyaf/card")
    work.commit({"b.txt": "b\n"}, "Second")
    work.push("main", "lazyaf/card")
    return work


def test_loose_and_packed_refs_read_the_same(work: Work) -> None:
    main, card = rev(work.path, "main"), rev(work.path, "lazyaf/card")
    assert refs.branch_shas(work.bare, "main", "lazyaf/card", "nope") == [main, card, None]
    git("pack-refs", "--all", cwd=work.bare)  # what git gc does: no loose ref file left
    assert not (work.bare / "refs" / "heads" / "main").exists()
    assert refs.branch_shas(work.bare, "main", "lazyaf/card", "nope") == [main, card, None]
    assert refs.read(work.bare, "HEAD", "refs/heads/main") == [main, main]  # HEAD is followed
    assert refs.branches(work.bare) == {"main": main, "lazyaf/card": card}


def test_a_branch_moves_only_from_where_the_caller_saw_it(work: Work) -> None:
    main, card = rev(work.path, "main"), rev(work.path, "lazyaf/card")
    assert not refs.move_branch(work.bare, "main", old=card, new=card, reason="test")  # main is not at card
    assert not refs.move_branch(work.bare, "main", old=None, new=card, reason="test")  # it exists
    assert not refs.move_branch(work.bare, "other", old=None, new="f" * 40, reason="test")  # no such commit
    assert refs.branch_shas(work.bare, "main", "other") == [main, None]
    assert refs.move_branch(work.bare, "main", old=main, new=card, reason="test")
    assert refs.move_branch(work.bare, "other", old=None, new=main, reason="test")
    assert refs.branch_shas(work.bare, "main", "other") == [card, main]
    reflog = git("reflog", "show", "--format=%gs", "refs/heads/main", cwd=work.bare).stdout
    assert reflog.splitlines()[0] == "lazyaf: test"


def test_a_free_branch_name_is_the_first_no_branch_has(work: Work) -> None:
    assert refs.free_branch_name(work.bare, "lazyaf/new") == "lazyaf/new"
    assert refs.free_branch_name(work.bare, "lazyaf/card") == "lazyaf/card-2"
    refs.set_ref(work.bare, "refs/heads/lazyaf/card-2", rev(work.path, "main"), reason="test")
    assert refs.free_branch_name(work.bare, "lazyaf/card") == "lazyaf/card-3"
    assert refs.delete_branch(work.bare, "lazyaf/card-2")
    assert not refs.delete_branch(work.bare, "lazyaf/card-2")
    assert refs.free_branch_name(work.bare, "lazyaf/card") == "lazyaf/card-2"


async def test_async_code_reads_refs_in_a_worker_thread(work: Work) -> None:
    """``in_thread`` hands the call to a worker thread and gives back its result."""
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def read() -> list[str | None]:
        seen.append(threading.get_ident())
        return refs.branch_shas(work.bare, "main")

    assert await run.in_thread(read) == [rev(work.path, "main")]
    assert seen and seen[0] != loop_thread


def test_git_runs_without_the_users_config(
    work: Work, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither a global config (here a shorter abbreviation) nor GIT_DIR changes what git does."""
    config = tmp_path / "gitconfig"
    config.write_text("[core]\n\tabbrev = 4\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    done = run.run(work.bare, "rev-parse", "--short", "main")
    assert done.returncode == 0
    assert len(done.stdout.strip()) == 7  # git's default, not the user's abbrev = 4
