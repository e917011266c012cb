"""The plan parser: the shapes of front matter a plan step writes, and what it must not accept."""

from __future__ import annotations

import pytest

from lazyaf.conflicts.plans import normalize, overlapping, plan_paths, planned_files


def test_block_list_is_read_in_order() -> None:
    text = "---\nfiles:\n  - README.md\n  - src/app.py\n---\n# Plan\n\nfiles:\n  - not/this.md\n"
    assert planned_files(text) == ["README.md", "src/app.py"]


def test_flow_list_quotes_and_comments() -> None:
    text = "---\ntitle: x\nfiles: [README.md, 'docs/a b.md', \"src/x,y.py\"]  # the list\n---\n"
    assert planned_files(text) == ["README.md", "docs/a b.md", "src/x,y.py"]


def test_block_list_at_the_key_indentation_with_comments_and_blank_lines() -> None:
    text = "---\nfiles:\n- a.py  # first\n\n# a note\n- 'b#c.py'\nsummary: done\n- not-a-file\n---\n"
    assert planned_files(text) == ["a.py", "b#c.py"]


def test_one_scalar_and_duplicates_and_paths_cleaned() -> None:
    assert planned_files("---\nfiles: ./src/app.py\n---\n") == ["src/app.py"]
    text = "---\nfiles:\n  - /README.md\n  - README.md\n  - src/\n  - a/../b.txt\n---\n"
    assert planned_files(text) == ["README.md", "src/", "b.txt"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# Plan\n\nfiles:\n  - README.md\n",  # no front matter
        "---\nfiles:\n  - README.md\n",  # never closed
        "---\ntitle: no files here\n---\n",
        "---\nfiles:\n---\n",
        "text first\n---\nfiles: [a]\n---\n",
    ],
)
def test_no_readable_list_is_no_files(text: str) -> None:
    assert planned_files(text) == []


def test_byte_order_mark_and_dots_closing() -> None:
    assert planned_files("\ufeff---\nfiles: [a.md]\n...\nbody\n") == ["a.md"]


@pytest.mark.parametrize("entry", ["../etc/passwd", "..", "", "   ", "./", "a/../../x", "nul\0byte"])
def test_entries_outside_the_repo_are_dropped(entry: str) -> None:
    assert normalize(entry) == ""


def test_plan_paths_prefer_the_branch_name_then_the_plans_the_branch_changed() -> None:
    changed = ["docs/plans/z-other.md", "docs/plans/fix.progress.md", "src/a.py", "docs/plans/fix.md"]
    assert plan_paths(changed, "lazyaf/1234abcd-fix") == [
        "docs/plans/1234abcd-fix.md",
        "docs/plans/fix.md",
        "docs/plans/z-other.md",
    ]


def test_overlapping_paths_directories_and_globs() -> None:
    others = ["README.md", "src/app.py", "src/lib/x.py", "docs/guide.md"]
    assert overlapping(["README.md"], others) == ["README.md"]
    assert overlapping(["src/"], others) == ["src/app.py", "src/lib/x.py"]
    assert overlapping(["src"], others) == ["src/app.py", "src/lib/x.py"]
    assert overlapping(["src/*.py"], others) == ["src/app.py", "src/lib/x.py"]
    assert overlapping(["docs/*.txt", "srcx/app.py"], others) == []
    # Either way round: the other side's directory takes in this side's file.
    assert overlapping(["src/app.py"], ["src/"]) == ["src/"]
