"""Docker SDK calls for runner containers.

Every function here is synchronous and may block for seconds (an image build for minutes):
async callers run them in a worker thread (``anyio.to_thread.run_sync``). Each call opens its
own client, so a restarted engine is picked up without any reconnect logic.

Runner containers carry the label ``lazyaf.runner=1``; that label is how this module finds
them again after a backend restart. They are not auto-removed, so the logs of a dead one can
still be read before :func:`reap_dead` removes it.

Isolation: a runner container sits on a bridge network of its own backend (:func:`ensure_network`,
never the host's network, so its agent is not on the host's loopback), with every capability
dropped, no-new-privileges, a pids limit and a read-only root file system; only /workspace (a
volume of its own), $HOME and /tmp (tmpfs) are writable. It runs without Docker's init: the
runner is PID 1, made non-dumpable, so no other process in the container (the agent's) can
read the credentials in its environment (docker-init would expose them in /proc/1/environ), and
the runner reaps what the agent leaves behind.

Errors: :class:`DockerUnavailable` when no engine answers, :class:`DockerError` for anything
the engine refused or failed; both carry a sentence that says what to do.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import requests
from docker.errors import APIError, BuildError, DockerException, ImageNotFound, NotFound
from docker.types import Mount

from lazyaf.errors import LazyAFError

RUNNER_LABEL = "lazyaf.runner"
NETWORK_LABEL = "lazyaf.network"
FINGERPRINT_LABEL = "lazyaf.fingerprint"
DEFAULT_RUNNER_IMAGE = "lazyaf-runner:latest"
DEFAULT_BACKEND_IMAGE = "lazyaf-backend:latest"
DEFAULT_BASE_IMAGE = "lazyaf-base:bookworm"

CHECKOUT_DIR = Path(__file__).parents[4]
RUNNER_DIR = CHECKOUT_DIR / "runner"
PROTOCOL_DIR = CHECKOUT_DIR / "protocol"
"""The wire format the runner and the backend share (``lazyaf_protocol``): in both images."""
# What the backend image holds besides the runner package (backend/Dockerfile).
BACKEND_SOURCES = (CHECKOUT_DIR / "backend", CHECKOUT_DIR / "cli")
BOARD_DIR = CHECKOUT_DIR / "frontend" / "dist"
PROMPTS_DIR = CHECKOUT_DIR / "prompts"
CLAUDE_BINARY = (
    RUNNER_DIR / "claude" / "node_modules" / "@anthropic-ai" / "claude-code" / "bin" / "claude.exe"
)
# The Python of the base image (Debian bookworm's python3): wheels are fetched for it, not for
# whatever interpreter runs the backend.
IMAGE_PYTHON = "3.11"
IMAGE_GLIBC_MINOR = 36

_build_lock = threading.Lock()
_network_lock = threading.Lock()

WORKSPACE = "/workspace"
HOME = "/home/lazyaf"
PIDS_LIMIT = 1024
"""Processes (threads included) a runner container may have: an agent, its shells and a test suite."""
TMPFS_SIZE = "1g"


class DockerError(LazyAFError):
    """The Docker engine refused or failed an operation."""

    status_code = 502
    code = "docker_error"


class DockerUnavailable(DockerError):
    """No Docker engine answers."""

    status_code = 503
    code = "docker_unavailable"


@dataclass(frozen=True)
class NetworkInfo:
    """A runner network: its name, id, and the host's address on it (the gateway)."""

    name: str
    id: str
    gateway: str


@dataclass(frozen=True)
class ContainerInfo:
    """A runner container as the engine lists it."""

    id: str
    name: str
    status: str
    labels: dict[str, str]


def engine_available(timeout: int = 3) -> bool:
    """Say whether a Docker engine answers a ping within `timeout` seconds."""
    try:
        client = docker.from_env(timeout=timeout)
    except DockerException:
        return False
    try:
        return bool(client.ping())
    except (DockerException, requests.RequestException):
        return False
    finally:
        client.close()


def build_runner_image(
    tag: str = DEFAULT_RUNNER_IMAGE, base_image: str = DEFAULT_BASE_IMAGE, force: bool = False
) -> str:
    """Build the runner image from runner/ and return its id.

    Skipped when `tag` exists and was built from the same inputs (runner sources, Dockerfile,
    Claude Code binary, base image), unless `force`. The inputs' fingerprint is stored as an
    image label, so an edit to the runner makes the next call rebuild instead of serving a
    stale image. The build itself runs offline, from wheels prepared here.
    """
    with _build_lock, _docker(f"build the runner image {tag}", timeout=1800) as client:
        base_id = _base_image_id(client, base_image)
        _check_sources()
        return _build_fingerprinted(
            client,
            tag=tag,
            base_image=base_image,
            fingerprint=_fingerprint(base_id),
            force=force,
            assemble=_assemble_context,
            prefix="lazyaf-runner-build-",
            network_mode="host",
        )


def build_backend_image(
    tag: str = DEFAULT_BACKEND_IMAGE, base_image: str = DEFAULT_BASE_IMAGE, force: bool = False
) -> str:
    """Build the backend image (server, CLI and runner packages, the built board, the prompts) from
    this checkout and return its id; what docker-compose.yml runs as its backend.

    Like the runner image: from the local base image, offline, from wheels prepared here for the
    image's Python; skipped when ``tag`` was built from the same inputs, unless ``force``.
    """
    with _build_lock, _docker(f"build the backend image {tag}", timeout=1800) as client:
        base_id = _base_image_id(client, base_image)
        if not (BOARD_DIR / "index.html").is_file():
            raise DockerError(f"The board is not built ({BOARD_DIR} is missing); run scripts/bootstrap.sh.")
        return _build_fingerprinted(
            client,
            tag=tag,
            base_image=base_image,
            fingerprint=_backend_fingerprint(base_id),
            force=force,
            assemble=_assemble_backend_context,
            prefix="lazyaf-backend-build-",
        )


def _base_image_id(client: docker.DockerClient, base_image: str) -> str:
    try:
        return str(client.images.get(base_image).id)
    except ImageNotFound:
        raise DockerError(
            f"Base image {base_image} is missing; build it with scripts/docker-base-image.sh."
        ) from None


def _build_fingerprinted(
    client: docker.DockerClient,
    *,
    tag: str,
    base_image: str,
    fingerprint: str,
    force: bool,
    assemble: Callable[[Path], None],
    prefix: str,
    **build_options: Any,
) -> str:
    """Build ``tag`` from the context ``assemble`` lays out, labelled with ``fingerprint``; skipped
    when ``tag`` already carries that fingerprint (unless ``force``). The image it replaces is
    dropped unless a container still uses it."""
    try:
        existing = client.images.get(tag)
    except ImageNotFound:
        existing = None
    if existing is not None and not force and existing.labels.get(FINGERPRINT_LABEL) == fingerprint:
        return str(existing.id)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        context = Path(tmp)
        assemble(context)
        try:
            image, _ = client.images.build(
                path=str(context),
                tag=tag,
                buildargs={"BASE_IMAGE": base_image},
                labels={FINGERPRINT_LABEL: fingerprint},
                pull=False,
                rm=True,
                forcerm=True,
                **build_options,
            )
        except BuildError as exc:
            raise DockerError(
                f"Building {tag} failed: {exc.msg}. Last output: {_build_output_tail(exc)}"
            ) from exc
    if existing is not None and existing.id != image.id:
        # The replaced image is now untagged; drop it unless a container still uses it.
        with suppress(APIError):
            client.images.remove(str(existing.id))
    return str(image.id)


def ensure_network(name: str, labels: dict[str, str]) -> NetworkInfo:
    """The bridge network `name` of this backend, created when missing; returns its gateway.

    Idempotent and safe against a concurrent creation. Containers on it reach the host at the
    gateway address (not loopback) and the outside world through NAT, but not each other
    (inter-container traffic is off). A network of that name that this backend did not
    create (other labels) is refused rather than used."""
    wanted = {**labels, NETWORK_LABEL: "1"}
    with _network_lock, _docker(f"create the runner network {name}") as client:
        try:
            network = client.networks.get(name)
        except NotFound:
            try:
                network = client.networks.create(
                    name,
                    driver="bridge",
                    labels=wanted,
                    options={"com.docker.network.bridge.enable_icc": "false"},
                    check_duplicate=True,
                )
            except APIError as exc:
                if exc.status_code != 409:
                    raise
            network = client.networks.get(name)  # created here or by a concurrent caller
        found = network.attrs.get("Labels") or {}
        if any(found.get(key) != value for key, value in wanted.items()):
            raise DockerError(
                f"A Docker network named {name} exists but LazyAF did not create it for this server; "
                f"remove it with `docker network rm {name}`."
            )
        configs = (network.attrs.get("IPAM") or {}).get("Config") or []
        gateway = next((c["Gateway"] for c in configs if c.get("Gateway") and ":" not in c["Gateway"]), None)
        if gateway is None:
            raise DockerError(f"The Docker network {name} has no IPv4 gateway; remove it and try again.")
        return NetworkInfo(name=name, id=str(network.id), gateway=str(gateway))


def remove_network(name: str) -> bool:
    """Remove a runner network; False when containers are still attached. A missing one is fine."""
    with _network_lock, _docker(f"remove the runner network {name}") as client:
        try:
            client.networks.get(name).remove()
        except NotFound:
            return True
        except APIError as exc:
            if exc.status_code in (403, 409) and "active endpoints" in str(exc.explanation):
                return False
            raise
    return True


def list_runner_networks(labels: dict[str, str] | None = None) -> list[str]:
    """Names of the runner networks (``lazyaf.network=1`` and any `labels` given)."""
    filters = [f"{NETWORK_LABEL}=1", *(f"{key}={value}" for key, value in (labels or {}).items())]
    with _docker("list runner networks") as client:
        return [str(n.name) for n in client.networks.list(filters={"label": filters})]


def start_runner_container(
    *,
    image: str,
    name: str,
    command: list[str],
    env: dict[str, str],
    labels: dict[str, str],
    network: str,
    memory: str = "2g",
    cpus: float = 1.0,
    entrypoint: list[str] | None = None,
) -> str:
    """Start a detached runner container on `network` and return its id.

    `command` is passed to the image's entry point (`lazyaf-runner`) unless `entrypoint`
    replaces it. The container gets `lazyaf.runner=1` on top of `labels`, a memory limit with
    no extra swap, a CPU limit, and the isolation the module docstring describes. It is not
    auto-removed: see :func:`stop_and_remove` and :func:`reap_dead`.
    """
    with _docker(f"start the runner container {name}") as client:
        try:
            client.images.get(image)
        except ImageNotFound:
            # containers.run would try to pull it from a registry, which is never what we want.
            raise DockerError(f"Image {image} is missing; build it with build_runner_image().") from None
        try:
            container = client.containers.run(
                image,
                command=command,
                entrypoint=entrypoint,
                name=name,
                environment={"PYTHONDONTWRITEBYTECODE": "1", **env},
                labels={**labels, RUNNER_LABEL: "1"},
                detach=True,
                network=network,
                mem_limit=memory,
                memswap_limit=memory,
                nano_cpus=int(cpus * 1e9),
                pids_limit=PIDS_LIMIT,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                read_only=True,
                # Docker mounts tmpfs noexec unless told: tests and tools run scripts from /tmp.
                tmpfs={
                    "/tmp": f"rw,exec,nosuid,nodev,size={TMPFS_SIZE},mode=1777",
                    HOME: f"rw,exec,nosuid,nodev,size={TMPFS_SIZE},uid=1000,gid=1000,mode=0700",
                },
                # A volume rather than tmpfs: checkouts can be large; removed with the container.
                mounts=[Mount(target=WORKSPACE, source=None, type="volume")],
                init=False,  # the runner is PID 1 (see the module docstring)
                auto_remove=False,
            )
        except APIError as exc:
            if exc.status_code == 409:
                raise DockerError(
                    f"A container named {name} already exists; remove it or pick another name."
                ) from exc
            raise
        return str(container.id)


def list_runner_containers(all: bool = True, labels: dict[str, str] | None = None) -> list[ContainerInfo]:
    """List runner containers (`lazyaf.runner=1` and any `labels` given); stopped ones too when `all`."""
    with _docker("list runner containers") as client:
        rows = client.api.containers(all=all, filters={"label": _label_filters(labels)})
    return [
        ContainerInfo(
            id=row["Id"],
            name=(row.get("Names") or ["/"])[0].lstrip("/"),
            status=row.get("State", ""),
            labels=row.get("Labels") or {},
        )
        for row in rows
    ]


def stop_and_remove(container_id: str, timeout: int = 5) -> None:
    """Stop a container (SIGTERM, SIGKILL after `timeout` s) and remove it; a missing one is fine."""
    with _docker(f"stop and remove container {container_id[:12]}", timeout=60 + timeout) as client:
        try:
            container = client.containers.get(container_id)
            if container.status in ("running", "restarting", "paused"):
                container.stop(timeout=timeout)
            container.remove(force=True, v=True)
        except NotFound:
            pass
        except APIError as exc:
            if not _removal_in_progress(exc):
                raise


def reap_dead(labels: dict[str, str] | None = None) -> list[str]:
    """Remove exited and dead runner containers (narrowed by `labels` if given); return their ids."""
    removed = []
    with _docker("remove dead runner containers") as client:
        rows = client.api.containers(
            all=True, filters={"label": _label_filters(labels), "status": ["exited", "dead"]}
        )
        for row in rows:
            try:
                client.api.remove_container(row["Id"], force=True, v=True)
            except NotFound:
                continue
            except APIError as exc:
                if not _removal_in_progress(exc):
                    raise
            removed.append(row["Id"])
    return removed


@dataclass(frozen=True)
class ContainerExit:
    """How a runner container ended: its exit code, whether the kernel killed it for memory, the
    engine's error if any, and its last log lines. ``removed``: it was gone (removed by hand)."""

    exit_code: int | None
    oom_killed: bool = False
    error: str = ""
    log_tail: str = ""
    removed: bool = False


def collect_exited(
    container_ids: set[str], labels: dict[str, str] | None = None, lines: int = 20
) -> dict[str, ContainerExit]:
    """Of ``container_ids`` (runner containers narrowed by ``labels``), the ones no longer running:
    how each exited and its last ``lines`` log lines, read before it is removed. Containers that
    are gone altogether are reported ``removed``; running ones are left alone."""
    found: dict[str, ContainerExit] = {}
    with _docker("check runner containers") as client:
        rows = client.api.containers(all=True, filters={"label": _label_filters(labels)})
        states = {row["Id"]: row.get("State", "") for row in rows}
        for container_id in container_ids:
            state = states.get(container_id)
            if state is None:
                found[container_id] = ContainerExit(exit_code=None, removed=True)
                continue
            if state not in ("exited", "dead"):
                continue
            try:
                info = client.api.inspect_container(container_id).get("State") or {}
                tail = bytes(client.api.logs(container_id, stdout=True, stderr=True, tail=lines))
            except NotFound:
                found[container_id] = ContainerExit(exit_code=None, removed=True)
                continue
            try:
                client.api.remove_container(container_id, force=True, v=True)
            except NotFound:
                pass
            except APIError as exc:
                if not _removal_in_progress(exc):
                    raise
            found[container_id] = ContainerExit(
                exit_code=info.get("ExitCode"),
                oom_killed=bool(info.get("OOMKilled")),
                error=str(info.get("Error") or ""),
                log_tail=tail.decode("utf-8", errors="replace"),
            )
    return found


def container_logs_tail(container_id: str, lines: int = 50) -> str:
    """Return the last `lines` lines of a container's stdout and stderr, dead containers included."""
    with _docker(f"read the logs of container {container_id[:12]}") as client:
        try:
            raw = client.containers.get(container_id).logs(stdout=True, stderr=True, tail=lines)
        except NotFound:
            raise DockerError(f"No container {container_id[:12]}; it was removed or never existed.") from None
    return bytes(raw).decode("utf-8", errors="replace")


@contextmanager
def _docker(doing: str, timeout: int = 60) -> Iterator[docker.DockerClient]:
    """Yield a client; turn SDK and transport errors into DockerUnavailable / DockerError."""
    try:
        client = docker.from_env(timeout=timeout)
    except DockerException as exc:
        raise DockerUnavailable(
            f"Could not {doing}: no Docker engine answers ({_short(exc)}); "
            "start one with scripts/docker-setup.sh."
        ) from exc
    try:
        yield client
    except requests.ConnectionError as exc:
        raise DockerUnavailable(
            f"Could not {doing}: the Docker engine stopped answering; start it with scripts/docker-setup.sh."
        ) from exc
    except requests.Timeout as exc:
        raise DockerError(f"Could not {doing}: the Docker engine did not answer within {timeout}s.") from exc
    except APIError as exc:
        raise DockerError(f"Could not {doing}: {exc.explanation or exc}.") from exc
    except DockerException as exc:
        raise DockerError(f"Could not {doing}: {_short(exc)}.") from exc
    finally:
        client.close()


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _build_output_tail(exc: BuildError, lines: int = 5) -> str:
    output = "".join(str(chunk.get("stream", "")) for chunk in exc.build_log)
    stripped = (re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in output.splitlines())
    kept = [line for line in stripped if line and not line.startswith(("Removing intermediate", "---> "))]
    return " | ".join(kept[-lines:])


def _label_filters(labels: dict[str, str] | None) -> list[str]:
    return [f"{RUNNER_LABEL}=1", *(f"{key}={value}" for key, value in (labels or {}).items())]


def _removal_in_progress(exc: APIError) -> bool:
    return exc.status_code == 409 and "already in progress" in str(exc.explanation)


def _check_sources() -> None:
    if not (RUNNER_DIR / "pyproject.toml").is_file():
        raise DockerError(f"The runner package is missing at {RUNNER_DIR}; run from a LazyAF checkout.")
    if not CLAUDE_BINARY.is_file():
        raise DockerError(
            f"The Claude Code binary is missing at {CLAUDE_BINARY}; run scripts/install-claude.sh."
        )
    with CLAUDE_BINARY.open("rb") as binary:
        # npm leaves a placeholder there when the package's postinstall did not run.
        if binary.read(4) != b"\x7fELF":
            raise DockerError(
                f"{CLAUDE_BINARY} is not the native Claude Code binary; run scripts/install-claude.sh."
            )


def _sources(package: Path) -> list[Path]:
    return sorted(
        p
        for p in (package / "src").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not any(s.endswith(".egg-info") for s in p.parts)
    )


def _runner_sources() -> list[Path]:
    """What the runner image is built from: the runner's and the protocol's packages."""
    files = [RUNNER_DIR / "pyproject.toml", RUNNER_DIR / "Dockerfile", *_sources(RUNNER_DIR)]
    return files + [PROTOCOL_DIR / "pyproject.toml", *_sources(PROTOCOL_DIR)]


def _fingerprint(base_image_id: str) -> str:
    digest = hashlib.sha256(f"{base_image_id}\0{IMAGE_PYTHON}\0".encode())
    for path in _runner_sources():
        digest.update(str(path.relative_to(CHECKOUT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    # The binary is 235 MB: its size and mtime stand in for its content.
    stat = CLAUDE_BINARY.stat()
    digest.update(f"claude\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _assemble_context(context: Path) -> None:
    """Fill a build context: Dockerfile, claude, wheels/ (the runner, the protocol and their
    dependencies)."""
    shutil.copy2(RUNNER_DIR / "Dockerfile", context / "Dockerfile")
    try:
        os.link(CLAUDE_BINARY, context / "claude")  # same filesystem: no 235 MB copy
    except OSError:
        shutil.copy2(CLAUDE_BINARY, context / "claude")
    _prepare_wheels(context / "wheels", [PROTOCOL_DIR, RUNNER_DIR])


def _assemble_backend_context(context: Path) -> None:
    """Fill the backend's build context: Dockerfile, wheels/ (server, CLI, runner, protocol and
    their dependencies), board/ (the built board) and prompts/."""
    shutil.copy2(CHECKOUT_DIR / "backend" / "Dockerfile", context / "Dockerfile")
    _prepare_wheels(context / "wheels", [PROTOCOL_DIR, RUNNER_DIR, *BACKEND_SOURCES])
    shutil.copytree(BOARD_DIR, context / "board")
    shutil.copytree(PROMPTS_DIR, context / "prompts")


_SOURCE_JUNK = ("tests", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "node_modules")


def _prepare_wheels(wheels: Path, packages: list[Path]) -> None:
    """Wheels of ``packages`` (source folders) and of all their dependencies, as binary wheels for
    the image's Python and glibc, whatever Python runs the backend."""
    wheels.mkdir()
    for package in packages:
        # Build from a copy: an in-tree build would leave build/ and egg-info in the checkout, and
        # the copy skips node_modules, tests and the Claude Code install.
        source = wheels.parent / f"src-{package.name}"
        shutil.copytree(package, source, ignore=shutil.ignore_patterns("claude", *_SOURCE_JUNK))
        _pip("wheel", "--no-deps", "--wheel-dir", str(wheels), str(source))
        shutil.rmtree(source)
    arch = platform.machine()
    platforms = [f"manylinux_2_{minor}_{arch}" for minor in range(IMAGE_GLIBC_MINOR, 16, -1)]
    platforms.append(f"manylinux2014_{arch}")
    _pip(
        "download",
        "--only-binary=:all:",
        "--python-version",
        IMAGE_PYTHON,
        "--implementation",
        "cp",
        *(arg for p in platforms for arg in ("--platform", p)),
        "--dest",
        str(wheels),
        *dict.fromkeys(r for package in packages for r in _requirements(package)),
    )


def _requirements(package: Path) -> list[str]:
    """The third-party requirements of one of our packages. Our own are built above, never
    downloaded: no index can stand in for them (a package of the same name on PyPI included)."""
    with (package / "pyproject.toml").open("rb") as file:
        listed: list[str] = tomllib.load(file)["project"]["dependencies"]
    return [r for r in listed if not re.match(r"lazyaf[-_]", r, re.IGNORECASE)]


def _backend_fingerprint(base_image_id: str) -> str:
    digest = hashlib.sha256(f"backend\0{base_image_id}\0{IMAGE_PYTHON}\0".encode())
    files = [CHECKOUT_DIR / "backend" / "Dockerfile"]
    for folder in (PROTOCOL_DIR, RUNNER_DIR, *BACKEND_SOURCES):
        files += [folder / "pyproject.toml", *sorted((folder / "src").rglob("*"))]
    files += sorted(BOARD_DIR.rglob("*")) + sorted(PROMPTS_DIR.rglob("*"))
    for path in files:
        if (
            path.is_file()
            and "__pycache__" not in path.parts
            and not any(p.endswith(".egg-info") for p in path.parts)
        ):
            digest.update(str(path.relative_to(CHECKOUT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-800:]
        raise DockerError(f"Preparing the runner wheels failed (pip {args[0]}): {detail}")
