"""Repos: a database row plus a bare repository on disk, created and removed together."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import structlog
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.errors import Conflict, InvalidInput, NotFound
from lazyaf.events.bus import EventBus
from lazyaf.events.schemas import RepoDeleted, RepoUpdated
from lazyaf.git import history, store
from lazyaf.git.run import in_thread
from lazyaf.gitserver.refs import RefUpdate
from lazyaf.repos.models import Repo, RepoAlias
from lazyaf.repos.schemas import RepoCreate, RepoUpdate
from lazyaf.settings import Settings
from lazyaf.workflows import presets

log = structlog.get_logger(__name__)


def git_path(settings: Settings, repo: Repo | uuid.UUID) -> Path:
    repo_id = repo.id if isinstance(repo, Repo) else repo
    return store.repo_path(settings.git_repos_dir, repo_id)


async def list_all(*, session: AsyncSession) -> list[Repo]:
    return list((await session.scalars(select(Repo).order_by(Repo.name))).all())


async def _ensure_name_free(session: AsyncSession, name: str, *, except_id: uuid.UUID | None = None) -> None:
    existing = await session.scalar(select(Repo).where(Repo.name == name))
    if existing is not None and existing.id != except_id:
        raise Conflict(f"A repo named '{name}' already exists; pick another name or delete that repo first.")


async def find_by_name(session: AsyncSession, name: str) -> uuid.UUID | None:
    """The repo called ``name`` now, or else the one that was called so before a rename."""
    found = await session.scalar(select(Repo.id).where(Repo.name == name))
    if found is None:
        found = await session.scalar(select(RepoAlias.repo_id).where(RepoAlias.name == name))
    return found


async def _take_name(session: AsyncSession, name: str) -> None:
    """A repo takes ``name``: a renamed repo that still answered to it stops doing so."""
    await session.execute(sql_delete(RepoAlias).where(RepoAlias.name == name))


async def create(*, session: AsyncSession, settings: Settings, repo_in: RepoCreate) -> Repo:
    """Insert the row and create the bare repo; commits, and leaves neither behind on failure."""
    await _ensure_name_free(session, repo_in.name)
    await _take_name(session, repo_in.name)
    repo = Repo(**repo_in.model_dump())
    session.add(repo)
    await session.flush()
    path = git_path(settings, repo)
    await in_thread(store.create_bare, path, repo.default_branch)
    EventBus.record(session, RepoUpdated(repo_id=repo.id))
    try:
        await session.commit()
    except BaseException:
        await in_thread(store.delete_bare, path)
        raise
    log.info("repo_created", repo_id=str(repo.id), name=repo.name)
    return repo


async def update(*, session: AsyncSession, settings: Settings, repo: Repo, change: RepoUpdate) -> Repo:
    """Rename, change the remote, or choose another existing branch as default."""
    fields = change.model_dump(exclude_unset=True)
    if fields.get("name") is None:
        fields.pop("name", None)
    if "name" in fields and fields["name"] != repo.name:
        await _ensure_name_free(session, fields["name"], except_id=repo.id)
        await _take_name(session, fields["name"])
        # The old clone URL keeps working until another repo is given the name.
        session.add(RepoAlias(name=repo.name, repo_id=repo.id))
    branch = fields.get("default_branch")
    if branch is None:
        fields.pop("default_branch", None)
    elif branch != repo.default_branch:
        names = [b.name for b in await branches(settings=settings, repo=repo)]
        if repo.is_ingested and branch not in names:
            raise InvalidInput(
                f"Branch '{branch}' does not exist in repo '{repo.name}'; existing branches: "
                f"{', '.join(names) or 'none'}."
            )
        await in_thread(store.set_head, git_path(settings, repo), branch)
    if fields.get("merge_strategy") is None:
        fields.pop("merge_strategy", None)
    if "default_workflow" in fields:
        name = fields["default_workflow"] = fields["default_workflow"] or None
        if name is not None:
            catalog = await in_thread(presets.catalog_at, git_path(settings, repo), repo.default_branch)
            if catalog.get(name) is None:
                raise InvalidInput(presets.unknown_workflow(name, catalog))
    if "test_paths" in fields:
        fields["test_paths"] = fields["test_paths"] or None  # [] goes back to the default globs
    for key in ("setup_command", "lint_command", "test_command", "build_command"):
        if key in fields and not fields[key]:
            fields[key] = None  # an empty string clears a verification step
    for key, value in fields.items():
        setattr(repo, key, value)
    EventBus.record(session, RepoUpdated(repo_id=repo.id))
    await session.flush()
    return repo


async def delete(*, session: AsyncSession, settings: Settings, repo: Repo) -> None:
    """Delete the row (cards go with it) and the bare repo."""
    path = git_path(settings, repo)
    # Move the repo aside first, so a failed commit can put it back and nothing is half-deleted.
    trash = path.with_name(f".deleting-{repo.id}-{os.getpid()}")
    moved = await in_thread(store.move_aside, path, trash)
    try:
        await session.delete(repo)
        EventBus.record(session, RepoDeleted(repo_id=repo.id))
        await session.commit()
    except BaseException:
        if moved:
            await in_thread(trash.rename, path)
        raise
    await in_thread(store.delete_bare, trash)
    log.info("repo_deleted", repo_id=str(repo.id), name=repo.name)


async def branches(*, settings: Settings, repo: Repo) -> list[history.BranchInfo]:
    return await in_thread(history.list_branches, git_path(settings, repo))


async def commits(
    *, settings: Settings, repo: Repo, branch: str | None, limit: int, offset: int
) -> list[history.CommitInfo]:
    name = branch or repo.default_branch
    try:
        return await in_thread(
            history.list_commits, git_path(settings, repo), name, limit=limit, offset=offset
        )
    except history.BranchNotFound:
        if branch is None and not repo.is_ingested:
            return []
        raise NotFound(f"Branch '{name}' does not exist in repo '{repo.name}'.") from None


async def record_push(
    *, session: AsyncSession, settings: Settings, repo_id: uuid.UUID, updates: list[RefUpdate]
) -> None:
    """A push landed: mark the repo ingested and keep its default branch pointing at a real branch."""
    repo = await session.get(Repo, repo_id)
    if repo is None:
        return
    for update in updates:
        log.info("ref_updated", repo_id=str(repo_id), ref=update.ref, old=update.old, new=update.new)
    if not repo.is_ingested and any(u.is_branch and u.new for u in updates):
        repo.is_ingested = True
        EventBus.record(session, RepoUpdated(repo_id=repo.id))
    existing = {b.name for b in await branches(settings=settings, repo=repo)}
    if existing and repo.default_branch not in existing:
        # The first push did not carry the default branch: adopt a pushed one so clones check out.
        pushed = [u.short_name for u in updates if u.is_branch and u.new]
        choice = (
            next((b for b in ("main", "master") if b in existing), None) or (pushed or sorted(existing))[0]
        )
        repo.default_branch = choice
        await in_thread(store.set_head, git_path(settings, repo), choice)
    await session.flush()
