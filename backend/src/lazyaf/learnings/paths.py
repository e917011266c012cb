"""Which paths a card touches, and whether a learning's globs cover them.

A card's paths are what its branch changes against the default branch, the ``files:`` its plan
lists (the front matter of a ``docs/plans/*.md`` the branch adds or changes), and file names its
title or description mentions (a card not started yet has nothing else).

Globs are gitignore-like: ``*`` and ``?`` stay inside one path segment, ``**`` crosses them, a
glob without a ``/`` also matches a file name anywhere (``*.py``, ``README.md``), and a plain
directory (``src/api``, ``src/api/``) covers everything under it. A learning without globs is
about the whole repository.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from lazyaf.git import files as git_files
from lazyaf.git.run import in_thread

PLAN_DIR = "docs/plans/"
MAX_PATHS = 2000
"""Paths of one card considered at most (a branch that rewrites the whole repository)."""
_WILD = re.compile(r"[*?\[]")
# A path-like word: segments with a '/', or a file name with an extension; not part of a URL.
_MENTION = re.compile(r"(?<![\w/.:@-])((?:[\w.-]+/)+[\w.-]*|[\w-]+(?:\.[\w-]+)*\.[A-Za-z][\w]{0,7})(?![\w/])")


def normalize(glob: str) -> str:
    """The glob as stored: trimmed, without a leading ``./`` or ``/``."""
    glob = glob.strip()
    while glob.startswith(("./", "/")):
        glob = glob[2:] if glob.startswith("./") else glob[1:]
    return glob


@functools.lru_cache(maxsize=1024)
def _regex(glob: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))


def matches(glob: str, path: str) -> bool:
    """Whether ``glob`` covers the file (or directory) ``path``."""
    glob, path = normalize(glob), normalize(path)
    if not glob:
        return False
    if _WILD.search(path):
        return _overlap(glob, path)
    if glob.endswith("/"):
        glob += "**"
    if _regex(glob).fullmatch(path) or _regex(glob.rstrip("/") + "/**").fullmatch(path):
        return True
    return "/" not in glob and _regex(glob).fullmatch(path.rsplit("/", 1)[-1]) is not None


def _overlap(glob: str, pattern: str) -> bool:
    """Two globs (a plan may list one): they may overlap when one's fixed start begins the other's."""
    a, b = _fixed_start(glob), _fixed_start(pattern)
    return a.startswith(b) or b.startswith(a)


def _fixed_start(glob: str) -> str:
    found = _WILD.search(glob)
    return glob[: found.start()] if found else glob


def applies(globs: Sequence[str], paths: Iterable[str]) -> bool:
    """Whether a learning with ``globs`` is about any of ``paths`` (no globs: about everything)."""
    if not globs:
        return True
    return any(matches(glob, path) for path in paths for glob in globs)


def mentioned(text: str) -> list[str]:
    """File and directory names written in ``text`` (``src/app.py``, ``README.md``, ``docs/``)."""
    found = []
    for match in _MENTION.finditer(text):
        word = match.group(1).strip(".")
        if word and not word.startswith("-") and word not in found:
            found.append(word)
    return found[:MAX_PATHS]


def plan_files(text: str) -> list[str]:
    """The ``files:`` list of a plan document's YAML front matter (block or flow list)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return []
    found: list[str] = []
    in_files = False
    for line in lines[1:]:
        if line.strip() in ("---", "..."):
            break
        key = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$", line)
        if key:
            in_files = key.group(1) == "files"
            value = key.group(2).strip()
            if in_files and value.startswith("["):
                found += [_unquote(v) for v in value.strip("[]").split(",")]
                in_files = False
            continue
        item = re.match(r"^\s*-\s+(.*)$", line)
        if in_files and item:
            found.append(_unquote(item.group(1)))
    return [f for f in found if f][:MAX_PATHS]


def _unquote(value: str) -> str:
    value = value.split(" #", 1)[0].strip()
    return value.strip("'\"`").strip()


def _branch_paths(path: Path, base: str, branch: str) -> list[str]:
    changed = git_files.changed_paths(path, base, branch, limit=MAX_PATHS)
    planned: list[str] = []
    for name in changed:
        if name.startswith(PLAN_DIR) and name.endswith(".md") and not name.endswith(".progress.md"):
            planned += plan_files(git_files.read_text(path, branch, name) or "")
    return changed + planned


async def of_card(
    *, git_dir: Path, default_branch: str, branch: str | None, title: str, description: str
) -> list[str]:
    """The paths a card touches: its branch's changes and plan (git, in a worker thread), and the
    file names its text mentions."""
    paths = mentioned(f"{title}\n{description}")
    if branch:
        paths += await in_thread(_branch_paths, git_dir, default_branch, branch)
    return list(dict.fromkeys(normalize(p) for p in paths if p))[:MAX_PATHS]
