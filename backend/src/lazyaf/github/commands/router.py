"""The doors and the ledger: ``POST /api/github/webhook``, ``POST /api/github/commands`` (the CLI),
``GET /api/github/deliveries`` and ``POST /api/github/deliveries/{id}/replay``.

The webhook is the one API path reachable off loopback without LazyAF's token (GitHub cannot send
one; auth.py lets exactly ``POST /api/github/webhook`` through): its credential is the signature.

1. The raw body is read, at most ``github_webhook_max_bytes`` (GitHub's own cap is 25 MB): more is
   a 413 and nothing is stored.
2. ``X-Hub-Signature-256`` is required and checked in constant time against every link's webhook
   secret **before the body is parsed**: a missing header, a SHA-1-only ``X-Hub-Signature`` or a
   MAC that matches no secret is a 401 and nothing is stored.
3. Only then is the body read as JSON, and the link chosen among those whose secret matched, by
   the payload's repository. One URL for every repo, not one per link: a secret may be shared by
   several repositories (an organization's or an app's webhook), the auth rule stays one exact path
   with no pattern to get wrong, and trying each secret costs microseconds per link.
4. The delivery is stored by ``X-GitHub-Delivery`` (a replayed id: 200 ``{"duplicate": true}``,
   nothing runs twice) and the answer is 202 at once (``ping``: 200); the command worker does the
   rest from the database, so a restart loses nothing GitHub was told was accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lazyaf.api.deps import SessionDep
from lazyaf.db.engine import session_scope
from lazyaf.errors import Conflict, LazyAFError, NotFound, Unauthorized, error_responses
from lazyaf.github import links
from lazyaf.github.commands.events import CommentEvent, repository_of
from lazyaf.github.commands.models import DeliveryStatus, GitHubCommand, GitHubDelivery
from lazyaf.github.commands.progress import SESSION_FLAG
from lazyaf.github.commands.schemas import CommandCreate, CommandRead, DeliveryRead, WebhookAnswer
from lazyaf.github.models import GitHubLink
from lazyaf.github.router import GitHubDep
from lazyaf.repos.models import Repo

log = structlog.get_logger(__name__)
router = APIRouter(tags=["github"])

WEBHOOK_PATH = "/api/github/webhook"


class PayloadTooLarge(LazyAFError):
    status_code = 413
    code = "request_too_large"


class BadDelivery(LazyAFError):
    status_code = 400
    code = "bad_delivery"


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = PayloadTooLarge(
        f"The delivery is larger than {limit} bytes (LAZYAF_GITHUB_WEBHOOK_MAX_BYTES); nothing was stored."
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _matches(secret: str, body: bytes, signature: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


@router.post(
    "/github/webhook",
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"model": WebhookAnswer}, **error_responses(400, 401, 413)},
)
async def receive_webhook(request: Request, github: GitHubDep, response: Response) -> WebhookAnswer:
    """GitHub's webhook: signed deliveries are stored and answered 202 (a replay: 200, duplicate)."""
    body = await _body(request, github.settings.github_webhook_max_bytes)
    signature = request.headers.get("x-hub-signature-256")
    if not signature:
        said = (
            " (only the SHA-1 X-Hub-Signature came; LazyAF wants SHA-256)"
            if request.headers.get("x-hub-signature")
            else ""
        )
        raise Unauthorized(
            f"No X-Hub-Signature-256 header{said}: set a secret on the GitHub webhook and the same "
            "webhook_secret on the LazyAF link."
        )
    async with github.sessionmaker() as session:
        rows = (await session.scalars(select(GitHubLink).where(GitHubLink.webhook_secret.is_not(None)))).all()
    matched: list[GitHubLink] = []
    if rows:
        keyring = github.secrets.keyring()
        for candidate in rows:
            sealed = candidate.webhook_secret
            if sealed is not None and _matches(keyring.open(sealed), body, signature):
                matched.append(candidate)
    if not matched:
        log.warning("github_webhook_refused", reason="signature")
        raise Unauthorized("The signature matches no linked repository's webhook secret; nothing was stored.")
    event = request.headers.get("x-github-event") or ""
    delivery = request.headers.get("x-github-delivery") or ""
    if not event or not delivery or len(delivery) > 100:
        raise BadDelivery(
            "A delivery needs X-GitHub-Event and X-GitHub-Delivery headers (as GitHub sends them)."
        )
    try:
        payload = json.loads(body)
    except ValueError:
        raise BadDelivery(
            "The delivery is not JSON; set the webhook's content type to application/json."
        ) from None
    if not isinstance(payload, dict):
        raise BadDelivery("The delivery is not a JSON object.")
    repository = repository_of(payload)
    link = next((lk for lk in matched if repository and lk.full_name.lower() == repository.lower()), None)
    if link is None and len(matched) == 1 and repository is None:
        link = matched[0]  # a ping from an organization's hook names no repository
    row = GitHubDelivery(
        delivery_id=delivery,
        source="webhook",
        repo_id=link.repo_id if link else None,
        repository=repository,
        event=event[:60],
        action=str(payload.get("action"))[:60] if payload.get("action") is not None else None,
        payload=payload,
    )
    if link is None:
        row.status = DeliveryStatus.IGNORED
        row.reason = f"{repository} is not the repository of the link whose secret signed it."
        row.processed_at = datetime.now(UTC)
    try:
        async with session_scope(github.sessionmaker) as session:
            session.add(row)
            session.info[SESSION_FLAG] = True
    except IntegrityError:
        response.status_code = status.HTTP_200_OK
        return WebhookAnswer(delivery=delivery, status="duplicate", duplicate=True)
    log.info("github_webhook_stored", delivery=delivery, github_event=event, repository=repository)
    if event == "ping":
        response.status_code = status.HTTP_200_OK
        return WebhookAnswer(delivery=delivery, status="pong")
    return WebhookAnswer(delivery=delivery, status=row.status)


@router.post(
    "/github/commands", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(404, 409, 422)
)
async def inject_command(data: CommandCreate, session: SessionDep, github: GitHubDep) -> DeliveryRead:
    """Give a command as if it was commented on the issue or pull request (`lazyaf github run`)."""
    repo = await session.get(Repo, data.repo_id)
    if repo is None:
        raise NotFound(f"There is no repo {data.repo_id}; list them with `lazyaf repos`.")
    link = await links.require(session, repo)
    if link.token is None:
        raise Conflict(f"Repo '{repo.name}' is linked without a token; link it again with one.")
    number = data.issue or data.pr
    assert number is not None
    text = f"{link.trigger_phrase} {data.verb} {data.text}".strip()
    delivery_id = f"cli:{uuid.uuid4()}"
    event = CommentEvent(
        source="cli",
        event="cli",
        action="created",
        repository=link.full_name,
        number=number,
        is_pr=data.pr is not None,
        kind="cli",
        comment_id=None,
        body=text,
        author_login="lazyaf-cli",
        author_id=None,
        author_type="LazyAF",
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        url=None,
    )
    row = GitHubDelivery(
        delivery_id=delivery_id,
        source="cli",
        repo_id=repo.id,
        repository=link.full_name,
        event="cli",
        action=data.verb,
        payload=event.to_json(),
    )
    session.add(row)
    session.info[SESSION_FLAG] = True
    await session.flush()
    return DeliveryRead.model_validate(row)


@router.get("/github/deliveries", responses=error_responses(422))
async def list_deliveries(
    session: SessionDep,
    repo_id: Annotated[uuid.UUID | None, Query(description="Only this repo's.")] = None,
    status: Annotated[
        Literal["queued", "accepted", "ignored", "failed"] | None,
        Query(description="Only those in this state."),
    ] = None,
    source: Annotated[
        Literal["webhook", "poll", "cli"] | None, Query(description="Only from this door.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DeliveryRead]:
    """What arrived (newest first), through which door, and what became of it."""
    query = select(GitHubDelivery)
    if repo_id is not None:
        query = query.where(GitHubDelivery.repo_id == repo_id)
    if status is not None:
        query = query.where(GitHubDelivery.status == status)
    if source is not None:
        query = query.where(GitHubDelivery.source == source)
    rows = await session.scalars(query.order_by(GitHubDelivery.received_at.desc()).limit(limit))
    return [DeliveryRead.model_validate(r) for r in rows]


async def _delivery(session: SessionDep, delivery_id: uuid.UUID) -> GitHubDelivery:
    row = await session.get(GitHubDelivery, delivery_id)
    if row is None:
        raise NotFound(f"There is no delivery {delivery_id}; list them with GET /api/github/deliveries.")
    return row


@router.get("/github/deliveries/{delivery_id}", responses=error_responses(404))
async def get_delivery(delivery_id: uuid.UUID, session: SessionDep) -> DeliveryRead:
    """One delivery: its door, its status and why."""
    return DeliveryRead.model_validate(await _delivery(session, delivery_id))


@router.post("/github/deliveries/{delivery_id}/replay", responses=error_responses(404, 409))
async def replay_delivery(delivery_id: uuid.UUID, session: SessionDep) -> DeliveryRead:
    """Put a delivery through the gate again (after fixing the allowlist, say). A comment that already
    became a command does not run twice."""
    row = await _delivery(session, delivery_id)
    if row.status == DeliveryStatus.QUEUED:
        raise Conflict("This delivery is still waiting to be processed; there is nothing to replay yet.")
    # The repo stays the one whose secret signed it: a replay never moves a delivery to another link.
    row.status, row.reason, row.processed_at = DeliveryStatus.QUEUED, None, None
    session.info[SESSION_FLAG] = True
    await session.flush()
    return DeliveryRead.model_validate(row)


@router.get("/github/commands/{command_id}", responses=error_responses(404))
async def get_command(command_id: uuid.UUID, session: SessionDep) -> CommandRead:
    """One command: its verb, who gave it, its checklist and how it ended."""
    row = await session.get(GitHubCommand, command_id)
    if row is None:
        raise NotFound(f"There is no command {command_id}.")
    return CommandRead.model_validate(row)
