"""Build a deterministic medium-sized git repository with `git fast-import`, cached on disk.

The history imitates a real project: a tree of a few thousand source files in nested
directories, commits that edit a few lines in a few files (some files much hotter than
others), occasional adds, deletes and renames, large text data files and large binary assets
edited in place, topic branches merged back with merge commits, and annotated release tags.
Everything comes from one seeded ``random.Random``, so the same parameters give the same
commits (object ids included) on any machine with the same git.

The result is repacked once (``git repack -a -d -f`` with a bitmap, packed refs, a commit-graph)
so every server copy serves the very same pack.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Bump when the generator's output changes, so stale caches are not reused.
GENERATOR_VERSION = 1
BRANCH = "main"

WORDS = (
    "alpha beta gamma delta epsilon value result buffer index count total offset state "
    "config parser reader writer client server request response handler session cache "
    "token stream chunk record entry node tree graph edge path name item items data "
    "payload message error retry timeout limit window queue worker task job runner board "
    "card column status event listener schema model field column row table query"
).split()
CALLS = ("compute", "load", "store", "parse", "render", "update", "merge", "split", "check", "emit")
VERBS = ("Fix", "Add", "Refactor", "Update", "Remove", "Tidy", "Speed up", "Document", "Handle", "Rename")
AUTHORS = (
    ("Ada Lovelace", "ada@example.org"),
    ("Grace Hopper", "grace@example.org"),
    ("Linus Pauling", "linus@example.org"),
    ("Barbara Liskov", "barbara@example.org"),
    ("Ken Thompson", "ken@example.org"),
    ("Margaret Hamilton", "margaret@example.org"),
    ("Dennis Ritchie", "dennis@example.org"),
    ("Frances Allen", "frances@example.org"),
)
TEXT_EXTS = (".py", ".py", ".py", ".ts", ".c", ".h", ".md", ".json", ".txt")
START_TIME = 1_420_070_400  # 2015-01-01T00:00:00Z


@dataclass(frozen=True)
class RepoParams:
    commits: int = 4000
    files: int = 3000
    seed: int = 1

    @property
    def key(self) -> str:
        return f"repo-c{self.commits}-f{self.files}-s{self.seed}-g{GENERATOR_VERSION}"


@dataclass
class RepoInfo:
    """What `describe` reports about a built repository."""

    path: str
    commits: int
    objects: int
    pack_mib: float
    files_at_head: int
    branches: int
    tags: int
    head: str
    build_seconds: float = 0.0
    params: dict[str, int] = field(default_factory=dict)


class _Generator:
    """Writes a fast-import stream; ``files`` maps path -> lines (text) or bytes (binary)."""

    def __init__(self, params: RepoParams, out: IO[bytes]) -> None:
        self.p = params
        self.rng = random.Random(params.seed)
        self.out = out
        self.files: dict[str, list[str] | bytes] = {}
        self.paths: list[str] = []  # same keys as self.files, for O(1) random choice
        self.hot: list[str] = []
        self.dirs: list[str] = []
        self.mark = 0
        self.clock = START_TIME
        self.commits = 0
        self.main_tip = 0  # mark of main's last commit
        self.main_marks: list[int] = []

    # -- content --------------------------------------------------------------------------

    def _line(self) -> str:
        r = self.rng
        indent = "    " * r.choice((0, 1, 1, 2, 2, 3))
        kind = r.random()
        a, b, c = r.choice(WORDS), r.choice(WORDS), r.choice(WORDS)
        if kind < 0.35:
            return f"{indent}{a}_{r.randrange(100)} = {r.choice(CALLS)}({b}, {c}) + {r.randrange(1000)}"
        if kind < 0.55:
            return f"{indent}if {a} and not {b}.{c}:"
        if kind < 0.7:
            return f"{indent}return {r.choice(CALLS)}_{a}({b}={c}_{r.randrange(50)})"
        if kind < 0.8:
            return f"{indent}# {r.choice(VERBS).lower()} the {a} {b} before the {c} is {r.choice(CALLS)}ed"
        if kind < 0.9:
            return ""
        return f"{indent}def {r.choice(CALLS)}_{a}_{b}(self, {c}: int = {r.randrange(10)}) -> None:"

    def _text(self, lines: int) -> list[str]:
        return [self._line() for _ in range(lines)]

    def _csv(self, rows: int) -> list[str]:
        r = self.rng
        header = ",".join(r.sample(WORDS, 6))
        return [header] + [
            f"{i},{r.choice(WORDS)},{r.randrange(10**6)},{r.random():.6f},{r.choice(WORDS)},{r.randrange(99)}"
            for i in range(rows)
        ]

    def _new_file(self) -> tuple[str, list[str] | bytes]:
        r = self.rng
        directory = r.choice(self.dirs)
        roll = r.random()
        if roll < 0.01:
            # Large binary asset: incompressible, edited in place later (so deltas still work).
            size = int(2 ** r.uniform(16, 21))  # 64 KiB .. 2 MiB
            name, content = f"asset_{r.choice(WORDS)}_{self.mark}.bin", r.randbytes(size)
        elif roll < 0.02:
            name, content = f"data_{r.choice(WORDS)}_{self.mark}.csv", self._csv(r.randrange(2000, 20000))
        else:
            lines = int(2 ** r.uniform(3, 9.5))  # 8 .. ~700 lines, most around 60
            name, content = (
                f"{r.choice(WORDS)}_{r.choice(WORDS)}_{self.mark}{r.choice(TEXT_EXTS)}",
                self._text(lines),
            )
        path = f"{directory}/{name}" if directory else name
        return (path, content) if path not in self.files else self._new_file()

    def _edit(self, content: list[str] | bytes) -> list[str] | bytes:
        r = self.rng
        if isinstance(content, bytes):
            start = r.randrange(len(content))
            patch = r.randbytes(r.randrange(256, 16384))
            return content[:start] + patch + content[start + len(patch) :]
        lines = list(content)
        for _ in range(r.choice((1, 1, 1, 2, 2, 3))):
            at = r.randrange(len(lines) + 1)
            op = r.random()
            if op < 0.5 and lines:
                at = min(at, len(lines) - 1)
                for i in range(at, min(len(lines), at + r.randrange(1, 5))):
                    lines[i] = self._line()
            elif op < 0.8:
                lines[at:at] = self._text(r.randrange(1, 12))
            elif len(lines) > 5:
                del lines[at : at + r.randrange(1, 5)]
        return lines

    # -- file set -------------------------------------------------------------------------

    def _add(self, path: str, content: list[str] | bytes) -> None:
        self.files[path] = content
        self.paths.append(path)

    def _remove(self, path: str) -> None:
        del self.files[path]
        i = self.paths.index(path)
        self.paths[i] = self.paths[-1]
        self.paths.pop()
        if path in self.hot:
            self.hot.remove(path)

    def _pick(self, exclude: set[str]) -> str:
        for _ in range(100):
            pool = self.hot if self.hot and self.rng.random() < 0.5 else self.paths
            path = self.rng.choice(pool)
            if path not in exclude:
                return path
        raise RuntimeError("no file left to pick")

    # -- stream ---------------------------------------------------------------------------

    def _data(self, payload: bytes) -> None:
        self.out.write(b"data %d\n" % len(payload))
        self.out.write(payload)
        self.out.write(b"\n")

    @staticmethod
    def _encode(content: list[str] | bytes) -> bytes:
        if isinstance(content, bytes):
            return content
        return ("\n".join(content) + "\n").encode()

    def _message(self) -> bytes:
        r = self.rng
        subject = f"{r.choice(VERBS)} {r.choice(WORDS)} {r.choice(WORDS)} in {r.choice(WORDS)}"
        if r.random() < 0.4:
            body = " ".join(r.choice(WORDS) for _ in range(r.randrange(10, 60)))
            return f"{subject}\n\n{body}\n".encode()
        return f"{subject}\n".encode()

    def _commit(
        self,
        ref: str,
        parents: list[int | str],
        changes: list[tuple[str, str, list[str] | bytes | str | None]],
        message: bytes | None = None,
    ) -> int:
        """Emit one commit. A change is ("M", path, content), ("D", path, None) or ("R", old, new)."""
        self.mark += 1
        self.commits += 1
        self.clock += self.rng.randrange(600, 2 * 86400)
        name, email = self.rng.choice(AUTHORS)
        who = f"{name} <{email}> {self.clock} +0000".encode()
        self.out.write(
            b"commit %s\nmark :%d\nauthor %s\ncommitter %s\n" % (ref.encode(), self.mark, who, who)
        )
        self._data(message or self._message())
        for i, parent in enumerate(parents):
            # A mark (int) or a commit id already in the repository (str).
            target = f":{parent}" if isinstance(parent, int) else parent
            self.out.write(b"%s %s\n" % (b"merge" if i else b"from", target.encode()))
        for op, path, content in changes:
            if op == "M":
                assert content is not None and not isinstance(content, str)
                self.out.write(b"M 100644 inline %s\n" % path.encode())
                self._data(self._encode(content))
            elif op == "D":
                self.out.write(b"D %s\n" % path.encode())
            else:
                assert isinstance(content, str)
                self.out.write(b"R %s %s\n" % (path.encode(), content.encode()))
        self.out.write(b"\n")
        if ref == f"refs/heads/{BRANCH}":
            self.main_marks.append(self.mark)
        return self.mark

    def _initial(self) -> None:
        r = self.rng
        tops = [f"{w}" for w in r.sample(WORDS, 12)]
        self.dirs = [""] + tops
        for top in tops:
            for sub in r.sample(WORDS, r.randrange(3, 9)):
                self.dirs.append(f"{top}/{sub}")
                if r.random() < 0.4:
                    self.dirs.append(f"{top}/{sub}/{r.choice(WORDS)}")
        for _ in range(self.p.files):
            self.mark += 1  # keeps generated names unique
            self._add(*self._new_file())
        self.hot = r.sample(self.paths, max(1, len(self.paths) // 20))
        self.main_tip = self._commit(
            f"refs/heads/{BRANCH}",
            [],
            [("M", p, self.files[p]) for p in sorted(self.paths)],
            b"Initial import\n",
        )

    def _regular_changes(self, exclude: set[str]) -> list[tuple[str, str, list[str] | bytes | str | None]]:
        r = self.rng
        changes: list[tuple[str, str, list[str] | bytes | str | None]] = []
        touched: set[str] = set(exclude)
        for _ in range(r.choice((1, 1, 2, 2, 3, 3, 4, 6))):
            path = self._pick(touched)
            touched.add(path)
            self.files[path] = self._edit(self.files[path])
            changes.append(("M", path, self.files[path]))
        roll = r.random()
        if roll < 0.04:
            for _ in range(r.randrange(1, 4)):
                path, content = self._new_file()
                self._add(path, content)
                changes.append(("M", path, content))
        elif roll < 0.05 and len(self.paths) > self.p.files // 2:
            path = self._pick(touched)
            self._remove(path)
            changes.append(("D", path, None))
        elif roll < 0.06:
            old = self._pick(touched)
            content = self.files[old]
            new_dir = r.choice(self.dirs)
            base = old.rsplit("/", 1)[-1]
            new = f"{new_dir}/{base}" if new_dir else base
            if new not in self.files:
                self._remove(old)
                self._add(new, content)
                changes.append(("R", old, new))
        return changes

    def run(self) -> None:
        r = self.rng
        self._initial()
        topic = 0
        while self.commits < self.p.commits:
            if r.random() < 0.03 and self.p.commits - self.commits > 20:
                self._topic_branch(topic)
                topic += 1
                continue
            self.main_tip = self._commit(
                f"refs/heads/{BRANCH}", [self.main_tip], self._regular_changes(set())
            )
            if self.commits % 250 == 0:
                self._tag(f"v0.{self.commits // 250}", self.main_tip)
        # A few long-lived branches, as real repos have.
        for i in range(4):
            mark = self.main_marks[-40 * (i + 1)]
            self.out.write(b"reset refs/heads/release-%d\nfrom :%d\n\n" % (i, mark))
        self.out.write(b"done\n")

    def _topic_branch(self, number: int) -> None:
        """A few commits on a side branch, some commits on main meanwhile, then a merge commit."""
        r = self.rng
        text = [p for p in self.paths if not isinstance(self.files[p], bytes)]
        topic_paths = r.sample(text, r.randrange(2, 7))
        topic_files = {p: self.files[p] for p in topic_paths}
        tip = self.main_tip
        ref = f"refs/heads/topic-{number % 8}"
        for _ in range(r.randrange(2, 7)):
            changes: list[tuple[str, str, list[str] | bytes | str | None]] = []
            for path in r.sample(topic_paths, r.randrange(1, 3)):
                topic_files[path] = self._edit(topic_files[path])
                changes.append(("M", path, topic_files[path]))
            tip = self._commit(ref, [tip], changes)
        for _ in range(r.randrange(0, 6)):
            self.main_tip = self._commit(
                f"refs/heads/{BRANCH}", [self.main_tip], self._regular_changes(set(topic_paths))
            )
        self.files.update(topic_files)
        merge_msg = f"Merge branch 'topic-{number}'\n".encode()
        merge_changes: list[tuple[str, str, list[str] | bytes | str | None]] = [
            ("M", p, topic_files[p]) for p in topic_paths
        ]
        self.main_tip = self._commit(f"refs/heads/{BRANCH}", [self.main_tip, tip], merge_changes, merge_msg)

    def _tag(self, name: str, mark: int) -> None:
        who = f"Release Bot <release@example.org> {self.clock} +0000".encode()
        self.out.write(b"tag %s\nfrom :%d\ntagger %s\n" % (name.encode(), mark, who))
        self._data(f"Release {name}\n".encode())


def extra_commits(
    out: IO[bytes], ref: str, base: str, files: dict[str, list[str] | bytes], count: int, seed: int
) -> None:
    """Write a fast-import stream of ``count`` commits on ``ref`` starting from commit ``base``.

    ``files`` are some of base's files (path -> content); the commits edit them in the same
    way the generator edits its history, occasionally adding, deleting or renaming one.
    """
    gen = _Generator(RepoParams(commits=count, files=0, seed=seed), out)
    for path, content in files.items():
        gen._add(path, content)
    gen.hot = gen.paths[: max(1, len(gen.paths) // 5)]
    gen.dirs = sorted({p.rpartition("/")[0] for p in gen.paths})
    gen.clock = START_TIME + 10 * 365 * 86400
    tip: int | str = base
    for _ in range(count):
        tip = gen._commit(ref, [tip], gen._regular_changes(set()))
    out.write(b"done\n")


def _git(repo: Path, *args: str, capture: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=capture, text=True)
    return done.stdout if capture else ""


def build(params: RepoParams, dest: Path) -> None:
    """Generate the repository at ``dest`` (bare), then repack it into one pack with a bitmap."""
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(tmp)], check=True)
    proc = subprocess.Popen(
        ["git", "-C", str(tmp), "fast-import", "--quiet", "--done", "--force"],
        stdin=subprocess.PIPE,
    )
    assert proc.stdin is not None
    try:
        _Generator(params, proc.stdin).run()
        proc.stdin.close()
    finally:
        if proc.wait() != 0:
            raise RuntimeError(f"git fast-import failed with exit code {proc.returncode}")
    for branch in _git(tmp, "for-each-ref", "--format=%(refname)", "refs/heads/topic-*").split():
        _git(tmp, "update-ref", "-d", branch)  # merged topic branches are deleted, as usual
    _git(tmp, "repack", "-a", "-d", "-f", "-q", "--write-bitmap-index")
    _git(tmp, "pack-refs", "--all")
    _git(tmp, "prune", "--expire=now")
    _git(tmp, "commit-graph", "write", "--reachable")
    tmp.rename(dest)


def describe(repo: Path) -> RepoInfo:
    counts = dict(
        line.split(": ", 1) for line in _git(repo, "count-objects", "-v").splitlines() if ": " in line
    )
    return RepoInfo(
        path=str(repo),
        commits=int(_git(repo, "rev-list", "--count", "--all").strip()),
        objects=int(counts["in-pack"]) + int(counts["count"]),
        pack_mib=round(int(counts["size-pack"]) / 1024, 1),
        files_at_head=len(_git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()),
        branches=len(_git(repo, "for-each-ref", "refs/heads/").splitlines()),
        tags=len(_git(repo, "for-each-ref", "refs/tags/").splitlines()),
        head=_git(repo, "rev-parse", "HEAD").strip(),
    )


def ensure(params: RepoParams, cache_dir: Path, log: Callable[[str], None] = print) -> RepoInfo:
    """The cached repository for ``params``, built first if missing."""
    dest = cache_dir / f"{params.key}.git"
    info_file = cache_dir / f"{params.key}.json"
    if dest.is_dir() and info_file.is_file():
        log(f"Reusing cached repository {dest}")
        return RepoInfo(**json.loads(info_file.read_text()))
    cache_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    log(f"Generating repository ({params.commits} commits, {params.files} files, seed {params.seed}) ...")
    started = time.monotonic()
    build(params, dest)
    info = describe(dest)
    info.build_seconds = round(time.monotonic() - started, 1)
    info.params = {"commits": params.commits, "files": params.files, "seed": params.seed}
    info_file.write_text(json.dumps(info.__dict__, indent=2))
    return info


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Build (or reuse) the benchmark repository.")
    parser.add_argument("--commits", type=int, default=RepoParams.commits)
    parser.add_argument("--files", type=int, default=RepoParams.files)
    parser.add_argument("--seed", type=int, default=RepoParams.seed)
    ns = parser.parse_args()
    result = ensure(RepoParams(ns.commits, ns.files, ns.seed), Path(__file__).parent / "work" / "repos")
    print(json.dumps(result.__dict__, indent=2))
