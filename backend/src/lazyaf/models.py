"""Every ORM class, imported so that ``Base.metadata`` is complete (Alembic, tests)."""

from lazyaf.cards.models import Card, CardActivity, CardStatus, Comment
from lazyaf.db.base import Base
from lazyaf.events.models import BoardEvent
from lazyaf.github.commands.models import GitHubCommand, GitHubDelivery, GitHubThread
from lazyaf.github.models import GitHubIssue, GitHubLink, GitHubOutbox
from lazyaf.jobs.models import Job, JobEvent, JobStatus
from lazyaf.repos.models import Repo, RepoAlias
from lazyaf.runners.models import PoolTarget, Runner, RunnerKind, RunnerStatus
from lazyaf.runs.models import FollowUp, Run, RunStatus, Step, StepStatus

__all__ = [
    "Base",
    "BoardEvent",
    "Card",
    "CardActivity",
    "CardStatus",
    "Comment",
    "FollowUp",
    "GitHubCommand",
    "GitHubDelivery",
    "GitHubIssue",
    "GitHubLink",
    "GitHubOutbox",
    "GitHubThread",
    "Job",
    "JobEvent",
    "JobStatus",
    "PoolTarget",
    "Repo",
    "RepoAlias",
    "Run",
    "RunStatus",
    "Runner",
    "RunnerKind",
    "RunnerStatus",
    "Step",
    "StepStatus",
]
