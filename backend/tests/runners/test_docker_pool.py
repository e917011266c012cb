"""Docker runners from the pool, with the real Claude Code CLI inside against the scripted model:
on a network of their own, dialing the server at that network's gateway with a credential.

Two containers run two cards in parallel to review; an agent that attacks the server from its
container (the API without a credential, the host's loopback, the runner's environment, a push
to main, a hook for the runner's push) changes nothing; without a token there are no Docker
runners at all; the docker-command of a loopback server starts a runner that connects.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from lazyaf.runners import docker as lazyaf_docker
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server, wait_until
from tests.gitutil import git
from tests.jobs.conftest import ingest, new_card, scale, wait_job, wait_runners_idle
from tests.jobs.test_claude_end_to_end import fm

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
TOKEN = secrets.token_urlsafe(32)
KEY = "sk-ant-api03-" + secrets.token_urlsafe(40)


@pytest.fixture(scope="module")
def engine() -> None:
    setup = subprocess.run([str(ROOT / "scripts" / "docker-setup.sh")], capture_output=True, text=True)
    if setup.returncode != 0:
        pytest.skip((setup.stderr or setup.stdout).strip().splitlines()[-1])
    base = subprocess.run([str(ROOT / "scripts" / "docker-base-image.sh")], capture_output=True, text=True)
    assert base.returncode == 0, base.stderr[-2000:]


@pytest.fixture
def server(engine: None, settings: Settings) -> Iterator[tuple[LiveServer, Any]]:
    with fm.FakeModel() as model:
        settings.default_agent = "claude"
        settings.token = TOKEN  # type: ignore[assignment]
        settings.anthropic_api_key = KEY  # type: ignore[assignment]
        # On the host's loopback, as a local proxy would be: containers get it at the gateway.
        settings.anthropic_base_url = model.url
        settings.lease_ttl = 15
        with live_server(settings, migrate=False) as srv:
            try:
                yield srv, model
            finally:
                scale(srv, 0, kind="docker")


def _gateway(srv: LiveServer, model: Any) -> str:
    """Where containers reach the host; the scripted model answers there too, same port."""
    url = srv.app.state.pool.docker_server_url
    assert url is not None
    gateway = str(url).removeprefix("http://").rsplit(":", 1)[0]
    model.listen_also(gateway)
    return gateway


def test_two_docker_runners_on_their_own_network_run_two_cards_in_parallel(
    server: tuple[LiveServer, Any], tmp_path: Path
) -> None:
    srv, model = server
    model.script = fm.write_file_script("hello.txt", "Hello from a container\n")
    pool = scale(srv, 2, kind="docker")
    assert pool["docker"] == 2 and pool["docker_available"] is True
    gateway = _gateway(srv, model)
    network = srv.app.state.pool.network_name
    wait_runners_idle(srv, 2)
    containers = {c.id for c in lazyaf_docker.list_runner_containers(all=False)}
    assert {r["container_id"] for r in pool["runners"]} <= containers
    client = docker.from_env()
    for runner in pool["runners"]:
        attrs = client.containers.get(runner["container_id"]).attrs
        host = attrs["HostConfig"]
        assert list(attrs["NetworkSettings"]["Networks"]) == [network]
        assert (host["CapDrop"], host["SecurityOpt"], host["ReadonlyRootfs"], host["Init"]) == (
            ["ALL"],
            ["no-new-privileges"],
            True,
            False,
        )
        assert host["PidsLimit"] == lazyaf_docker.PIDS_LIMIT
        assert f"--server http://{gateway}:{srv.settings.port}" in " ".join(attrs["Args"])
    assert f"{gateway}:{srv.settings.port}" in srv.app.state.allowed_hosts

    repo = ingest(srv, tmp_path)
    cards = [new_card(srv, repo, f"Greeting {i}") for i in range(2)]
    jobs = [httpx.post(srv.api(f"/cards/{c['id']}/start")).json()["id"] for c in cards]
    done = [wait_job(srv, j, timeout=180) for j in jobs]
    assert [j["status"] for j in done] == ["completed", "completed"], [j["error"] for j in done]
    assert len({j["runner_id"] for j in done}) == 2
    # Parallel: each started before the other finished.
    assert done[0]["started_at"] < done[1]["completed_at"] and done[1]["started_at"] < done[0]["completed_at"]
    # The agents reached the model through the gateway: the loopback URL was rewritten for them.
    assert model.requests and {r.headers.get("Host") for r in model.requests} == {
        f"{gateway}:{model.url.rsplit(':', 1)[1]}"
    }
    for card in cards:
        card = httpx.get(srv.api(f"/cards/{card['id']}")).json()
        assert card["status"] == "in_review"
        clone = tmp_path / card["id"]
        git("clone", "-q", "--branch", card["branch_name"], repo["clone_url"], str(clone))
        assert (clone / "hello.txt").read_text() == "Hello from a container\n"

    scale(srv, 0, kind="docker")
    remaining = {c.id for c in lazyaf_docker.list_runner_containers(all=True)}
    assert not containers & remaining
    # The network and the listener on its gateway went with the last container.
    assert network not in lazyaf_docker.list_runner_networks()
    assert srv.app.state.pool.docker_server_url is None
    assert f"{gateway}:{srv.settings.port}" not in srv.app.state.allowed_hosts


def _attack(gateway: str, port: int, card_id: str) -> str:
    """What the agent's Bash runs inside its container: every way it has to act as the user."""
    probe = f"""
import json, urllib.request, urllib.error
def call(method, url):
    request = urllib.request.Request(url, method=method, data=b"{{}}" if method == "POST" else None,
                                     headers={{"Content-Type": "application/json"}})
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError as exc:
        return type(exc).__name__
print("API", json.dumps([
    call("GET", "http://{gateway}:{port}/api/repos"),
    call("POST", "http://{gateway}:{port}/api/cards/{card_id}/approve"),
    call("GET", "http://127.0.0.1:{port}/api/repos"),
]))
"""
    hook = "#!/bin/sh\ngit push -q -f origin HEAD:refs/heads/main && echo HOOK PUSHED MAIN\n"
    return "\n".join(
        [
            f"python3 - <<'EOF'\n{probe}\nEOF",
            "cat /proc/1/environ >/dev/null 2>&1 && echo ENVIRON READ || echo ENVIRON CLOSED",
            "(grep -rl LAZYAF_TOKEN /proc/[0-9]*/environ 2>/dev/null | head -1; true)",
            "echo 'hacked' > hacked.txt && git add hacked.txt && git commit -q -m hack",
            "git push -f origin HEAD:refs/heads/main 2>&1 | tail -1",
            # Code for the runner's own push to run, with the runner's credential, if it could.
            f"mkdir -p .git/hooks && printf '{hook}' > .git/hooks/pre-push && chmod +x .git/hooks/pre-push",
            "ls .git/hooks",
            f"git config url.http://{gateway}:{port}/git/nope.insteadOf http://{gateway}:{port}/git/",
            "echo ATTACK DONE",
        ]
    )


def test_an_agent_in_a_container_cannot_act_as_the_user(
    server: tuple[LiveServer, Any], tmp_path: Path
) -> None:
    srv, model = server
    scale(srv, 1, kind="docker")
    gateway = _gateway(srv, model)
    wait_runners_idle(srv, 1)
    repo = ingest(srv, tmp_path)
    main_before = git("ls-remote", repo["clone_url"], "refs/heads/main").stdout.split()[0]
    victim = new_card(srv, repo, "Someone else's card")
    card = new_card(srv, repo, "Innocent looking card")
    model.script = fm.bash_script(
        _attack(gateway, srv.settings.port, victim["id"]), description="Check things"
    )

    job = httpx.post(srv.api(f"/cards/{card['id']}/start")).json()
    done = wait_job(srv, job["id"], timeout=180)

    events = httpx.get(srv.api(f"/jobs/{job['id']}/logs")).json()["events"]
    [result] = [e["data"] for e in events if e["kind"] == "tool_result"]
    output = result["output"]
    assert "ATTACK DONE" in output, output  # the attack really ran, to its end
    # The API refuses a client off loopback without the credential; the host's loopback is not
    # reachable from the container at all.
    api = json.loads(output.split("API ", 1)[1].splitlines()[0])
    assert api[:2] == [401, 401] and api[2] == "URLError", output
    assert "ENVIRON CLOSED" in output and "LAZYAF_TOKEN" not in output
    assert "pre-push" in output and "HOOK PUSHED MAIN" not in output  # planted, never run
    assert "Authentication failed" in output or "401" in output or "could not read" in output, output
    # Nothing changed but what the runner may do: main, the other card, the job's own result.
    assert git("ls-remote", repo["clone_url"], "refs/heads/main").stdout.split()[0] == main_before
    assert httpx.get(srv.api(f"/cards/{victim['id']}")).json()["status"] == "todo"
    assert done["status"] == "completed", done["error"]
    assert httpx.get(srv.api(f"/cards/{card['id']}")).json()["status"] == "in_review"
    # The runner pushed its attempt itself, past the agent's hook and URL rewrite.
    pushed = git("ls-remote", repo["clone_url"], f"refs/lazyaf/attempts/{job['id']}/1").stdout.split()
    assert pushed and pushed[0] == done["head_sha"]


def test_pool_containers_join_with_their_own_runner_secret_and_no_user_token(
    server: tuple[LiveServer, Any], settings: Settings
) -> None:
    srv, _ = server
    settings.token = None  # no user token anywhere: the runner secret alone admits the container

    response = httpx.post(srv.api("/runners/scale"), json={"kind": "docker", "count": 1}, timeout=300)
    try:
        assert response.status_code == 200, response.text
        wait_runners_idle(srv, 1)
        (row,) = httpx.get(srv.api("/runners")).json()["runners"]
        environment = docker.from_env().containers.get(row["container_id"]).attrs["Config"]["Env"]
        names = {entry.partition("=")[0] for entry in environment}
        assert "LAZYAF_RUNNER_SECRET" in names and "LAZYAF_TOKEN" not in names
    finally:
        scale(srv, 0, kind="docker")


def test_the_docker_command_of_a_loopback_server_joins_its_network_and_connects(
    server: tuple[LiveServer, Any],
) -> None:
    srv, _ = server
    body = httpx.get(srv.api("/runners/docker-command"), timeout=60).json()
    network = srv.app.state.pool.network_name
    gateway_url = srv.app.state.pool.docker_server_url
    assert f"--network {network} " in body["command"] and f"--server {gateway_url} " in body["command"]
    assert "--network host" not in body["command"]
    name = f"lazyaf-hand-{secrets.token_hex(4)}"
    command = (
        body["command"]
        .replace("<your-lazyaf-token>", TOKEN)
        .replace("<runner-name>", name)
        .replace("--restart unless-stopped", f"--name {name}")
    )
    # The line sets LAZYAF_RUNNER_TOKEN for the shell, then hands it to docker by name.
    started = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
    try:
        assert started.returncode == 0, started.stderr
        wait_until(
            lambda: any(
                r["name"] == name and r["status"] == "idle"
                for r in httpx.get(srv.api("/runners")).json()["runners"]
            ),
            60,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, timeout=60)


def test_a_docker_runner_runs_with_the_users_login_sent_through_the_channel(
    engine: None, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key anywhere, only the user's Claude Code login on this machine: a Docker runner gets
    its access token with the job (never the refresh token), the card reaches review, and nothing
    of the login is in the container's configuration or the image."""
    for name in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    access, refresh = "sk-ant-oat01-" + secrets.token_urlsafe(40), "sk-ant-ort01-" + secrets.token_urlsafe(40)
    login = Path(os.environ["HOME"]) / ".claude" / ".credentials.json"
    login.parent.mkdir(parents=True)
    expires = int(time.time() * 1000) + 8 * 3_600_000
    login.write_text(
        json.dumps(
            {
                "claudeAiOauth": {
                    "accessToken": access,
                    "refreshToken": refresh,
                    "expiresAt": expires,
                    "scopes": ["user:inference"],
                }
            }
        )
    )
    with fm.FakeModel(fm.write_file_script("hello.txt", "Hello with a login\n")) as model:
        settings.default_agent = "claude"
        settings.token = TOKEN  # type: ignore[assignment]
        settings.anthropic_api_key = None
        settings.anthropic_base_url = model.url
        settings.lease_ttl = 15
        with live_server(settings, migrate=False) as srv:
            try:
                (row,) = scale(srv, 1, kind="docker")["runners"]
                _gateway(srv, model)
                wait_runners_idle(srv, 1)
                repo = ingest(srv, tmp_path)
                card = new_card(srv, repo, "Greet with a login")
                job = httpx.post(srv.api(f"/cards/{card['id']}/start")).json()
                done = wait_job(srv, job["id"], timeout=180)
                status = httpx.get(srv.api(f"/cards/{card['id']}")).json()["status"]
                client = docker.from_env()
                container = json.dumps(client.containers.get(row["container_id"]).attrs)
                image = json.dumps(client.images.get(lazyaf_docker.DEFAULT_RUNNER_IMAGE).attrs)
            finally:
                scale(srv, 0, kind="docker")

    assert done["status"] == "completed", done["error"]
    assert status == "in_review"
    assert model.requests and {r.headers.get("Authorization") for r in model.requests} == {f"Bearer {access}"}
    # docker inspect of the container and of the image: no part of the login (env, args, labels…).
    for secret in (access, refresh):
        assert secret[12:40] not in container and secret[12:40] not in image
    assert '"LAZYAF_RUNNER_SECRET=' in container and "ANTHROPIC_API_KEY" not in container
    assert json.loads(login.read_text())["claudeAiOauth"]["refreshToken"] == refresh  # untouched


def test_a_killed_docker_runner_is_started_again_with_how_it_ended(
    server: tuple[LiveServer, Any], settings: Settings
) -> None:
    srv, _ = server
    settings.runner_restart_delay = 0.2
    pool = scale(srv, 1, kind="docker")
    try:
        wait_runners_idle(srv, 1)
        (before,) = pool["runners"]
        docker.from_env().containers.get(before["container_id"]).kill()  # SIGKILL, as `docker kill`

        def restarted() -> bool:
            rows = httpx.get(srv.api("/runners")).json()["runners"]
            return len(rows) == 1 and rows[0]["restarts"] == 1 and rows[0]["status"] == "idle"

        wait_until(restarted, 120)
        (after,) = httpx.get(srv.api("/runners")).json()["runners"]
        assert after["id"] == before["id"] and after["container_id"] != before["container_id"]
        assert after["last_exit"] == "exited with code 137 (SIGKILL)"
        # The dead container was read (its exit code and last lines), then removed.
        assert before["container_id"] not in {c.id for c in lazyaf_docker.list_runner_containers(all=True)}
        assert httpx.get(srv.api("/runners")).json()["docker"] == 1
    finally:
        scale(srv, 0, kind="docker")
