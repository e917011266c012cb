"""A card's plan: which files it says it will touch, read from the plan file on the card's branch.

The plan step writes ``docs/plans/<card slug>.md`` on the card's branch, beginning with YAML
front matter that lists the files::

    ---
    files:
      - README.md
      - src/app.py
    ---

Only that list is read, by a small parser of the shapes a plan uses (a block list, a flow list
``files: [a, b]``, one scalar; quoted or not; ``#`` comments), not a YAML library: a plan is an
agent's output, and nothing else of it matters here. A plan without front matter, without a
``files`` key or with one this parser cannot read lists no files (the card is simply not held).

An entry is a path, a directory (``src/`` or ``src``: everything under it) or a glob (``src/*.py``).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable

PLANS_DIR = "docs/plans/"
PROGRESS_SUFFIX = ".progress.md"
"""A long task's progress file sits beside its plan (``docs/plans/<slug>.progress.md``): not a plan."""
MAX_FILES = 1000
"""Entries read from one plan; the rest are ignored."""

_FENCE = re.compile(r"^---[ \t]*$")
_END = re.compile(r"^(---|\.\.\.)[ \t]*$")
_KEY = re.compile(r"^files[ \t]*:(.*)$")
_ITEM = re.compile(r"^[ \t]*-(?:[ \t]+(.*))?$")
_GLOB = re.compile(r"[*?\[]")


def front_matter(text: str) -> list[str] | None:
    """The lines between the opening ``---`` (the first line) and the closing ``---`` or ``...``;
    None when the text does not begin with front matter or never closes it."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or not _FENCE.match(lines[0]):
        return None
    for end, line in enumerate(lines[1:], start=1):
        if _END.match(line):
            return lines[1:end]
    return None


def planned_files(text: str) -> list[str]:
    """The ``files`` listed in a plan's front matter, cleaned (``normalize``), in order, once each."""
    lines = front_matter(text)
    if lines is None:
        return []
    found: list[str] = []
    for index, line in enumerate(lines):
        key = _KEY.match(line)
        if key is None:
            continue
        rest = _strip_comment(key.group(1)).strip()
        if rest.startswith("["):
            found = _flow_list(rest)
        elif rest:
            found = [_scalar(rest)]
        else:
            found = _block_list(lines[index + 1 :])
        break
    cleaned = (normalize(entry) for entry in found[:MAX_FILES])
    return list(dict.fromkeys(entry for entry in cleaned if entry))


def _block_list(lines: list[str]) -> list[str]:
    items = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = _ITEM.match(line)
        if item is None:
            break  # the next key: the list is over
        items.append(_scalar(_strip_comment(item.group(1) or "")))
    return items


def _flow_list(text: str) -> list[str]:
    body = text[1:]
    if "]" in body:
        body = body[: body.rindex("]")]
    items, current, quote = [], "", ""
    for char in body:
        if quote:
            current += char
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
            current += char
        elif char == ",":
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [_scalar(item) for item in items if item.strip()]


def _strip_comment(text: str) -> str:
    # A '#' starts a comment at the start or after a space, outside quotes (YAML's rule).
    quote = ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t"):
            return text[:index]
    return text


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def normalize(entry: str) -> str:
    """A repo-relative path: no leading ``./`` or ``/``, no ``..`` escaping the repo ('' then)."""
    entry = entry.strip().replace("\\", "/")
    if not entry or "\0" in entry:
        return ""
    is_dir = entry.endswith("/")
    path = posixpath.normpath(entry.lstrip("/"))
    if path in ("", ".") or path.startswith(".."):
        return ""
    return path + "/" if is_dir else path


def plan_paths(changed: Iterable[str], branch: str) -> list[str]:
    """Where a card's plan may be, best first: ``docs/plans/<branch name without lazyaf/>.md``,
    then the plan files its branch changed (a plan step adds one)."""
    tail = branch.rsplit("/", 1)[-1]
    named = f"{PLANS_DIR}{tail}.md"
    plans = sorted(
        path
        for path in changed
        if path.startswith(PLANS_DIR) and path.endswith(".md") and not path.endswith(PROGRESS_SUFFIX)
    )
    return [named, *(p for p in plans if p != named)]


def _covers(entry: str, path: str) -> bool:
    """Whether plan entry ``entry`` (path, directory or glob) takes in path ``path``."""
    if entry == path:
        return True
    if path.startswith(entry.rstrip("/") + "/"):
        return True
    return bool(_GLOB.search(entry)) and fnmatch.fnmatchcase(path, entry)


def overlapping(planned: Iterable[str], others: Iterable[str]) -> list[str]:
    """The entries of ``others`` that meet one of ``planned`` (either way round: a directory or a
    glob on either side takes in the other's paths), sorted."""
    mine = list(planned)
    return sorted({o for o in others for p in mine if _covers(p, o) or _covers(o, p)})
