"""Bare repositories on disk: create, locate, delete (sync: call through ``git.run.in_thread``).

dulwich manages them; the repo id maps to the path.

A path is never taken from a URL: callers pass a parsed UUID and this module builds the path.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from dulwich.refs import Ref
from dulwich.repo import Repo as DulwichRepo


def repo_path(git_repos_dir: Path, repo_id: uuid.UUID) -> Path:
    return git_repos_dir / f"{repo_id}.git"


def create_bare(path: Path, default_branch: str) -> None:
    """Create an empty bare repo whose HEAD names ``default_branch``.

    Raises:
        FileExistsError: something already lives at ``path``.
    """
    path.mkdir(parents=True, exist_ok=False)
    try:
        repo = DulwichRepo.init_bare(str(path))
        try:
            repo.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(b"refs/heads/" + default_branch.encode()))
            config = repo.get_config()
            # Served over HTTP by LazyAF itself: let the C git binary serve these without
            # http.* gating, and keep reflogs so a forced push can be undone by hand.
            config.set((b"core",), b"logallrefupdates", b"true")
            config.set((b"receive",), b"denyCurrentBranch", b"ignore")
            config.set((b"uploadpack",), b"allowFilter", b"true")
            config.write_to_path()
        finally:
            repo.close()
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def move_aside(path: Path, trash: Path) -> bool:
    """Rename the repo at ``path`` to ``trash`` (to delete it once its row is gone); False when
    there was nothing at ``path``."""
    try:
        path.rename(trash)
    except FileNotFoundError:
        return False
    return True


def delete_bare(path: Path) -> None:
    """Remove a bare repo; a missing one is fine."""
    shutil.rmtree(path, ignore_errors=True)


def set_head(path: Path, branch: str) -> None:
    """Point HEAD (what a clone checks out) at ``branch``."""
    repo = DulwichRepo(str(path))
    try:
        repo.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(b"refs/heads/" + branch.encode()))
    finally:
        repo.close()
