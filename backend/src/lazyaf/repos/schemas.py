"""Request and response shapes for repos."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from lazyaf.conflicts.schemas import ConflictPolicy
from lazyaf.git.history import is_valid_branch_name
from lazyaf.validation import plain_text, remote_url

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# A name is the last part of its clone URL, /git/<name>.git: only URL-safe characters (the
# pattern), never shaped like a repo id (the URL would be read as that id), never ending in .git
# (/git/x.git.git reads as another repo's URL).
_ID_SHAPED = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def _url_name(value: str) -> str:
    if _ID_SHAPED.fullmatch(value):
        raise ValueError(f"'{value}' looks like a repo id; pick a name with letters that is not one")
    if value.lower().endswith(".git"):
        raise ValueError(f"'{value}' ends in .git, which the clone URL adds itself; drop the .git")
    return value


def _branch(value: str) -> str:
    if not is_valid_branch_name(value):
        raise ValueError(f"'{value}' is not a valid git branch name")
    return value


RepoName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NAME_PATTERN),
    AfterValidator(_url_name),
    Field(
        description="Letters, digits, '.', '_' and '-', starting with a letter or digit; not shaped like a "
        "repo id, not ending in .git; unique. The clone URL is /git/<name>.git.",
        examples=["myrepo"],
    ),
]
BranchName = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_branch)]
RemoteUrl = Annotated[
    str,
    StringConstraints(max_length=2000),
    AfterValidator(remote_url),
    Field(
        description="Where `lazyaf land` pushes. Credentials in it (user:token@) are removed before it is "
        "stored: git's credential helper supplies them.",
    ),
]


TestPath = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^/\x00-\x1f][^\x00-\x1f]*$"
    ),
]
"""A glob of repo paths (relative, no leading slash)."""
MergeStrategy = Literal["auto", "merge", "squash"]
StallSeconds = Annotated[
    int,
    Field(
        ge=1,
        le=7 * 24 * 3600,
        description="Seconds (1 to 604800); null: the server's default.",
    ),
]
Command = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=4000), AfterValidator(plain_text)
]


class RepoCreate(BaseModel):
    """A new repo with an empty internal git repository."""

    model_config = ConfigDict(extra="forbid")

    name: RepoName
    remote_url: RemoteUrl | None = None
    default_branch: BranchName = "main"


class RepoIngest(RepoCreate):
    """A repo about to receive a push of an existing local repository (`lazyaf ingest`)."""


class RepoUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RepoName | None = None
    remote_url: RemoteUrl | None = None
    default_branch: BranchName | None = None
    merge_strategy: MergeStrategy | None = Field(
        None, description="How approve merges: auto (fast-forward when possible), merge, or squash."
    )
    setup_command: Command | None = Field(
        None, description="Run before verification (e.g. install deps); '' clears."
    )
    lint_command: Command | None = None
    test_command: Command | None = None
    build_command: Command | None = None
    stall_after_s: StallSeconds | None = Field(
        None,
        description="Seconds a running agent may emit nothing before its card is marked stalled; null "
        "returns to the server's LAZYAF_STALL_AFTER_S.",
    )
    kill_after_s: StallSeconds | None = Field(
        None,
        description="Seconds without an agent event after which the attempt is killed and fails (more than "
        "stall_after_s); null returns to the server's LAZYAF_KILL_AFTER_S.",
    )
    conflict_policy: ConflictPolicy | None = Field(
        None,
        description="warn: show predicted collisions between cards; hold: also keep a card whose plan's "
        "files overlap a running card's files queued (held) until that card is reviewed.",
    )
    default_workflow: str | None = Field(
        None,
        max_length=50,
        description="The workflow a card runs when dragged to In Progress or started without one "
        "(GET /api/workflows?repo= lists them); '' goes back to build.",
    )
    test_paths: list[TestPath] | None = Field(
        None,
        max_length=50,
        description="Globs (`**` any depth) of the paths a workflow's test step may add or change; "
        "[] goes back to the default (tests/**, test/**, **/test_*.py, **/*_test.*, **/*.test.*, ...).",
    )


class RepoRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    remote_url: str | None
    default_branch: str
    is_ingested: bool
    merge_strategy: MergeStrategy
    setup_command: str | None
    lint_command: str | None
    test_command: str | None
    build_command: str | None
    stall_after_s: int | None = Field(
        None, description="The repo's own stall_after_s; null: the server's default applies."
    )
    kill_after_s: int | None = Field(
        None, description="The repo's own kill_after_s; null: the server's default."
    )
    conflict_policy: ConflictPolicy
    default_workflow: str = Field(description="The workflow a card runs when started without one.")
    test_paths: list[str] = Field(description="Globs of the paths a test step may add or change.")
    clone_url: str = Field(
        description="URL of the repo on LazyAF's embedded git server, by name (/git/<name>.git); "
        "/git/<id>.git works too, and so do the names it had before a rename until another repo takes them."
    )
    created_at: datetime
    updated_at: datetime


class CloneUrlRead(BaseModel):
    url: str = Field(description="The clone URL by name, as clone_url.")
    id_url: str = Field(description="The clone URL by id: it never changes, whatever the repo is called.")
    repo_id: uuid.UUID


class RemoteVerify(BaseModel):
    """What to check: the repo's stored remote_url, or (before saving it) another one."""

    model_config = ConfigDict(extra="forbid")

    remote_url: RemoteUrl | None = Field(
        None, description="Check this URL instead of the repo's stored remote_url (nothing is saved)."
    )


class RemoteVerifyRead(BaseModel):
    """Whether the remote answered ``git ls-remote``; ``error`` says what to fix when it did not."""

    ok: bool
    url: str = Field(description="The URL checked, without credentials.")
    default_branch: str | None = Field(
        description="The branch the remote's HEAD names; null when it did not say (an empty remote)."
    )
    branches: int = Field(description="How many branches the remote has (0: it is empty).")
    error: str | None = None


class BranchRead(BaseModel):
    name: str
    sha: str
    is_default: bool


class CommitRead(BaseModel):
    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    authored_at: datetime
    committer_name: str
    committed_at: datetime
    message: str
    summary: str
