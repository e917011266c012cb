"""Runner containers on a real Docker engine: image, their own network, isolation, user, limits,
cleanup.

The module fixture starts the engine and builds the base image with the same scripts a user
runs (fast when already done). Every container a test creates carries this run's label and is
removed after the test, pass or fail; the run's network goes at the end of the module.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound

from lazyaf.runners import docker as runner_docker
from lazyaf.runners.docker import DockerError, DockerUnavailable

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).parents[3]
RUN_ID = uuid.uuid4().hex[:8]
RUN_LABELS = {"lazyaf.test-run": RUN_ID}
NETWORK = f"lazyaf-test-{RUN_ID}"


def _run_script(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / name)], capture_output=True, text=True, timeout=1800, check=False
    )


def _last_line(proc: subprocess.CompletedProcess[str], name: str) -> str:
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"{name} exited with {proc.returncode}"


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    setup = _run_script("docker-setup.sh")
    if setup.returncode != 0:
        pytest.skip(_last_line(setup, "docker-setup.sh"))
    base = _run_script("docker-base-image.sh")
    if base.returncode != 0:
        pytest.fail(_last_line(base, "docker-base-image.sh"))
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="module")
def network(client: docker.DockerClient) -> Iterator[runner_docker.NetworkInfo]:
    info = runner_docker.ensure_network(NETWORK, RUN_LABELS)
    yield info
    for container in client.containers.list(all=True, filters={"label": f"lazyaf.test-run={RUN_ID}"}):
        container.remove(force=True, v=True)
    runner_docker.remove_network(NETWORK)


@pytest.fixture(scope="module")
def runner_image(client: docker.DockerClient, network: runner_docker.NetworkInfo) -> str:
    if not runner_docker.CLAUDE_BINARY.is_file():
        claude = _run_script("install-claude.sh")
        if claude.returncode != 0:
            pytest.fail(_last_line(claude, "install-claude.sh"))
    return runner_docker.build_runner_image()


@pytest.fixture(autouse=True)
def _remove_this_runs_containers(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "client" not in request.fixturenames:
        return
    client: docker.DockerClient = request.getfixturevalue("client")
    for container in client.containers.list(all=True, filters={"label": f"lazyaf.test-run={RUN_ID}"}):
        container.remove(force=True, v=True)


def _start(
    *entrypoint_and_command: str,
    env: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    name: str | None = None,
    memory: str = "2g",
    cpus: float = 1.0,
) -> str:
    """Start a runner container of this test run that runs the given program instead of the runner."""
    return runner_docker.start_runner_container(
        image=runner_docker.DEFAULT_RUNNER_IMAGE,
        name=name or f"lazyaf-test-{RUN_ID}-{uuid.uuid4().hex[:6]}",
        entrypoint=list(entrypoint_and_command[:1]),
        command=list(entrypoint_and_command[1:]),
        env=env or {},
        labels={**RUN_LABELS, **(labels or {})},
        network=NETWORK,
        memory=memory,
        cpus=cpus,
    )


def _run_to_end(client: docker.DockerClient, *entrypoint_and_command: str) -> tuple[int, str]:
    container_id = _start(*entrypoint_and_command)
    status = client.containers.get(container_id).wait(timeout=60)["StatusCode"]
    return status, runner_docker.container_logs_tail(container_id)


def test_runner_image_builds_and_a_second_build_is_a_no_op(
    client: docker.DockerClient, runner_image: str
) -> None:
    # Built again here, not compared with the fixture's id: the runner's sources may have
    # changed since (the fingerprint then asks for a rebuild, on purpose).
    built = runner_docker.build_runner_image()
    started = time.monotonic()
    again = runner_docker.build_runner_image()

    assert time.monotonic() - started < 5
    assert again == built
    image = client.images.get(runner_docker.DEFAULT_RUNNER_IMAGE)
    assert image.id == built
    assert image.labels[runner_docker.FINGERPRINT_LABEL]
    assert image.attrs["Config"]["Entrypoint"] == ["lazyaf-runner"]
    assert image.attrs["Config"]["User"] == "lazyaf"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"hello from the host"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _serving(host: str, port: int = 0) -> Iterator[int]:
    server = ThreadingHTTPServer((host, port), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


FETCH = (
    "import sys, urllib.request\n"
    "for url in sys.argv[1:]:\n"
    "    try:\n"
    "        print(urllib.request.urlopen(url, timeout=5).read().decode())\n"
    "    except OSError as exc:\n"
    "        print('refused', type(exc).__name__)\n"
)


def test_container_reaches_the_host_at_its_networks_gateway_not_on_the_hosts_loopback(
    client: docker.DockerClient, runner_image: str, network: runner_docker.NetworkInfo
) -> None:
    with _serving(network.gateway) as port, _serving("127.0.0.1", port):
        status, logs = _run_to_end(
            client, "python3", "-c", FETCH, f"http://{network.gateway}:{port}/", f"http://127.0.0.1:{port}/"
        )

    # The host's loopback (where LazyAF answers tokenless) is not the container's.
    assert (status, logs.splitlines()) == (0, ["hello from the host", "refused URLError"])


def test_runner_containers_cannot_reach_each_other(
    client: docker.DockerClient, runner_image: str, network: runner_docker.NetworkInfo
) -> None:
    server = _start("python3", "-m", "http.server", "8000", "--directory", "/tmp")
    address = client.containers.get(server).attrs["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
    with _serving(network.gateway) as port:
        status, logs = _run_to_end(
            client,
            "python3",
            "-c",
            FETCH.replace("timeout=5", "timeout=3"),
            f"http://{address}:8000/",
            f"http://{network.gateway}:{port}/",
        )

    assert address and (status, logs.splitlines()) == (0, ["refused URLError", "hello from the host"])


def test_ensuring_the_network_again_changes_nothing_and_a_foreign_one_is_refused(
    client: docker.DockerClient, network: runner_docker.NetworkInfo
) -> None:
    assert runner_docker.ensure_network(NETWORK, RUN_LABELS) == network
    assert runner_docker.list_runner_networks(RUN_LABELS) == [NETWORK]
    foreign = client.networks.create(f"lazyaf-test-{RUN_ID}-foreign", labels=RUN_LABELS)
    try:
        with pytest.raises(
            DockerError, match="exists but LazyAF did not create it for this server; remove it"
        ):
            runner_docker.ensure_network(foreign.name, RUN_LABELS)
    finally:
        foreign.remove()


def test_a_network_in_use_is_kept_and_removed_once_empty(
    client: docker.DockerClient, runner_image: str
) -> None:
    name = f"lazyaf-test-{RUN_ID}-busy"
    runner_docker.ensure_network(name, RUN_LABELS)
    container = runner_docker.start_runner_container(
        image=runner_docker.DEFAULT_RUNNER_IMAGE,
        name=name,
        entrypoint=["sleep"],
        command=["600"],
        env={},
        labels=RUN_LABELS,
        network=name,
    )

    assert runner_docker.remove_network(name) is False
    runner_docker.stop_and_remove(container, timeout=0)
    assert runner_docker.remove_network(name) is True
    assert runner_docker.list_runner_networks({**RUN_LABELS}) == [NETWORK]
    assert runner_docker.remove_network(name) is True  # already gone: fine


def test_container_runs_as_lazyaf_not_root(client: docker.DockerClient, runner_image: str) -> None:
    status, logs = _run_to_end(client, "sh", "-c", "id -un; id -u; pwd; touch /workspace/x && echo writable")
    assert (status, logs.split()) == (0, ["lazyaf", "1000", "/workspace", "writable"])


def test_claude_git_and_the_runner_are_on_path(client: docker.DockerClient, runner_image: str) -> None:
    status, logs = _run_to_end(
        client, "sh", "-c", "claude --version && git --version && command -v lazyaf-runner"
    )
    assert status == 0, logs
    claude, git, runner = logs.splitlines()
    assert claude.startswith("2.1.197")
    assert git.startswith("git version ")
    assert runner == "/opt/lazyaf-runner/bin/lazyaf-runner"


def test_container_gets_labels_limits_its_network_and_isolation(
    client: docker.DockerClient, runner_image: str
) -> None:
    container_id = _start("sleep", "60", labels={"lazyaf.runner-id": "r1"}, memory="512m", cpus=0.5)

    attrs = client.containers.get(container_id).attrs
    assert (
        attrs["Config"]["Labels"].items()
        >= {"lazyaf.runner": "1", "lazyaf.runner-id": "r1", **RUN_LABELS}.items()
    )
    host = attrs["HostConfig"]
    assert host["Memory"] == host["MemorySwap"] == 512 * 1024**2
    assert host["NanoCpus"] == 500_000_000
    assert host["NetworkMode"] == NETWORK and list(attrs["NetworkSettings"]["Networks"]) == [NETWORK]
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["PidsLimit"] == runner_docker.PIDS_LIMIT
    assert host["ReadonlyRootfs"] is True and not host["Privileged"]
    assert set(host["Tmpfs"]) == {"/tmp", runner_docker.HOME}
    assert [(m["Type"], m["Target"]) for m in host["Mounts"]] == [("volume", "/workspace")]
    assert not host["Init"]  # the runner is PID 1 (non-dumpable); docker-init would expose its env
    assert host["AutoRemove"] is False


def test_inside_only_the_workspace_home_and_tmp_are_writable_and_no_capability_is_left(
    client: docker.DockerClient, runner_image: str
) -> None:
    script = (
        "for f in /workspace/a $HOME/b /tmp/c /etc/d /opt/lazyaf-runner/e /usr/local/bin/f; do "
        "touch $f 2>/dev/null && echo writable $f || echo read-only $f; done; "
        "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; "
        "printf '#!/bin/sh\\necho ran from tmp\\n' > /tmp/s && chmod +x /tmp/s && /tmp/s"
    )

    status, logs = _run_to_end(client, "sh", "-c", script)

    assert status == 0, logs
    assert logs.splitlines() == [
        "writable /workspace/a",
        "writable /home/lazyaf/b",
        "writable /tmp/c",
        "read-only /etc/d",
        "read-only /opt/lazyaf-runner/e",
        "read-only /usr/local/bin/f",
        "CapEff:\t0000000000000000",
        "CapBnd:\t0000000000000000",
        "NoNewPrivs:\t1",
        "ran from tmp",
    ]


# PID 1 of the container, like the runner: with the secret in its environment, it starts a
# process (as an agent would be) that reads /proc/1/environ.
PID1 = (
    "import subprocess, sys\n"
    "from lazyaf_runner.hardening import make_non_dumpable\n"
    "if sys.argv[1] == 'hardened':\n"
    "    make_non_dumpable()\n"
    "done = subprocess.run(['cat', '/proc/1/environ'], capture_output=True, text=True)\n"
    "print('visible' if 'tok-0123456789' in done.stdout else 'hidden', done.stderr.strip())\n"
)


def test_the_runners_environment_is_closed_to_the_processes_it_starts(
    client: docker.DockerClient, runner_image: str
) -> None:
    env = {"LAZYAF_TOKEN": "tok-0123456789"}
    plain = _start("python3", "-c", PID1, "plain", env=env)
    hardened = _start("python3", "-c", PID1, "hardened", env=env)

    assert client.containers.get(plain).wait(timeout=60)["StatusCode"] == 0
    assert client.containers.get(hardened).wait(timeout=60)["StatusCode"] == 0
    assert runner_docker.container_logs_tail(plain).strip() == "visible"  # the control
    assert runner_docker.container_logs_tail(hardened).strip() == (
        "hidden cat: /proc/1/environ: Permission denied"
    )


def test_limits_default_to_2g_and_one_cpu(client: docker.DockerClient, runner_image: str) -> None:
    container_id = _start("sleep", "60")

    host = client.containers.get(container_id).attrs["HostConfig"]
    assert (host["Memory"], host["NanoCpus"]) == (2 * 1024**3, 1_000_000_000)


def test_environment_reaches_the_container(client: docker.DockerClient, runner_image: str) -> None:
    container_id = _start("sh", "-c", 'echo "$LAZYAF_SERVER"', env={"LAZYAF_SERVER": "http://127.0.0.1:8765"})

    assert client.containers.get(container_id).wait(timeout=60)["StatusCode"] == 0
    assert runner_docker.container_logs_tail(container_id) == "http://127.0.0.1:8765\n"


def test_logs_tail_keeps_the_last_lines_of_a_dead_container(
    client: docker.DockerClient, runner_image: str
) -> None:
    status, _ = _run_to_end(client, "sh", "-c", "seq 1 100; exit 3")
    container_id = runner_docker.list_runner_containers(labels=RUN_LABELS)[0].id

    assert status == 3
    assert runner_docker.container_logs_tail(container_id, lines=3) == "98\n99\n100\n"


def test_stop_and_remove_removes_a_running_container(client: docker.DockerClient, runner_image: str) -> None:
    # PID 1 handles SIGTERM, as the runner does.
    container_id = _start("sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait")

    started = time.monotonic()
    runner_docker.stop_and_remove(container_id, timeout=5)

    assert time.monotonic() - started < 5  # stopped on SIGTERM; no SIGKILL wait
    with pytest.raises(NotFound):
        client.containers.get(container_id)
    runner_docker.stop_and_remove(container_id)  # already gone: no error


def test_reap_dead_removes_exited_runner_containers_only(
    client: docker.DockerClient, runner_image: str
) -> None:
    exited = _start("true")
    running = _start("sleep", "600")
    not_a_runner = client.containers.run(
        runner_docker.DEFAULT_RUNNER_IMAGE, entrypoint=["true"], labels=RUN_LABELS, detach=True
    )
    client.containers.get(exited).wait(timeout=60)
    not_a_runner.wait(timeout=60)

    assert runner_docker.reap_dead(labels=RUN_LABELS) == [exited]

    with pytest.raises(NotFound):
        client.containers.get(exited)
    assert client.containers.get(running).status == "running"
    not_a_runner.reload()
    assert not_a_runner.status == "exited"


def test_list_runner_containers_lists_only_labelled_ones(
    client: docker.DockerClient, runner_image: str
) -> None:
    runner = _start("sleep", "600", labels={"lazyaf.runner-id": "r2"})
    plain = client.containers.run(
        runner_docker.DEFAULT_RUNNER_IMAGE,
        entrypoint=["sleep"],
        command=["600"],
        labels=RUN_LABELS,
        detach=True,
    )

    mine = runner_docker.list_runner_containers(labels=RUN_LABELS)
    everyone = {info.id for info in runner_docker.list_runner_containers()}

    assert [(info.id, info.status, info.labels["lazyaf.runner-id"]) for info in mine] == [
        (runner, "running", "r2")
    ]
    assert mine[0].name.startswith(f"lazyaf-test-{RUN_ID}-")
    assert runner in everyone and plain.id not in everyone


def test_list_runner_containers_can_leave_out_stopped_ones(
    client: docker.DockerClient, runner_image: str
) -> None:
    status, _ = _run_to_end(client, "true")

    assert status == 0
    assert len(runner_docker.list_runner_containers(labels=RUN_LABELS)) == 1
    assert runner_docker.list_runner_containers(all=False, labels=RUN_LABELS) == []


def test_a_taken_name_is_refused_with_a_clear_error(client: docker.DockerClient, runner_image: str) -> None:
    name = f"lazyaf-test-{RUN_ID}-taken"
    _start("sleep", "600", name=name)

    with pytest.raises(DockerError, match=f"A container named {name} already exists"):
        _start("sleep", "600", name=name)


def test_a_missing_image_is_refused_without_a_pull(client: docker.DockerClient) -> None:
    with pytest.raises(
        DockerError, match="Image lazyaf-missing:nope is missing; build it with build_runner_image"
    ):
        runner_docker.start_runner_container(
            image="lazyaf-missing:nope",
            name=f"lazyaf-test-{RUN_ID}-x",
            command=[],
            env={},
            labels=RUN_LABELS,
            network=NETWORK,
        )
    assert runner_docker.list_runner_containers(labels=RUN_LABELS) == []


def test_a_missing_base_image_says_which_script_builds_it(client: docker.DockerClient) -> None:
    with pytest.raises(
        DockerError, match="Base image lazyaf-base:missing is missing; build it with scripts/docker-base"
    ):
        runner_docker.build_runner_image(tag=f"lazyaf-runner:test-{RUN_ID}", base_image="lazyaf-base:missing")


def test_a_failing_build_says_why_and_leaves_no_tag(client: docker.DockerClient, runner_image: str) -> None:
    tag = f"lazyaf-runner:test-{RUN_ID}"
    # The runner image as a base: user lazyaf exists already (and USER is not root), so RUN fails.
    with pytest.raises(DockerError, match=f"Building {tag} failed: The command .*useradd"):
        runner_docker.build_runner_image(tag=tag, base_image=runner_docker.DEFAULT_RUNNER_IMAGE)

    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(tag)


def test_logs_of_a_removed_container_are_a_clear_error(
    client: docker.DockerClient, runner_image: str
) -> None:
    container_id = _start("true")
    runner_docker.stop_and_remove(container_id)

    with pytest.raises(DockerError, match="it was removed or never existed"):
        runner_docker.container_logs_tail(container_id)


def test_no_engine_is_reported_as_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")

    assert runner_docker.engine_available() is False
    with pytest.raises(DockerUnavailable, match="no Docker engine answers .*scripts/docker-setup.sh"):
        runner_docker.list_runner_containers()


def test_engine_available_answers_true_when_the_engine_runs(client: docker.DockerClient) -> None:
    assert runner_docker.engine_available() is True
