"""The writes a command makes on GitHub, as outbox operations (github/outbox.py): each is safe to run
twice (it looks for what an earlier run did first) and the ones that are checklist steps mark
their step done (or failed, when the outbox holds them on an error retrying will not fix).

* ``command_reaction``: the ``eyes`` reaction on the trigger (GitHub answers 200 for one that exists);
* ``command_reply``: a reply comment (``status``, help for an unknown verb, a refusal), found
  again by its marker;
* ``command_pull``: push the thread's branch to GitHub (forward only) and find its open pull
  request by head branch, else open one (draft for a plan, ``Closes #n``);
* ``command_ready``: GraphQL ``markPullRequestReadyForReview`` (REST cannot un-draft), skipped
  when the pull request is no draft;
* ``command_answers``: a reply on each review thread the agent says it addressed, found again by
  its marker.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import ActivityKind, Card
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.github import gitremote, outbox
from lazyaf.github.commands import checklist
from lazyaf.github.commands.models import GitHubCommand, GitHubThread
from lazyaf.github.commands.progress import SESSION_FLAG
from lazyaf.github.errors import GitHubRejected
from lazyaf.github.models import GitHubOutbox
from lazyaf.orchestration import announce
from lazyaf.repos.service import git_path

REACTION, REPLY, PULL, READY, ANSWERS = (
    "command_reaction",
    "command_reply",
    "command_pull",
    "command_ready",
    "command_answers",
)

READY_QUERY = (
    "query LazyAFPull($owner: String!, $name: String!, $number: Int!) {"
    " repository(owner: $owner, name: $name) { pullRequest(number: $number) { id isDraft } } }"
)
READY_MUTATION = (
    "mutation LazyAFReady($id: ID!) {"
    " markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }"
)


async def _command(session: AsyncSession, row: GitHubOutbox) -> GitHubCommand | None:
    command_id = row.payload.get("command_id")
    return await session.get(GitHubCommand, uuid.UUID(command_id)) if command_id else None


async def _mark(session: AsyncSession, row: GitHubOutbox, status: str, **fields: Any) -> GitHubCommand | None:
    command = await _command(session, row)
    step = row.payload.get("step")
    if command is not None and step:
        checklist.set_step(command, step, status, **fields)
        session.info[SESSION_FLAG] = True  # the worker moves the command on
    return command


class _Step:
    """An operation that is a checklist step: done when applied, failed when held."""

    async def applied(self, session: AsyncSession, row: GitHubOutbox, result: dict[str, Any]) -> None:
        await _mark(session, row, "done", detail=result.get("detail"))

    async def failed(self, session: AsyncSession, row: GitHubOutbox, message: str, *, held: bool) -> None:
        if held:
            await _mark(session, row, "failed", detail=message)
        else:
            await _mark(session, row, "running", detail=f"retrying: {message}")


class React:
    async def perform(self, job: outbox.Job) -> dict[str, Any]:
        data, link = job.payload, job.link
        kind = "pulls" if data["kind"] == "review_comment" else "issues"
        await job.client.request(
            "POST",
            f"/repos/{link.owner}/{link.name}/{kind}/comments/{data['comment_id']}/reactions",
            json={"content": data.get("content", "eyes")},
        )
        return {}

    async def applied(self, session: AsyncSession, row: GitHubOutbox, result: dict[str, Any]) -> None:
        return None

    async def failed(self, session: AsyncSession, row: GitHubOutbox, message: str, *, held: bool) -> None:
        return None  # an acknowledgement that did not arrive stops nothing


class Reply:
    async def perform(self, job: outbox.Job) -> dict[str, Any]:
        data, link, client = job.payload, job.link, job.client
        repo = f"/repos/{link.owner}/{link.name}"
        review = data.get("reply_to") is not None
        path = (
            f"{repo}/pulls/{data['number']}/comments"
            if review
            else f"{repo}/issues/{data['number']}/comments"
        )
        page = 1
        while True:
            items = await client.request("GET", path, params={"per_page": 100, "page": page})
            for item in items or []:
                if data["marker"] in (item.get("body") or ""):
                    return {"id": item["id"], "reused": True}
            if not items or len(items) < 100:
                break
            page += 1
        if review:
            made = await client.request(
                "POST", f"{path}/{data['reply_to']}/replies", json={"body": data["body"]}
            )
        else:
            made = await client.request("POST", path, json={"body": data["body"]})
        return {"id": made["id"], "reused": False}

    async def applied(self, session: AsyncSession, row: GitHubOutbox, result: dict[str, Any]) -> None:
        return None

    async def failed(self, session: AsyncSession, row: GitHubOutbox, message: str, *, held: bool) -> None:
        return None


class PullRequest(_Step):
    async def perform(self, job: outbox.Job) -> dict[str, Any]:
        service, link, client, data = job.service, job.link, job.client, job.payload
        branch = data["branch"]
        path = git_path(service.settings, job.repo_id)
        (sha,) = await in_thread(git_refs.branch_shas, path, branch)
        if sha is None:
            raise GitHubRejected(f"Branch {branch} no longer exists in LazyAF; nothing to push.")
        await gitremote.push_branch(service.settings, path, link.git_url, job.token, sha, branch)
        repo = f"/repos/{link.owner}/{link.name}"
        found = await client.request(
            "GET", f"{repo}/pulls", params={"head": f"{link.owner}:{branch}", "state": "open"}
        )
        if found:
            return {"number": found[0]["number"], "url": found[0]["html_url"], "sha": sha, "created": False}
        base = data.get("base") or (await client.request("GET", repo))["default_branch"]
        body = {
            "title": data["title"],
            "head": branch,
            "base": base,
            "body": data["body"],
            "draft": data["draft"],
        }
        try:
            made = await client.request("POST", f"{repo}/pulls", json=body)
        except GitHubRejected as exc:
            # Opened between our look and our create (a retry after a lost answer, or a person).
            again = await client.request(
                "GET", f"{repo}/pulls", params={"head": f"{link.owner}:{branch}", "state": "open"}
            )
            if not again or "already exists" not in exc.detail:
                raise
            made = again[0]
        return {"number": made["number"], "url": made["html_url"], "sha": sha, "created": True}

    async def applied(self, session: AsyncSession, row: GitHubOutbox, result: dict[str, Any]) -> None:
        command = await _mark(session, row, "done", detail=f"#{result['number']} at {result['sha'][:12]}")
        if command is None:
            return
        thread = await session.get(GitHubThread, command.thread_id)
        if thread is not None:
            thread.pr_number, thread.pr_url = result["number"], result["url"]
        card = await session.get(Card, command.card_id) if command.card_id else None
        if card is not None:
            card.pr_url, card.pr_status, card.github_error = result["url"], "opened", None
            if result["created"]:
                opened = {"event": "pull_request", "url": result["url"], "number": result["number"]}
                announce.activity(session, card, ActivityKind.GITHUB, opened)
            announce.card_changed(session, card)


class Ready(_Step):
    async def perform(self, job: outbox.Job) -> dict[str, Any]:
        link, client = job.link, job.client
        thread_pr = job.payload.get("pr_number")
        if thread_pr is None:
            thread_pr = await _pr_number(job)
        data = await client.graphql(
            READY_QUERY, {"owner": link.owner, "name": link.name, "number": thread_pr}
        )
        pull = (data.get("repository") or {}).get("pullRequest") or {}
        if not pull.get("isDraft"):
            return {"detail": f"#{thread_pr} was ready already"}
        await client.graphql(READY_MUTATION, {"id": pull["id"]}, idempotent=True)
        return {"detail": f"#{thread_pr}"}


class Answers(_Step):
    async def perform(self, job: outbox.Job) -> dict[str, Any]:
        link, client, data = job.link, job.client, job.payload
        number = data.get("pr_number") or await _pr_number(job)
        path = f"/repos/{link.owner}/{link.name}/pulls/{number}/comments"
        existing: list[str] = []
        page = 1
        while True:
            items = await client.request("GET", path, params={"per_page": 100, "page": page})
            existing += [item.get("body") or "" for item in items or []]
            if not items or len(items) < 100:
                break
            page += 1
        sent = 0
        for reply in data["replies"]:
            if any(reply["marker"] in body for body in existing):
                continue
            await client.request(
                "POST", f"{path}/{reply['comment_id']}/replies", json={"body": reply["body"]}
            )
            sent += 1
        return {
            "detail": f"{len(data['replies'])} thread(s)" if data["replies"] else "none named by the agent"
        }


async def _pr_number(job: outbox.Job) -> int:
    async with job.service.sessionmaker() as session:
        command = await session.get(GitHubCommand, uuid.UUID(job.payload["command_id"]))
        thread = await session.get(GitHubThread, command.thread_id) if command else None
        number = thread.pr_number if thread else None
    if number is None:
        raise GitHubRejected("The thread has no pull request yet.")
    return int(number)


outbox.HANDLERS[REACTION] = React()
outbox.HANDLERS[REPLY] = Reply()
outbox.HANDLERS[PULL] = PullRequest()
outbox.HANDLERS[READY] = Ready()
outbox.HANDLERS[ANSWERS] = Answers()
