"""The prediction on real bare repos: conflicts and overlaps between card branches and with the
target, which pairs are asked at all, and that nothing is left in the repository."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from lazyaf.conflicts.predict import Side, survey
from lazyaf.conflicts.schemas import ConflictKind
from lazyaf.git import run
from tests.conflicts.conftest import BASE, branch, edit
from tests.gitutil import Work, git

A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))


def _sides(**branches: str) -> list[Side]:
    ids = {"a": A, "b": B, "c": C}
    return [Side(ids[key], name) for key, name in branches.items()]


def _found(bare: Path, **branches: str) -> set[tuple[str, str, str, tuple[str, ...]]]:
    names = {A: "a", B: "b", C: "c", None: "main"}
    found = survey(bare, "main", _sides(**branches)).found
    return {(names[f.card_id], names[f.other_card_id], str(f.kind), f.files) for f in found}


def test_two_branches_changing_the_same_line_conflict_both_ways(bare: Path, work: Work) -> None:
    branch(work, "a", {"README.md": edit(BASE["README.md"], 2, "line 1 by a")})
    branch(work, "b", {"README.md": edit(BASE["README.md"], 2, "line 1 by b")})
    assert _found(bare, a="a", b="b") == {
        ("a", "b", "conflict", ("README.md",)),
        ("b", "a", "conflict", ("README.md",)),
    }


def test_the_same_file_changed_far_apart_is_an_overlap(bare: Path, work: Work) -> None:
    branch(work, "a", {"README.md": edit(BASE["README.md"], 2, "top by a"), "x.txt": "x\n"})
    branch(work, "b", {"README.md": edit(BASE["README.md"], 9, "bottom by b")})
    assert _found(bare, a="a", b="b") == {
        ("a", "b", "overlap", ("README.md",)),
        ("b", "a", "overlap", ("README.md",)),
    }


def test_branches_touching_different_files_are_not_asked(
    bare: Path, work: Work, monkeypatch: pytest.MonkeyPatch
) -> None:
    branch(work, "a", {"src/app.py": edit(BASE["src/app.py"], 1, "a")})
    branch(work, "b", {"docs/guide.md": "b\n"})
    asked = _count_git(monkeypatch)
    assert _found(bare, a="a", b="b") == set()
    assert "merge-tree" not in asked


def test_a_file_where_the_other_branch_makes_a_directory_meets(bare: Path, work: Work) -> None:
    branch(work, "a", {"notes": "a file\n"})
    branch(work, "b", {"notes/one.md": "in a directory\n"})
    found = _found(bare, a="a", b="b")
    assert {(a, b, kind) for a, b, kind, _files in found} == {("a", "b", "conflict"), ("b", "a", "conflict")}


def test_a_rename_against_an_edit_of_the_old_path_meets(bare: Path, work: Work) -> None:
    branch(work, "a", {"docs/guide.md": None, "docs/manual.md": "guide\n"})
    branch(work, "b", {"docs/guide.md": "guide, edited\n"})
    found = _found(bare, a="a", b="b")
    # git follows the rename: b's edit lands in the renamed file, but both touch docs/guide.md.
    assert ("a", "b", "overlap", ("docs/guide.md",)) in found


def test_the_target_moving_under_a_branch_conflicts(bare: Path, work: Work) -> None:
    card = branch(work, "a", {"README.md": edit(BASE["README.md"], 3, "line 2 by a")})
    work.commit({"README.md": edit(BASE["README.md"], 3, "line 2 on main")}, "Main moves")
    work.push("main")
    result = survey(bare, "main", _sides(a="a"))
    (f,) = result.found
    assert (f.card_id, f.other_card_id, f.kind, f.files) == (A, None, ConflictKind.CONFLICT, ("README.md",))
    assert f.card_sha == card and f.other_sha == result.target_sha


def test_the_target_moving_cleanly_over_the_same_file_is_an_overlap(bare: Path, work: Work) -> None:
    branch(work, "a", {"README.md": edit(BASE["README.md"], 2, "top by a")})
    work.commit({"README.md": edit(BASE["README.md"], 9, "bottom on main"), "other.txt": "o\n"}, "Main")
    work.push("main")
    assert _found(bare, a="a") == {("a", "main", "overlap", ("README.md",))}


def test_the_target_moving_elsewhere_or_not_at_all_predicts_nothing(bare: Path, work: Work) -> None:
    branch(work, "a", {"README.md": "a\n"})
    assert _found(bare, a="a") == set()
    work.commit({"other.txt": "o\n"}, "Main elsewhere")
    work.push("main")
    assert _found(bare, a="a") == set()


def test_missing_branches_and_branches_without_changes_are_left_out(bare: Path, work: Work) -> None:
    branch(work, "a", {"README.md": "a\n"})
    git("push", "-q", str(bare), "main:refs/heads/b", cwd=work.path)  # b: no commit of its own
    result = survey(bare, "main", _sides(a="a", b="b", c="never-pushed"))
    assert set(result.branches) == {A, B} and result.branches[B].mine == frozenset()
    assert result.found == []


def test_an_empty_repo_predicts_nothing(tmp_path: Path) -> None:
    from lazyaf.git.store import create_bare

    empty = tmp_path / "empty.git"
    create_bare(empty, "main")
    assert survey(empty, "main", _sides(a="a")).found == []


def test_the_repository_is_left_as_it_was(bare: Path, work: Work) -> None:
    branch(work, "a", {"README.md": edit(BASE["README.md"], 2, "by a")})
    branch(work, "b", {"README.md": edit(BASE["README.md"], 2, "by b")})
    branch(work, "c", {"README.md": edit(BASE["README.md"], 9, "by c")})
    work.commit({"README.md": edit(BASE["README.md"], 2, "on main")}, "Main")
    work.push("main")
    before = _snapshot(bare)
    # Each against main (2 conflicts, 1 overlap) and each pair both ways (a-b conflict, 2 overlaps).
    assert len(survey(bare, "main", _sides(a="a", b="b", c="c")).found) == 9
    assert _snapshot(bare) == before
    assert git("fsck", "--no-dangling", cwd=bare).returncode == 0


def test_after_a_push_only_the_new_tip_reaches_git(
    bare: Path, work: Work, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c"):
        branch(work, name, {"README.md": edit(BASE["README.md"], 2, f"by {name}")})
    sides = _sides(a="a", b="b", c="c")
    survey(bare, "main", sides)
    branch(work, "a", {"README.md": edit(BASE["README.md"], 2, "by a, again")}, start="a")
    asked = _count_git(monkeypatch)
    found = survey(bare, "main", sides).found
    # a's new tip: its merge base, its changed paths, and one merge-tree with each of b and c.
    assert sorted(asked) == ["diff-tree", "merge-base", "merge-tree", "merge-tree"]
    assert len(found) == 6
    asked.clear()
    survey(bare, "main", sides)
    assert asked == []


def _count_git(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The git commands run from now on (their subcommand names)."""
    asked: list[str] = []
    real = run.run

    def counting(repo: Path, *args: str, **kwargs: object) -> object:
        asked.append(args[0])
        return real(repo, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(run, "run", counting)
    return asked


def _snapshot(bare: Path) -> dict[str, bytes]:
    return {str(p.relative_to(bare)): p.read_bytes() for p in sorted(bare.rglob("*")) if p.is_file()}
