"""The link's command settings: applied from ``PUT /api/repos/{id}/github``, logins resolved to ids.

An allowlist holds GitHub accounts by numeric id (a login can be renamed, and someone else can
then take the old login): each login given is looked up once (``GET /users/{login}``) and kept
with its id; a login already on the list keeps the id it had. A login GitHub does not know is a
422 and nothing changes. People go in ``allowed_users``, apps (``type: Bot``) in ``allowed_bots``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lazyaf.errors import InvalidInput
from lazyaf.github.client import GitHubClient
from lazyaf.github.commands.schemas import CommandSettingsWrite
from lazyaf.github.errors import GitHubNotFound
from lazyaf.github.models import GitHubLink


async def apply(
    link: GitHubLink, data: CommandSettingsWrite, client: GitHubClient | None, *, now: float
) -> None:
    """Set what ``data`` gives (``client`` looks up new logins; None when no list is given). ``now``
    (epoch seconds, the GitHub clients' clock) is when the poller starts taking comments."""
    before = polls(link) and link.commands_from is not None
    for name in ("commands_enabled", "trigger_phrase", "require_write", "poll_comments", "poll_interval_s"):
        value = getattr(data, name)
        if value is not None:
            setattr(link, name, value)
    if data.allowed_users is not None:
        assert client is not None
        link.allowed_users = await _resolve(client, link.allowed_users, data.allowed_users, bots=False)
    if data.allowed_bots is not None:
        assert client is not None
        link.allowed_bots = await _resolve(client, link.allowed_bots, data.allowed_bots, bots=True)
    if polls(link) and not before:
        # The poller takes only comments made from now on for commands, never older ones.
        forget_cursors(link)
        link.commands_from = datetime.fromtimestamp(now, UTC)
    elif not polls(link):
        forget_cursors(link)


def polls(link: GitHubLink) -> bool:
    """Whether the poller asks GitHub for this link's comments: commands and polling on, and
    someone allowed to give one (else no comment could pass the gate: nothing is asked)."""
    return bool(link.commands_enabled and link.poll_comments and (link.allowed_users or link.allowed_bots))


def forget_cursors(link: GitHubLink) -> None:
    """The link points at another repository: the poller starts over there, from now on."""
    link.comments_since = link.comments_etag = None
    link.review_comments_since = link.review_comments_etag = None
    link.commands_from = None


def needs_lookup(data: CommandSettingsWrite) -> bool:
    return data.allowed_users is not None or data.allowed_bots is not None


async def _resolve(
    client: GitHubClient, current: list[dict[str, Any]] | None, logins: list[str], *, bots: bool
) -> list[dict[str, Any]]:
    known = {entry["login"].lower(): entry for entry in current or []}
    resolved: dict[int, dict[str, Any]] = {}
    for login in logins:
        entry = known.get(login.lower())
        if entry is None:
            entry = await _lookup(client, login, bots=bots)
        resolved[int(entry["id"])] = {"login": entry["login"], "id": int(entry["id"])}
    return list(resolved.values())


async def _lookup(client: GitHubClient, login: str, *, bots: bool) -> dict[str, Any]:
    try:
        user = await client.request("GET", f"/users/{login}")
    except GitHubNotFound:
        raise InvalidInput(f"GitHub has no account '{login}'; check the spelling of the login.") from None
    kind = user.get("type") if isinstance(user, dict) else None
    if bots and kind != "Bot":
        raise InvalidInput(
            f"'{login}' is a {kind or 'account'}, not a bot: put people in allowed_users, apps in "
            "allowed_bots."
        )
    if not bots and kind == "Bot":
        raise InvalidInput(
            f"'{login}' is a bot: bots go in allowed_bots, so that a person's allowlist never lets an app in."
        )
    return {"login": user["login"], "id": int(user["id"])}
