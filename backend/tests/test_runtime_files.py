"""Run from a checkout, LazyAF keeps its data in the checkout itself (settings.default_data_dir):
everything it writes there must be git-ignored by the checkout's own .gitignore, so `git status`
stays clean and nothing of the user's (database, secrets, session files) gets committed."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from lazyaf.gitserver.gitproc import hooks_dir
from lazyaf.secretbox import key_store
from lazyaf.settings import Settings
from lazyaf.testing import live_server
from tests.gitutil import git, make_source_repo
from tests.jobs.conftest import WRITE_AGENT, new_card, scale, wait_job, wait_runners_idle

ROOT = Path(__file__).resolve().parents[2]


def _checkout(path: Path) -> Path:
    """A git work tree with the project's .gitignore and its tracked git_repos/.gitkeep."""
    path.mkdir()
    git("init", "-q", "-b", "main", cwd=path)
    shutil.copy(ROOT / ".gitignore", path / ".gitignore")
    (path / "git_repos").mkdir()
    (path / "git_repos" / ".gitkeep").write_text("")
    git("add", ".", cwd=path)
    git("commit", "-q", "-m", "checkout", cwd=path)
    return path


def _status(checkout: Path) -> list[str]:
    out = git("status", "--porcelain", "--ignored", "--untracked-files=all", cwd=checkout).stdout
    return out.splitlines()


def test_what_a_server_writes_into_its_checkout_is_ignored(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path / "checkout")
    settings = Settings(
        data_dir=checkout,
        default_agent="command",
        agent_command=WRITE_AGENT,
        lease_ttl=4,
        log_format="console",
    )
    with live_server(settings) as server:
        repo = httpx.post(server.api("/repos/ingest"), json={"name": "demo"}).json()
        source = make_source_repo(tmp_path / "source")
        git("push", "-q", repo["clone_url"], "main", cwd=source)
        scale(server, 1)
        wait_runners_idle(server, 1)
        card = new_card(server, repo)
        job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
        assert wait_job(server, job["id"])["status"] == "completed"
        key_store(settings).keyring(create=True)  # the secrets key file appears on first use
        try:
            written = _status(checkout)
        finally:
            scale(server, 0)
    # An empty folder is invisible to git: put a file in each one LazyAF made, to see the folder.
    for folder in [p for p in checkout.iterdir() if p.is_dir() and p.name != ".git"]:
        (folder / "probe").write_text("")
    status = _status(checkout)
    assert [line for line in status if not line.startswith("!! ")] == []
    ignored = {line[3:].split("/")[0] for line in status}
    assert {"lazyaf.db", "runner-secret", "secret.key", "logs", "sessions", "work"} <= ignored
    assert any(line.startswith("!! git_repos/") for line in written)
    assert any(line.startswith("!! work/") for line in written)  # the runner's work tree and mirror


def test_every_place_lazyaf_may_write_in_its_data_dir_is_ignored(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path / "checkout")
    settings = Settings(data_dir=checkout)
    root = settings.data_dir
    places = [
        settings.git_repos_dir / "0b9f.git" / "HEAD",
        settings.logs_dir / "runner-local-1.log",
        settings.sessions_dir / "job-1-session.jsonl",
        settings.sessions_dir / "job-1-session.abc.part",
        root / "work" / "runner" / "checkout" / "file",
        settings.runner_secret_file,
        settings.secret_key_path,
        root / ".secret-key-x1y2.tmp",
        root / "lazyaf.db",
        root / "lazyaf.db-wal",
        root / "lazyaf.db-shm",
        root / "lazyaf.toml",
        root / "git-hooks" / "pre-receive",
    ]
    assert hooks_dir(settings).name in ("hooks", "git-hooks")
    for place in places:
        relative = place.relative_to(checkout).as_posix()
        done = git("check-ignore", "-q", "--no-index", relative, cwd=checkout, check=False)
        assert done.returncode == 0, f"{relative} is not git-ignored"
    # What is the project's stays visible.
    for kept in ("git_repos/.gitkeep", "backend/src/lazyaf/main.py", "prompts/steps/build.md.j2"):
        done = git("check-ignore", "-q", "--no-index", kept, cwd=checkout, check=False)
        assert done.returncode == 1, f"{kept} is ignored"
