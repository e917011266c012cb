"""lazyaf serve: a real server process, and the reasons it will not start, each in one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import lazyaf.server
import pytest
from cli_support import error_line, invoke
from lazyaf.settings import Settings
from lazyaf.testing import free_port


def test_serve_runs_a_real_server_until_interrupted(tmp_path: Path) -> None:
    port = free_port()
    script = Path(sys.executable).parent / "lazyaf"
    proc = subprocess.Popen(
        [str(script), "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "LAZYAF_LOG_LEVEL": "warning"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.1)
        assert health["status"] == "ok"
        assert (tmp_path / "data" / "lazyaf.db").is_file()
        assert (tmp_path / "data" / "git_repos").is_dir()
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert stderr.decode().startswith(
        f"LazyAF serving at http://127.0.0.1:{port} (data in {tmp_path / 'data'})"
    )


@pytest.fixture
def captured_run(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """Stand in for the blocking uvicorn loop; record the settings serve would run with."""
    seen: list[Settings] = []
    monkeypatch.setattr(lazyaf.server, "run", seen.append)
    return seen


def test_options_left_out_come_from_the_environment(
    captured_run: list[Settings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()
    monkeypatch.setenv("LAZYAF_PORT", str(port))
    monkeypatch.setenv("LAZYAF_DATA_DIR", str(tmp_path / "from-env"))

    result = invoke("serve")

    assert result.exit_code == 0, result.output
    assert (captured_run[0].port, captured_run[0].data_dir, captured_run[0].host) == (
        port,
        tmp_path / "from-env",
        "127.0.0.1",
    )


def test_options_override_the_environment(
    captured_run: list[Settings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()
    monkeypatch.setenv("LAZYAF_PORT", "1")

    result = invoke("serve", "--port", port, "--data-dir", tmp_path / "d", "--host", "localhost")

    assert result.exit_code == 0, result.output
    assert (captured_run[0].port, captured_run[0].data_dir, captured_run[0].host) == (
        port,
        tmp_path / "d",
        "localhost",
    )


def test_public_host_without_token_is_refused(captured_run: list[Settings], tmp_path: Path) -> None:
    result = invoke("serve", "--host", "0.0.0.0", "--data-dir", tmp_path / "d")

    assert error_line(result) == (
        "Refusing to listen on 0.0.0.0 without a token; set LAZYAF_TOKEN or use --host 127.0.0.1."
    )
    assert captured_run == []


def test_port_in_use_is_refused(captured_run: list[Settings], tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = invoke("serve", "--port", port, "--data-dir", tmp_path / "d")

    assert error_line(result) == (
        f"Cannot listen on http://127.0.0.1:{port}: Address already in use; "
        "is another `lazyaf serve` running? Pass --port to use another port."
    )
    assert captured_run == []


def test_invalid_setting_in_the_environment(
    captured_run: list[Settings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LAZYAF_LOG_FORMAT", "fancy")

    result = invoke("serve", "--data-dir", tmp_path / "d")

    assert (
        error_line(result)
        == "Invalid server settings: log_format: Input should be 'auto', 'json' or 'console'."
    )


def test_without_the_server_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lazyaf.server", None)

    result = invoke("serve")

    assert error_line(result) == (
        "`lazyaf serve` needs the LazyAF server package; install it with `pip install 'lazyaf-cli[server]'`."
    )


def test_open_opens_the_board_once_it_answers(tmp_path: Path) -> None:
    port = free_port()
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    # The stand-in browser records the URL and whether the board answered at that moment.
    browser.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, httpx, pathlib\n"
        "status = httpx.get(sys.argv[1], timeout=5).status_code\n"
        f"pathlib.Path({str(opened)!r} + '.part').write_text(f'{{sys.argv[1]}} {{status}}')\n"
        f"os.replace({str(opened)!r} + '.part', {str(opened)!r})\n"
    )
    browser.chmod(0o755)
    script = Path(sys.executable).parent / "lazyaf"
    proc = subprocess.Popen(
        [str(script), "serve", "--port", str(port), "--data-dir", str(tmp_path / "data"), "--open"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "LAZYAF_LOG_LEVEL": "warning", "BROWSER": str(browser)},
    )
    try:
        deadline = time.monotonic() + 60
        while not opened.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the board was never opened"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert opened.read_text() == f"http://127.0.0.1:{port}/ 200"
