"""Conflict markers: the one rule for "this change would leave merge conflicts in a file".

The runner's harness applies it before it commits an agent's work (``lazyaf_runner.conflicts``
runs git in its work tree), and the backend applies it again when a card is approved
(``lazyaf.git.merge``), so a branch holding ``<<<<<<< HEAD`` never lands on the default branch,
whoever put the markers there. This module is the rule and the parsing of git's plumbing output;
each side runs git its own way.

A *marker line* starts with seven ``<``, ``|`` or ``>`` followed by a space or the end of the line
(what git writes: ``<<<<<<< ours``, ``||||||| base``, ``>>>>>>> theirs``). A bare ``=======`` is
not counted on its own: Markdown and reStructuredText underline headings with it, and git never
writes one without the lines around it, which are counted.

A change *introduces* markers in a file when the file's new version holds more of some marker
line than its old version(s) do: markers already on the target (the fixtures of a merge tool's
own tests, say) are not the change's doing. Binary files hold no marker lines.

The git side is plumbing with ``-z`` output: ``-G`` (pickaxe) picks the files whose changed lines
include something marker-like, their blob ids come from the same raw output, and one
``cat-file --batch`` reads them, so a change without markers costs one git process.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

# For `git diff -G`: an extended regular expression matched against each added or removed line.
PICKAXE = "^[<|>]{7}([ \t\r]|$)"
_MARKER = re.compile(rb"^(?:<{7}|\|{7}|>{7})(?:[ \t][^\n]*)?\r?$", re.MULTILINE)
# git's rule for "binary": a NUL byte in the first 8000 bytes.
_BINARY_PROBE = 8000
NULL_OID = re.compile(r"^0+$")
MESSAGE_FILES = 10


def marker_lines(data: bytes) -> Counter[bytes]:
    """How often each marker line occurs in ``data`` (nothing for a binary file)."""
    if b"\0" in data[:_BINARY_PROBE]:
        return Counter()
    return Counter(m.group(0).rstrip(b"\r") for m in _MARKER.finditer(data))


def introduced(new: bytes, *old: bytes) -> bool:
    """Whether ``new`` holds a marker line more often than every one of the ``old`` versions."""
    before = reduce(lambda a, b: a | b, (marker_lines(o) for o in old), Counter[bytes]())
    return bool(marker_lines(new) - before)


@dataclass(frozen=True)
class Changed:
    """One file of a raw ``-z`` diff: its path and the blob ids on both sides (None: absent)."""

    path: str
    old: str | None
    new: str | None


def parse_raw(out: bytes) -> list[Changed]:
    """``git diff-tree/diff-index -r -z --no-renames`` raw output, one entry per file."""
    fields = out.split(b"\0")
    changed = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.decode().lstrip(":").split()
        if len(parts) < 5:
            continue
        old, new = parts[2], parts[3]
        changed.append(
            Changed(
                path=path.decode("utf-8", "surrogateescape"),
                old=None if NULL_OID.match(old) else old,
                new=None if NULL_OID.match(new) else new,
            )
        )
    return changed


def batch_request(oids: Iterable[str]) -> bytes:
    return "".join(f"{oid}\n" for oid in dict.fromkeys(oids)).encode()


def parse_batch(out: bytes) -> dict[str, bytes]:
    """``git cat-file --batch`` output: the content of each object found, by id."""
    found: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split()
        pos = end + 1
        if len(header) != 3:  # "<name> missing"
            continue
        size = int(header[2])
        found[header[0]] = out[pos : pos + size]
        pos += size + 1
    return found


def files_introducing(
    changed: Sequence[Changed], blobs: Mapping[str, bytes], extra_old: Mapping[str, bytes] | None = None
) -> list[str]:
    """The paths whose new blob introduces markers over the old one (and ``extra_old[path]``)."""
    found = []
    for entry in changed:
        if entry.new is None or entry.new not in blobs:
            continue
        olds = [blobs[entry.old]] if entry.old is not None and entry.old in blobs else []
        if extra_old and entry.path in extra_old:
            olds.append(extra_old[entry.path])
        if introduced(blobs[entry.new], *olds):
            found.append(entry.path)
    return found


def refusal(files: Sequence[str], *, unmerged: bool = False) -> str:
    """The job's failure reason naming the files."""
    shown = ", ".join(files[:MESSAGE_FILES])
    more = f" and {len(files) - MESSAGE_FILES} more" if len(files) > MESSAGE_FILES else ""
    what = (
        "left merge conflicts unresolved" if unmerged else "left conflict markers (<<<<<<< / >>>>>>> lines)"
    )
    return (
        f"The agent {what} in: {shown}{more}. Nothing was committed or pushed; "
        "the card stays marked conflicting: request changes or retry to have them resolved."
    )
