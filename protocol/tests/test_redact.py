"""The one redactor: secrets by value (whole, split, partial) and by pattern."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from lazyaf_protocol.redact import REDACTED, Redactor, redact_patterns, secrets_in_environment

KEY = "sk-ant-api03-" + secrets.token_urlsafe(70)
TOKEN = secrets.token_urlsafe(32)


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([KEY, TOKEN])


def leaks(text: str) -> bool:
    """Whether any 12 consecutive characters of a secret survive in ``text``, separators ignored."""
    flat = "".join(c for c in text if not c.isspace() and c not in "'\"`+\\")
    return any(s[i : i + 12] in flat for s in (KEY, TOKEN) for i in range(len(s) - 11))


@pytest.mark.parametrize(
    "printed",
    [
        f"ANTHROPIC_API_KEY={KEY}\nLAZYAF_TOKEN={TOKEN}\n",
        f"'{KEY[:20]}' '{KEY[20:]}'",  # printf '%s' "${KEY:0:20}" "${KEY:20}" with quotes shown
        f"{KEY[:30]}\n{KEY[30:]}",  # split by a line break
        f"{KEY[:30]}\\n{KEY[30:]}",  # the same, as a JSON-escaped line
        f'"{KEY[:40]}" + "{KEY[40:]}"',  # a string concatenation
        " ".join(TOKEN),  # every character apart
        f"prefix {TOKEN[:12]} end",
        f"suffix {TOKEN[-12:]} end",
        f"middle {TOKEN[5:29]} end",
        json.dumps({"output": f"token: {TOKEN}"}),
    ],
)
def test_known_secrets_go_however_they_are_printed(redactor: Redactor, printed: str) -> None:
    redacted = redactor.text(printed)

    assert REDACTED in redacted
    assert not leaks(redacted), redacted


def test_text_around_a_secret_stays(redactor: Redactor) -> None:
    assert redactor.text(f"before {TOKEN} after") == f"before {REDACTED} after"
    assert (
        redactor.text(f"PATH=/usr/bin\nKEY={KEY}\nHOME=/home/x")
        == f"PATH=/usr/bin\nKEY={REDACTED}\nHOME=/home/x"
    )


def test_a_short_piece_of_a_secret_is_left(redactor: Redactor) -> None:
    # 10 characters of a random token reveal too little; redacting them would eat ordinary words.
    assert redactor.text(f"x {TOKEN[:10]} y") == f"x {TOKEN[:10]} y"


def test_two_secrets_sharing_a_prefix_both_go() -> None:
    other = "sk-ant-api03-" + secrets.token_urlsafe(70)
    redactor = Redactor([KEY, other])

    assert redactor.text(f"{KEY} {other}") == f"{REDACTED} {REDACTED}"


def test_a_basic_authorization_header_value_yields_its_token() -> None:
    header = "Authorization: Basic " + base64.b64encode(f"lazyaf:{TOKEN}".encode()).decode()
    redactor = Redactor([header], patterns=False)

    assert redactor.text(f"the token is {TOKEN}") == f"the token is {REDACTED}"
    assert redactor.text("Authorization is a word") == "Authorization is a word"


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("key sk-ant-api03-AbCdEfGh12345678 end", f"key {REDACTED} end"),
        ("ghp_" + "a1" * 18 + " gho_" + "b2" * 18, f"{REDACTED} {REDACTED}"),
        ("ghs_" + "c" * 36 + ",ghu_" + "d" * 36, f"{REDACTED},{REDACTED}"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijkl", REDACTED),
        ("aws AKIAIOSFODNN7EXAMPLE", f"aws {REDACTED}"),
        ("Authorization: Basic bGF6eWFmOnMzY3JldA==", f"Authorization: Basic {REDACTED}"),
        ('{"authorization": "Bearer abc.def.ghi"}', f'{{"authorization": "Bearer {REDACTED}"}}'),
        ("curl -H 'Bearer eyJhbGciOiJIUzI1NiJ9'", f"curl -H 'Bearer {REDACTED}'"),
        ("https://user:pa55w0rd@github.com/o/r.git", f"https://user:{REDACTED}@github.com/o/r.git"),
        ("https://x-access-token:ghs_zzz@github.com", f"https://x-access-token:{REDACTED}@github.com"),
        ("MY_SERVICE_TOKEN=Zx9Qw8Er7Ty6Ui5Op4As", f"MY_SERVICE_TOKEN={REDACTED}"),
        ('"client_secret": "Zx9Qw8Er7Ty6Ui5Op4As3D"', f'"client_secret": "{REDACTED}"'),
        ("export DB_PASSWORD='hunter2hunter2-XyZ-9'", f"export DB_PASSWORD='{REDACTED}'"),
    ],
)
def test_credentials_nobody_told_us_about_go_by_pattern(printed: str, expected: str) -> None:
    assert redact_patterns(printed) == expected


@pytest.mark.parametrize(
    "ordinary",
    [
        "git@github.com:owner/repo.git",
        "https://github.com/owner/repo.git",
        "SORT_KEY=created_at",
        "PRIMARY_KEY=id",
        "GIT_AUTHOR_NAME=LazyAF Agent",
        "keyboard: a US layout",
        "Authorization is required for this endpoint",
        "sk-learn is a library",
        "PATH=/usr/local/bin:/usr/bin:/bin",
    ],
)
def test_ordinary_text_is_left_alone(ordinary: str) -> None:
    assert Redactor().text(ordinary) == ordinary


def test_secrets_in_environment_are_those_named_like_secrets_and_git_auth_headers() -> None:
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "LAZYAF_TOKEN": TOKEN,
        "ANTHROPIC_AUTH_TOKEN": "auth-token-value",
        "GIT_AUTHOR_NAME": "LazyAF Agent",
        "GIT_CONFIG_VALUE_0": "Authorization: Basic abcdefgh",
        "SHORT_TOKEN": "1",
        "PATH": "/bin",
    }

    assert sorted(secrets_in_environment(env)) == sorted(
        [KEY, TOKEN, "auth-token-value", "Authorization: Basic abcdefgh"]
    )


def test_with_secrets_adds_to_what_a_redactor_knows() -> None:
    more = Redactor([KEY]).with_secrets(TOKEN, None, "")

    assert more.text(f"{KEY} {TOKEN}") == f"{REDACTED} {REDACTED}"


def test_lazyaf_runner_credentials_lose_their_secret_part_and_keep_their_ids() -> None:
    runner_id, job_id = "0b6f3d52-7c2e-4d1a-9f53-3a1e2b4c5d6e", "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
    mac, nonce, reg = secrets.token_urlsafe(32), secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    text = (
        f"hello with lazyaf-runner.{runner_id}.{mac}; push with lazyaf-attempt.{job_id}.3.{nonce}; "
        f"join with lazyaf-reg.{reg}"
    )

    redacted = redact_patterns(text)

    assert not any(part in redacted for part in (mac, nonce, reg))
    assert f"lazyaf-runner.{runner_id}.{REDACTED}" in redacted
    assert f"lazyaf-attempt.{job_id}.{REDACTED}" in redacted and f"lazyaf-reg.{REDACTED}" in redacted
    assert redact_patterns("lazyaf-runner is the program") == "lazyaf-runner is the program"
