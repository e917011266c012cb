"""Merge a card's branch into a branch of a bare repo with the git binary, never a work tree.

Approving a card lands its branch on the repo's default branch inside LazyAF's own bare repo.
Every step is git plumbing, so the result is what ``git merge`` would make:

1. ``cat-file --batch-check`` resolves both sides; ``merge-base`` tells up to date (the source
   is already in the target), fast-forward (the target is an ancestor) or a real merge.
2. ``merge-tree --write-tree`` builds the merged tree with the same ort machinery as
   ``git merge`` (renames, binary files, criss-cross histories), or names the conflicting files.
3. ``commit-tree`` writes the merge commit (parents target, source) or the squash commit
   (parent target only).
4. ``update-ref --stdin`` moves ``refs/heads/<target>`` in a transaction: *prepare* locks the
   ref and checks it still holds the value we merged onto (compare-and-swap), then the new
   objects join the repository, then *commit* publishes the ref with a ``lazyaf: approve``
   reflog entry.

Steps 2-3 write their objects into a quarantine directory inside ``objects/`` (the way
``receive-pack`` stages a push), not into the repository: a conflict, a target that moved
meanwhile or any failure deletes it and leaves the repository byte for byte as it was, and
objects move in only while the ref is locked, so a reader never sees a ref whose objects are
missing.

Functions here are synchronous and spawn git through ``lazyaf.git.run``; async callers use
``run.in_thread``.
The errors, all :class:`lazyaf.errors.LazyAFError` so they answer HTTP on their own::

    * MergeError            500  git failed unexpectedly
      x MergeConflict       409  the branches conflict (also a ValueError); ``.files``
      x ConflictMarkers     409  the result would hold conflict markers the target lacks; ``.files``
      x TargetMoved         409  the target branch changed while merging
      x UnrelatedHistories  409  the branches share no commit
      x UnknownRevision     404  no such branch or commit

Known limit: with git 2.39 a bare repo has no work tree, so ``merge-tree`` reads merge drivers
from ``info/attributes`` only, not from ``.gitattributes`` in the branches (git 2.40 adds
``--attr-source``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Literal, NoReturn

from lazyaf_protocol import conflict_markers

from lazyaf.errors import Conflict, LazyAFError, NotFound
from lazyaf.git import run

MergeStrategy = Literal["auto", "merge", "squash"]
MergeKind = Literal["fast_forward", "merge", "squash", "up_to_date"]

_OID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
# How many file names a conflict message spells out; the exception keeps them all.
MESSAGE_FILES = 10
# Changed files passed to `git grep` as pathspecs; beyond this it searches the whole merged tree.
GREP_PATHSPECS = 2000


class MergeError(LazyAFError):
    """A git step of the merge failed for a reason other than those below."""

    code = "merge_failed"


class MergeConflict(MergeError, Conflict, ValueError):
    """The source conflicts with the target; nothing was merged."""

    code = "merge_conflict"

    def __init__(self, files: Sequence[str], *, source: str, target: str) -> None:
        shown = ", ".join(files[:MESSAGE_FILES])
        more = f" and {len(files) - MESSAGE_FILES} more" if len(files) > MESSAGE_FILES else ""
        super().__init__(f"Merging {source} into {target} conflicts in: {shown}{more}.")
        self.files = list(files)


class ConflictMarkers(MergeError, Conflict):
    """The merge would put conflict markers on the target that it does not hold yet."""

    code = "conflict_markers"

    def __init__(self, files: Sequence[str], *, source: str, target: str) -> None:
        shown = ", ".join(files[:MESSAGE_FILES])
        more = f" and {len(files) - MESSAGE_FILES} more" if len(files) > MESSAGE_FILES else ""
        super().__init__(
            f"{source} holds conflict markers (<<<<<<< / >>>>>>> lines) that {target} lacks in: "
            f"{shown}{more}; nothing was merged."
        )
        self.files = list(files)


class TargetMoved(MergeError, Conflict):
    """The target branch is not (or no longer) at the commit the merge was built on."""

    code = "target_moved"


class UnrelatedHistories(MergeError, Conflict):
    """The two sides have no common ancestor, which ``git merge`` refuses too."""

    code = "unrelated_histories"


class UnknownRevision(MergeError, NotFound):
    """The target branch or the source does not exist in the repo."""

    code = "unknown_revision"


@dataclass(frozen=True)
class MergeResult:
    """What a merge did: ``sha`` is the target's new tip, ``previous`` its tip before; ``head`` is
    the source commit merged and ``base`` its merge base with ``previous`` (the change merged is
    ``base..head``, whatever the strategy)."""

    kind: MergeKind
    sha: str
    previous: str
    head: str = ""
    base: str = ""


def conflicts(repo: Path, *, target: str, source: str) -> list[str]:
    """The files that would conflict if ``source`` were merged into ``target``; the repo is left untouched.

    Both sides are a branch name, a full ref name or a commit id.
    """
    t_sha, s_sha = _resolve(repo, target, source)
    with _quarantine(repo) as quarantine:
        return _merge_tree(repo, quarantine, t_sha, s_sha)[1]


def merge(
    repo: Path,
    *,
    target_branch: str,
    source: str,
    strategy: MergeStrategy,
    message: str,
    author: tuple[str, str],
    committer: tuple[str, str] | None = None,
    expected_target: str | None = None,
    date: datetime | None = None,
    refuse_markers: bool = True,
) -> MergeResult:
    """Merge ``source`` (a branch name, full ref or commit id) into branch ``target_branch``.

    ``auto`` fast-forwards when it can and otherwise writes a merge commit; ``merge`` always
    writes one; ``squash`` writes one commit on the target with the source's combined change.
    ``message`` is used for new commits; ``author`` and ``committer`` (default: the author) are
    (name, email); ``date`` (aware) fixes both commit dates, otherwise git uses the current time.
    With ``expected_target`` the merge happens only if the target is still at that commit.
    With ``refuse_markers`` (the default) a result whose files hold conflict markers the target's
    files lack is refused (``lazyaf_protocol.conflict_markers`` has the rule).
    When anything is raised the repository is unchanged.

    Raises:
        MergeConflict: the sides conflict; ``.files`` names the files.
        ConflictMarkers: the result would bring conflict markers; ``.files`` names the files.
        TargetMoved: the target is not at ``expected_target`` or moved while merging.
        UnrelatedHistories: the sides have no common ancestor.
        UnknownRevision: the target branch or the source does not exist.
    """
    ref = _branch_ref(target_branch)
    target, source_sha = _resolve(repo, ref, source)
    if expected_target is not None and target != expected_target:
        raise TargetMoved(
            f"Branch {target_branch} is at {target[:12]}, not at {expected_target[:12]} as expected; "
            "nothing was merged. Review its new state and approve again."
        )
    base = _merge_base(repo, target, source_sha, source_name=source, target_name=target_branch)
    if base == source_sha:
        return MergeResult(kind="up_to_date", sha=target, previous=target, head=source_sha, base=base)
    if base == target and strategy == "auto":
        if refuse_markers and (marked := _introduced_markers(repo, {}, target, source_sha)):
            raise ConflictMarkers(marked, source=source, target=target_branch)
        reflog = f"lazyaf: approve {source} (fast-forward)"
        _move_branch(repo, ref, new=source_sha, old=target, reflog=reflog, env={}, publish=lambda: None)
        return MergeResult(kind="fast_forward", sha=source_sha, previous=target, head=source_sha, base=base)
    kind: MergeKind = "squash" if strategy == "squash" else "merge"
    with _quarantine(repo) as quarantine:
        tree, files = _merge_tree(repo, quarantine, target, source_sha)
        if files:
            raise MergeConflict(files, source=source, target=target_branch)
        if refuse_markers and (marked := _introduced_markers(repo, quarantine.env(), target, tree)):
            raise ConflictMarkers(marked, source=source, target=target_branch)
        if kind == "squash" and [tree] == _peel(repo, [f"{target}^{{tree}}"]):
            # The branch's changes are already on the target; `git commit` would refuse an empty squash.
            return MergeResult(kind="up_to_date", sha=target, previous=target, head=source_sha, base=base)
        parents = [target] if kind == "squash" else [target, source_sha]
        env = {**quarantine.env(), **_identity_env(author, committer, date)}
        new = _commit_tree(repo, tree, parents, _clean_message(message), env)
        reflog = f"lazyaf: approve {source} ({kind})"
        _move_branch(
            repo, ref, new=new, old=target, reflog=reflog, env=quarantine.env(), publish=quarantine.migrate
        )
    return MergeResult(kind=kind, sha=new, previous=target, head=source_sha, base=base)


# -- running git -----------------------------------------------------------------------------


def _run(
    repo: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    ok: tuple[int, ...] = (0,),
) -> subprocess.CompletedProcess[bytes]:
    """Run git in ``repo``; an exit code outside ``ok`` raises :class:`MergeError`."""
    done = run.run(repo, *args, stdin=stdin, env=env)
    if done.returncode not in ok:
        raise MergeError(f"git {args[0]} failed in {repo.name}: {run.first_line(done.stderr)}")
    return done


# -- names -----------------------------------------------------------------------------------


def _branch_ref(branch: str) -> str:
    return branch if branch.startswith("refs/heads/") else f"refs/heads/{branch}"


def _rev(name: str) -> str:
    """The revision git should look up for a branch name, a full ref name or a commit id."""
    if not name or name.startswith("-") or "@{" in name or any(c.isspace() or c in "^~:" for c in name):
        # Refused here so a name can never be read as an option or a revision expression.
        raise UnknownRevision(f"'{name}' is not a branch name or commit id.")
    if _OID.fullmatch(name) or name.startswith("refs/"):
        return name
    return f"refs/heads/{name}"


def _peel(repo: Path, revs: Sequence[str]) -> list[str | None]:
    """The object id of each ``rev`` (with its ``^{type}`` suffix), None when missing; one process."""
    lines = "".join(f"{rev}\n" for rev in revs).encode()
    out = _run(repo, "cat-file", "--batch-check=%(objectname)", stdin=lines)
    answers = out.stdout.decode().splitlines()
    return [None if a.endswith((" missing", " ambiguous")) else a for a in answers]


def _resolve(repo: Path, target: str, source: str) -> tuple[str, str]:
    """The commit ids of both sides, in one process."""
    t_sha, s_sha = _peel(repo, [f"{_rev(target)}^{{commit}}", f"{_rev(source)}^{{commit}}"])
    if t_sha is None:
        name = target.removeprefix("refs/heads/")
        raise UnknownRevision(f"There is no branch or commit '{name}' in the repo to merge into.")
    if s_sha is None:
        raise UnknownRevision(f"There is no branch or commit '{source}' in the repo to merge.")
    return t_sha, s_sha


def _merge_base(repo: Path, target: str, source: str, *, source_name: str, target_name: str) -> str:
    # One best common ancestor is enough: when one side contains the other it is that side.
    done = _run(repo, "merge-base", target, source, ok=(0, 1))
    if done.returncode == 1:
        raise UnrelatedHistories(
            f"{source_name} and {target_name} share no history; git refuses to merge unrelated histories."
        )
    return done.stdout.decode().strip()


# -- the object quarantine -------------------------------------------------------------------


class _Quarantine:
    """A temporary object directory; git commands run with :meth:`env` write their objects here."""

    def __init__(self, repo: Path) -> None:
        self.objects = (repo / "objects").resolve()
        # Inside objects/ so migrating is a same-filesystem link or rename. The prefix is the one
        # git's own quarantines use: readers never look inside, and `git gc` prunes one that a
        # crash left behind once its grace period is over.
        self.path = Path(tempfile.mkdtemp(prefix="tmp_objdir-lazyaf-merge-", dir=self.objects))

    def env(self) -> dict[str, str]:
        return {
            "GIT_OBJECT_DIRECTORY": str(self.path),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": _quote_alternate(str(self.objects)),
        }

    def migrate(self) -> None:
        """Move every object written here into the repository, packs before their indexes."""
        for fanout in sorted(self.path.glob("[0-9a-f][0-9a-f]")):
            dest = self.objects / fanout.name
            # A fan-out directory the repo lacks (common right after a repack) moves whole: one
            # rename instead of a mkdir and a link per object. A rename never replaces a
            # non-empty directory, so one that appeared meanwhile takes the per-object path.
            if not dest.exists() and _rename_quietly(fanout, dest):
                continue
            dest.mkdir(exist_ok=True)
            for src in sorted(fanout.iterdir()):
                _link_object(src, dest / src.name)
        for src in sorted(self.path.glob("pack/*"), key=_pack_order):
            _link_object(src, self.objects / "pack" / src.name)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _pack_order(path: Path) -> tuple[int, str]:
    # An index published before its pack would point readers at objects not there yet.
    return ({".pack": 0, ".idx": 2}.get(path.suffix, 1), path.name)


def _rename_quietly(src: Path, dst: Path) -> bool:
    try:
        src.rename(dst)
    except OSError:
        return False
    return True


def _link_object(src: Path, dst: Path) -> None:
    try:
        # A link never replaces: an object already present (same id, same content) stays as is.
        os.link(src, dst)
    except FileExistsError:
        pass
    except OSError:
        if not dst.exists():  # a filesystem without hard links
            os.replace(src, dst)


def _quote_alternate(path: str) -> str:
    # The variable is ':'-separated; git reads a C-quoted entry verbatim.
    if not any(c in path for c in ':"\\'):
        return path
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def _quarantine(repo: Path) -> Iterator[_Quarantine]:
    quarantine = _Quarantine(repo)
    try:
        yield quarantine
    finally:
        quarantine.discard()


# -- merge steps -----------------------------------------------------------------------------


def _merge_tree(repo: Path, quarantine: _Quarantine, target: str, source: str) -> tuple[str, list[str]]:
    """The merged tree's id and the conflicting files (empty when clean)."""
    done = _run(
        repo,
        "merge-tree",
        "--write-tree",
        "--name-only",
        "-z",
        "--no-messages",
        target,
        source,
        env=quarantine.env(),
        ok=(0, 1, 128),
    )
    if done.returncode == 128:
        message = run.first_line(done.stderr)
        if "unrelated histories" in message:
            raise UnrelatedHistories(
                "The two sides share no history; git refuses to merge unrelated histories."
            )
        raise MergeError(f"git merge-tree failed in {repo.name}: {message}")
    tree, *names = done.stdout.split(b"\0")
    return tree.decode(), [n.decode("utf-8", "replace") for n in names if n]


def _introduced_markers(repo: Path, env: Mapping[str, str], target: str, tree: str) -> list[str]:
    """Files of ``tree`` holding conflict markers that ``target``'s version of them lacks.

    The changed files come from one ``diff-tree`` (no content diff), ``git grep`` finds those whose
    new version has a marker-like line (half what a ``-G`` pickaxe costs on a wide change: ~20 ms for
    330 changed files), and only those are read and compared."""
    raw = _run(repo, "diff-tree", "-r", "-z", "--no-renames", target, tree, env=env).stdout
    changed = [entry for entry in conflict_markers.parse_raw(raw) if entry.new is not None]
    if not changed:
        return []
    # Every changed path as a pathspec, or the whole tree once the list gets long.
    paths = [entry.path for entry in changed] if len(changed) <= GREP_PATHSPECS else []
    grep = ("--literal-pathspecs", "grep", "-l", "-z", "-I", "-E", conflict_markers.PICKAXE, tree, "--")
    found = _run(repo, *grep, *paths, env=env, ok=(0, 1)).stdout
    prefix = f"{tree}:"
    names = {n.decode("utf-8", "surrogateescape").removeprefix(prefix) for n in found.split(b"\0") if n}
    suspects = [entry for entry in changed if entry.path in names]
    if not suspects:
        return []
    oids = [oid for entry in suspects for oid in (entry.old, entry.new) if oid is not None]
    blobs = conflict_markers.parse_batch(
        _run(repo, "cat-file", "--batch", env=env, stdin=conflict_markers.batch_request(oids)).stdout
    )
    return conflict_markers.files_introducing(suspects, blobs)


def _git_date(date: datetime) -> str:
    offset = date.utcoffset()
    if offset is None:
        raise ValueError("A commit date needs a time zone.")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{int(date.timestamp())} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _identity_env(
    author: tuple[str, str], committer: tuple[str, str] | None, date: datetime | None
) -> dict[str, str]:
    committer = committer or author
    env = {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": committer[0],
        "GIT_COMMITTER_EMAIL": committer[1],
    }
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = _git_date(date)
    return env


def _commit_tree(repo: Path, tree: str, parents: Sequence[str], message: str, env: Mapping[str, str]) -> str:
    # The message goes through stdin: any length, any characters, never read as an option.
    args = [arg for parent in parents for arg in ("-p", parent)]
    done = _run(repo, "commit-tree", tree, *args, env=env, stdin=message.encode())
    return done.stdout.decode().strip()


def _clean_message(message: str) -> str:
    # What `git commit` would store: no trailing blank lines, one final newline.
    text = "\n".join(line.rstrip() for line in message.strip("\n").splitlines())
    if not text.strip():
        raise ValueError("A merge commit needs a message.")
    return text + "\n"


def _move_branch(
    repo: Path,
    ref: str,
    *,
    new: str,
    old: str,
    reflog: str,
    env: Mapping[str, str],
    publish: Callable[[], None],
) -> None:
    """Compare-and-swap ``ref`` from ``old`` to ``new``; ``publish`` runs while the ref is locked."""
    command = run.command(repo, "update-ref", "-m", reflog, "--stdin")
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=run.environment(**env),
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        prepared = _send(proc.stdin, f"start\nupdate {ref} {new} {old}\nprepare\n") and _expect(
            proc.stdout, [b"start: ok\n", b"prepare: ok\n"]
        )
        if not prepared:
            _close(proc.stdin)
            _raise_update_failed(ref, old, run.first_line(proc.stderr.read()))
        try:
            publish()
        except BaseException:
            _send(proc.stdin, "abort\n")
            raise
        committed = (
            _send(proc.stdin, "commit\n") and _close(proc.stdin) and proc.stdout.read() == b"commit: ok\n"
        )
        error = proc.stderr.read()
        if proc.wait() != 0 or not committed:
            raise MergeError(f"git update-ref could not move {ref} in {repo.name}: {run.first_line(error)}")


def _send(stream: IO[bytes], text: str) -> bool:
    try:
        stream.write(text.encode())
        stream.flush()
    except BrokenPipeError:  # git already gave up; its stderr says why
        return False
    return True


def _close(stream: IO[bytes]) -> bool:
    try:
        stream.close()
    except BrokenPipeError:
        return False
    return True


def _expect(stream: IO[bytes], lines: Sequence[bytes]) -> bool:
    return all(stream.readline() == line for line in lines)


def _raise_update_failed(ref: str, old: str, message: str) -> NoReturn:
    branch = ref.removeprefix("refs/heads/")
    if "cannot lock ref" in message:
        # Either the ref no longer holds `old` or another process holds its lock right now.
        raise TargetMoved(
            f"Branch {branch} changed while merging (it is no longer at {old[:12]}); "
            "nothing was merged. Approve again to merge onto its new tip."
        )
    raise MergeError(f"git update-ref could not move {ref}: {message}")
