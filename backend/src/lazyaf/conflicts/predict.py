"""The prediction itself: which of a repo's active card branches collide, with each other or with
the target branch (sync; run it through ``lazyaf.git.run.in_thread``).

For each branch: its merge base with the target and the paths it changed since (``mine``). Then:

* **against the target**, for every branch the target moved away from (its merge base is not the
  target's tip): ``git merge-tree`` of the two tips. Conflicting files make a *conflict*; without
  any, paths both sides changed since the merge base make an *overlap*.
* **between two branches**, only for pairs whose ``mine`` meet (the same path, or a file on one
  side where the other has a directory): ``git merge-tree`` of their tips, conflict or overlap
  the same way. Pairs whose paths do not meet are not asked: two branches that touch different
  files merge cleanly (renames count as both paths, so a rename against an edit meets).

Every git answer is kept by commit ids (``lazyaf.git.overlap``): after a push only the questions
about the pushed branch's new tip reach git.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from lazyaf.conflicts import plans
from lazyaf.conflicts.schemas import ConflictKind
from lazyaf.git import overlap
from lazyaf.git import refs as git_refs

WORKERS = max(1, min(4, os.cpu_count() or 1))
"""git processes a survey runs at once (one per core, up to 4): each is short (a few to tens of
milliseconds) and mostly CPU; measured on 2 busy cores, more than two in flight gained nothing."""


@dataclass(frozen=True, slots=True)
class Side:
    """An active card and its branch."""

    card_id: uuid.UUID
    branch: str


@dataclass(frozen=True, slots=True)
class Found:
    """A predicted collision, seen from ``card_id`` (``other_card_id`` None: the target branch)."""

    card_id: uuid.UUID
    other_card_id: uuid.UUID | None
    kind: ConflictKind
    files: tuple[str, ...]
    card_sha: str
    other_sha: str


@dataclass(slots=True)
class Branch:
    """What the survey learned of one card's branch."""

    side: Side
    tip: str
    base: str
    mine: frozenset[str]
    dirs: frozenset[str] = field(default=frozenset())


@dataclass(slots=True)
class Survey:
    target_sha: str | None
    branches: dict[uuid.UUID, Branch]
    found: list[Found]


def parents(paths: frozenset[str]) -> frozenset[str]:
    """Every directory holding one of ``paths`` (``a/b/c`` -> ``a``, ``a/b``)."""
    found: set[str] = set()
    for path in paths:
        cut = path.rfind("/")
        while cut > 0:
            directory = path[:cut]
            if directory in found:
                break
            found.add(directory)
            cut = path.rfind("/", 0, cut)
    return frozenset(found)


def meeting(
    a: frozenset[str], a_dirs: frozenset[str], b: frozenset[str], b_dirs: frozenset[str]
) -> list[str]:
    """The paths two changes both touch: the same path, or a file on one side where the other side
    has a directory (``a`` added as a file, ``a/x`` on the other side)."""
    return sorted((a & b) | (a & b_dirs) | (b & a_dirs))


def branch_of(repo: Path, target_sha: str, side: Side, tip: str) -> Branch | None:
    """The branch's merge base with the target and its changed paths; None when it shares no history."""
    base = overlap.merge_base(repo, target_sha, tip)
    if base is None:
        return None
    mine = overlap.changed_paths(repo, base, tip)
    return Branch(side=side, tip=tip, base=base, mine=mine, dirs=parents(mine))


def tips(repo: Path, target: str, sides: Sequence[Side]) -> tuple[str | None, list[str | None]]:
    """Where the target and each side's branch point now (one read of the refs)."""
    target_sha, *found = git_refs.branch_shas(repo, target, *(side.branch for side in sides))
    return target_sha, found


def survey(repo: Path, target: str, sides: Sequence[Side]) -> Survey:
    """Predict the collisions of ``sides`` (active cards' branches) with each other and with branch
    ``target``, as they are now."""
    return survey_at(repo, *tips(repo, target, sides), sides)


def survey_at(repo: Path, target_sha: str | None, at: Sequence[str | None], sides: Sequence[Side]) -> Survey:
    """``survey`` with the target at ``target_sha`` and each side's branch at ``at`` (None: the
    branch does not exist yet, the side is left out). The git questions run ``WORKERS`` at a time."""
    if target_sha is None:
        return Survey(target_sha=None, branches={}, found=[])
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="conflicts") as pool:
        present = [(side, tip) for side, tip in zip(sides, at, strict=True) if tip is not None]
        learned = list(pool.map(lambda pair: branch_of(repo, target_sha, *pair), present))
        branches = {b.side.card_id: b for b in learned if b is not None}
        ahead = [b for b in branches.values() if b.mine]
        with overlap.Scratch(repo) as scratch:
            asked = [pool.submit(_against_target, repo, target_sha, b, scratch) for b in branches.values()]
            asked += [pool.submit(_between, repo, a, b, scratch) for a, b in combinations(ahead, 2)]
            found = [f for answer in asked for f in answer.result()]
    return Survey(target_sha=target_sha, branches=branches, found=found)


def _against_target(repo: Path, target_sha: str, branch: Branch, scratch: overlap.Scratch) -> list[Found]:
    if not branch.mine or branch.base == target_sha:
        return []  # nothing of its own, or the target has not moved since it branched
    theirs = overlap.changed_paths(repo, branch.base, target_sha)
    conflicts = overlap.conflicting_files(repo, target_sha, branch.tip, scratch)
    if conflicts:
        kind, files = ConflictKind.CONFLICT, conflicts
    else:
        kind, files = ConflictKind.OVERLAP, tuple(meeting(branch.mine, branch.dirs, theirs, parents(theirs)))
    if not files:
        return []
    return [Found(branch.side.card_id, None, kind, files, branch.tip, target_sha)]


def _between(repo: Path, a: Branch, b: Branch, scratch: overlap.Scratch) -> list[Found]:
    if a.tip == b.tip:
        return []
    touched = meeting(a.mine, a.dirs, b.mine, b.dirs)
    if not touched:
        return []
    conflicts = overlap.conflicting_files(repo, a.tip, b.tip, scratch)
    if conflicts is None:
        return []
    kind = ConflictKind.CONFLICT if conflicts else ConflictKind.OVERLAP
    files = conflicts or tuple(touched)
    return [
        Found(a.side.card_id, b.side.card_id, kind, files, a.tip, b.tip),
        Found(b.side.card_id, a.side.card_id, kind, files, b.tip, a.tip),
    ]


# --- plans (the hold policy) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Footprint:
    """The files a card's branch is about: what its plan lists and what it changed."""

    planned: tuple[str, ...]
    changed: frozenset[str]

    @property
    def files(self) -> list[str]:
        return sorted(set(self.planned) | self.changed)


def planned_files(repo: Path, branch: Branch) -> list[str]:
    """The files the card's plan (on its branch) lists; [] when it has no readable plan."""
    for path in plans.plan_paths(branch.mine, branch.side.branch):
        text = overlap.read_text(repo, branch.tip, path)
        if text is not None:
            return plans.planned_files(text)
    return []


def footprints(repo: Path, target: str, sides: Sequence[Side]) -> dict[uuid.UUID, Footprint]:
    """Each side's plan and changed files (sides whose branch does not exist are left out)."""
    target_sha, at = tips(repo, target, sides)
    if target_sha is None:
        return {}
    found = {}
    for side, tip in zip(sides, at, strict=True):
        if tip is None or (branch := branch_of(repo, target_sha, side, tip)) is None:
            continue
        found[side.card_id] = Footprint(planned=tuple(planned_files(repo, branch)), changed=branch.mine)
    return found
