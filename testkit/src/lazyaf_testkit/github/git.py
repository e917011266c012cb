"""GitHub's git endpoint, for tests: bare repos served by `git http-backend` (smart HTTP) on
127.0.0.1, behind basic auth that wants a token as the password, as GitHub does.

``FakeGitHub`` answers the API but holds no git data; this serves the ``git_url`` a link pushes
to. A push that works proves the token reached git (LazyAF gives it to git only through the
environment). Every request's user name and whether its password was the token are recorded in
``auth``; set ``token`` to another value to act as a revoked token::

    remote = GitRemote(tmp_path / "git", token)
    with remote.serve():
        url = remote.add_repo("octo-org/hello-world")   # http://127.0.0.1:PORT/octo-org/hello-world.git
        ...
        remote.refs("octo-org/hello-world")            # {"refs/heads/main": sha, ...}
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class GitRemote:
    def __init__(self, root: Path, token: str) -> None:
        self.root = root
        self.token = token
        self.auth: list[tuple[str, bool]] = []  # (user, password was the token) per request
        self.url = ""
        self._server: ThreadingHTTPServer | None = None

    def add_repo(self, full_name: str) -> str:
        """A bare repo for ``owner/name``; its URL."""
        path = self.root / f"{full_name}.git"
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
        return f"{self.url}/{full_name}.git"

    def refs(self, full_name: str) -> dict[str, str]:
        out = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname) %(objectname)"],
            cwd=self.root / f"{full_name}.git",
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return dict(line.split(" ", 1) for line in out.splitlines())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                user = remote._check(self.headers.get("Authorization", ""))
                if user is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self._body()
                parts = urlsplit(self.path)
                env = {
                    "PATH": os.environ.get("PATH", ""),
                    "GIT_PROJECT_ROOT": str(remote.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_CONFIG_GLOBAL": os.devnull,
                    "PATH_INFO": parts.path,
                    "QUERY_STRING": parts.query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": user,
                    "REMOTE_ADDR": "127.0.0.1",
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                }
                done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
                head, _, payload = done.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        return Handler

    def _check(self, header: str) -> str | None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        ok = password == self.token
        self.auth.append((user, ok))
        return user if ok else None

    @contextmanager
    def serve(self) -> Iterator[GitRemote]:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(5)


def main() -> None:
    """``python -m lazyaf_testkit.github.git --token T --repo OWNER/NAME``: serve until killed.

    Prints ``git-remote listening on http://127.0.0.1:PORT`` once it answers (end-to-end tests).
    """
    import argparse
    import signal
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m lazyaf_testkit.github.git", description=main.__doc__)
    parser.add_argument("--token", required=True, help="The password git must send.")
    parser.add_argument("--repo", action="append", default=[], help="OWNER/NAME to create (repeatable).")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="git-remote-") as root:
        remote = GitRemote(Path(root), args.token)
        with remote.serve():
            for full_name in args.repo:
                remote.add_repo(full_name)
            print(f"git-remote listening on {remote.url}", flush=True)
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    main()
