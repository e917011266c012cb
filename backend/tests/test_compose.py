"""docker-compose.yml as a user runs it: the backend and a Docker runner come up from the images
scripts/build-images.sh builds locally (no registry), the board answers, and a card runs through
the real Claude Code CLI in the runner container to review, against the scripted model.

Run with Debian's docker-compose (1.29; .ci/run installs it) and with the `docker compose`
plugin where there is one. The only addition to the user's file is an override this test writes:
the compose network is one the test made, so that the scripted model (in this process) can listen
on its gateway before the containers start and learn the model's URL from the environment.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from lazyaf.runners import docker as lazyaf_docker
from lazyaf.testing import free_port, wait_until
from tests.gitutil import git, make_source_repo
from tests.jobs.test_claude_end_to_end import fm

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"


def _plugin_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    return done.returncode == 0


COMMANDS = [
    pytest.param(
        ["docker-compose"],
        id="docker-compose",
        marks=pytest.mark.skipif(
            shutil.which("docker-compose") is None,
            reason="docker-compose is not installed (Debian's package; .ci/run installs it)",
        ),
    ),
    pytest.param(
        ["docker", "compose"],
        id="docker-compose-plugin",
        marks=pytest.mark.skipif(
            not _plugin_answers(), reason="no `docker compose` plugin here (Debian's docker.io ships none)"
        ),
    ),
]


@pytest.fixture(scope="module")
def images() -> None:
    """The base image, then lazyaf-runner and lazyaf-backend built from this checkout."""
    setup = subprocess.run([str(ROOT / "scripts" / "docker-setup.sh")], capture_output=True, text=True)
    if setup.returncode != 0:
        pytest.skip((setup.stderr or setup.stdout).strip().splitlines()[-1])
    base = subprocess.run([str(ROOT / "scripts" / "docker-base-image.sh")], capture_output=True, text=True)
    assert base.returncode == 0, base.stderr[-2000:]
    lazyaf_docker.build_runner_image()
    lazyaf_docker.build_backend_image()


@contextmanager
def network() -> Iterator[tuple[str, str]]:
    """A bridge network for the compose project (name, gateway); removed afterwards."""
    client = docker.from_env()
    name = f"lazyaf-compose-test-{secrets.token_hex(4)}"
    net = client.networks.create(name, driver="bridge", labels={"lazyaf.test": "compose"})
    try:
        net.reload()
        configs = (net.attrs.get("IPAM") or {}).get("Config") or []
        gateway = next(c["Gateway"] for c in configs if c.get("Gateway") and ":" not in c["Gateway"])
        yield name, gateway
    finally:
        net.remove()
        client.close()


def _env(**extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("LAZYAF_", "ANTHROPIC_", "CLAUDE_"))}
    return {**kept, **extra}


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("compose", COMMANDS)
def test_compose_brings_up_the_backend_and_a_runner_and_a_card_reaches_review(
    compose: list[str], images: None, tmp_path: Path
) -> None:
    began = time.monotonic()
    token, runner_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    key = f"sk-ant-api03-{secrets.token_urlsafe(24)}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    project = f"lazyaftest{secrets.token_hex(4)}"
    with (
        fm.FakeModel(fm.write_file_script("hello.txt", "Hello from compose\n")) as model,
        network() as (net, gw),
    ):
        model_url = model.listen_also(gw)
        override = tmp_path / "compose.test.yml"
        override.write_text(f"networks:\n  lazyaf:\n    external: true\n    name: {net}\n")
        env = _env(
            LAZYAF_TOKEN=token,
            LAZYAF_RUNNER_TOKEN=runner_token,
            LAZYAF_PORT=str(port),
            ANTHROPIC_API_KEY=key,
            ANTHROPIC_BASE_URL=model_url,
        )
        run = [*compose, "-p", project, "-f", str(COMPOSE_FILE), "-f", str(override)]
        try:
            up = subprocess.run([*run, "up", "-d"], env=env, capture_output=True, text=True, timeout=300)
            assert up.returncode == 0, up.stderr[-3000:]
            wait_until(lambda: _up(url), 60)

            # The board answers (static, no token needed); the API wants the token off loopback.
            board = httpx.get(f"{url}/")
            assert board.status_code == 200 and "<!doctype html>" in board.text.lower()
            assert httpx.get(f"{url}/api/repos").status_code == 401

            def runners() -> list[dict[str, Any]]:
                found: list[dict[str, Any]] = httpx.get(f"{url}/api/runners", headers=auth).json()["runners"]
                return found

            wait_until(lambda: any(r["status"] == "idle" and r["kind"] == "docker" for r in runners()), 60)

            repo = httpx.post(f"{url}/api/repos/ingest", json={"name": "composed"}, headers=auth).json()
            assert repo["clone_url"] == f"{url}/git/composed.git"  # by name
            source = make_source_repo(tmp_path / "source")
            push_url = f"http://lazyaf:{token}@127.0.0.1:{port}/git/composed.git"
            git("push", "-q", push_url, "main", cwd=source)
            card = httpx.post(
                f"{url}/api/repos/{repo['id']}/cards",
                json={"title": "Say hello", "description": "Write hello.txt with a greeting."},
                headers=auth,
            ).json()
            job = httpx.post(f"{url}/api/cards/{card['id']}/start", headers=auth).json()

            def job_now() -> dict[str, Any]:
                found: dict[str, Any] = httpx.get(f"{url}/api/jobs/{job['id']}", headers=auth).json()
                return found

            wait_until(lambda: job_now()["status"] in ("completed", "failed", "cancelled"), 240)
            done = job_now()
            assert done["status"] == "completed", done["error"]
            card = httpx.get(f"{url}/api/cards/{card['id']}", headers=auth).json()
            assert card["status"] == "in_review"
            clone = tmp_path / "check"
            git("clone", "-q", "--branch", card["branch_name"], push_url, str(clone))
            assert (clone / "hello.txt").read_text() == "Hello from compose\n"
            # The agent in the runner container reached the model with the backend's key.
            assert model.requests and model.requests[0].headers.get("x-api-key") == key
        except BaseException:
            logs = subprocess.run([*run, "logs", "--tail", "60"], env=env, capture_output=True, text=True)
            print(logs.stdout[-8000:], logs.stderr[-2000:])
            raise
        finally:
            subprocess.run(
                [*run, "down", "-v", "--remove-orphans", "-t", "5"], env=env, capture_output=True, timeout=300
            )
    # Nothing of the project is left: containers, its volume.
    client = docker.from_env()
    label = {"label": f"com.docker.compose.project={project}"}
    wait_until(lambda: not client.containers.list(all=True, filters=label), 30)
    wait_until(lambda: not client.volumes.list(filters=label), 30)
    client.close()
    print(f"compose ({' '.join(compose)}): up, a card to review and down in {time.monotonic() - began:.1f} s")
