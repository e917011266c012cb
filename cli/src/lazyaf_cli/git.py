"""Real ``git`` subprocess calls: argument lists, never a shell; output streamed, never buffered whole.

Failures raise ``GitFailed`` with git's stderr; commands turn it into one line for the user.
A LazyAF token reaches git through ``GIT_CONFIG_*`` environment variables, so it never
appears on a command line (``ps``) or in output.
"""

from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import click

# Variables that would point git somewhere other than the repository we name with -C
# (set, for instance, when lazyaf runs from inside a git hook).
_REPO_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")
# While progress streams to a terminal, hold back what the command will summarize in one line.
_SUMMARIZED_PREFIXES = ("error:", "fatal:", "hint:", " ! ", "To ", "Everything up-to-date")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


class GitFailed(Exception):
    """git exited non-zero."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: Iterable[str], stdout: str = "") -> None:
        self.lines = [line.rstrip() for line in stderr if line.strip()]
        super().__init__(f"git {' '.join(args[:3])} exited with {returncode}")
        self.returncode = returncode
        self.refs = parse_porcelain(stdout)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def reason(self) -> str:
        """git's most telling stderr line, without its ``fatal:``/``error:`` prefix."""
        return describe(self.lines, self.returncode)


@dataclass(frozen=True)
class RefStatus:
    """One line of ``git push --porcelain``: flag, source and destination ref, summary."""

    flag: str
    src: str
    dst: str
    summary: str

    @property
    def rejected(self) -> bool:
        return self.flag == "!"

    @property
    def reason(self) -> str:
        match = re.search(r"\(([^)]*)\)\s*$", self.summary)
        return match.group(1) if match else self.summary.strip("[] ")


def redact(text: str) -> str:
    """Hide credentials embedded in URLs (``https://user:secret@host``)."""
    return _USERINFO.sub("***@", text)


def describe(lines: Sequence[str], returncode: int) -> str:
    def strip(line: str) -> str:
        for prefix in ("fatal: ", "error: ", "remote: error: ", "remote: "):
            if line.startswith(prefix):
                line = line[len(prefix) :]
        return redact(line.strip().rstrip("."))

    for prefix in ("fatal:", "error:", "remote: error:"):
        for line in lines:
            if line.startswith(prefix) and "failed to push some refs" not in line:
                return strip(line)
    meaningful = [line for line in lines if not line.startswith("hint:")]
    return strip(meaningful[-1]) if meaningful else f"git exited with status {returncode}"


def token_env(token: str | None) -> dict[str, str]:
    """Environment that makes git send ``Authorization: Bearer <token>``.

    Appends to any ``GIT_CONFIG_*`` entries already set rather than replacing them.
    """
    if not token:
        return {}
    try:
        count = int(os.environ.get("GIT_CONFIG_COUNT") or 0)
    except ValueError:
        count = 0
    return {
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": "http.extraHeader",
        f"GIT_CONFIG_VALUE_{count}": f"Authorization: Bearer {token}",
    }


def parse_porcelain(stdout: str) -> list[RefStatus]:
    refs = []
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and len(parts[0]) == 1:
            src, _, dst = parts[1].partition(":")
            refs.append(RefStatus(flag=parts[0], src=src, dst=dst, summary=parts[2]))
    return refs


class Git:
    """Runs git; with ``verbose``, echoes each command (credentials redacted) and all of its stderr."""

    def __init__(self, *, verbose: bool = False) -> None:
        self.verbose = verbose

    def run(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a quick command and capture its output."""
        cmd = self._command(args)
        try:
            proc = subprocess.run(
                cmd,
                env=self._env(env),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                encoding="utf-8",
                errors="surrogateescape",
            )
        except FileNotFoundError:
            raise _git_missing() from None
        if check and proc.returncode != 0:
            raise GitFailed(args, proc.returncode, proc.stderr.splitlines(), proc.stdout)
        return proc

    def output(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def stream(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run a long command (push, fetch): its stderr progress goes to ours as it comes, stdout is returned.

        On a terminal, git's own error lines are held back: the caller sums them up in one line.
        """
        cmd = self._command(args)
        try:
            proc = subprocess.Popen(
                cmd,
                env=self._env(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError:
            raise _git_missing() from None
        assert proc.stdout is not None and proc.stderr is not None
        chunks: list[bytes] = []
        # stdout is drained in a thread so a long porcelain report cannot fill its pipe and stall git.
        reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read() if proc.stdout else b""))
        reader.start()
        try:
            kept = self._pump_stderr(proc.stderr)
            returncode = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join()
            proc.stdout.close()
            proc.stderr.close()
        stdout = b"".join(chunks).decode("utf-8", "surrogateescape")
        if returncode != 0:
            raise GitFailed(args, returncode, kept, stdout)
        return stdout

    def push(
        self, repo: Path, url: str, refspecs: Sequence[str], *, env: dict[str, str] | None = None
    ) -> list[RefStatus]:
        """``git push --porcelain`` the refspecs from ``repo`` to ``url``; rejected refs raise ``GitFailed``
        (its ``refs`` say which)."""
        args = ["-C", str(repo), "push", "--porcelain", "--no-verify", *progress_flag(), url, *refspecs]
        return parse_porcelain(self.stream(*args, env=env))

    def _pump_stderr(self, pipe: IO[bytes]) -> list[str]:
        """Copy git's stderr to ours as it arrives; return the last lines for error reports."""
        show = self.verbose or sys.stderr.isatty()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        kept: deque[str] = deque(maxlen=200)
        pending = ""
        read = getattr(pipe, "read1", pipe.read)
        while chunk := read(4096):
            pending += decoder.decode(chunk)
            # Progress rewrites its line with \r; keep each segment with its terminator.
            *segments, pending = re.split(r"(?<=[\r\n])", pending)
            for segment in segments:
                self._show(segment, show, kept)
        if pending:
            self._show(pending + "\n", show, kept)
        return list(kept)

    def _show(self, segment: str, show: bool, kept: deque[str]) -> None:
        if segment.endswith("\n"):
            kept.append(segment.rstrip("\r\n"))
        if show and (self.verbose or not segment.startswith(_SUMMARIZED_PREFIXES)):
            click.echo(redact(segment), err=True, nl=False)

    def _command(self, args: Sequence[str]) -> list[str]:
        cmd = ["git", *args]
        if self.verbose:
            click.echo("$ " + redact(" ".join(cmd)), err=True)
        return cmd

    @staticmethod
    def _env(extra: dict[str, str] | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATION_VARS}
        env.update(extra or {})
        return env


def lazyaf_env(token: str | None) -> dict[str, str]:
    """Environment for git talking to LazyAF's own server: the token if any, and no prompts,
    since nobody could answer a username prompt for it."""
    return {**token_env(token), "GIT_TERMINAL_PROMPT": "0"}


def progress_flag() -> list[str]:
    """``--progress`` when a person watches stderr, so long transfers show progress."""
    return ["--progress"] if sys.stderr.isatty() else []


def no_prompt_env() -> dict[str, str]:
    """Never wait for a username git cannot ask anyone for."""
    return {} if sys.stdin.isatty() else {"GIT_TERMINAL_PROMPT": "0"}


def _git_missing() -> click.ClickException:
    return click.ClickException("git is not installed or not on PATH; install git and try again.")


# Reading a local repository.


def ref_names(git: Git, repo: Path, prefix: str) -> list[str]:
    """Names under ``refs/<prefix>/`` (e.g. branches for "heads"), without the prefix."""
    full = f"refs/{prefix}/"
    out = git.run("-C", str(repo), "for-each-ref", "--format=%(refname)", full).stdout
    return [line[len(full) :] for line in out.splitlines() if line.startswith(full)]


def current_branch(git: Git, repo: Path) -> str | None:
    """The branch HEAD names, or None when HEAD is detached."""
    proc = git.run("-C", str(repo), "symbolic-ref", "-q", "HEAD", check=False)
    ref = proc.stdout.strip()
    return ref[len("refs/heads/") :] if proc.returncode == 0 and ref.startswith("refs/heads/") else None


def config_value(git: Git, repo: Path, key: str) -> str | None:
    proc = git.run("-C", str(repo), "config", "--get", key, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def is_valid_branch_name(git: Git, name: str) -> bool:
    return git.run(
        "check-ref-format", f"refs/heads/{name}", check=False
    ).returncode == 0 and not name.startswith("-")
