"""A runner speaking another protocol version is refused at its hello, with both versions named.

The real runner program is run with a copy of ``lazyaf_protocol`` whose ``PROTOCOL_VERSION`` is
another number (as if it came from another LazyAF release): it must exit at once with the
server's reason, and leave no runner row behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import lazyaf_protocol
import pytest
from lazyaf_protocol import messages as protocol
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from lazyaf.testing import LiveServer
from tests.runners.fakerunner import FakeRunner, db_rows, registration_token


def _protocol_of_version(tmp_path: Path, version: int) -> Path:
    """A directory holding ``lazyaf_protocol`` as installed, but speaking ``version``."""
    root = tmp_path / f"protocol-v{version}"
    package = root / "lazyaf_protocol"
    shutil.copytree(
        Path(lazyaf_protocol.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    messages = package / "messages.py"
    text = messages.read_text()
    assert f"PROTOCOL_VERSION = {protocol.PROTOCOL_VERSION}\n" in text
    messages.write_text(
        text.replace(f"PROTOCOL_VERSION = {protocol.PROTOCOL_VERSION}\n", f"PROTOCOL_VERSION = {version}\n")
    )
    return root


def test_a_runner_of_another_protocol_version_exits_naming_both(live: LiveServer, tmp_path: Path) -> None:
    other = protocol.PROTOCOL_VERSION + 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAZYAF_")}
    env["LAZYAF_RUNNER_TOKEN"] = registration_token(live)
    env["PYTHONPATH"] = str(_protocol_of_version(tmp_path, other))
    process = subprocess.Popen(
        [sys.executable, "-m", "lazyaf_runner", "--server", live.url, "--work-dir", str(tmp_path / "work")],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 1
    assert stderr.strip().splitlines()[-1] == (
        "Error: The server refused this runner: Protocol mismatch: the runner speaks version "
        f"{other}, the server version {protocol.PROTOCOL_VERSION}; install the server's runner."
    )
    assert db_rows(live, "SELECT id FROM runner") == []  # refused before it was registered


def _refusal_of(live: LiveServer, hello: str) -> tuple[int, str]:
    """The close code and reason the server answers a raw hello frame with."""
    url = live.url.replace("http", "ws", 1) + "/api/runners/connect"
    headers = {"Authorization": f"Bearer {registration_token(live)}"}
    with connect(url, additional_headers=headers) as ws:
        ws.send(hello)
        try:
            message = ws.recv(10)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError(f"expected the socket to close, got {message!r}")


@pytest.mark.parametrize("stated", ["0", '"1"', "null", '{"major": 1}', "123456789012345678901234567890"])
def test_the_version_is_checked_before_the_rest_of_the_hello(live: LiveServer, stated: str) -> None:
    """Whatever else a hello of another version holds (here a field of the wrong type), the answer
    is the version refusal, within the length a close reason may have."""
    code, reason = _refusal_of(
        live, '{"type": "hello", "name": "odd", "agents": 7, "protocol": ' + stated + "}"
    )
    assert code == protocol.CLOSE_PROTOCOL_MISMATCH
    assert reason.startswith("Protocol mismatch: the runner speaks version ")
    assert reason.endswith(f", the server version {protocol.PROTOCOL_VERSION}; install the server's runner.")
    assert db_rows(live, "SELECT id FROM runner") == []


def test_a_hello_of_this_version_is_welcomed(live: LiveServer) -> None:
    runner = FakeRunner(live, registration_token(live), protocol=protocol.PROTOCOL_VERSION)
    assert runner.welcome().runner_secret
    runner.close()
