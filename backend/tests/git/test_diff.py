"""The diff engine against bare repos built with the real git client.

Each test writes a history in a work tree, pushes it to a bare repo made the way LazyAF makes
them, and reads the diff back from the bare repo; patches are compared byte for byte with what
`git diff` prints in the same repo.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lazyaf.git.diff import (
    EMPTY_TREE,
    DiffError,
    DiffLine,
    DiffResult,
    FileDiff,
    diff,
    merge_base,
    resolve,
)
from lazyaf.git.store import create_bare
from tests.gitutil import Files, Work, git, rev

BRANCH = "lazyaf/12-review-diff"


def git_diff(bare: Path, *args: str) -> bytes:
    """What `git diff` prints in the bare repo (names unquoted, as LazyAF asks for)."""
    command = ["git", f"--git-dir={bare}", "-c", "core.quotepath=false", "diff", *args]
    return subprocess.run(command, check=True, capture_output=True).stdout


def lines(prefix: str, count: int) -> str:
    return "".join(f"{prefix} line {i}\n" for i in range(1, count + 1))


def by_path(result: DiffResult) -> dict[str, FileDiff]:
    return {f.path: f for f in result.files}


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "repo.git"
    create_bare(path, "main")
    return path


@pytest.fixture
def work(tmp_path: Path, bare: Path) -> Work:
    """Main has one commit with a few files, then the branch is created from it."""
    work = Work(tmp_path / "work", bare)
    work.commit(
        {"README.md": "# Demo\n", "src/app.py": lines("app", 20), "docs/guide.md": lines("guide", 10)}
    )
    work.branch(BRANCH)
    return work


# -- what a file's diff says ----------------------------------------------------------------


def test_modified_file_has_hunks_with_line_numbers_on_both_sides(work: Work, bare: Path) -> None:
    text = lines("app", 20).replace("app line 5\n", "app line five\nand a new one\n")
    work.commit({"src/app.py": text.replace("app line 18\n", "")})
    work.push()

    result = diff(bare, "main", BRANCH)

    (file,) = result.files
    assert (file.path, file.status, file.additions, file.deletions) == ("src/app.py", "modified", 2, 2)
    assert (file.old_mode, file.new_mode, file.binary, file.too_large) == ("100644", "100644", False, False)
    first, second = file.hunks
    assert (first.old_start, first.old_lines, first.new_start, first.new_lines) == (2, 7, 2, 8)
    assert first.lines[2:6] == [
        DiffLine(kind="context", old_line=4, new_line=4, text="app line 4"),
        DiffLine(kind="delete", old_line=5, new_line=None, text="app line 5"),
        DiffLine(kind="add", old_line=None, new_line=5, text="app line five"),
        DiffLine(kind="add", old_line=None, new_line=6, text="and a new one"),
    ]
    assert (second.old_start, second.new_start) == (15, 16)
    assert DiffLine(kind="delete", old_line=18, new_line=None, text="app line 18") in second.lines
    assert second.lines[-1] == DiffLine(kind="context", old_line=20, new_line=20, text="app line 20")


def test_hunk_header_carries_the_function_context(work: Work, bare: Path) -> None:
    work.commit({"src/mod.py": "def compute():\n" + lines("    x", 10)}, "Add mod")
    work.run("branch", "-f", "main", BRANCH)
    work.commit({"src/mod.py": "def compute():\n" + lines("    x", 10).replace("x line 8", "x line VIII")})
    work.push()

    (hunk,) = diff(bare, "main", BRANCH).files[0].hunks

    assert hunk.header == "def compute():"


def test_added_deleted_renamed_and_mode_changes_are_told_apart(work: Work, bare: Path) -> None:
    work.run("mv", "docs/guide.md", "docs/manual.md")
    work.commit({"new.txt": "fresh\n", "README.md": None})
    (work.path / "src/app.py").chmod(0o755)
    work.commit({}, "Make the app executable")
    work.push()

    files = by_path(diff(bare, "main", BRANCH))

    assert files["new.txt"].model_dump(exclude={"hunks"}) == {
        "path": "new.txt",
        "old_path": None,
        "status": "added",
        "additions": 1,
        "deletions": 0,
        "binary": False,
        "too_large": False,
        "old_mode": None,
        "new_mode": "100644",
    }
    assert (files["README.md"].status, files["README.md"].deletions, files["README.md"].new_mode) == (
        "deleted",
        1,
        None,
    )
    renamed = files["docs/manual.md"]
    assert (renamed.status, renamed.old_path, renamed.additions, renamed.hunks) == (
        "renamed",
        "docs/guide.md",
        0,
        [],
    )
    app = files["src/app.py"]
    assert (app.status, app.old_mode, app.new_mode, app.hunks) == ("modified", "100644", "100755", [])


def test_renamed_and_edited_file_keeps_its_old_path_and_hunks(work: Work, bare: Path) -> None:
    work.run("mv", "src/app.py", "src/main.py")
    work.commit({"src/main.py": lines("app", 20).replace("app line 10\n", "app line ten\n")})
    work.push()

    (file,) = diff(bare, "main", BRANCH).files

    assert (file.path, file.old_path, file.status, file.additions, file.deletions) == (
        "src/main.py",
        "src/app.py",
        "renamed",
        1,
        1,
    )
    assert [line.text for line in file.hunks[0].lines if line.kind != "context"] == [
        "app line 10",
        "app line ten",
    ]


def test_file_turned_into_a_symlink_is_a_type_change(work: Work, bare: Path) -> None:
    (work.path / "README.md").unlink()
    os.symlink("docs/guide.md", work.path / "README.md")
    work.commit({})
    work.push()

    (file,) = diff(bare, "main", BRANCH).files

    assert (file.status, file.old_mode, file.new_mode, file.additions, file.deletions) == (
        "type_changed",
        "100644",
        "120000",
        1,
        1,
    )
    removed, added = file.hunks  # git prints the old file's deletion, then the link's creation
    assert [(line.kind, line.text) for line in removed.lines] == [("delete", "# Demo")]
    assert [(line.kind, line.text) for line in added.lines] == [
        ("add", "docs/guide.md"),
        ("no_newline", "No newline at end of file"),
    ]


def test_submodule_entries_show_the_commits_they_point_at(work: Work, bare: Path) -> None:
    pinned = rev(work.path, "main")
    work.run("update-index", "--add", "--cacheinfo", f"160000,{pinned},vendor/lib")
    git("commit", "-q", "-m", "Add a submodule", cwd=work.path)
    work.push()

    (file,) = diff(bare, "main", BRANCH).files

    assert (file.path, file.status, file.new_mode, file.additions) == ("vendor/lib", "added", "160000", 1)
    assert file.hunks[0].lines == [
        DiffLine(kind="add", old_line=None, new_line=1, text=f"Subproject commit {pinned}")
    ]


def test_binary_files_are_flagged_without_hunks_or_counts(work: Work, bare: Path) -> None:
    work.commit({"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256))}, "Add a logo")
    work.run("branch", "-f", "main", BRANCH)
    work.commit({"logo.png": b"\x89PNG\r\n\x1a\n\x00\x01" + bytes(range(255, -1, -1)), "a.txt": "text\n"})
    work.push()

    result = diff(bare, "main", BRANCH)

    logo = by_path(result)["logo.png"]
    assert (logo.status, logo.binary, logo.additions, logo.deletions, logo.hunks) == (
        "modified",
        True,
        0,
        0,
        [],
    )
    assert (result.additions, result.deletions) == (1, 0)
    assert "Binary files a/logo.png and b/logo.png differ\n" in result.patch


def test_missing_newline_at_end_of_file_is_a_line_of_its_own(work: Work, bare: Path) -> None:
    work.commit({"README.md": "# Demo\nmore"})
    work.push()

    (hunk,) = diff(bare, "main", BRANCH).files[0].hunks

    assert hunk.lines == [
        DiffLine(kind="context", old_line=1, new_line=1, text="# Demo"),
        DiffLine(kind="add", old_line=None, new_line=2, text="more"),
        DiffLine(kind="no_newline", old_line=None, new_line=None, text="No newline at end of file"),
    ]


def test_carriage_returns_and_form_feeds_stay_inside_their_lines(work: Work, bare: Path) -> None:
    work.commit({"dos.txt": "one\r\ntwo\fthree\r\n\u2028four\n"})
    work.push()

    (file,) = diff(bare, "main", BRANCH).files

    assert file.additions == 3
    assert [line.text for line in file.hunks[0].lines] == ["one\r", "two\fthree\r", "\u2028four"]


def test_odd_and_non_ascii_file_names_come_through_exactly(work: Work, bare: Path) -> None:
    names = [
        "with space.txt",
        "tab\there.txt",
        "new\nline.txt",
        'quote"d.txt',
        "back\\slash.txt",
        "-dash.txt",
        "ünïcødé/日本語.md",
        "emoji 🎉.txt",
    ]
    work.commit({name: f"{name}\n" for name in names})
    work.run("mv", "with space.txt", "still spaced é.txt")
    work.commit({})
    work.push()

    result = diff(bare, "main", BRANCH)

    assert sorted(f.path for f in result.files) == sorted([*names[1:], "still spaced é.txt"])
    contents = {name: f"{name}\n" for name in names} | {"still spaced é.txt": "with space.txt\n"}
    for file in result.files:
        assert "".join(f"{line.text}\n" for line in file.hunks[0].lines) == contents[file.path]
    assert result.patch.encode() == git_diff(bare, result.merge_base_sha or "", result.head_sha)
    assert "diff --git a/ünïcødé/日本語.md b/ünïcødé/日本語.md\n" in result.patch


def test_non_utf8_content_is_replaced_not_refused(work: Work, bare: Path) -> None:
    work.commit({"latin1.txt": "caf\xe9\n".encode("latin-1")})
    work.push()

    (file,) = diff(bare, "main", BRANCH).files

    assert file.hunks[0].lines[0].text == "caf\ufffd"


# -- the patch and paging -------------------------------------------------------------------


def test_patch_is_what_git_diff_prints_byte_for_byte(work: Work, bare: Path) -> None:
    work.run("mv", "docs/guide.md", "docs/manual.md")
    changes: Files = {"src/app.py": lines("app", 20).replace("app line 3\n", ""), "x.bin": b"\0\1\2"}
    work.commit({**changes, "n.txt": "a", "empty.txt": ""})
    work.push()

    result = diff(bare, "main", BRANCH)

    assert result.patch.encode() == git_diff(bare, rev(work.path, "main"), rev(work.path, BRANCH))
    empty = by_path(result)["empty.txt"]
    assert (empty.status, empty.additions, empty.binary, empty.hunks) == ("added", 0, False, [])


@pytest.fixture
def wide(work: Work, bare: Path) -> Work:
    """A branch touching 262 files: edits, adds, deletes and renames, in git's path order."""
    work.commit({f"pkg/m{i:03}.py": lines(f"module {i}", 12) for i in range(240)}, "Add modules")
    work.run("branch", "-f", "main", BRANCH)
    changes: Files = {
        f"pkg/m{i:03}.py": lines(f"module {i}", 12).replace("line 6", "line six") for i in range(200)
    }
    changes.update({f"pkg/m{i:03}.py": None for i in range(200, 220)})
    changes.update({f"added/a{i:02}.txt": lines(f"added {i}", 3) for i in range(30)})
    (work.path / "moved").mkdir()
    for i in range(220, 232):
        work.run("mv", f"pkg/m{i:03}.py", f"moved/m{i:03}.py")
    work.commit(changes)
    work.push()
    return work


def test_paging_covers_every_file_once_in_git_order_with_totals_of_all(wide: Work, bare: Path) -> None:
    everything = diff(bare, "main", BRANCH, limit=1000)
    pages = [diff(bare, "main", BRANCH, offset=offset, limit=100) for offset in (0, 100, 200, 300)]

    assert everything.total_files == 262
    assert [len(page.files) for page in pages] == [100, 100, 62, 0]
    assert [f.path for page in pages for f in page.files] == [f.path for f in everything.files]
    for page in pages:
        assert (page.total_files, page.additions, page.deletions) == (262, 290, 440)
    assert (everything.additions, everything.deletions) == (290, 440)
    assert (pages[1].offset, pages[1].limit) == (100, 100)
    names = git_diff(bare, "--name-only", "-z", everything.merge_base_sha or "", everything.head_sha)
    assert [f.path for f in everything.files] == names.decode().split("\0")[:-1]
    statuses = [f.status for f in everything.files]
    assert (statuses.count("renamed"), statuses.count("deleted"), statuses.count("added")) == (12, 20, 30)


def test_a_pages_patch_is_what_git_diff_prints_for_its_files(wide: Work, bare: Path) -> None:
    for offset in (0, 100, 200):
        page = diff(bare, "main", BRANCH, offset=offset, limit=100)
        paths = [p for f in page.files for p in (f.old_path, f.path) if p is not None]
        pathspecs = [f":(literal){p}" for p in paths]
        expected = git_diff(bare, page.merge_base_sha or "", page.head_sha, "--", *pathspecs)
        assert page.patch.encode() == expected
        assert page.patch.count("diff --git ") == len(page.files)


def test_file_and_directory_of_the_same_name_land_on_their_own_pages(work: Work, bare: Path) -> None:
    work.commit({"README.md": None})
    work.commit({"README.md/inside.txt": "now a directory\n"})
    work.push()

    first, second = (diff(bare, "main", BRANCH, offset=i, limit=1) for i in (0, 1))

    assert [(f.path, f.status) for f in first.files + second.files] == [
        ("README.md", "deleted"),
        ("README.md/inside.txt", "added"),
    ]
    assert first.patch.count("diff --git ") == second.patch.count("diff --git ") == 1


def test_a_file_over_the_line_limit_keeps_counts_and_patch_but_no_hunks(work: Work, bare: Path) -> None:
    work.commit({"big.txt": lines("big", 300), "small.txt": "small\n"})
    work.push()

    files = by_path(diff(bare, "main", BRANCH, max_file_lines=100))

    big = files["big.txt"]
    assert (big.too_large, big.additions, big.hunks) == (True, 300, [])
    assert (files["small.txt"].too_large, len(files["small.txt"].hunks)) == (False, 1)


def test_context_option_matches_git_diff_unified(work: Work, bare: Path) -> None:
    work.commit({"src/app.py": lines("app", 20).replace("app line 4\n", "").replace("app line 9", "nine")})
    work.push()
    main, branch = rev(work.path, "main"), rev(work.path, BRANCH)

    for context in (0, 1, 10):
        result = diff(bare, "main", BRANCH, context=context)
        assert result.patch.encode() == git_diff(bare, f"-U{context}", main, branch)
    (zero,) = diff(bare, "main", BRANCH, context=0).files
    assert [(h.old_start, h.old_lines, h.new_start, h.new_lines) for h in zero.hunks] == [
        (4, 1, 3, 0),
        (9, 1, 8, 1),
    ]
    assert zero.hunks[1].lines == [
        DiffLine(kind="delete", old_line=9, new_line=None, text="app line 9"),
        DiffLine(kind="add", old_line=None, new_line=8, text="nine"),
    ]


# -- which commits are compared -------------------------------------------------------------


def test_three_dot_starts_at_the_branch_point_while_two_dot_sees_main_move_on(work: Work, bare: Path) -> None:
    fork = rev(work.path, "main")
    work.commit({"feature.txt": "feature\n"})
    work.branch("main", "main")
    work.commit({"README.md": "# Demo, moved on\n"}, "Main moves on")
    work.push()

    three = diff(bare, "main", BRANCH)
    two = diff(bare, "main", BRANCH, three_dot=False)

    assert (three.merge_base_sha, three.base_sha, three.head_sha) == (
        fork,
        rev(work.path, "main"),
        rev(work.path, BRANCH),
    )
    assert [(f.path, f.status) for f in three.files] == [("feature.txt", "added")]
    assert two.merge_base_sha is None
    assert [(f.path, f.status) for f in two.files] == [("README.md", "modified"), ("feature.txt", "added")]
    assert two.files[0].hunks[0].lines[0] == DiffLine(
        kind="delete", old_line=1, new_line=None, text="# Demo, moved on"
    )


def test_same_commit_gives_an_empty_diff(work: Work, bare: Path) -> None:
    work.push()
    head = rev(work.path, "main")

    result = diff(bare, "main", BRANCH)

    assert result == DiffResult(
        base_sha=head,
        head_sha=head,
        merge_base_sha=head,
        files=[],
        total_files=0,
        offset=0,
        limit=100,
        additions=0,
        deletions=0,
        patch="",
    )


def test_branch_merged_back_into_main_has_nothing_left_to_review(work: Work, bare: Path) -> None:
    work.commit({"feature.txt": "feature\n"})
    work.run("branch", "-f", "main", BRANCH)
    work.push()

    assert diff(bare, "main", BRANCH).total_files == 0


def test_root_commit_diffs_against_the_empty_tree(work: Work, bare: Path) -> None:
    work.push()
    root = rev(work.path, "main")

    result = diff(bare, EMPTY_TREE, root, three_dot=False)

    assert (result.base_sha, result.total_files, result.additions) == (EMPTY_TREE, 3, 31)
    assert {f.status for f in result.files} == {"added"}
    assert result.patch.encode() == git_diff(bare, EMPTY_TREE, root)


def test_branch_from_an_empty_root_commit_shows_every_file_added(tmp_path: Path, bare: Path) -> None:
    work = Work(tmp_path / "empty", bare)
    root = work.commit({}, "Empty start")
    work.branch(BRANCH)
    work.commit({"first.txt": "first\n", "dir/second.txt": "second\n"})
    work.push()

    result = diff(bare, "main", BRANCH)

    assert result.merge_base_sha == root
    assert [(f.path, f.status, f.additions) for f in result.files] == [
        ("dir/second.txt", "added", 1),
        ("first.txt", "added", 1),
    ]


def test_tags_and_short_shas_name_commits(work: Work, bare: Path) -> None:
    work.run("tag", "-a", "v1", "-m", "Release 1", "main")
    tip = work.commit({"feature.txt": "feature\n"})
    work.push()

    result = diff(bare, "v1", tip[:10])

    assert (result.base_sha, result.head_sha) == (rev(work.path, "main"), tip)
    assert [f.path for f in result.files] == ["feature.txt"]


# -- refs, merge-bases and errors -----------------------------------------------------------


def test_resolve_names_branches_tags_and_shas(work: Work, bare: Path) -> None:
    work.run("tag", "-a", "v1", "-m", "Release 1", "main")
    work.push()
    main = rev(work.path, "main")

    assert resolve(bare, "main") == resolve(bare, "refs/heads/main") == resolve(bare, main[:8]) == main
    assert resolve(bare, "v1") == main  # an annotated tag is peeled to its commit
    assert resolve(bare, EMPTY_TREE) == EMPTY_TREE
    for unknown in ("nope", "", "-h", "--all", "main\nother", "0" * 40, f"{main}:README.md"):
        assert resolve(bare, unknown) is None


def test_merge_base_of_a_branch_and_of_unrelated_histories(work: Work, bare: Path) -> None:
    fork = rev(work.path, "main")
    work.commit({"feature.txt": "feature\n"})
    work.run("checkout", "-q", "--orphan", "other")
    work.commit({"other.txt": "other\n"}, "Unrelated start")
    work.push()

    assert merge_base(bare, "main", BRANCH) == fork
    assert merge_base(bare, "main", "other") is None
    with pytest.raises(DiffError, match="^Ref 'nope' does not exist in this repository.$"):
        merge_base(bare, "main", "nope")


@pytest.mark.parametrize("three_dot", [True, False])
def test_unknown_refs_are_named_in_the_error(work: Work, bare: Path, three_dot: bool) -> None:
    work.push()

    with pytest.raises(DiffError, match="^Ref 'lazyaf/99-gone' does not exist in this repository.$"):
        diff(bare, "main", "lazyaf/99-gone", three_dot=three_dot)
    with pytest.raises(DiffError, match="^Ref 'trunk' does not exist in this repository.$"):
        diff(bare, "trunk", BRANCH, three_dot=three_dot)
    with pytest.raises(DiffError, match="^Ref '--output=x' does not exist"):
        diff(bare, "--output=x", BRANCH, three_dot=three_dot)


def test_unrelated_histories_have_no_three_dot_diff(work: Work, bare: Path) -> None:
    work.run("checkout", "-q", "--orphan", "other")
    work.commit({"other.txt": "other\n"}, "Unrelated start")
    work.push()

    with pytest.raises(DiffError, match="^'other' shares no history with 'main'"):
        diff(bare, "main", "other")
    assert [f.path for f in diff(bare, "main", "other", three_dot=False).files] == ["other.txt"]


def test_a_tree_has_no_merge_base(work: Work, bare: Path) -> None:
    work.push()

    with pytest.raises(DiffError, match="names a tree, not a commit"):
        diff(bare, EMPTY_TREE, "main")


@pytest.mark.parametrize(
    ("option", "value"), [("offset", -1), ("limit", -5), ("context", -1), ("max_file_lines", -1)]
)
def test_negative_paging_and_sizes_are_refused(work: Work, bare: Path, option: str, value: int) -> None:
    work.push()

    with pytest.raises(DiffError, match=f"^{option} must be 0 or more, not {value}.$"):
        diff(bare, "main", BRANCH, **{option: value})  # type: ignore[arg-type]
