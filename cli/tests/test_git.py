"""git.py's pure parts: progress filtering, porcelain parsing, redaction, token environment."""

from __future__ import annotations

import io
import sys

import pytest

from lazyaf_cli import git as gitlib


def test_progress_is_shown_on_a_terminal_but_errors_are_left_to_the_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    raw = (
        b"Writing objects:  50% (1/2)\rWriting objects: 100% (2/2), done.\n"
        b"error: failed to push some refs to 'x'\nhint: Updates were rejected\n"
        b"fatal: the remote end hung up\nremote: hello from the server"
    )

    kept = gitlib.Git()._pump_stderr(io.BytesIO(raw))

    shown = capsys.readouterr().err
    assert (
        shown
        == "Writing objects:  50% (1/2)\rWriting objects: 100% (2/2), done.\nremote: hello from the server\n"
    )
    assert gitlib.describe(kept, 1) == "the remote end hung up"


def test_porcelain_lines_are_parsed() -> None:
    refs = gitlib.parse_porcelain(
        "To ../r.git\n*\trefs/heads/a:refs/heads/a\t[new branch]\n"
        "!\trefs/heads/b:refs/heads/c\t[rejected] (fetch first)\nDone\n"
    )

    assert [(r.flag, r.src, r.dst, r.rejected, r.reason) for r in refs] == [
        ("*", "refs/heads/a", "refs/heads/a", False, "new branch"),
        ("!", "refs/heads/b", "refs/heads/c", True, "fetch first"),
    ]


def test_credentials_in_urls_are_redacted() -> None:
    assert (
        gitlib.redact("push to https://me:tok@github.com/x.git now")
        == "push to https://***@github.com/x.git now"
    )
    assert gitlib.redact("git@github.com:me/x.git") == "git@github.com:me/x.git"


def test_token_env_appends_to_existing_git_config_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_COUNT", "2")

    assert gitlib.token_env("t") == {
        "GIT_CONFIG_COUNT": "3",
        "GIT_CONFIG_KEY_2": "http.extraHeader",
        "GIT_CONFIG_VALUE_2": "Authorization: Bearer t",
    }
    assert gitlib.token_env(None) == {}
