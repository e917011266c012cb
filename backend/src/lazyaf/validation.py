"""Input rules shared by every schema: integer ranges, text without control characters, remote URLs.

- Integers that reach the database are bounded by SQLite's (and PostgreSQL's BIGINT) range:
  ``INT64_MAX``. Every integer query parameter and body field declares a maximum (a test walks the
  OpenAPI document to keep it so), because a larger one is a driver ``OverflowError``, not a 4xx.
- Text typed by people (titles, descriptions, comments, commands) may hold tabs and line breaks
  (titles and other one-line fields: tabs only) but no other control character: C0, DEL and C1
  (NUL breaks agents' argv and files; ESC and CSI rewrite terminals that print a title). Lone
  surrogates cannot be stored as UTF-8 and are refused too.
- Remote URLs lose their credentials before they are stored (``https://user:token@host/...`` →
  ``https://host/...``; ssh keeps its user name, which is not a secret), and may not start with
  ``-`` (git would read one as an option).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

INT64_MAX = 2**63 - 1

_MULTI_LINE_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_ONE_LINE_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def _describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def plain_text(value: str) -> str:
    """Refuse control characters other than tab, line feed and carriage return."""
    found = _MULTI_LINE_FORBIDDEN.search(value)
    if found:
        raise ValueError(
            f"must not contain control characters (found {_describe(found.group())}); "
            "only tabs and line breaks are allowed"
        )
    return value


def one_line(value: str) -> str:
    """Refuse line breaks and control characters other than tab."""
    found = _ONE_LINE_FORBIDDEN.search(value)
    if found:
        raise ValueError(f"must be one line without control characters (found {_describe(found.group())})")
    return value


PlainText = Annotated[str, AfterValidator(plain_text)]
OneLine = Annotated[str, AfterValidator(one_line)]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Schemes whose user name slot is where tokens go (https://ghp_…@github.com/…): drop all of it.
_TOKEN_SCHEMES = {"http", "https", "ftp", "ftps"}


def strip_credentials(url: str) -> str:
    """``url`` without the secret part of its userinfo: all of it for http(s), the password for ssh.

    scp-like addresses (``git@github.com:o/r.git``) and paths have no password and stay as they are.
    """
    match = _SCHEME.match(url)
    if match is None:
        return url
    scheme = match.group(1).lower()
    start = match.end()
    end = len(url)
    for sep in "/?#":
        found = url.find(sep, start)
        if found != -1:
            end = min(end, found)
    authority = url[start:end]
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        return url
    if scheme in _TOKEN_SCHEMES:
        kept = ""
    else:
        user = userinfo.partition(":")[0]
        kept = f"{user}@" if user else ""
    return url[:start] + kept + hostport + url[end:]


def remote_url(value: str) -> str:
    """A one-line git URL or path, not an option, stripped of credentials."""
    value = value.strip()
    if not value:
        raise ValueError("remote_url must be a git URL or path; omit it (or send null) for none")
    found = _ONE_LINE_FORBIDDEN.search(value)
    if found:
        raise ValueError(
            f"remote_url must be a single-line git URL or path (found {_describe(found.group())})"
        )
    if value.startswith("-"):
        raise ValueError("remote_url must not start with '-' (git would read it as an option)")
    return strip_credentials(value)
