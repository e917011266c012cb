"""The conflict-marker rule and the parsing of git's plumbing output (both ends apply it)."""

from __future__ import annotations

from lazyaf_protocol import conflict_markers as cm

CONFLICTED = b"a\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> origin/main\n"


def test_marker_lines_are_the_ones_git_writes() -> None:
    text = b"<<<<<<< HEAD\r\nx\n||||||| base\n=======\n>>>>>>>\n<<<<<<<< eight\n <<<<<<< indented\n"
    assert cm.marker_lines(text) == {b"<<<<<<< HEAD": 1, b"||||||| base": 1, b">>>>>>>": 1}
    assert cm.marker_lines(b"Title\n=======\n") == {}  # a Markdown heading, not a conflict
    assert cm.marker_lines(b"\0binary" + CONFLICTED) == {}


def test_markers_already_in_the_old_version_are_not_introduced() -> None:
    assert cm.introduced(CONFLICTED, b"a\n")
    assert not cm.introduced(CONFLICTED, CONFLICTED)
    assert not cm.introduced(CONFLICTED, b"x\n", CONFLICTED)  # on the target or at the merge base
    assert cm.introduced(CONFLICTED + CONFLICTED, CONFLICTED)  # one more conflict than before


def test_batch_and_raw_output_are_parsed_exactly() -> None:
    raw = (
        b":100644 100644 " + b"a" * 40 + b" " + b"b" * 40 + b" M\0dir/f\xc3\xa9 x\0"
        b":000000 100644 " + b"0" * 40 + b" " + b"c" * 40 + b" A\0new\0"
    )
    assert cm.parse_raw(raw) == [
        cm.Changed("dir/f\u00e9 x", "a" * 40, "b" * 40),
        cm.Changed("new", None, "c" * 40),
    ]
    batch = b"aa blob 3\nx\ny\nbb missing\ncc blob 0\n\n"
    assert cm.parse_batch(batch) == {"aa": b"x\ny", "cc": b""}
