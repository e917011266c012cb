"""The runner keeps its secrets and files from its agents: non-dumpable, a private work root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lazyaf_runner.hardening import WorkRootError, default_work_root, is_dumpable, prepare_work_root

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")

# Run as an unprivileged user (root reads every process's /proc files, dumpable or not): set
# the dumpable flag as told, then start a child of the same user that reads our environment.
PROBE = r"""
import os, subprocess, sys
from lazyaf_runner import hardening
if os.geteuid() == 0:
    os.setgid(65534); os.setuid(65534)
hardening._prctl(hardening.PR_SET_DUMPABLE, 1)  # a uid change clears the flag: set the baseline
if sys.argv[1] == "hardened":
    hardening.make_non_dumpable()
child = subprocess.run(["cat", f"/proc/{os.getpid()}/environ"], capture_output=True, text=True)
print(child.returncode, "PROBE_TOKEN=visible" in child.stdout, "Permission denied" in child.stderr)
"""


def _probe(mode: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "PROBE_TOKEN": "visible", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, cwd="/", timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@linux_only
def test_a_child_of_the_same_user_cannot_read_a_non_dumpable_runners_environment() -> None:
    if os.geteuid() != 0 and not os.access("/proc/self/environ", os.R_OK):
        pytest.skip("cannot read /proc here")
    # Control: an ordinary process's environment is open to its children...
    assert _probe("plain") == "0 True False"
    # ... and closed once it is non-dumpable.
    assert _probe("hardened") == "1 False True"


@linux_only
def test_make_non_dumpable_sets_the_flag_in_this_process() -> None:
    code = "from lazyaf_runner import hardening as h\nprint(h.is_dumpable(), h.make_non_dumpable(),"
    code += " h.is_dumpable())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "True", "False"]
    assert is_dumpable()  # the test process itself is untouched


def test_a_new_work_root_is_made_private(tmp_path: Path) -> None:
    root = prepare_work_root(tmp_path / "a" / "work")

    assert root.is_dir() and (root.stat().st_mode & 0o777) == 0o700


def test_an_existing_private_work_root_is_accepted_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir(mode=0o755)
    (tmp_path / "w" / "kept").write_text("x")

    assert prepare_work_root(tmp_path / "w") == tmp_path / "w"
    assert (tmp_path / "w" / "kept").read_text() == "x"


def test_a_group_or_world_writable_work_root_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)

    with pytest.raises(WorkRootError, match=r"is writable by other users \(mode 1777\); run `chmod 700"):
        prepare_work_root(shared)
    assert list(shared.iterdir()) == []


def test_a_work_root_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a folder of another user needs root")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)

    with pytest.raises(WorkRootError, match="belongs to uid 65534, not to this runner's user"):
        prepare_work_root(theirs)


def test_a_file_is_not_a_work_root(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")

    with pytest.raises(WorkRootError, match="Cannot use .* as the work folder"):
        prepare_work_root(tmp_path / "f")


def test_the_default_work_root_is_under_the_users_state_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "/home/u/.state")
    assert default_work_root() == Path("/home/u/.state/lazyaf/work")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_work_root() == Path.home() / ".local" / "state" / "lazyaf" / "work"
