"""One redactor for everything that leaves a process: agent events, verification output, errors.

The runner applies it before sending, the backend again before storing and broadcasting
(defence in depth: each knows secrets the other does not). It removes secrets two ways:

- **by value**: every secret the caller knows (the runner's environment, the credentials the
  server sent, the git credential). A value is caught even when the output splits it with
  whitespace, quotes, ``+`` or escaped line breaks (``printf '%s\\n' "${KEY:0:9}" "${KEY:9}"``,
  a JSON-escaped line, a Python string concatenation), and so is any leading part of it at
  least ``PARTIAL_MIN`` characters long (``echo ${KEY:0:20}``);
- **by pattern**: well-known key formats (Anthropic ``sk-ant-…``, OpenAI ``sk-…``, GitHub
  ``ghp_/gho_/ghs_/ghu_/ghr_…`` and ``github_pat_…``, GitLab ``glpat-…``, AWS access key ids,
  Slack ``xox?-…``), bearer credentials, ``Authorization:`` header values, passwords in URLs
  (``https://user:secret@host``), and long high-entropy values assigned to names that end in
  KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL(S) or AUTH (``FOO_TOKEN=…``, ``"api_key": "…"``).

What it cannot do: recognize a secret it was not told about that matches no pattern, or one
transformed by the agent (reversed, base64-encoded, split across events). The promise is that
no secret *LazyAF knows* is stored or broadcast in any of the printable forms above.
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from lazyaf_protocol.messages import Complete

M = TypeVar("M", bound=BaseModel)

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8
"""Shorter values ("1", "true") would redact ordinary words."""
PARTIAL_MIN = 12
"""A leading part of a known secret this long is redacted too; shorter ones reveal too little
to matter (12 characters of a random token are 70+ bits)."""
_MAX_SEPARATORS = 8
"""Separator characters tolerated between two characters of a split secret."""

SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|(?:^|_)AUTH(?:_|$)", re.IGNORECASE
)
"""Environment variables whose values are treated as secrets."""

# One separator between two characters of a split secret: whitespace, a quote, a "+" (string
# concatenation) or a backslash escape as it appears in JSON or a shell string ("\n", "\"").
_SEPARATOR = r"(?:\s|[\"'`+]|\\[nrt\"'\\])"
_ONE_SEPARATOR = re.compile(_SEPARATOR)

_TOKEN_PATTERNS = [
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?<![A-Za-z0-9_\-])sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"(?<![A-Za-z0-9_])glpat-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    re.compile(r"(?<![A-Za-z0-9_])xox[abprs]-[A-Za-z0-9\-]{10,}"),
    # LazyAF's own runner credentials (auth.py): keep the public prefix and ids, drop the secret.
    re.compile(r"(?<=lazyaf-reg\.)[A-Za-z0-9_\-]{16,}"),
    re.compile(r"(?<=lazyaf-runner\.[0-9a-f-]{36}\.)[A-Za-z0-9_\-]{16,}"),
    re.compile(r"(?<=lazyaf-attempt\.[0-9a-f-]{36}\.)[0-9]+\.[A-Za-z0-9_\-]{16,}"),
]
# "Authorization: Basic abc=", "authorization": "Bearer abc", Proxy-Authorization=...
_AUTHORIZATION = re.compile(
    r"((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:basic|bearer|token|digest|negotiate|apikey)\s+)?)[^\s\"',;]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE)
# scheme://user:password@ (the password goes), scheme://<long token>@ (the token goes)
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:\"']+:)[^\s/@\"']+@")
_URL_TOKEN_USER = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://)[^\s/@:\"']{20,}@")
# NAME=value, NAME: value, "name": "value" where NAME ends like a secret's name.
_ASSIGNMENT = re.compile(
    r"((?<![\w.\-])[\w.\-]{0,64}?(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIALS?|AUTH)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;]{16,})",
    re.IGNORECASE,
)
_ASSIGNMENT_MIN_ENTROPY = 3.0
"""Bits per character a value assigned to a secret-like name needs to count as a secret
(random tokens have 4–6; "created_at_descending" has about 3.4 but is also redacted, which is
harmless; "/usr/local/bin/..." paths are not assigned to such names)."""


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _redact_assignment(match: re.Match[str]) -> str:
    value = match.group(2)
    if value.startswith(REDACTED) or _entropy(value) < _ASSIGNMENT_MIN_ENTROPY:
        return match.group(0)
    return match.group(1) + REDACTED


_TOKEN_HINTS = (
    "sk-",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "AKIA",
    "ASIA",
    "xox",
    "lazyaf-",
)
_ASSIGNMENT_HINTS = ("key", "token", "secret", "passw", "passphrase", "credential", "auth")


def redact_patterns(text: str) -> str:
    """Remove what looks like a credential, whoever it belongs to.

    Each pattern runs only when a plain substring it needs is there: most lines of agent output
    hold none, and these scans are most of the cost of redacting them."""
    if any(hint in text for hint in _TOKEN_HINTS):
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(REDACTED, text)
    lower = text.lower()
    if "authoriz" in lower:
        text = _AUTHORIZATION.sub(lambda m: m.group(1) + REDACTED, text)
    if "bearer" in lower:
        text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    if "://" in text and "@" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", text)
        text = _URL_TOKEN_USER.sub(lambda m: m.group(1) + REDACTED + "@", text)
    if ("=" in text or ":" in text) and any(hint in lower for hint in _ASSIGNMENT_HINTS):
        text = _ASSIGNMENT.sub(_redact_assignment, text)
    return text


def derived_secrets(value: str) -> list[str]:
    """The printable forms of a secret worth catching: the value itself, or for an
    ``Authorization`` header value, its credential and the password a Basic one carries."""
    if not value.lower().startswith("authorization:"):
        return [value] if len(value) >= MIN_SECRET_LENGTH else []
    scheme, _, credential = value.partition(":")[2].strip().partition(" ")
    forms = [credential.strip()]
    if scheme.lower() == "basic":
        try:
            forms.append(base64.b64decode(credential.strip(), validate=True).decode().partition(":")[2])
        except (ValueError, UnicodeDecodeError):
            pass
    return [form for form in forms if len(form) >= MIN_SECRET_LENGTH]


class Redactor:
    """Replaces secrets (known values, and well-known patterns) with ``[redacted]``.

    Build one per job (or per settings) and reuse it: compiling is the costly part.

    Known values are found through *windows*: pieces of ``PARTIAL_MIN`` characters taken every
    ``PARTIAL_MIN`` characters along each secret (and its last ``PARTIAL_MIN``). A match of a
    window is widened over as much of the secret as surrounds it, so a whole secret, its
    first or last ``PARTIAL_MIN`` characters, or any piece of ``2 * PARTIAL_MIN - 1``, go.
    """

    def __init__(self, secrets: Iterable[str] = (), *, patterns: bool = True) -> None:
        unique = {form for s in secrets if s for form in derived_secrets(s)}
        self.secrets = sorted(unique, key=len, reverse=True)
        self.patterns = patterns
        # Two secrets may share a window ("sk-ant-api03"): each (secret, offset) is tried.
        self._windows: dict[str, list[tuple[str, int]]] = {}
        for secret in self.secrets:
            size = min(PARTIAL_MIN, len(secret))
            offsets = {*range(0, len(secret) - size + 1, size), len(secret) - size}
            for offset in sorted(offsets):
                self._windows.setdefault(secret[offset : offset + size], []).append((secret, offset))
        # One scan finds every window (longest first); which one matched is asked only then
        # (capturing groups in the scan would make it ten times slower).
        self._by_pattern = [
            (re.compile(_split_tolerant(w)), w) for w in sorted(self._windows, key=len, reverse=True)
        ]
        self._scan = (
            re.compile("|".join(pattern.pattern for pattern, _ in self._by_pattern))
            if self._by_pattern
            else None
        )

    @classmethod
    def from_environment(cls, env: Mapping[str, str], *extra: str | None) -> Redactor:
        """Treat the values of variables named like keys, tokens or passwords as secrets,
        the values of git's ``http.extraHeader`` config too, plus ``extra``."""
        return cls([*secrets_in_environment(env), *(e for e in extra if e)])

    def with_secrets(self, *values: str | None) -> Redactor:
        """A redactor that also knows ``values``."""
        return Redactor([*self.secrets, *(v for v in values if v)], patterns=self.patterns)

    def text(self, value: str) -> str:
        if self._scan is not None:
            value = self._redact_values(self._scan, value)
        return redact_patterns(value) if self.patterns else value

    def _redact_values(self, scan: re.Pattern[str], text: str) -> str:
        spans: list[tuple[int, int]] = []
        for found in scan.finditer(text):
            match, window = next(
                (m, w) for p, w in self._by_pattern if (m := p.match(text, found.start())) is not None
            )
            starts, ends = [], []
            for secret, offset in self._windows[window]:
                starts.append(_extend_back(text, match.start(), secret, offset))
                ends.append(_extend(text, match.end(), secret, offset + len(window)))
            spans.append((min(starts), max(ends)))
        if not spans:
            return text
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        out: list[str] = []
        position = 0
        for start, end in merged:
            out += [text[position:start], REDACTED]
            position = end
        out.append(text[position:])
        return "".join(out)

    def any(self, value: Any) -> Any:
        """``value`` with every string in it (dict keys, lists, nested) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.any(key): self.any(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.any(item) for item in value]
        return value

    def model(self, value: M) -> M:
        """A copy of a flat model (an agent event, an outcome) with its strings redacted. Not
        validated again: outputs already cut to their limit are not cut (and marked) twice."""
        return value.model_copy(update=self.any(value.model_dump()))

    event = model
    outcome = model


def _split_tolerant(head: str) -> str:
    """A regex for ``head`` that allows a few separators between any two of its characters."""
    gap = f"{_SEPARATOR}{{0,{_MAX_SEPARATORS}}}"
    return gap.join(re.escape(char) for char in head)


def _extend(text: str, position: int, secret: str, matched: int) -> int:
    """Where a match of ``secret[:matched]``'s end, at ``position``, ends once as much more of
    the secret as follows (separators allowed in between) is taken in."""
    end = position
    gaps = 0
    while matched < len(secret) and position < len(text):
        if text[position] == secret[matched]:
            matched += 1
            position += 1
            end, gaps = position, 0
            continue
        separator = _ONE_SEPARATOR.match(text, position)
        if separator is None or gaps >= _MAX_SEPARATORS:
            break
        position = separator.end()
        gaps += 1
    return end


def _extend_back(text: str, position: int, secret: str, offset: int) -> int:
    """Where a match of ``secret[offset:]``'s start, at ``position``, starts once as much of
    ``secret[:offset]`` as precedes it (separators allowed in between) is taken in."""
    start = position
    gaps = 0
    while offset > 0 and position > 0:
        if text[position - 1] == secret[offset - 1]:
            offset -= 1
            position -= 1
            start, gaps = position, 0
            continue
        width = _separator_before(text, position)
        if not width or gaps >= _MAX_SEPARATORS:
            break
        position -= width
        gaps += 1
    return start


def _separator_before(text: str, position: int) -> int:
    """The length of the separator that ends at ``position`` (2 for an escape), or 0."""
    if position >= 2 and _ONE_SEPARATOR.fullmatch(text, position - 2, position):
        return 2
    if position >= 1 and _ONE_SEPARATOR.fullmatch(text, position - 1, position):
        return 1
    return 0


def secrets_in_environment(env: Mapping[str, str]) -> list[str]:
    """The values in ``env`` that are secrets: variables named like them, git auth headers."""
    found = [value for name, value in env.items() if SECRET_NAME.search(name)]
    found += [
        value
        for name, value in env.items()
        if name.startswith("GIT_CONFIG_VALUE_") and value.lower().startswith("authorization:")
    ]
    return [value for value in found if len(value) >= MIN_SECRET_LENGTH]


def redact_complete(redactor: Redactor, message: Complete) -> Complete:
    """A completion with its error and its checks' output (and commands) redacted."""
    verification = [
        result.model_copy(
            update={"output": redactor.text(result.output), "command": redactor.text(result.command)}
        )
        for result in message.verification or []
    ]
    return message.model_copy(
        update={
            "error": redactor.text(message.error) if message.error else message.error,
            "verification": verification if message.verification is not None else None,
        }
    )
