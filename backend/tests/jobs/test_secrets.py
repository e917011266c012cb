"""No secret is stored or broadcast, whatever an agent and the repository's checks print.

The agent here is hostile: it prints the model key it was given (whole, split by spaces, as a
Python concatenation), reads its runner's environment (possible here, as root; a non-dumpable
runner keeps other users out) and plants a check that prints the check's whole environment and
the key split by quotes and line breaks. The key and the server token must reach neither the
database (its bytes, WAL included), nor the job API, nor the board socket.
"""

from __future__ import annotations

import secrets
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from lazyaf.testing import LiveServer, wait_until
from tests.jobs.conftest import ingest, new_card, scale, wait_job
from tests.jobs.test_end_to_end import BoardWatcher

KEY = "sk-ant-api03-" + secrets.token_urlsafe(70)
TOKEN = secrets.token_urlsafe(32)

HOSTILE_AGENT = r"""
import os, pathlib, sys
work = pathlib.Path(sys.argv[1])
key = os.environ.get("ANTHROPIC_API_KEY", "")
print("my key is", key)
print("split", key[:20], key[20:])
print(repr(key[:30]) + " + " + repr(key[30:]))
try:
    print(open(f"/proc/{os.getppid()}/environ").read().replace("\0", "\n"))
except OSError as exc:
    print("the runner's environment is closed:", exc)
half = len(key) // 2
(work / "leak.sh").write_text(
    "env\n"
    f"printf '%s\\n' '{key[:half]}' '{key[half:]}'\n"
    f"printf \"k='%s'\\n\" '{key}'\n"
    "exit 1\n"
)
print("done")
"""


def _windows(secret: str) -> list[str]:
    return [secret[i : i + 12] for i in range(len(secret) - 11)]


def _leaks(text: str) -> list[str]:
    """Every 12-character piece of a secret found in ``text``, separators ignored."""
    flat = "".join(c for c in text if not c.isspace() and c not in "'\"`+\\")
    return [w for s in (KEY, TOKEN) for w in _windows(s) if w in flat]


def test_a_hostile_agent_and_its_checks_leave_no_key_anywhere(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    agent = tmp_path / "hostile_agent.py"
    agent.write_text(HOSTILE_AGENT)
    server = make_server(f"{sys.executable} {agent} {{workdir}}", anthropic_api_key=KEY, token=TOKEN)
    repo = ingest(server, tmp_path)
    httpx.patch(server.api(f"/repos/{repo['id']}"), json={"test_command": "sh leak.sh"}).raise_for_status()
    watcher = BoardWatcher(server.url)
    try:
        scale(server, 1)
        card = new_card(server, repo, "Leak everything", max_attempts=2)
        httpx.post(server.api(f"/cards/{card['id']}/start")).raise_for_status()
        wait_until(lambda: httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "failed", 90)
        jobs = httpx.get(server.api(f"/cards/{card['id']}/jobs")).json()
        jobs = [wait_job(server, job["id"]) for job in jobs]
        logs = [httpx.get(server.api(f"/jobs/{job['id']}/logs")).json() for job in jobs]
        timeline = httpx.get(server.api(f"/cards/{card['id']}/timeline")).text
    finally:
        watcher.close()
        scale(server, 0)

    # The attack ran: both passes (the first and its fix) printed, planted and failed their check.
    assert [(j["kind"], j["status"]) for j in jobs] == [
        ("build", "completed"),
        ("verify", "failed"),
        ("fix", "completed"),
        ("verify", "failed"),
    ]
    texts = [e["data"].get("text") or "" for log in logs for e in log["events"]]
    assert any(t.startswith("my key is [redacted]") for t in texts), texts
    # Reading the runner's environment works as root (not as another user: it is non-dumpable).
    # A pool runner never had the user's token, and it blanked its own secret in place at start.
    joined = "\n".join(texts)
    assert "LAZYAF_TOKEN=" not in joined
    assert "LAZYAF_RUNNER_SECRET=\n" in joined or "environment is closed" in joined
    # lazyaf-runner.<runner id>.<mac>: the id is public, the MAC is the secret.
    secret = server.app.state.credentials.runner_secret(uuid.UUID(jobs[0]["runner_id"])).rsplit(".", 1)[1]
    check = jobs[1]["verification"][0]
    assert check["exit_code"] == 1 and "[redacted]" in check["output"]
    # Checks get no credential at all, and nothing of LazyAF's.
    assert "ANTHROPIC_API_KEY=" not in check["output"] and "LAZYAF_" not in check["output"]
    assert "PATH=" in check["output"]  # the environment really was printed

    stored = [jobs, logs, timeline, watcher.frames]
    assert _leaks(str(stored)) == []
    data = b""
    for name in ("lazyaf.db", "lazyaf.db-wal"):
        path = server.settings.data_dir / name
        data += path.read_bytes() if path.exists() else b""
    assert data and not [w for s in (KEY, TOKEN, secret) for w in _windows(s) if w.encode() in data]
    assert not [w for w in _windows(secret) if w in str(stored)]
