"""From what a person types to a card: an id, a unique id prefix (``3f2a1b9c``, as on the board's
tiles, with or without its ``#``), or ``REPO#prefix`` when the prefix is unique only in one repo."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import click

from lazyaf_cli.client import ApiClient, ApiError, Card, Repo
from lazyaf_cli.output import LISTED, SHORT_ID, first_line

_PREFIX = re.compile(r"^[0-9a-fA-F-]+$")
HOW = "pass a card id, an id prefix such as 3f2a1b9c, or REPO#prefix"


@dataclass
class Found:
    card: Card
    repo: Repo


def card(api: ApiClient, ref: str) -> Found:
    """The one card ``ref`` names, with its repo; a one-line error when none or several match."""
    repo_ref, sep, prefix = ref.strip().rpartition("#")
    if sep and repo_ref:
        repo = api.find_repo(repo_ref)
        return _unique(prefix, ref, {repo["id"]: repo}, api.list_cards(repo["id"]), f"repo '{repo['name']}'")
    prefix = ref.strip().lstrip("#")
    if _full_id(prefix):
        try:
            found = api.get_card(prefix)
        except ApiError as exc:
            if exc.status_code == 404:
                raise click.ClickException(f"No card with id {prefix}; see `lazyaf cards REPO`.") from None
            raise
        return Found(found, api.get_repo(found["repo_id"]))
    _check(prefix, ref)
    repos = {r["id"]: r for r in api.list_repos()}
    cards = [c for repo_id in repos for c in api.list_cards(repo_id)]
    return _unique(prefix, ref, repos, cards, "any repo")


def _full_id(text: str) -> bool:
    try:
        return len(text) in (32, 36) and uuid.UUID(text) is not None
    except ValueError:
        return False


def _check(prefix: str, ref: str) -> None:
    if not prefix or not _PREFIX.match(prefix):
        raise click.ClickException(f"'{ref}' is not a card id; {HOW}.")


def _unique(prefix: str, ref: str, repos: dict[str, Repo], cards: list[Card], where: str) -> Found:
    _check(prefix, ref)
    wanted = prefix.lower().replace("-", "")
    matches = [c for c in cards if c["id"].replace("-", "").startswith(wanted)]
    if not matches:
        raise click.ClickException(f"No card in {where} has an id starting with '{prefix}'; {HOW}.")
    if len(matches) > 1:
        width = _distinct_width([c["id"] for c in matches])
        shown = [_candidate(c, repos, width) for c in matches[:LISTED]]
        more = f" and {len(matches) - LISTED} more" if len(matches) > LISTED else ""
        raise click.ClickException(
            f"'{ref}' matches {len(matches)} cards: {'; '.join(shown)}{more}. Pass more of the id."
        )
    return Found(matches[0], repos[matches[0]["repo_id"]])


def _candidate(found: Card, repos: dict[str, Repo], width: int) -> str:
    repo = repos.get(found["repo_id"], {}).get("name", "?")
    return f"{repo}#{found['id'][:width]} {first_line(found['title'], 40)!r}"


def _distinct_width(ids: list[str]) -> int:
    """The board's 8 characters, or more when two candidates share those."""
    width = SHORT_ID
    while width < 36 and len({i[:width] for i in ids}) < len(ids):
        width += 1
    return width
