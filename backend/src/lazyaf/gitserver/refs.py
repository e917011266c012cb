"""What a push changed: the ref updates the git endpoint reports after a successful receive-pack."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

ZERO_SHA = "0" * 40


@dataclass(frozen=True, slots=True)
class RefUpdate:
    """One ref a push changed. ``old`` is None for a created ref, ``new`` None for a deleted one."""

    ref: str
    old: str | None
    new: str | None

    @property
    def is_branch(self) -> bool:
        return self.ref.startswith("refs/heads/")

    @property
    def short_name(self) -> str:
        for prefix in ("refs/heads/", "refs/tags/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix) :]
        return self.ref


RefListener = Callable[[uuid.UUID, list[RefUpdate]], Awaitable[None]]
RepoResolver = Callable[[uuid.UUID], Awaitable[bool]]
# A repo name (or a name it had before a rename) to its id; None when no repo answers to it.
NameResolver = Callable[[str], Awaitable[uuid.UUID | None]]
