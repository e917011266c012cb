"""Diffs between two commits of a bare repo, as structured data and as a unified patch.

Everything here is sync and runs the C ``git`` binary through ``lazyaf.git.run`` (async callers
use ``run.in_thread``).
A diff is one ``git diff -z --raw --patch -M`` process over the whole change: the ``-z`` raw
records come first (exact path bytes, status, modes), then an empty record, then the patch,
one ``diff --git`` section per raw record (two for a type change, which git prints as a
deletion and a creation). The i-th record therefore owns the i-th section(s), so no path is
ever parsed back out of a C-quoted patch header.

Paging keeps the sections of the requested files and only counts the lines of the others
(totals cover every file), so the page's patch is a byte-exact slice of what ``git diff``
prints and always agrees with the file list, even for renames split across pages or a path
that is a file on one side and a directory on the other. Sections are read from the pipe one
at a time, so memory is bounded by the page plus the largest single file's diff.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, TypedDict

from pydantic import BaseModel

from lazyaf.git import run

# git's id of the empty tree; it knows it without the object being stored.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

FileStatus = Literal["added", "modified", "deleted", "renamed", "copied", "type_changed"]
LineKind = Literal["context", "add", "delete", "no_newline"]

_STATUS: dict[str, FileStatus] = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type_changed",
}
_SECTION_START = b"diff --git "
_SECTION_MARK = b"\n" + _SECTION_START
_HUNK_RE = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)")
_READ_SIZE = 1 << 20
_STDERR_KEEP = 4096


class DiffError(ValueError):
    """A request that cannot be answered: an unknown ref, or no common history."""


class GitError(RuntimeError):
    """git failed in a way no input explains (a damaged repository, a missing binary)."""


# A slotted dataclass, not a BaseModel: pydantic gives it the same schema, JSON and validation
# (from dicts) inside the models below, but the parser builds it directly. A 500-file diff has
# ~12k lines, and a validated model per line cost a third of what git took to print the patch.
@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is several times slower
class DiffLine:
    """One line of a hunk; ``old_line``/``new_line`` are None on the side it does not exist on."""

    kind: LineKind
    old_line: int | None
    new_line: int | None
    text: str


class Hunk(BaseModel):
    """One ``@@ -old_start,old_lines +new_start,new_lines @@ header`` block and its lines."""

    old_start: int
    old_lines: int
    new_start: int
    new_lines: int
    header: str
    lines: list[DiffLine]


class FileDiff(BaseModel):
    """One changed file; ``old_path`` only for renames and copies, modes None where absent."""

    path: str
    old_path: str | None = None
    status: FileStatus
    additions: int
    deletions: int
    binary: bool
    too_large: bool
    old_mode: str | None
    new_mode: str | None
    hunks: list[Hunk]


class DiffResult(BaseModel):
    """A page of a diff; counts and ``total_files`` cover all files, ``patch`` this page's."""

    base_sha: str
    head_sha: str
    merge_base_sha: str | None
    files: list[FileDiff]
    total_files: int
    offset: int
    limit: int
    additions: int
    deletions: int
    patch: str


# -- running git ------------------------------------------------------------------------------


# No system or user config or attributes: the output depends on the repository alone.
_ENV = {"GIT_ATTR_NOSYSTEM": "1", "HOME": os.devnull, "XDG_CONFIG_HOME": os.devnull}
_CONFIG = ("-c", "core.quotepath=false")


def _command(repo: Path, *args: str) -> list[str]:
    return run.command(repo, *_CONFIG, *args)


def _run(repo: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run git to completion; the caller reads ``returncode``."""
    return run.run(repo, *_CONFIG, *args, stdin=stdin, env=_ENV)


def _failure(args: list[str], code: int, stderr: bytes) -> GitError:
    message = stderr.decode("utf-8", "replace").strip().splitlines()
    # args[4] is the subcommand, after the binary, --git-dir and one -c.
    return GitError(f"git {args[4]} exited {code}: {message[0] if message else 'no message'}")


# -- refs -------------------------------------------------------------------------------------


def _is_plausible_ref(ref: str) -> bool:
    # Never an option, and one line: names go to cat-file one per line.
    return bool(ref) and not ref.startswith("-") and ref.isprintable()


def _resolve_typed(repo: Path, refs: list[str]) -> list[tuple[str, str] | None]:
    """(sha, type) for each ref, tags peeled; one process for all of them."""
    asked = [ref for ref in refs if _is_plausible_ref(ref)]
    found: dict[str, tuple[str, str] | None] = {}
    if asked:
        stdin = "".join(f"{ref}^{{}}\n" for ref in asked).encode()
        done = _run(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)", stdin=stdin)
        if done.returncode != 0:
            raise _failure(done.args, done.returncode, done.stderr)
        for ref, line in zip(asked, done.stdout.decode().splitlines(), strict=True):
            sha, _, kind = line.partition(" ")
            found[ref] = (sha, kind) if kind in ("commit", "tree") else None
    return [found.get(ref) for ref in refs]


def _unknown_ref(ref: str) -> DiffError:
    return DiffError(f"Ref '{ref}' does not exist in this repository.")


def resolve(repo: Path, ref: str) -> str | None:
    """The commit id a branch, tag or sha names (a tree id if it names a tree); None if unknown."""
    found = _resolve_typed(repo, [ref])[0]
    return found[0] if found else None


def merge_base(repo: Path, a: str, b: str) -> str | None:
    """The best common ancestor of two commits; None when their histories are unrelated.

    Raises:
        DiffError: a ref is unknown or is not a commit.
    """
    if not (_is_plausible_ref(a) and _is_plausible_ref(b)):
        raise _unknown_ref(b if _is_plausible_ref(a) else a)
    done = _run(repo, "merge-base", "--end-of-options", a, b)
    if done.returncode == 0:
        return done.stdout.decode().strip()
    if done.returncode == 1 and not done.stderr:
        return None
    for ref, found in zip((a, b), _resolve_typed(repo, [a, b]), strict=True):
        if found is None:
            raise _unknown_ref(ref)
        if found[1] != "commit":
            raise DiffError(f"'{ref}' names a tree, not a commit, so it has no history to compare.")
    raise _failure(done.args, done.returncode, done.stderr)


def _symmetric(repo: Path, base: str, head: str) -> tuple[str, str, str | None] | None:
    """Both commit ids and their merge-base from one process; None to take the slow path.

    ``rev-parse A...B`` prints B, A and ``^`` before each merge-base, the first being the one
    ``git merge-base`` picks. Unknown refs, trees and odd names fail here and get their precise
    message from the slow path.
    """
    if ".." in base or ".." in head or not (_is_plausible_ref(base) and _is_plausible_ref(head)):
        return None
    done = _run(repo, "rev-parse", f"{base}^{{commit}}...{head}^{{commit}}")
    lines = done.stdout.decode().split()
    if done.returncode != 0 or len(lines) < 3 or not lines[2].startswith("^"):
        return None
    return lines[1], lines[0], lines[2][1:]


def _endpoints(repo: Path, base: str, head: str, three_dot: bool) -> tuple[str, str, str | None]:
    """(base sha, head sha, merge-base sha or None for a two-dot diff)."""
    if three_dot and (fast := _symmetric(repo, base, head)):
        return fast
    shas: list[str] = []
    for ref, found in zip((base, head), _resolve_typed(repo, [base, head]), strict=True):
        if found is None:
            raise _unknown_ref(ref)
        if three_dot and found[1] != "commit":
            raise DiffError(f"'{ref}' names a tree, not a commit; compare it without the merge-base.")
        shas.append(found[0])
    base_sha, head_sha = shas
    if not three_dot:
        return base_sha, head_sha, None
    mb = merge_base(repo, base_sha, head_sha)
    if mb is None:
        raise DiffError(
            f"'{head}' shares no history with '{base}', so there is no merge-base to diff from; "
            "compare the two directly instead."
        )
    return base_sha, head_sha, mb


# -- reading `git diff -z --raw --patch` ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """One raw record: what changed for one file, with its path bytes exactly as stored."""

    status: FileStatus
    old_mode: str | None
    new_mode: str | None
    path: bytes
    old_path: bytes | None


@dataclass(frozen=True, slots=True)
class _Section:
    """One file's part of the patch, split at its first hunk."""

    data: bytes
    body_at: int  # where the first "@@" starts; len(data) when there are no hunks

    @classmethod
    def of(cls, data: bytes) -> _Section:
        at = data.find(b"\n@@ ")
        return cls(data, len(data) if at < 0 else at + 1)

    @property
    def binary(self) -> bool:
        return self.data.find(b"\nBinary files ", 0, self.body_at) >= 0

    def counts(self) -> tuple[int, int, int]:
        """(additions, deletions, lines of hunks); header lines come before body_at."""
        start = self.body_at - 1  # the newline before "@@", so the first line counts too
        if start < 0:
            return 0, 0, 0
        data = self.data
        return data.count(b"\n+", start), data.count(b"\n-", start), data.count(b"\n", start) - 1


def _mode(text: bytes) -> str | None:
    return None if text == b"000000" else text.decode()


def _parse_raw(raw: bytes) -> list[_Entry]:
    """Records ``:<old mode> <new mode> <old> <new> <status>[score]\\0<path>\\0[<new path>\\0]``."""
    fields = raw.split(b"\0")
    entries: list[_Entry] = []
    i = 0
    while i < len(fields) and fields[i]:
        meta = fields[i].split(b" ")
        code = meta[4][:1].decode()
        if code in ("R", "C"):
            old, path, i = fields[i + 1], fields[i + 2], i + 3
        else:
            old, path, i = None, fields[i + 1], i + 2
        entries.append(_Entry(_STATUS[code], _mode(meta[0][1:]), _mode(meta[1]), path, old))
    return entries


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    fd = stream.fileno()
    while chunk := os.read(fd, _READ_SIZE):
        yield chunk


class _DiffStream:
    """Splits git's stdout into the raw records and then the patch, one file section at a time."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = bytearray()

    def raw(self) -> bytes:
        """Everything up to the empty record that separates the raw part from the patch."""
        searched = 0
        while (end := self._buf.find(b"\0\0", searched)) < 0:
            searched = max(0, len(self._buf) - 1)
            if not self._fill():
                raw = bytes(self._buf)
                self._buf.clear()
                return raw
        raw = bytes(self._buf[: end + 1])
        del self._buf[: end + 2]
        return raw

    def sections(self) -> Iterator[bytes]:
        searched = 1
        while True:
            cut = self._buf.find(_SECTION_MARK, searched)
            if cut >= 0:
                section = bytes(self._buf[: cut + 1])
                del self._buf[: cut + 1]  # cheap: bytearray drops its front without moving the rest
                searched = 1
                yield section
                continue
            searched = max(1, len(self._buf) - len(_SECTION_MARK) + 1)
            if not self._fill():
                break
        if self._buf:
            yield bytes(self._buf)

    def _fill(self) -> bool:
        chunk = next(self._chunks, b"")
        self._buf += chunk
        return bool(chunk)


# -- hunks ------------------------------------------------------------------------------------


class _HunkData(TypedDict):
    old_start: int
    old_lines: int
    new_start: int
    new_lines: int
    header: str
    lines: list[DiffLine]


def _parse_hunks(body: str) -> list[_HunkData]:
    """Hunks from the text after a section's header, as data for ``Hunk`` (validated per file)."""
    hunks: list[_HunkData] = []
    lines: list[DiffLine] = []
    old_no = new_no = 0
    rows = body.split("\n")  # never splitlines(): a \r or \f inside a line is content
    rows.pop()  # empty: the body ends with a newline
    for row in rows:
        tag = row[:1]
        if tag == " " or not tag:  # with diff.suppressBlankEmpty a blank context line is empty
            lines.append(DiffLine("context", old_no, new_no, row[1:]))
            old_no, new_no = old_no + 1, new_no + 1
        elif tag == "+":
            lines.append(DiffLine("add", None, new_no, row[1:]))
            new_no += 1
        elif tag == "-":
            lines.append(DiffLine("delete", old_no, None, row[1:]))
            old_no += 1
        elif tag == "@":
            hunks.append(_hunk_header(row))
            lines = hunks[-1]["lines"]
            old_no, new_no = hunks[-1]["old_start"], hunks[-1]["new_start"]
        elif tag == "\\":
            lines.append(DiffLine("no_newline", None, None, row[2:]))
    return hunks


def _hunk_header(line: str) -> _HunkData:
    match = _HUNK_RE.match(line)
    if match is None:
        raise GitError(f"git diff printed a hunk header it does not document: {line[:80]!r}")
    old_start, old_lines, new_start, new_lines, header = match.groups()
    return {
        "old_start": int(old_start),
        "old_lines": 1 if old_lines is None else int(old_lines),
        "new_start": int(new_start),
        "new_lines": 1 if new_lines is None else int(new_lines),
        "header": header,
        "lines": [],
    }


# -- assembling the result --------------------------------------------------------------------


def _text(data: bytes) -> str:
    # JSON cannot carry arbitrary bytes: invalid UTF-8 (in content or names) becomes U+FFFD.
    return data.decode("utf-8", "replace")


def _file_diff(entry: _Entry, sections: list[_Section], max_file_lines: int) -> FileDiff:
    additions = deletions = lines = 0
    for section in sections:
        a, d, n = section.counts()
        additions, deletions, lines = additions + a, deletions + d, lines + n
    too_large = lines > max_file_lines
    hunks = [] if too_large else [h for s in sections for h in _parse_hunks(_text(s.data[s.body_at :]))]
    return FileDiff.model_validate(
        {
            "path": _text(entry.path),
            "old_path": None if entry.old_path is None else _text(entry.old_path),
            "status": entry.status,
            "additions": additions,
            "deletions": deletions,
            "binary": any(s.binary for s in sections),
            "too_large": too_large,
            "old_mode": entry.old_mode,
            "new_mode": entry.new_mode,
            "hunks": hunks,
        }
    )


@dataclass
class _Page:
    """The files of one page, and the totals of all files."""

    offset: int
    limit: int
    max_file_lines: int
    files: list[FileDiff] = field(default_factory=list)
    patch: list[bytes] = field(default_factory=list)
    additions: int = 0
    deletions: int = 0

    def add(self, index: int, entry: _Entry, sections: list[_Section]) -> None:
        if self.offset <= index < self.offset + self.limit:
            file = _file_diff(entry, sections, self.max_file_lines)
            self.files.append(file)
            self.patch.extend(s.data for s in sections)
            self.additions, self.deletions = self.additions + file.additions, self.deletions + file.deletions
            return
        for section in sections:  # outside the page: only its totals matter
            a, d, _ = section.counts()
            self.additions, self.deletions = self.additions + a, self.deletions + d


def _collect(stream: _DiffStream, page: _Page) -> int:
    """Feed every file to the page; returns how many files the diff has."""
    entries = _parse_raw(stream.raw())
    sections = stream.sections()
    for index, entry in enumerate(entries):
        # git prints a type change (file <-> symlink or submodule) as a deletion then a creation.
        wanted = 2 if entry.status == "type_changed" else 1
        own = [_Section.of(s) for s in _take(sections, wanted)]
        page.add(index, entry, own)
    if next(sections, None) is not None:
        raise GitError("git diff printed more patch sections than files.")
    return len(entries)


def _take(sections: Iterator[bytes], count: int) -> list[bytes]:
    taken = [s for _, s in zip(range(count), sections, strict=False)]
    if len(taken) != count or not all(s.startswith(_SECTION_START) for s in taken):
        raise GitError("git diff printed fewer patch sections than files.")
    return taken


def _run_diff(repo: Path, left: str, right: str, context: int, page: _Page) -> int:
    args = _command(
        repo,
        "diff",
        "-z",
        "--raw",
        "--patch",
        "-M",
        f"-U{context}",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        left,
        right,
        "--",
    )
    # stderr to a file: a pipe left unread could fill and stall git while we read stdout.
    with tempfile.TemporaryFile() as err:
        with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, env=run.environment(**_ENV)) as proc:
            assert proc.stdout is not None
            try:
                total = _collect(_DiffStream(_chunks(proc.stdout)), page)
            except BaseException:
                proc.kill()
                raise
        if proc.returncode != 0:
            err.seek(0)
            raise _failure(args, proc.returncode, err.read(_STDERR_KEEP))
    return total


def _check_paging(offset: int, limit: int, context: int, max_file_lines: int) -> None:
    for name, value in (("offset", offset), ("limit", limit), ("context", context)):
        if value < 0:
            raise DiffError(f"{name} must be 0 or more, not {value}.")
    if max_file_lines < 0:
        raise DiffError(f"max_file_lines must be 0 or more, not {max_file_lines}.")


def diff(
    repo: Path,
    base: str,
    head: str,
    *,
    three_dot: bool = True,
    offset: int = 0,
    limit: int = 100,
    context: int = 3,
    max_file_lines: int = 5000,
) -> DiffResult:
    """The changes from ``base`` to ``head``: files ``offset`` to ``offset + limit`` in git's order.

    With ``three_dot`` (the default) the diff starts at the merge-base of the two, as a review
    of a branch wants; otherwise at ``base`` itself, which may then also be a tree (such as
    ``EMPTY_TREE``). ``additions``/``deletions``/``total_files`` cover every file, not just the
    page; ``patch`` is the page's files exactly as ``git diff`` prints them (invalid UTF-8 aside).
    A file whose diff has more than ``max_file_lines`` lines keeps its counts and patch but no hunks.

    Raises:
        DiffError: an unknown ref, unrelated histories, a tree in a three-dot diff, bad paging.
    """
    _check_paging(offset, limit, context, max_file_lines)
    base_sha, head_sha, mb = _endpoints(repo, base, head, three_dot)
    left = mb or base_sha
    page = _Page(offset, limit, max_file_lines)
    total = 0 if left == head_sha else _run_diff(repo, left, head_sha, context, page)
    return DiffResult(
        base_sha=base_sha,
        head_sha=head_sha,
        merge_base_sha=mb,
        files=page.files,
        total_files=total,
        offset=offset,
        limit=limit,
        additions=page.additions,
        deletions=page.deletions,
        patch=_text(b"".join(page.patch)),
    )


@dataclass(frozen=True)
class Progress:
    """What lies between two commits of a branch: commits added, files and lines changed, and the
    paths changed (a rename as its two paths)."""

    commits: int
    files_changed: int
    lines_added: int
    lines_removed: int
    paths: tuple[str, ...] = ()


def changed_paths(repo: Path, old: str, new: str) -> list[str]:
    """Every path ``new`` changes against ``old`` (a rename counts as its two paths), sorted.

    Raises:
        GitError: git failed (an unknown commit).
    """
    return list(progress(repo, old, new).paths)


def progress(repo: Path, old: str, new: str) -> Progress:
    """Commits in ``old..new`` and the files, lines and paths ``new`` changes against ``old``. Two
    git processes, run side by side; binary files count as files, not lines. Nothing to run when
    ``old`` is ``new``.

    Raises:
        GitError: git failed (an unknown commit).
    """
    if old == new:
        return Progress(0, 0, 0, 0)
    env = run.environment(**_ENV)
    count_args = [*_command(repo, "rev-list", "--count", "--end-of-options", f"{old}..{new}")]
    stat_args = [*_command(repo, "diff", "--numstat", "-z", "--no-renames", "--end-of-options", old, new)]
    with (
        subprocess.Popen(count_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as counting,
        subprocess.Popen(stat_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as stating,
    ):
        numstat, stat_err = stating.communicate()
        listed, count_err = counting.communicate()
    for args, process, err in ((count_args, counting, count_err), (stat_args, stating, stat_err)):
        if process.returncode != 0:
            raise _failure(args, process.returncode, err)
    files = added = removed = 0
    paths: list[str] = []
    for record in numstat.split(b"\0"):
        parts = record.split(b"\t", 2)
        if len(parts) != 3:
            continue
        files += 1
        added += int(parts[0]) if parts[0].isdigit() else 0
        removed += int(parts[1]) if parts[1].isdigit() else 0
        paths.append(parts[2].decode("utf-8", "replace"))
    return Progress(int(listed.strip() or 0), files, added, removed, tuple(sorted(set(paths))))
