"""Request and response shapes for repos."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from lazyaf.git.history import is_valid_branch_name
from lazyaf.validation import plain_text, remote_url

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def _branch(value: str) -> str:
    if not is_valid_branch_name(value):
        raise ValueError(f"'{value}' is not a valid git branch name")
    return value


RepoName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NAME_PATTERN),
    Field(description="Letters, digits, '.', '_' and '-'; unique.", examples=["myrepo"]),
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


MergeStrategy = Literal["auto", "merge", "squash"]
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
    clone_url: str = Field(description="URL of the repo on LazyAF's embedded git server.")
    created_at: datetime
    updated_at: datetime


class CloneUrlRead(BaseModel):
    url: str
    repo_id: uuid.UUID


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
