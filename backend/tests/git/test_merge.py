"""The merge engine against real bare repos built and inspected with the real git client.

Each test pushes a history into a bare repo made the way LazyAF makes them, merges inside it,
then checks the result from a fresh clone (or the refs), that `git fsck --full` finds nothing
dangling, and on every refusal that the repo is byte for byte unchanged.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from lazyaf.git import merge as merge_module
from lazyaf.git.merge import (
    ConflictMarkers,
    MergeConflict,
    MergeResult,
    MergeStrategy,
    TargetMoved,
    UnknownRevision,
    UnrelatedHistories,
    conflicts,
    merge,
)
from lazyaf.git.store import create_bare
from tests.gitutil import Files, Work, git, rev

BRANCH = "lazyaf/7-add-notes"
ADA = ("Ada Lovelace", "ada@example.org")


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "repo.git"
    create_bare(path, "main")
    return path


@pytest.fixture
def work(tmp_path: Path, bare: Path) -> Work:
    """Main has one commit with a few files; nothing else yet."""
    work = Work(tmp_path / "work", bare)
    work.commit(
        {"README.md": "# Demo\n", "src/app.py": _lines("app", 20), "docs/guide.md": _lines("guide", 10)}
    )
    work.push("main")
    return work


def _lines(prefix: str, count: int) -> str:
    return "".join(f"{prefix} line {i}\n" for i in range(count))


def _edit_line(text: str, number: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[number] = new + "\n"
    return "".join(lines)


def ref(bare: Path, name: str = "main") -> str:
    return git("--git-dir", str(bare), "rev-parse", f"refs/heads/{name}").stdout.strip()


def snapshot(bare: Path) -> dict[str, bytes]:
    """Every file of the repo with its content: equal snapshots mean nothing at all changed."""
    return {str(p.relative_to(bare)): p.read_bytes() for p in sorted(bare.rglob("*")) if p.is_file()}


def assert_clean(bare: Path) -> None:
    """`git fsck --full` reports nothing, not even a dangling object, and no quarantine is left."""
    checked = git("--git-dir", str(bare), "fsck", "--full", "--no-progress", check=False)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")
    assert not list((bare / "objects").glob("tmp_objdir*"))


def clone(bare: Path, dest: Path, branch: str = "main") -> Path:
    git("clone", "-q", "-b", branch, str(bare), str(dest))
    return dest


def log_field(path: Path, fmt: str, revision: str = "HEAD") -> str:
    return git("log", "-1", f"--format={fmt}", revision, cwd=path).stdout.strip()


def approve(
    bare: Path,
    strategy: MergeStrategy = "auto",
    source: str = BRANCH,
    *,
    committer: tuple[str, str] | None = None,
    expected_target: str | None = None,
    date: datetime | None = None,
) -> MergeResult:
    """Approve the card branch into main the way LazyAF does, with the test's message and author."""
    return merge(
        bare,
        target_branch="main",
        source=source,
        strategy=strategy,
        message="Add notes\n\nLazyAF card 7, approved.",
        author=ADA,
        committer=committer,
        expected_target=expected_target,
        date=date,
    )


def diverge(work: Work) -> tuple[str, str]:
    """The card branch adds NOTES.md and edits app.py's top; main then edits app.py's bottom."""
    work.branch(BRANCH)
    work.commit({"NOTES.md": "notes\n"}, "Add notes")
    branch = work.commit(
        {"src/app.py": _edit_line(_lines("app", 20), 1, "app line 1, by the agent")}, "Edit app"
    )
    work.branch("main")
    main = work.commit(
        {"src/app.py": _edit_line(_lines("app", 20), 18, "app line 18, on main")}, "Edit on main"
    )
    work.push("main", BRANCH)
    return main, branch


# -- fast-forward, merge commit, squash -------------------------------------------------------


def test_fast_forward_moves_main_to_the_branch_tip(bare: Path, work: Work) -> None:
    before = ref(bare)
    work.branch(BRANCH)
    tip = work.commit({"NOTES.md": "notes\n"}, "Add notes")
    work.push(BRANCH)

    result = approve(bare)

    assert result == MergeResult(kind="fast_forward", sha=tip, previous=before, head=tip, base=before)
    assert ref(bare) == tip
    reflog = git("--git-dir", str(bare), "reflog", "show", "--format=%gs", "refs/heads/main").stdout
    assert reflog.splitlines()[0] == f"lazyaf: approve {BRANCH} (fast-forward)"
    assert_clean(bare)


def test_merge_commit_when_main_moved_on_has_both_parents_and_both_changes(
    bare: Path, work: Work, tmp_path: Path
) -> None:
    main, branch = diverge(work)

    result = approve(bare)

    assert result.kind == "merge" and result.previous == main and ref(bare) == result.sha
    assert (result.head, result.base) == (branch, rev(work.path, "main~1"))
    checkout = clone(bare, tmp_path / "check")
    assert log_field(checkout, "%P").split() == [main, branch]
    app = (checkout / "src/app.py").read_text()
    assert "app line 1, by the agent" in app and "app line 18, on main" in app
    assert (checkout / "NOTES.md").read_text() == "notes\n"
    assert log_field(checkout, "%B") == "Add notes\n\nLazyAF card 7, approved."
    reflog = git("--git-dir", str(bare), "reflog", "show", "--format=%gs", "refs/heads/main").stdout
    assert reflog.splitlines()[0] == f"lazyaf: approve {BRANCH} (merge)"
    assert_clean(bare)


def test_merge_commit_has_the_tree_git_merge_makes(bare: Path, work: Work, tmp_path: Path) -> None:
    diverge(work)
    reference = clone(bare, tmp_path / "reference")
    git("merge", "-q", "--no-edit", f"origin/{BRANCH}", cwd=reference)

    result = approve(bare)

    assert (
        rev(reference, "HEAD^{tree}")
        == git("--git-dir", str(bare), "rev-parse", f"{result.sha}^{{tree}}").stdout.strip()
    )


def test_identity_comes_from_the_arguments_not_the_environment(
    bare: Path, work: Work, tmp_path: Path
) -> None:
    diverge(work)
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=2)))

    approve(bare, committer=("LazyAF", "lazyaf@localhost"), date=when)

    checkout = clone(bare, tmp_path / "check")
    # The test environment sets GIT_AUTHOR_NAME etc.; the merge must not pick them up.
    assert (
        log_field(checkout, "%an <%ae>|%cn <%ce>")
        == "Ada Lovelace <ada@example.org>|LazyAF <lazyaf@localhost>"
    )
    assert (
        log_field(checkout, "%at %ai|%ct")
        == f"{int(when.timestamp())} 2024-05-06 07:08:09 +0200|{int(when.timestamp())}"
    )


def test_committer_defaults_to_the_author(bare: Path, work: Work, tmp_path: Path) -> None:
    diverge(work)

    approve(bare)

    assert log_field(clone(bare, tmp_path / "check"), "%cn <%ce>") == "Ada Lovelace <ada@example.org>"


def test_fixed_date_makes_the_merge_commit_reproducible(bare: Path, work: Work, tmp_path: Path) -> None:
    diverge(work)
    copy = tmp_path / "copy.git"
    shutil.copytree(bare, copy)
    when = datetime(2024, 1, 1, tzinfo=UTC)

    assert approve(bare, date=when).sha == approve(copy, date=when).sha


def test_objects_join_fan_out_directories_that_already_exist(bare: Path, work: Work, tmp_path: Path) -> None:
    # Empty fan-out directories, as `git prune` leaves them: every object takes the per-object path.
    for i in range(256):
        (bare / "objects" / f"{i:02x}").mkdir(exist_ok=True)
    diverge(work)

    result = approve(bare)

    assert git("--git-dir", str(bare), "cat-file", "-t", result.sha).stdout.strip() == "commit"
    assert (clone(bare, tmp_path / "check") / "NOTES.md").exists()
    assert_clean(bare)


def test_approving_again_after_main_was_reset_reuses_the_objects(bare: Path, work: Work) -> None:
    main, _ = diverge(work)
    when = datetime(2024, 1, 1, tzinfo=UTC)
    first = approve(bare, date=when)
    git("--git-dir", str(bare), "update-ref", "refs/heads/main", main)

    second = approve(bare, date=when)

    assert second == first and ref(bare) == first.sha
    assert_clean(bare)


def test_merge_strategy_makes_a_merge_commit_even_when_fast_forward_is_possible(
    bare: Path, work: Work, tmp_path: Path
) -> None:
    before = ref(bare)
    work.branch(BRANCH)
    tip = work.commit({"NOTES.md": "notes\n"}, "Add notes")
    work.push(BRANCH)

    result = approve(bare, "merge")

    assert result.kind == "merge" and result.sha not in (tip, before)
    checkout = clone(bare, tmp_path / "check")
    assert log_field(checkout, "%P").split() == [before, tip]
    assert rev(checkout, "HEAD^{tree}") == rev(checkout, f"{tip}^{{tree}}")
    assert_clean(bare)


def test_squash_makes_one_commit_with_the_combined_change(bare: Path, work: Work, tmp_path: Path) -> None:
    main, branch = diverge(work)

    result = approve(bare, "squash")

    assert result.kind == "squash" and result.previous == main
    checkout = clone(bare, tmp_path / "check")
    assert log_field(checkout, "%P") == main
    assert log_field(checkout, "%s") == "Add notes"
    changed = git("diff", "--name-only", "HEAD~1", "HEAD", cwd=checkout).stdout.split()
    assert changed == ["NOTES.md", "src/app.py"]
    assert "app line 1, by the agent" in (checkout / "src/app.py").read_text()
    # The branch's own commits are not in main's history.
    assert git("merge-base", "--is-ancestor", branch, "HEAD", cwd=checkout, check=False).returncode == 1
    assert_clean(bare)


def test_squash_when_fast_forward_is_possible_still_makes_one_new_commit(bare: Path, work: Work) -> None:
    before = ref(bare)
    work.branch(BRANCH)
    work.commit({"NOTES.md": "notes\n"}, "Add notes")
    tip = work.commit({"NOTES.md": "more notes\n"}, "More notes")
    work.push(BRANCH)

    result = approve(bare, "squash")

    assert result.kind == "squash" and result.sha != tip
    parents = git("--git-dir", str(bare), "log", "-1", "--format=%P", "main").stdout.split()
    assert parents == [before]
    tree = git("--git-dir", str(bare), "rev-parse", "main^{tree}", f"{tip}^{{tree}}").stdout.split()
    assert tree[0] == tree[1]
    assert_clean(bare)


def test_squash_of_changes_already_on_main_is_up_to_date(bare: Path, work: Work) -> None:
    work.branch(BRANCH)
    work.commit({"NOTES.md": "notes\n"}, "Add notes")
    work.branch("main")
    work.commit({"NOTES.md": "notes\n"}, "Same notes, written on main")
    work.push("main", BRANCH)
    before = snapshot(bare)

    result = approve(bare, "squash")

    branch, fork = ref(bare, BRANCH), rev(work.path, "main~1")
    assert result == MergeResult(kind="up_to_date", sha=ref(bare), previous=ref(bare), head=branch, base=fork)
    assert snapshot(bare) == before


@pytest.mark.parametrize("strategy", ["auto", "merge", "squash"])
def test_branch_already_in_main_is_up_to_date_for_every_strategy(
    bare: Path, work: Work, strategy: MergeStrategy
) -> None:
    work.branch(BRANCH)
    work.commit({"NOTES.md": "notes\n"}, "Add notes")
    work.branch("main")
    git("merge", "-q", "--no-ff", "--no-edit", BRANCH, cwd=work.path)
    work.push("main", BRANCH)
    main = ref(bare)
    before = snapshot(bare)

    branch = ref(bare, BRANCH)
    assert approve(bare, strategy) == MergeResult(
        kind="up_to_date", sha=main, previous=main, head=branch, base=branch
    )
    assert snapshot(bare) == before


def test_source_may_be_a_commit_id(bare: Path, work: Work) -> None:
    _, branch = diverge(work)

    result = approve(bare, source=branch)

    assert result.kind == "merge"
    reflog = git("--git-dir", str(bare), "reflog", "show", "--format=%gs", "refs/heads/main").stdout
    assert reflog.splitlines()[0] == f"lazyaf: approve {branch} (merge)"


# -- what git resolves on its own -------------------------------------------------------------


def test_rename_on_the_branch_and_edit_on_main_merge_cleanly(bare: Path, work: Work, tmp_path: Path) -> None:
    work.branch(BRANCH)
    work.commit({"docs/guide.md": None, "docs/user/guide.md": _lines("guide", 10)}, "Move the guide")
    work.branch("main")
    work.commit(
        {"docs/guide.md": _edit_line(_lines("guide", 10), 5, "guide line 5, on main")}, "Edit the guide"
    )
    work.push("main", BRANCH)

    assert conflicts(bare, target="main", source=BRANCH) == []
    result = approve(bare)

    assert result.kind == "merge"
    checkout = clone(bare, tmp_path / "check")
    assert not (checkout / "docs/guide.md").exists()
    assert "guide line 5, on main" in (checkout / "docs/user/guide.md").read_text()
    assert_clean(bare)


# -- conflicts --------------------------------------------------------------------------------


def _conflicting(work: Work, branch_files: Files, main_files: Files) -> None:
    work.branch(BRANCH)
    work.commit(branch_files, "Agent's change")
    work.branch("main")
    work.commit(main_files, "Main's change")
    work.push("main", BRANCH)


def test_conflict_names_the_files_and_changes_nothing(bare: Path, work: Work) -> None:
    _conflicting(
        work,
        {"src/app.py": "agent\n", "README.md": "# Agent\n", "docs/guide.md": None},
        {"src/app.py": "main\n", "README.md": "# Main\n", "docs/guide.md": "edited on main\n"},
    )
    before = snapshot(bare)

    with pytest.raises(MergeConflict) as raised:
        approve(bare)

    assert raised.value.files == ["README.md", "docs/guide.md", "src/app.py"]
    assert (
        str(raised.value) == f"Merging {BRANCH} into main conflicts in: README.md, docs/guide.md, src/app.py."
    )
    assert isinstance(raised.value, ValueError) and raised.value.status_code == 409
    assert snapshot(bare) == before
    assert_clean(bare)


@pytest.mark.parametrize("strategy", ["merge", "squash"])
def test_conflict_is_refused_for_every_strategy(bare: Path, work: Work, strategy: MergeStrategy) -> None:
    _conflicting(work, {"README.md": "# Agent\n"}, {"README.md": "# Main\n"})
    before = snapshot(bare)

    with pytest.raises(MergeConflict):
        approve(bare, strategy)

    assert snapshot(bare) == before


MARKED = "a\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> origin/main\n"


@pytest.mark.parametrize(
    ("strategy", "main_moved"), [("auto", False), ("auto", True), ("merge", False), ("squash", True)]
)
def test_a_branch_holding_conflict_markers_is_refused_for_every_strategy(
    bare: Path, work: Work, strategy: MergeStrategy, main_moved: bool
) -> None:
    """A branch whose files hold markers (an agent committed an unresolved merge) merges
    cleanly as far as git is concerned; it is refused all the same, and nothing is written."""
    work.branch(BRANCH)
    work.commit({"README.md": MARKED, "NOTES.md": "notes\n"}, "Resolve (not really)")
    work.branch("main")
    if main_moved:
        work.commit({"docs/guide.md": "edited on main\n"}, "Main moves on")
    work.push("main", BRANCH)
    before = snapshot(bare)

    with pytest.raises(ConflictMarkers) as raised:
        approve(bare, strategy)

    assert raised.value.files == ["README.md"] and raised.value.status_code == 409
    assert str(raised.value) == (
        f"{BRANCH} holds conflict markers (<<<<<<< / >>>>>>> lines) that main lacks in: README.md; "
        "nothing was merged."
    )
    assert snapshot(bare) == before
    assert_clean(bare)


@pytest.mark.parametrize("pathspecs", [2000, 0])  # 0: the whole merged tree is searched
def test_markers_are_found_in_odd_file_names_among_many_changes(
    bare: Path, work: Work, pathspecs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(merge_module, "GREP_PATHSPECS", pathspecs)
    work.branch(BRANCH)
    files: dict[str, str | bytes | None] = {f"gen/file{i}.txt": f"{i}\n" for i in range(50)}
    files |= {"docs/na\u00efve notes [draft].md": MARKED, "logo.bin": b"\0" + MARKED.encode()}
    work.commit(files, "Many files")
    work.branch("main")
    work.commit({"docs/guide.md": "edited on main\n"}, "Main moves on")
    work.push("main", BRANCH)

    with pytest.raises(ConflictMarkers) as raised:
        approve(bare)

    assert raised.value.files == ["docs/na\u00efve notes [draft].md"]  # a binary file holds no marker lines


def test_markers_the_target_already_holds_do_not_block_a_merge(bare: Path, work: Work) -> None:
    work.commit({"tests/fixture.txt": MARKED}, "A merge tool's fixture")
    work.branch(BRANCH)
    work.commit({"tests/fixture.txt": "first\n" + MARKED, "NOTES.md": "Notes\n=======\n"}, "Edit")
    work.push("main", BRANCH)

    result = approve(bare, "merge")

    assert result.kind == "merge"
    assert_clean(bare)


def test_conflicts_lists_the_files_and_leaves_the_repo_untouched(bare: Path, work: Work) -> None:
    _conflicting(work, {"README.md": "# Agent\n", "NOTES.md": "x\n"}, {"README.md": "# Main\n"})
    before = snapshot(bare)

    assert conflicts(bare, target="main", source=BRANCH) == ["README.md"]
    assert conflicts(bare, target="main", source="main") == []
    assert snapshot(bare) == before


def test_non_ascii_file_names_are_reported_as_they_are(bare: Path, work: Work) -> None:
    names = ["café/menü.txt", "日本語 ファイル.md", 'quote"d.txt']
    _conflicting(work, {n: "agent\n" for n in names}, {n: "main\n" for n in names})
    before = snapshot(bare)

    with pytest.raises(MergeConflict) as raised:
        approve(bare)

    assert raised.value.files == sorted(names, key=lambda n: n.encode())
    assert "café/menü.txt" in str(raised.value)
    assert snapshot(bare) == before


def test_binary_files_changed_on_both_sides_conflict(bare: Path, work: Work) -> None:
    work.commit({"assets/logo.png": bytes(range(256)) * 8})
    work.push("main")
    _conflicting(
        work, {"assets/logo.png": b"\x89PNG\0agent" * 100}, {"assets/logo.png": b"\x89PNG\0main" * 100}
    )
    before = snapshot(bare)

    with pytest.raises(MergeConflict) as raised:
        approve(bare)

    assert raised.value.files == ["assets/logo.png"]
    assert snapshot(bare) == before
    assert_clean(bare)


def test_a_long_conflict_list_is_shortened_in_the_message(bare: Path, work: Work) -> None:
    names = [f"f{i:02d}.txt" for i in range(13)]
    _conflicting(work, {n: "agent\n" for n in names}, {n: "main\n" for n in names})

    with pytest.raises(MergeConflict) as raised:
        approve(bare)

    assert raised.value.files == names
    assert str(raised.value).endswith("f08.txt, f09.txt and 3 more.")


# -- the target moving, unknown names, unrelated histories ------------------------------------


def test_unexpected_target_is_refused_before_anything_is_written(bare: Path, work: Work) -> None:
    main, _ = diverge(work)
    before = snapshot(bare)

    with pytest.raises(TargetMoved, match=r"Branch main is at .*, not at 000000000000 as expected"):
        approve(bare, expected_target="0" * 40)

    assert snapshot(bare) == before
    assert approve(bare, expected_target=main).kind == "merge"


def test_target_moved_while_merging_changes_nothing(
    bare: Path, work: Work, monkeypatch: pytest.MonkeyPatch
) -> None:
    main, _ = diverge(work)
    work.branch("other")
    other = work.commit({"OTHER.md": "other\n"}, "Another card lands first")
    work.push("other")
    objects_before = {p for p in (bare / "objects").rglob("*") if p.is_file()}
    real_commit_tree = merge_module._commit_tree

    def commit_then_race(*args: object, **kwargs: object) -> str:
        # Another approval moves main after our merge commit exists but before our ref update.
        sha = real_commit_tree(*args, **kwargs)  # type: ignore[arg-type]
        git("--git-dir", str(bare), "update-ref", "refs/heads/main", other, main)
        return sha

    monkeypatch.setattr(merge_module, "_commit_tree", commit_then_race)

    with pytest.raises(TargetMoved, match="Branch main changed while merging"):
        approve(bare)

    assert ref(bare) == other
    assert {p for p in (bare / "objects").rglob("*") if p.is_file()} == objects_before
    assert_clean(bare)


def test_target_locked_by_another_writer_is_refused(bare: Path, work: Work) -> None:
    diverge(work)
    lock = bare / "refs/heads/main.lock"
    lock.write_text("")
    before = snapshot(bare)

    with pytest.raises(TargetMoved):
        approve(bare)

    assert snapshot(bare) == before
    lock.unlink()
    assert_clean(bare)


@pytest.mark.parametrize(
    ("target", "source", "message"),
    [
        ("nope", BRANCH, "There is no branch or commit 'nope' in the repo to merge into."),
        (
            "main",
            "lazyaf/404-missing",
            "There is no branch or commit 'lazyaf/404-missing' in the repo to merge.",
        ),
        ("main", "f" * 40, f"There is no branch or commit '{'f' * 40}' in the repo to merge."),
        ("main", "--upload-pack=evil", "'--upload-pack=evil' is not a branch name or commit id."),
        ("main", "main~1", "'main~1' is not a branch name or commit id."),
        ("main", "main@{1}", "'main@{1}' is not a branch name or commit id."),
    ],
)
def test_unknown_target_or_source_is_a_clear_error(
    bare: Path, work: Work, target: str, source: str, message: str
) -> None:
    diverge(work)
    before = snapshot(bare)

    with pytest.raises(UnknownRevision) as raised:
        merge(bare, target_branch=target, source=source, strategy="auto", message="m", author=ADA)

    assert str(raised.value) == message and raised.value.status_code == 404
    assert snapshot(bare) == before


def test_unrelated_histories_are_refused(bare: Path, work: Work) -> None:
    git("checkout", "-q", "--orphan", BRANCH, cwd=work.path)
    git("rm", "-rqf", ".", cwd=work.path)
    work.commit({"other.txt": "unrelated\n"}, "Unrelated root")
    work.push(BRANCH)
    before = snapshot(bare)

    with pytest.raises(UnrelatedHistories, match="share no history"):
        approve(bare)
    with pytest.raises(UnrelatedHistories):
        conflicts(bare, target="main", source=BRANCH)

    assert snapshot(bare) == before


def test_empty_message_is_refused(bare: Path, work: Work) -> None:
    diverge(work)
    before = snapshot(bare)

    with pytest.raises(ValueError, match="needs a message"):
        merge(bare, target_branch="main", source=BRANCH, strategy="auto", message=" \n", author=ADA)

    assert snapshot(bare) == before
