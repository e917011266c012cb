"""The plan document a plan step writes (``docs/plans/<card-slug>.md``) and what others read of it.

A plan starts with YAML front matter listing the files it will touch::

    ---
    files:
      - backend/app.py
      - tests/test_app.py
    ---
    # Plan
    ...

``planned_files`` reads that list (conflict prediction and the board use it); a long task's
progress file (``docs/plans/<card-slug>.progress.md``) says it is finished with ``done: true``
(or ``status: done``) in its own front matter (``progress_done``). The plan was written by an
agent: nothing here trusts it beyond reading these fields, and a malformed header reads as none.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

MAX_FILES = 500
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def front_matter(text: str) -> dict[str, Any]:
    """The YAML mapping at the top of ``text`` between ``---`` lines; {} when there is none or it
    is not a mapping."""
    found = _FRONT_MATTER.match(text or "")
    if not found:
        return {}
    try:
        data = yaml.safe_load(found.group(1))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _clean(path: object) -> str | None:
    if not isinstance(path, str):
        return None
    path = path.strip().removeprefix("./")
    if not path or path.startswith("/") or "\0" in path or any(part == ".." for part in path.split("/")):
        return None
    return path


def planned_files(text: str) -> list[str]:
    """The repo paths the plan's front matter lists under ``files`` (in order, without duplicates;
    absolute paths, ``..`` and non-text entries left out); [] when it lists none."""
    listed = front_matter(text).get("files")
    if not isinstance(listed, list):
        return []
    seen: dict[str, None] = {}
    for item in listed[:MAX_FILES]:
        path = _clean(item)
        if path is not None:
            seen.setdefault(path, None)
    return list(seen)


def progress_done(text: str | None) -> bool:
    """Whether a long task's progress file says the work is finished: ``done: true`` or
    ``status: done`` in its front matter."""
    data = front_matter(text or "")
    return data.get("done") is True or str(data.get("status", "")).strip().lower() == "done"
