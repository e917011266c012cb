"""The two servers under comparison, each started as its own process group and always stopped.

* ``git http-backend`` behind lighttpd's mod_cgi: the C reference.
* LazyAF: its real server process (uvicorn), with a repo created through the API whose bare
  repository is then filled on disk with a copy of the generated one.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
LAZYAF_PYTHON = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"

_running: list[ManagedProcess] = []


class ServerError(Exception):
    """A server could not be started or prepared; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ManagedProcess:
    """A child in its own session (so Ctrl-C in the terminal does not reach it); stop() kills its group."""

    def __init__(self, name: str, argv: list[str], *, log: Path, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        _running.append(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self in _running:
            _running.remove(self)
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                pass
        # The group may hold leftovers (a git child of a killed parent) even once the leader is gone.
        self._signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_all() -> None:
    for process in list(_running):
        process.stop()


atexit.register(stop_all)


def _wait_http(url: str, process: ManagedProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if not process.alive():
            raise ServerError(
                f"{process.name} exited during startup; its log ends with:\n{process.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
            last = e
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(0.1)
    raise ServerError(f"{process.name} did not answer {url} within {timeout:.0f} s ({last})")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "LAZYAF_"))}
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    label: str
    url: str  # clone URL of the benchmark repo
    repo_dir: Path  # the bare repo the server serves
    process: ManagedProcess
    idle_pids: set[int] = field(default_factory=set)  # the tree at rest, after the warm-up


def start_reference(workdir: Path, repo_template: Path, config_from: Path | None) -> Server:
    """lighttpd + mod_cgi running git http-backend over its own copy of the repo."""
    lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    if not Path(lighttpd).exists():
        raise ServerError("lighttpd is not installed; run: apt-get update && apt-get install -y lighttpd")
    workdir = workdir.resolve()
    root = workdir / "reference"
    projects, docroot, tmp = root / "projects", root / "htdocs", root / "tmp"
    for d in (projects, docroot, tmp):
        d.mkdir(parents=True, exist_ok=True)
    repo = projects / "bench.git"
    shutil.copytree(repo_template, repo, symlinks=True)
    config = repo / "config"
    if config_from is not None:
        shutil.copyfile(config_from, config)  # same settings as LazyAF's copy
        # LazyAF's hooks belong to LazyAF; the reference runs none.
        subprocess.run(["git", "config", "--file", str(config), "--unset-all", "core.hooksPath"], check=False)
    else:
        _apply_lazyaf_like_config(repo)
    subprocess.run(["git", "config", "--file", str(config), "http.receivepack", "true"], check=True)
    port = free_port()
    conf = root / "lighttpd.conf"
    conf.write_text(
        f"""
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.document-root = "{docroot}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{root / "error.log"}"
server.upload-dirs = ("{tmp}")
# 0: buffer the request body before starting the CGI; 1 and 2 refuse chunked pushes (411).
server.stream-request-body = 0
# Stream the CGI's output with little buffering, like an ASGI app streaming a subprocess.
server.stream-response-body = 2
alias.url = ("/git" => "{GIT_HTTP_BACKEND}")
$HTTP["url"] =~ "^/git" {{
    cgi.assign = ("" => "")
    setenv.add-environment = (
        "GIT_PROJECT_ROOT" => "{projects}",
        "GIT_HTTP_EXPORT_ALL" => "1",
        "PATH" => "/usr/local/bin:/usr/bin:/bin",
    )
}}
"""
    )
    check = subprocess.run(["lighttpd", "-tt", "-f", str(conf)], capture_output=True, text=True)
    if check.returncode != 0:
        raise ServerError(f"lighttpd rejected its config: {check.stderr.strip() or check.stdout.strip()}")
    process = ManagedProcess(
        "lighttpd", [lighttpd, "-D", "-f", str(conf)], log=root / "lighttpd.log", env=_clean_env(), cwd=root
    )
    url = f"http://127.0.0.1:{port}/git/bench.git"
    _wait_http(f"{url}/info/refs?service=git-upload-pack", process, timeout=20)
    return Server("reference", "`git http-backend` (lighttpd CGI)", url, repo, process)


def _apply_lazyaf_like_config(repo: Path) -> None:
    # The keys LazyAF's storage.create_bare sets, for --only-reference runs.
    for key, value in (
        ("core.logallrefupdates", "true"),
        ("receive.denyCurrentBranch", "ignore"),
        ("uploadpack.allowFilter", "true"),
    ):
        subprocess.run(["git", "config", "--file", str(repo / "config"), key, value], check=True)


def _api(base: str, method: str, path: str, body: object | None = None) -> dict:  # type: ignore[type-arg]
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")  # type: ignore[no-any-return]
    except urllib.error.HTTPError as e:
        raise ServerError(f"LazyAF {method} {path} answered {e.code}: {e.read()[:500]!r}") from e


def start_lazyaf(workdir: Path, repo_template: Path, git_backend: str | None = None) -> Server:
    """The LazyAF server process, with repo 'bench' holding a copy of the template's objects and refs."""
    if not LAZYAF_PYTHON.exists():
        raise ServerError(f"{LAZYAF_PYTHON} not found; create the venv and install the backend first")
    workdir = workdir.resolve()
    data_dir = workdir / "lazyaf-data"
    data_dir.mkdir(parents=True)
    port = free_port()
    backend = f", git_backend={git_backend!r}" if git_backend else ""
    code = (
        "from lazyaf.settings import Settings; from lazyaf.server import run; "
        f"run(Settings(data_dir={str(data_dir)!r}, port={port}, log_level='warning'{backend}))"
    )
    process = ManagedProcess(
        "lazyaf", [str(LAZYAF_PYTHON), "-c", code], log=workdir / "lazyaf.log", env=_clean_env(), cwd=data_dir
    )
    base = f"http://127.0.0.1:{port}"
    _wait_http(f"{base}/api/health", process, timeout=60)
    created = _api(base, "POST", "/api/repos", {"name": "bench"})
    repo = data_dir / "git_repos" / f"{created['id']}.git"
    if not (repo / "HEAD").is_file():
        raise ServerError(f"LazyAF created repo {created['id']} but {repo} is not a git repository")
    _fill_repo(repo, repo_template)
    return Server("lazyaf", "LazyAF", created["clone_url"], repo, process)


def _fill_repo(repo: Path, template: Path) -> None:
    """Swap the objects, refs and HEAD of an empty bare repo for the template's; keep its config and hooks."""
    for name in ("objects", "refs"):
        shutil.rmtree(repo / name, ignore_errors=True)
        shutil.copytree(template / name, repo / name, symlinks=True)
    for name in ("packed-refs", "HEAD"):
        (repo / name).unlink(missing_ok=True)
        if (template / name).exists():
            shutil.copyfile(template / name, repo / name)
    info = template / "info"
    if info.is_dir():
        shutil.copytree(info, repo / "info", dirs_exist_ok=True)
