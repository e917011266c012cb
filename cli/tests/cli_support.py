"""Helpers shared by the CLI tests: invoking the CLI, building git repos, checking what a server holds."""

from __future__ import annotations

import fcntl
import http.server
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click.testing
import httpx
from lazyaf.testing import LiveServer

from lazyaf_cli.main import cli

Invoke = Callable[..., click.testing.Result]


def invoke(*args: str, **kwargs: object) -> click.testing.Result:
    result = click.testing.CliRunner().invoke(cli, [str(a) for a in args], **kwargs)  # type: ignore[arg-type]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def error_line(result: click.testing.Result) -> str:
    """The whole stderr of a failed command, which must be exactly one ``Error: ...`` line."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0].removeprefix("Error: ")


# git helpers


def git(*args: str | Path, cwd: Path | None = None) -> str:
    proc = subprocess.run(["git", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def commit(repo: Path, files: dict[str, bytes | str], message: str) -> str:
    for name, content in files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
    git("-C", repo, "add", "-A")
    git("-C", repo, "commit", "-q", "-m", message)
    return git("-C", repo, "rev-parse", "HEAD")


def make_repo(path: Path, branches: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> Path:
    """A work tree on main with one commit, plus a commit on each extra branch and the given tags on main."""
    git("init", "-q", "-b", "main", path)
    commit(path, {"README.md": "# hello\n"}, "first")
    for branch in branches:
        git("-C", path, "checkout", "-q", "-b", branch, "main")
        commit(path, {f"{branch.replace('/', '_')}.txt": branch}, f"work on {branch}")
    git("-C", path, "checkout", "-q", "main")
    for tag in tags:
        git("-C", path, "tag", tag)
    return path


def ls_remote(url: str | Path) -> dict[str, str]:
    """Every ref (branches, tags, peeled tags) → sha, without HEAD."""
    out = git("ls-remote", url)
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines()) if ref != "HEAD"}


def api_repos(srv: LiveServer) -> list[dict[str, object]]:
    repos: list[dict[str, object]] = httpx.get(srv.api("/repos"), timeout=10).json()
    return repos


def assert_nothing_left(srv: LiveServer) -> None:
    assert api_repos(srv) == []
    assert list(srv.settings.git_repos_dir.iterdir()) == []


# The installed `lazyaf` as a real process: piped, or on a pseudo-terminal.

LAZYAF = Path(sys.executable).parent / "lazyaf"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_piped(
    *args: str | Path, server: str, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``lazyaf ARGS`` with stdout and stderr captured through pipes (a script's view)."""
    return subprocess.run(
        [str(LAZYAF), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "LAZYAF_URL": server, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@dataclass
class PtyResult:
    returncode: int
    output: str
    """Everything written to the terminal (stdout and stderr interleaved), escape codes included."""

    @property
    def text(self) -> str:
        """The output as a person reads it: escape codes dropped, spinner lines (\\r) resolved."""
        lines = []
        for line in ANSI.sub("", self.output).replace("\r\n", "\n").split("\n"):
            lines.append(line.rsplit("\r", 1)[-1])
        return "\n".join(lines)


def run_on_pty(
    *args: str | Path,
    server: str,
    timeout: float = 180,
    env: dict[str, str] | None = None,
    interrupt_after: str | None = None,
    when: list[tuple[str, Callable[[], object]]] | None = None,
) -> PtyResult:
    """``lazyaf ARGS`` on a pseudo-terminal (a person's view); with ``interrupt_after``, SIGINT once
    that text has appeared (as Ctrl-C would); ``when`` runs each (text, action) once, in order, as
    soon as its text has appeared."""
    pending = list(when or [])
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen(
        [str(LAZYAF), *map(str, args)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "LAZYAF_URL": server, "TERM": "xterm", **(env or {})},
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    interrupted = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            assert time.monotonic() < deadline, b"".join(chunks).decode(errors="replace")
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer of the terminal is gone
                    break
                if not data:
                    break
                chunks.append(data)
            if interrupt_after and not interrupted and interrupt_after.encode() in b"".join(chunks):
                proc.send_signal(signal.SIGINT)
                interrupted = True
            if pending and pending[0][0].encode() in b"".join(chunks):
                pending.pop(0)[1]()
            if not ready and proc.poll() is not None:
                break
        returncode = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return PtyResult(returncode, b"".join(chunks).decode("utf-8", errors="replace"))


# A stand-in server answering canned JSON, for what a live server cannot show (another version).


@dataclass
class Canned:
    """Answers ``routes[(method, path)]`` (status, body) and records each request."""

    routes: dict[tuple[str, str], tuple[int, object]]
    url: str = ""
    seen: list[tuple[str, str, dict[str, str], object]] = field(default_factory=list)


@contextmanager
def canned_server(routes: dict[tuple[str, str], tuple[int, object]]) -> Iterator[Canned]:
    canned = Canned(routes)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            canned.seen.append((self.command, path, dict(self.headers), json.loads(raw) if raw else None))
            status, body = canned.routes.get((self.command, path), (404, {"detail": "Not Found"}))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    canned.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield canned
    finally:
        httpd.shutdown()
        httpd.server_close()
