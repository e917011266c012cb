"""The ``learnings`` block of an agent's final message, read as untrusted data.

The prompt asks an agent to end its final message with a fenced block::

    ```learnings
    - text: Run `make fmt` before committing; CI rejects unformatted code.
      paths: src/**, tests/**
      kind: command
    - The API handlers validate input with the schemas in src/api/schemas.py (paths: src/api/**)
    ```

Whatever the agent wrote is data: nothing here executes or interprets it beyond this small
grammar (no YAML loader: no aliases, no tags), and what comes out is bounded: the last block only,
at most ``MAX_ENTRIES`` entries of at most ``TEXT_LIMIT`` characters with ``MAX_GLOBS`` globs each,
control characters dropped, whitespace collapsed to one line. Unknown kinds become ``advice``;
globs that climb out of the repository (``..``) are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lazyaf.learnings.paths import normalize

MAX_ENTRIES = 5
TEXT_LIMIT = 500
MAX_GLOBS = 10
GLOB_LIMIT = 200
READ_LIMIT = 20_000
"""Characters at the end of the final message searched for the block."""
KINDS = ("advice", "convention", "pitfall", "command")

_BLOCK = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*learnings?[ \t]*\r?\n(?P<body>.*?)^[ \t]*(?P=fence)[`~]*[ \t]*$",
    re.MULTILINE | re.DOTALL | re.IGNORECASE,
)
_KEY = re.compile(r"^(text|paths?|kind)\s*:\s*(.*)$", re.IGNORECASE)
_INLINE_PATHS = re.compile(r"\s*[(\[]\s*paths?\s*:\s*([^)\]]*)[)\]]\s*$", re.IGNORECASE)
_FIELDS = {"text": "text", "path": "paths", "paths": "paths", "kind": "kind"}
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass
class Proposal:
    text: str
    paths: list[str] = field(default_factory=list)
    kind: str = "advice"


def proposals(message: str) -> list[Proposal]:
    """The learnings proposed in the last ``learnings`` block of ``message`` (none: no block)."""
    blocks = list(_BLOCK.finditer(message[-READ_LIMIT:]))
    if not blocks:
        return []
    found = []
    for item in _items(blocks[-1].group("body")):
        proposal = _proposal(item)
        if proposal is not None:
            found.append(proposal)
        if len(found) == MAX_ENTRIES:
            break
    return found


def _items(body: str) -> list[list[str]]:
    """The body's entries: each a bullet at the block's own indentation, with its lines."""
    lines = [line.rstrip() for line in body.splitlines() if line.strip()]
    if not lines:
        return []
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    items: list[list[str]] = []
    for line in lines:
        own = len(line) - len(line.lstrip()) == indent
        bullet = re.match(r"^\s*[-*]\s+(.*)$", line)
        if own and bullet:
            items.append([bullet.group(1)])
        elif items:
            items[-1].append(line.strip())
    return items


def _proposal(lines: list[str]) -> Proposal | None:
    fields: dict[str, list[str]] = {}
    current = None
    for line in lines:
        key = _KEY.match(line)
        if key:
            current = _FIELDS[key.group(1).lower()]
            fields.setdefault(current, []).append(key.group(2))
        elif current == "paths" and (item := re.match(r"^-\s+(.*)$", line)):
            fields["paths"].append(item.group(1))
        elif current is not None:
            fields[current].append(line)
        else:
            fields.setdefault("text", []).append(line)
    text = _clean(" ".join(fields.get("text", [])))
    globs = [g for part in fields.get("paths", []) for g in _globs(part)]
    inline = _INLINE_PATHS.search(text)
    if inline:
        globs += _globs(inline.group(1))
        text = text[: inline.start()].rstrip()
    if not text:
        return None
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - 1].rsplit(" ", 1)[0] + "…"
    kind = _clean(" ".join(fields.get("kind", []))).lower()
    return Proposal(
        text=text,
        paths=list(dict.fromkeys(globs))[:MAX_GLOBS],
        kind=kind if kind in KINDS else "advice",
    )


def _clean(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _globs(value: str) -> list[str]:
    found = []
    for part in re.split(r"[,\s]+", value.strip().strip("[]")):
        glob = normalize(_CONTROL.sub("", part).strip("'\"`"))
        if glob and len(glob) <= GLOB_LIMIT and ".." not in glob.split("/") and not glob.startswith("-"):
            found.append(glob)
    return found
