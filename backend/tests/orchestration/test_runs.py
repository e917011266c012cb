"""A card's agent work as runs of workflow steps: what starting, finishing, failing, checks that
fail, retrying, reviewing and cancelling do to its run and steps (the attempts themselves:
test_attempts.py; whole workflows with a real runner and Claude Code: tests/workflows)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from lazyaf_protocol import messages as protocol
from sqlalchemy import select

from lazyaf.cards.models import Card, CardStatus, Comment
from lazyaf.jobs.models import Job, JobKind, JobStatus
from lazyaf.orchestration import attempts, review, runs
from lazyaf.orchestration import cards as card_moves
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.runs.models import Run, RunStatus, Step, StepStatus
from lazyaf.settings import Settings
from lazyaf.workflows.kinds import StepKind
from tests.gitutil import git
from tests.orchestration.conftest import claimed, queue, runners_named

S, R = StepStatus, RunStatus


async def _runs(
    app: FastAPI, card_id: uuid.UUID
) -> list[tuple[str, RunStatus, list[tuple[StepKind, StepStatus]]]]:
    """The card's runs, oldest first: (workflow, status, [(step kind, step status)])."""
    async with app.state.sessionmaker() as session:
        found = []
        for run in await session.scalars(select(Run).where(Run.card_id == card_id).order_by(Run.started_at)):
            steps = await session.scalars(select(Step).where(Step.run_id == run.id).order_by(Step.position))
            found.append((run.workflow, run.status, [(s.kind, s.status) for s in steps]))
        return found


async def _jobs(app: FastAPI, card_id: uuid.UUID) -> list[Job]:
    async with app.state.sessionmaker() as session:
        return list(await session.scalars(select(Job).where(Job.card_id == card_id).order_by(Job.queued_at)))


async def _claim(app: FastAPI, settings: Settings, runner_id: uuid.UUID) -> Job:
    async with app.state.sessionmaker() as session:
        got = await attempts.claim(session=session, settings=settings, runner_id=runner_id)
        await session.commit()
    assert got is not None
    return got[0]


def _push(
    settings: Settings, repo: Repo, job: Job, tmp_path: Path, files: dict[str, str]
) -> tuple[str | None, str]:
    """What a runner does for an attempt: commit ``files`` on the card branch (from its tip, or
    main) and push them to the attempt's ref. (branch start, head)."""
    bare = repo_service.git_path(settings, repo)
    work = tmp_path / f"w-{job.id}-{job.attempt}"
    git("clone", "-q", str(bare), str(work))
    exists = git("rev-parse", "--verify", f"origin/{job.branch}", cwd=work, check=False).returncode == 0
    start = git("rev-parse", f"origin/{job.branch}", cwd=work).stdout.strip() if exists else None
    git("checkout", "-q", "-B", job.branch, f"origin/{job.branch}" if exists else "origin/main", cwd=work)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git("add", "-A", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "work", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    git("push", "-q", str(bare), f"HEAD:{protocol.attempt_ref(str(job.id), job.attempt)}", cwd=work)
    return start, head


async def _complete(
    app: FastAPI,
    settings: Settings,
    repo: Repo,
    job: Job,
    runner_id: uuid.UUID,
    tmp_path: Path,
    files: dict[str, str] | None = None,
    **fields: object,
) -> None:
    """Complete ``job``'s attempt as a runner would (an agent attempt pushes ``files``; a verify
    attempt pushes nothing and reports ``verification``)."""
    if job.kind == JobKind.VERIFY:
        bare = repo_service.git_path(settings, repo)
        head = git("rev-parse", job.branch, cwd=bare).stdout.strip()
        start: str | None = head
    else:
        start, head = _push(settings, repo, job, tmp_path, files or {"work.txt": str(job.id)})
    message = protocol.Complete(
        job_id=str(job.id),
        attempt=job.attempt,
        status="completed",
        head_sha=head,
        base_sha=job.base_sha,
        branch_start_sha=start,
        **fields,  # type: ignore[arg-type]
    )
    async with app.state.sessionmaker() as session:
        assert await runs.complete_attempt(
            session=session, settings=settings, message=message, runner_id=runner_id
        )
        await session.commit()


async def _fail(app: FastAPI, settings: Settings, job: Job, runner_id: uuid.UUID, **fields: object) -> None:
    message = protocol.Complete(
        job_id=str(job.id), attempt=job.attempt, status="failed", error="It broke.", **fields
    )  # type: ignore[arg-type]
    async with app.state.sessionmaker() as session:
        assert await runs.complete_attempt(
            session=session, settings=settings, message=message, runner_id=runner_id
        )
        await session.commit()


async def _card(app: FastAPI, card_id: uuid.UUID) -> Card:
    async with app.state.sessionmaker() as session:
        card = await session.get(Card, card_id)
        assert card is not None
        return card


async def _set_checks(app: FastAPI, repo: Repo, command: str | None) -> None:
    async with app.state.sessionmaker() as session:
        row = await session.get(Repo, repo.id)
        assert row is not None
        row.test_command = command
        await session.commit()


FAILING = protocol.VerifyResult(name="test", command="pytest", exit_code=1, duration_ms=5, output="1 failed")
PASSING = protocol.VerifyResult(name="test", command="pytest", exit_code=0, duration_ms=5, output="ok")


async def test_starting_a_card_starts_a_run_of_the_repos_default_workflow(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    (job,) = await queue(app, settings, repo, 1)
    assert await _runs(app, job.card_id) == [
        ("build", R.RUNNING, [(StepKind.BUILD, S.RUNNING), (StepKind.VERIFY, S.PENDING)])
    ]
    async with app.state.sessionmaker() as session:
        step = await session.get(Step, job.step_id)
        assert step is not None and step.started_at is not None and step.finished_at is None
        # Where the step began: the default branch's tip (the card branch does not exist yet).
        assert (
            step.start_sha
            == git("rev-parse", "main", cwd=repo_service.git_path(settings, repo)).stdout.strip()
        )


async def test_a_build_with_no_checks_skips_verify_and_goes_to_review_with_its_progress(
    app: FastAPI, settings: Settings, repo: Repo, tmp_path: Path
) -> None:
    job, runner = await claimed(app, settings, repo)
    await _complete(app, settings, repo, job, runner.id, tmp_path, {"a.txt": "one\ntwo\n", "b.txt": "x\n"})
    assert await _runs(app, job.card_id) == [
        ("build", R.SUCCEEDED, [(StepKind.BUILD, S.SUCCEEDED), (StepKind.VERIFY, S.SKIPPED)])
    ]
    assert (await _card(app, job.card_id)).status == CardStatus.IN_REVIEW
    async with app.state.sessionmaker() as session:
        step = await session.get(Step, job.step_id)
        assert step is not None
        assert (step.commits, step.files_changed, step.lines_added, step.lines_removed) == (1, 2, 3, 0)


async def test_checks_run_as_their_own_step_after_the_agent_step(
    app: FastAPI, settings: Settings, repo: Repo, tmp_path: Path
) -> None:
    await _set_checks(app, repo, "pytest")
    job, runner = await claimed(app, settings, repo)
    await _complete(app, settings, repo, job, runner.id, tmp_path)
    verify = (await _jobs(app, job.card_id))[-1]
    assert (
        verify.kind == JobKind.VERIFY and verify.status == JobStatus.QUEUED and verify.step_id != job.step_id
    )
    assert (await _card(app, job.card_id)).status == CardStatus.IN_PROGRESS
    again = await _claim(app, settings, runner.id)
    assert again.id == verify.id
    await _complete(app, settings, repo, again, runner.id, tmp_path, verification=[PASSING])
    assert await _runs(app, job.card_id) == [
        ("build", R.SUCCEEDED, [(StepKind.BUILD, S.SUCCEEDED), (StepKind.VERIFY, S.SUCCEEDED)])
    ]
    assert (await _card(app, job.card_id)).status == CardStatus.IN_REVIEW


async def test_failed_checks_send_the_agent_step_back_with_their_output(
    app: FastAPI, settings: Settings, repo: Repo, tmp_path: Path
) -> None:
    await _set_checks(app, repo, "pytest")
    job, runner = await claimed(app, settings, repo)
    await _complete(app, settings, repo, job, runner.id, tmp_path)
    verify = await _claim(app, settings, runner.id)
    await _complete(app, settings, repo, verify, runner.id, tmp_path, verification=[FAILING])
    jobs = await _jobs(app, job.card_id)
    assert [(j.kind, j.status, j.step_id) for j in jobs] == [
        (JobKind.BUILD, JobStatus.COMPLETED, job.step_id),
        (JobKind.VERIFY, JobStatus.FAILED, verify.step_id),
        (JobKind.FIX, JobStatus.QUEUED, job.step_id),
    ]
    assert "1 failed" in jobs[2].prompt and "Verification failed: test (`pytest`)" in jobs[2].prompt
    assert await _runs(app, job.card_id) == [
        ("build", R.RUNNING, [(StepKind.BUILD, S.RUNNING), (StepKind.VERIFY, S.PENDING)])
    ]
    card = await _card(app, job.card_id)
    assert card.status == CardStatus.IN_PROGRESS and card.job_id == jobs[2].id


async def test_checks_that_keep_failing_fail_the_run_after_the_cards_attempts(
    app: FastAPI, settings: Settings, repo: Repo, tmp_path: Path
) -> None:
    await _set_checks(app, repo, "pytest")
    (job,) = await queue(app, settings, repo, 1, max_attempts=2)
    (runner,) = await runners_named(app, 1)
    for _ in range(2):  # the build, then one fix: the card's two attempts of the build step
        agent = await _claim(app, settings, runner.id)
        await _complete(app, settings, repo, agent, runner.id, tmp_path)
        verify = await _claim(app, settings, runner.id)
        await _complete(app, settings, repo, verify, runner.id, tmp_path, verification=[FAILING])
    assert await _runs(app, job.card_id) == [
        ("build", R.FAILED, [(StepKind.BUILD, S.SUCCEEDED), (StepKind.VERIFY, S.FAILED)])
    ]
    card = await _card(app, job.card_id)
    assert card.status == CardStatus.FAILED
    assert [j.kind for j in await _jobs(app, job.card_id)] == [
        JobKind.BUILD,
        JobKind.VERIFY,
        JobKind.FIX,
        JobKind.VERIFY,
    ]
    # Retry (after raising the limit) sends the build back again, then the checks.
    async with app.state.sessionmaker() as session:
        row = await session.get(Card, job.card_id)
        assert row is not None
        with pytest.raises(Exception, match="used all 2 of its attempts"):
            await card_moves.retry_card(session=session, settings=settings, card=row)
        await session.rollback()
        row = await session.get(Card, job.card_id)
        assert row is not None
        row.max_attempts = 3
        retry = await card_moves.retry_card(session=session, settings=settings, card=row)
        await session.commit()
    assert retry.kind == JobKind.FIX and retry.step_id == job.step_id and "1 failed" in retry.prompt
    assert await _runs(app, job.card_id) == [
        ("build", R.RUNNING, [(StepKind.BUILD, S.RUNNING), (StepKind.VERIFY, S.PENDING)])
    ]


async def test_a_failed_attempt_fails_its_step_and_run_and_a_retry_reopens_them(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    job, runner = await claimed(app, settings, repo)
    await _fail(app, settings, job, runner.id)
    # A failed run keeps the steps it did not reach pending: a retry goes on with them.
    assert await _runs(app, job.card_id) == [
        ("build", R.FAILED, [(StepKind.BUILD, S.FAILED), (StepKind.VERIFY, S.PENDING)])
    ]
    async with app.state.sessionmaker() as session:
        card = await session.get(Card, job.card_id)
        assert card is not None
        retry = await card_moves.retry_card(session=session, settings=settings, card=card)
        await session.commit()
    assert retry.step_id == job.step_id and retry.kind == JobKind.RETRY and "It broke." in retry.prompt
    assert await _runs(app, job.card_id) == [
        ("build", R.RUNNING, [(StepKind.BUILD, S.RUNNING), (StepKind.VERIFY, S.PENDING)])
    ]


async def test_requesting_changes_starts_an_iterate_run(
    app: FastAPI, settings: Settings, repo: Repo, tmp_path: Path
) -> None:
    job, runner = await claimed(app, settings, repo)
    await _complete(app, settings, repo, job, runner.id, tmp_path)
    async with app.state.sessionmaker() as session:
        card = await session.get(Card, job.card_id)
        assert card is not None and card.status == CardStatus.IN_REVIEW
        session.add(Comment(card_id=card.id, body="Rename it."))
        again = await review.request_changes(session=session, settings=settings, card=card)
        await session.commit()
    assert again.kind == JobKind.ITERATE and again.step_id != job.step_id and "Rename it." in again.prompt
    assert await _runs(app, job.card_id) == [
        ("build", R.SUCCEEDED, [(StepKind.BUILD, S.SUCCEEDED), (StepKind.VERIFY, S.SKIPPED)]),
        ("iterate", R.RUNNING, [(StepKind.ITERATE, S.RUNNING), (StepKind.VERIFY, S.PENDING)]),
    ]


async def test_cancelling_a_queued_job_cancels_its_step_and_run(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    (job,) = await queue(app, settings, repo, 1)
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
        assert row is not None
        await runs.cancel_job(session=session, job=row)
        await session.commit()
    assert await _runs(app, job.card_id) == [
        ("build", R.CANCELLED, [(StepKind.BUILD, S.CANCELLED), (StepKind.VERIFY, S.SKIPPED)])
    ]
    assert (await _card(app, job.card_id)).status == CardStatus.TODO


async def test_a_lease_lost_before_the_agent_started_keeps_the_step_running(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    job, _ = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
        assert row is not None
        await attempts.requeue(session=session, job=row)
        await session.commit()
    (runner,) = await runners_named(app, 1)
    again = await _claim(app, settings, runner.id)
    assert (again.id, again.attempt, again.step_id) == (job.id, 2, job.step_id)
    assert await _runs(app, job.card_id) == [
        ("build", R.RUNNING, [(StepKind.BUILD, S.RUNNING), (StepKind.VERIFY, S.PENDING)])
    ]


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED])
async def test_a_job_from_before_runs_existed_still_ends_and_moves_its_card(
    app: FastAPI, settings: Settings, repo: Repo, status: JobStatus
) -> None:
    """Jobs of an upgraded database have no step: they end as before, and a retry makes a run."""
    job, runner = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
        card = await session.get(Card, job.card_id)
        assert row is not None and card is not None
        await session.delete(await session.get(Run, (await session.get(Step, row.step_id)).run_id))  # type: ignore[union-attr]
        await session.flush()
        await session.refresh(row)
        assert row.step_id is None
        await runs.end_attempt(
            session=session, settings=settings, job=row, card=card, status=status, error=None
        )
        await session.commit()
        assert card.status == runs.CARD_AFTER[status]
    if status == JobStatus.FAILED:
        async with app.state.sessionmaker() as session:
            card = await session.get(Card, job.card_id)
            assert card is not None
            retry = await card_moves.retry_card(session=session, settings=settings, card=card)
            await session.commit()
        assert retry.step_id is not None
        assert await _runs(app, job.card_id) == [
            ("build", R.RUNNING, [(StepKind.BUILD, S.RUNNING), (StepKind.VERIFY, S.PENDING)])
        ]


async def test_an_unknown_workflow_is_refused_naming_the_known_ones_and_nothing_is_written(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    async with app.state.sessionmaker() as session:
        card = Card(repo_id=repo.id, title="c", position=0)
        session.add(card)
        await session.commit()
        card_id = card.id
        with pytest.raises(
            Exception, match=r"Unknown workflow 'nope'; the workflows are: build, iterate, .*plan_build.*"
        ) as found:
            await card_moves.start_card(session=session, settings=settings, card=card, workflow="nope")
        assert getattr(found.value, "status_code", None) == 422
        await session.rollback()
    assert await _runs(app, card_id) == []
    assert (await _card(app, card_id)).status == CardStatus.TODO


async def _start(app: FastAPI, settings: Settings, repo: Repo, workflow: str, **card: Any) -> Job:
    async with app.state.sessionmaker() as session:
        row = Card(repo_id=repo.id, title="Long task", position=0, **card)
        session.add(row)
        await session.flush()
        job = await card_moves.start_card(session=session, settings=settings, card=row, workflow=workflow)
        await session.commit()
    return job


def _branch_exists(settings: Settings, repo: Repo, branch: str) -> bool:
    bare = repo_service.git_path(settings, repo)
    return git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", cwd=bare, check=False).returncode == 0


async def test_a_test_step_may_change_only_test_files(
    app: FastAPI, settings: Settings, repo: Repo, tmp_path: Path
) -> None:
    job = await _start(app, settings, repo, "test", max_attempts=1)
    (runner,) = await runners_named(app, 1)
    claimed_job = await _claim(app, settings, runner.id)
    assert claimed_job.id == job.id and claimed_job.kind == JobKind.TEST
    await _complete(
        app, settings, repo, claimed_job, runner.id, tmp_path, {"tests/test_a.py": "x\n", "src/app.py": "y\n"}
    )
    assert await _runs(app, job.card_id) == [
        ("test", R.FAILED, [(StepKind.TEST, S.FAILED), (StepKind.VERIFY, S.PENDING)])
    ]
    (failed,) = await _jobs(app, job.card_id)
    assert failed.status == JobStatus.FAILED and failed.error is not None
    assert "may change only test files" in failed.error and "also changed: src/app.py." in failed.error
    assert not _branch_exists(settings, repo, job.branch)  # nothing reached the card branch

    ok = await _start(app, settings, repo, "test")
    again = await _claim(app, settings, runner.id)
    await _complete(
        app, settings, repo, again, runner.id, tmp_path, {"tests/test_a.py": "x\n", "pkg/b_test.py": "z\n"}
    )
    assert (await _runs(app, ok.card_id))[0][1] == R.SUCCEEDED
    assert _branch_exists(settings, repo, ok.branch)


def _progress(done: bool) -> str:
    return ("---\ndone: true\n---\n" if done else "") + "- step one done\n"


async def test_a_long_task_runs_iterations_until_its_progress_file_says_done_and_the_checks_pass(
    app: FastAPI, settings: Settings, repo: Repo, tmp_path: Path
) -> None:
    await _set_checks(app, repo, "pytest")
    job = await _start(app, settings, repo, "long_build")
    (runner,) = await runners_named(app, 1)
    plan_job = await _claim(app, settings, runner.id)
    async with app.state.sessionmaker() as session:
        run = await session.get(Run, (await session.get(Step, job.step_id)).run_id)  # type: ignore[union-attr]
        assert run is not None and run.plan_path is not None
        plan_file, progress_file = run.plan_path, run.plan_path.removesuffix(".md") + ".progress.md"
    await _complete(
        app, settings, repo, plan_job, runner.id, tmp_path, {plan_file: "---\nfiles: [a.py]\n---\n# Plan\n"}
    )

    first = await _claim(app, settings, runner.id)
    assert first.kind == JobKind.LOOP and "iteration 1 of at" in first.prompt and "# Plan" in first.prompt
    # Not done yet (and the checks it ran fail): another iteration, a step of its own, with their output.
    await _complete(
        app,
        settings,
        repo,
        first,
        runner.id,
        tmp_path,
        {progress_file: _progress(False), "a.py": "1\n"},
        verification=[FAILING],
    )
    assert await _runs(app, job.card_id) == [
        (
            "long_build",
            R.RUNNING,
            [
                (StepKind.PLAN, S.SUCCEEDED),
                (StepKind.LOOP, S.SUCCEEDED),
                (StepKind.LOOP, S.RUNNING),
                (StepKind.VERIFY, S.PENDING),
            ],
        )
    ]
    second = await _claim(app, settings, runner.id)
    assert second.kind == JobKind.LOOP and second.step_id != first.step_id
    assert (
        "iteration 2 of at" in second.prompt
        and "- step one done" in second.prompt
        and "1 failed" in second.prompt
    )
    assert second.resume_session is None  # a fresh session per iteration
    # Done, but its checks fail: not finished.
    await _complete(
        app,
        settings,
        repo,
        second,
        runner.id,
        tmp_path,
        {progress_file: _progress(True)},
        verification=[FAILING],
    )
    third = await _claim(app, settings, runner.id)
    assert third.kind == JobKind.LOOP
    await _complete(app, settings, repo, third, runner.id, tmp_path, {"a.py": "3\n"}, verification=[PASSING])
    verify = await _claim(app, settings, runner.id)
    assert verify.kind == JobKind.VERIFY
    await _complete(app, settings, repo, verify, runner.id, tmp_path, verification=[PASSING])
    async with app.state.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(Step).join(Run).where(Run.card_id == job.card_id).order_by(Step.position)
            )
        ).all()
    assert [(r.position, r.kind, r.iteration, r.status) for r in rows] == [
        (0, StepKind.PLAN, None, S.SUCCEEDED),
        (1, StepKind.LOOP, 1, S.SUCCEEDED),
        (2, StepKind.LOOP, 2, S.SUCCEEDED),
        (3, StepKind.LOOP, 3, S.SUCCEEDED),
        (4, StepKind.VERIFY, None, S.SUCCEEDED),
    ]
    assert (await _card(app, job.card_id)).status == CardStatus.IN_REVIEW


async def test_a_long_task_fails_after_its_iterations(
    app: FastAPI, settings: Settings, repo: Repo, tmp_path: Path
) -> None:
    job = await _start(app, settings, repo, "long_build")
    async with app.state.sessionmaker() as session:
        run = await session.get(Run, (await session.get(Step, job.step_id)).run_id)  # type: ignore[union-attr]
        assert run is not None and run.plan_path is not None
        run.max_iterations = 2
        plan_file = run.plan_path
        await session.commit()
    (runner,) = await runners_named(app, 1)
    await _complete(
        app,
        settings,
        repo,
        await _claim(app, settings, runner.id),
        runner.id,
        tmp_path,
        {plan_file: "# Plan\n"},
    )
    for i in range(2):
        await _complete(
            app,
            settings,
            repo,
            await _claim(app, settings, runner.id),
            runner.id,
            tmp_path,
            {"a.py": f"{i}\n"},
        )
    (run_row,) = await _runs(app, job.card_id)
    assert run_row[1] == R.FAILED and [s for _, s in run_row[2]] == [
        S.SUCCEEDED,
        S.SUCCEEDED,
        S.FAILED,
        S.PENDING,
    ]
    card = await _card(app, job.card_id)
    assert card.status == CardStatus.FAILED
    async with app.state.sessionmaker() as session:
        run = await session.scalar(select(Run).where(Run.card_id == job.card_id))
        assert run is not None and run.error is not None
    assert run.error.startswith("The long task did not finish in 2 iterations: its progress file (docs")


async def test_a_running_run_left_without_a_running_step_goes_on_with_its_next_one(
    app: FastAPI, settings: Settings, repo: Repo, tmp_path: Path
) -> None:
    """What a hand-over cut short would leave (the engine never does: it is one transaction)."""
    await _set_checks(app, repo, "pytest")
    job, runner = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        step = await session.get(Step, job.step_id)
        row = await session.get(Job, job.id)
        assert step is not None and row is not None
        step.status, row.status = S.SUCCEEDED, JobStatus.COMPLETED
        await session.commit()
        assert await runs.resume_stalled(session=session, settings=settings) != []
        await session.commit()
        assert await runs.resume_stalled(session=session, settings=settings) == []  # once
    verify = (await _jobs(app, job.card_id))[-1]
    assert verify.kind == JobKind.VERIFY and verify.status == JobStatus.QUEUED
    assert await _runs(app, job.card_id) == [
        ("build", R.RUNNING, [(StepKind.BUILD, S.SUCCEEDED), (StepKind.VERIFY, S.RUNNING)])
    ]
