"""The learnings block of an agent's final message (untrusted data, bounded) and path scoping."""

from __future__ import annotations

import pytest

from lazyaf.learnings import parse
from lazyaf.learnings.paths import applies, matches, mentioned, plan_files


def test_entries_with_fields_plain_bullets_and_block_lists_are_read() -> None:
    message = """Done: the parser handles empty lines.

```learnings
- text: Run `make fmt` before committing; CI rejects unformatted code.
  paths: src/**, tests/**
  kind: command
- The handlers validate input with the schemas in src/api/schemas.py (paths: src/api/**)
- text: Fixtures live in
  tests/conftest.py, not beside the tests.
  paths:
    - tests/**
    - ./conftest.py
```
"""
    found = parse.proposals(message)
    assert [(p.text, p.paths, p.kind) for p in found] == [
        ("Run `make fmt` before committing; CI rejects unformatted code.", ["src/**", "tests/**"], "command"),
        ("The handlers validate input with the schemas in src/api/schemas.py", ["src/api/**"], "advice"),
        ("Fixtures live in tests/conftest.py, not beside the tests.", ["tests/**", "conftest.py"], "advice"),
    ]


def test_no_block_no_proposals_and_only_the_last_block_counts() -> None:
    assert parse.proposals("All done, nothing to add.") == []
    assert parse.proposals("```python\nprint('x')\n```") == []
    message = "```learnings\n- old one\n```\nthen later\n~~~learnings\n- new one\n~~~\n"
    assert [p.text for p in parse.proposals(message)] == ["new one"]


def test_what_an_agent_writes_is_bounded_and_cleaned() -> None:
    entries = "\n".join(f"- learning number {i}" for i in range(20))
    assert len(parse.proposals(f"```learnings\n{entries}\n```")) == parse.MAX_ENTRIES

    long = "word " * 400
    many = ", ".join(f"dir{i}/**" for i in range(30))
    message = (
        "```learnings\n"
        f"- text: {long}\n  paths: {many}\n  kind: rm -rf\n"
        "- text: bell\x07 and escape\x1b[31m gone\n  paths: ../../etc/passwd, -rf, /abs/ok, ok/**\n"
        "```"
    )
    first, second = parse.proposals(message)
    assert len(first.text) <= parse.TEXT_LIMIT and first.text.endswith("…")
    assert len(first.paths) == parse.MAX_GLOBS and first.kind == "advice"
    assert second.text == "bell and escape [31m gone"
    assert second.paths == ["abs/ok", "ok/**"]


def test_a_huge_message_is_searched_only_at_its_end() -> None:
    block = "```learnings\n- keep this\n```"
    assert [p.text for p in parse.proposals("x" * 1_000_000 + "\n" + block)] == ["keep this"]
    assert parse.proposals(block + "x" * parse.READ_LIMIT) == []


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("src/**", "src/a/b.py", True),
        ("src/**", "srcx/a.py", False),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/a/b.py", False),
        ("src/**/*.py", "src/x.py", True),
        ("*.py", "deep/down/x.py", True),
        ("README.md", "README.md", True),
        ("README.md", "docs/README.md", True),
        ("docs/README.md", "README.md", False),
        ("src/api", "src/api/handlers.py", True),
        ("src/api/", "src/api/handlers.py", True),
        ("docs/**", "src/app.py", False),
        ("src/**", "src/api/**", True),  # a plan may list globs: overlapping starts
        ("docs/**", "src/*.py", False),
    ],
)
def test_globs_cover_paths_like_gitignore(glob: str, path: str, expected: bool) -> None:
    assert matches(glob, path) is expected


def test_a_learning_without_globs_is_about_every_path() -> None:
    assert applies([], ["anything.txt"]) and applies([], [])
    assert not applies(["src/**"], [])


def test_file_names_in_a_cards_text_and_a_plans_files() -> None:
    assert mentioned(
        "Fix `src/app.py` and README.md; see https://example.com/a/b.html and the docs/ folder."
    ) == [
        "src/app.py",
        "README.md",
        "docs/",
    ]
    plan = (
        "---\ntitle: Parser\nfiles:\n  - src/parser.py\n  - 'tests/**'  # the tests\nsteps: 3\n---\n# Plan\n"
    )
    assert plan_files(plan) == ["src/parser.py", "tests/**"]
    assert plan_files('---\nfiles: [a.py, "b/c"]\n---\n') == ["a.py", "b/c"]
    assert plan_files("no front matter\nfiles:\n- a.py\n") == []
