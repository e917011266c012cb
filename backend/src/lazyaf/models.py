"""Every ORM class, imported so that ``Base.metadata`` is complete (Alembic, tests)."""

from lazyaf.cards.models import Card, CardActivity, CardStatus, Comment
from lazyaf.db.base import Base
from lazyaf.events.models import BoardEvent
from lazyaf.jobs.models import Job, JobEvent, JobStatus
from lazyaf.repos.models import Repo, RepoAlias
from lazyaf.runners.models import PoolTarget, Runner, RunnerKind, RunnerStatus

__all__ = [
    "Base",
    "BoardEvent",
    "Card",
    "CardActivity",
    "Comment",
    "JobEvent",
    "CardStatus",
    "Job",
    "JobStatus",
    "PoolTarget",
    "Repo",
    "RepoAlias",
    "Runner",
    "RunnerKind",
    "RunnerStatus",
]
