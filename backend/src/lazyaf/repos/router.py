"""/api/repos: the repos on LazyAF's embedded git server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from lazyaf_protocol import messages as protocol

from lazyaf.api.deps import RepoDep, SessionDep, SettingsDep, public_base_url
from lazyaf.errors import Conflict, error_responses
from lazyaf.github import links
from lazyaf.orchestration import repos as repo_moves
from lazyaf.repos import remote
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import (
    BranchRead,
    CloneUrlRead,
    CommitRead,
    RemoteVerify,
    RemoteVerifyRead,
    RepoCreate,
    RepoIngest,
    RepoRead,
    RepoUpdate,
)
from lazyaf.settings import Settings
from lazyaf.validation import INT64_MAX
from lazyaf.workflows import paths as workflow_paths

router = APIRouter(prefix="/repos", tags=["repos"])


def clone_url(request: Request, settings: Settings, repo: Repo, *, by_id: bool = False) -> str:
    """The repo's URL on the embedded git server: by name (names are URL-safe, repos/schemas.py)."""
    return f"{public_base_url(request, settings)}/git/{repo.id if by_id else repo.name}.git"


def to_read(request: Request, settings: Settings, repo: Repo) -> RepoRead:
    return RepoRead.model_validate(
        {
            **{k: getattr(repo, k) for k in RepoRead.model_fields if k != "clone_url"},
            "clone_url": clone_url(request, settings, repo),
            "default_workflow": workflow_paths.default_workflow(repo),
            "test_paths": workflow_paths.test_paths(repo),
        }
    )


@router.get("")
async def list_repos(request: Request, session: SessionDep, settings: SettingsDep) -> list[RepoRead]:
    """List every repo, by name."""
    return [to_read(request, settings, r) for r in await repo_service.list_all(session=session)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409, 422))
async def create_repo(
    repo_in: RepoCreate, request: Request, session: SessionDep, settings: SettingsDep
) -> RepoRead:
    """Create a repo with an empty internal git repository."""
    repo = await repo_service.create(session=session, settings=settings, repo_in=repo_in)
    return to_read(request, settings, repo)


@router.post("/ingest", status_code=status.HTTP_201_CREATED, responses=error_responses(409, 422))
async def ingest_repo(
    repo_in: RepoIngest, request: Request, session: SessionDep, settings: SettingsDep
) -> RepoRead:
    """Create a repo to receive a push of an existing repository; push to its clone_url next."""
    repo = await repo_service.create(session=session, settings=settings, repo_in=repo_in)
    return to_read(request, settings, repo)


@router.get("/{repo_id}", responses=error_responses(404))
async def get_repo(repo: RepoDep, request: Request, settings: SettingsDep) -> RepoRead:
    """Get one repo."""
    return to_read(request, settings, repo)


@router.patch("/{repo_id}", responses=error_responses(404, 409, 422))
async def update_repo(
    repo: RepoDep, change: RepoUpdate, request: Request, session: SessionDep, settings: SettingsDep
) -> RepoRead:
    """Rename a repo, set its remote, or choose its default branch."""
    repo = await repo_service.update(session=session, settings=settings, repo=repo, change=change)
    return to_read(request, settings, repo)


@router.delete("/{repo_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404, 409))
async def delete_repo(
    repo: RepoDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cancel: Annotated[
        bool, Query(description="Cancel the repo's queued and running jobs first (their runners are freed).")
    ] = False,
) -> Response:
    """Delete a repo, its cards and its internal git repository.

    While any of its cards has a queued or running job the answer is 409 naming those cards,
    unless ``cancel=true``: then queued jobs are cancelled, running ones end cancelled at once and
    their runners are told to stop (each kills its agent and takes its next job)."""
    fenced = await repo_moves.delete_repo(session=session, settings=settings, repo=repo, cancel=cancel)
    hub = request.app.state.hub
    for job_id, attempt in fenced:
        await hub.send_to_holder(job_id, attempt, protocol.Cancel)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{repo_id}/clone-url", responses=error_responses(404))
async def get_clone_url(repo: RepoDep, request: Request, settings: SettingsDep) -> CloneUrlRead:
    """The URL to clone from or push to on the embedded git server."""
    return CloneUrlRead(
        url=clone_url(request, settings, repo),
        id_url=clone_url(request, settings, repo, by_id=True),
        repo_id=repo.id,
    )


@router.get("/{repo_id}/branches", responses=error_responses(404))
async def list_branches(repo: RepoDep, settings: SettingsDep) -> list[BranchRead]:
    """List the repo's branches with their head commits."""
    found = await repo_service.branches(settings=settings, repo=repo)
    return [BranchRead(name=b.name, sha=b.sha, is_default=b.name == repo.default_branch) for b in found]


@router.get("/{repo_id}/commits", responses=error_responses(404))
async def list_commits(
    repo: RepoDep,
    settings: SettingsDep,
    branch: Annotated[str | None, Query(description="Branch name; the default branch when omitted.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> list[CommitRead]:
    """List a branch's commits, newest first."""
    found = await repo_service.commits(
        settings=settings, repo=repo, branch=branch, limit=limit, offset=offset
    )
    return [
        CommitRead(**{f: getattr(c, f) for f in c.__slots__}, summary=c.message.split("\n", 1)[0])
        for c in found
    ]


@router.post("/{repo_id}/verify-remote", responses=error_responses(404, 409, 422))
async def verify_remote(
    repo: RepoDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    body: RemoteVerify | None = None,
) -> RemoteVerifyRead:
    """Check that the repo's remote (origin) answers ``git ls-remote``; ``error`` says what to fix.

    The remote's HEAD names its default branch (``default_branch``). A GitHub link's token is used
    for the link's own git URL only, and only through git's environment. Nothing is saved."""
    url = body.remote_url if body and body.remote_url else repo.remote_url
    if url is None:
        raise Conflict(
            f"Repo '{repo.name}' has no remote to check; set its remote URL in the repo's settings "
            f"(PATCH /api/repos/{repo.id} with remote_url), or send one as remote_url."
        )
    link = await links.get(session, repo.id)
    token = None
    if link is not None and link.token is not None and remote.same_remote(link.git_url, url):
        token = request.app.state.github.clients.token(link)
    await session.commit()  # git may take seconds: hold no transaction meanwhile
    answer = await remote.check(settings.git_binary, url, token=token)
    return RemoteVerifyRead(url=url, **vars(answer))
