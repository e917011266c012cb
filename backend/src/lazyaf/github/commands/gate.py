"""The gate: whether a comment is a command LazyAF runs. Checked in this order, the first refusal wins
and is recorded on the delivery with its reason:

1. the event and action are handled (``issue_comment`` created, ``pull_request_review_comment``
   created, ``pull_request_review`` submitted; edits are not commands);
2. commands are on for the link;
3. it is not LazyAF's own comment (every comment LazyAF writes carries a hidden ``<!-- lazyaf:``
   marker; the token may be the user's own, so the author's login proves nothing);
4. it is not from a bot, unless the bot is in ``allowed_bots`` — a bot is ``type: "Bot"``, matched
   by numeric id; a login ending in ``[bot]`` counts for nothing (anyone can be named so);
5. a person is on ``allowed_users``, matched by numeric id (a renamed login cannot take a place);
6. with ``require_write``, the author has write (or admin, maintain) permission on the repository;
7. the comment parses as a command (``grammar``): no phrase → ignored; an unknown verb → a help reply.

The CLI's commands come from the person at the machine (auth.py's user) and skip 3–6.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lazyaf.github.commands import grammar
from lazyaf.github.commands.events import HANDLED, CommentEvent
from lazyaf.github.models import GitHubLink

MARKER = "<!-- lazyaf:"
WRITE_ROLES = ("admin", "maintain", "write")
PERMISSION_TTL = 600.0

Permission = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True)
class Verdict:
    """``reason`` None: a command (``parsed``); else why not. ``help``: answer with the verbs."""

    reason: str | None
    parsed: grammar.Parsed | None = None
    help: bool = False


def _ids(entries: list[dict[str, object]] | None) -> set[int]:
    return {int(e["id"]) for e in entries or [] if isinstance(e.get("id"), int)}  # type: ignore[call-overload]


async def check(event: CommentEvent, link: GitHubLink, permission: Permission) -> Verdict:
    if (event.event, event.action) not in HANDLED and event.source != "cli":
        return Verdict(
            f"{event.event} '{event.action}' is not a command LazyAF handles (only new comments are)."
        )
    if not link.commands_enabled:
        return Verdict(f"Commands are off for {link.full_name}; turn commands_enabled on to use them.")
    if event.source != "cli":
        who = f"@{event.author_login}"
        if MARKER in event.body:
            return Verdict("LazyAF's own comment (it carries LazyAF's marker).")
        if event.author_type == "Bot":
            if event.author_id is None or event.author_id not in _ids(link.allowed_bots):
                return Verdict(
                    f"{who} is a bot not in allowed_bots; bots cannot give commands unless allowed."
                )
        elif event.author_id is None or event.author_id not in _ids(link.allowed_users):
            return Verdict(
                f"{who} (id {event.author_id}) is not on the allowlist of {link.full_name}; "
                "add the login to allowed_users to let them give commands."
            )
        if link.require_write:
            role = await permission(event.author_login)
            if role not in WRITE_ROLES:
                return Verdict(
                    f"{who} has {role or 'no'} permission on {link.full_name}; commands need write."
                )
    parsed = grammar.parse(event.body, link.trigger_phrase)
    if parsed is None:
        return Verdict(
            f"No {link.trigger_phrase} command in the comment (code, quotes and hidden text do not count)."
        )
    if not parsed.known:
        what = f"'{parsed.verb}' is not a command" if parsed.verb else "no command after the phrase"
        return Verdict(f"{what}; answered with the list of commands.", parsed=parsed, help=True)
    return Verdict(None, parsed=parsed)


class PermissionCache:
    """Collaborator permissions as GitHub last said, kept ``PERMISSION_TTL`` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._seen: dict[tuple[str, str], tuple[float, str | None]] = {}

    def get(self, repo: str, login: str) -> tuple[bool, str | None]:
        found = self._seen.get((repo.lower(), login.lower()))
        if found is None or self.clock() - found[0] > PERMISSION_TTL:
            return False, None
        return True, found[1]

    def put(self, repo: str, login: str, role: str | None) -> None:
        self._seen[(repo.lower(), login.lower())] = (self.clock(), role)
