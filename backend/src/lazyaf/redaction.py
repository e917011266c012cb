"""The server's side of redaction: ``lazyaf_protocol.redact`` with every secret the server holds.

Runners redact what they send; the server redacts again before it stores or broadcasts
anything a runner reported (agent events, job errors, verification output), because it knows
secrets a runner may not (its token, the model keys in its settings, the model credentials it
found in its environment or its user's Claude Code login, ...). Every ``SecretStr`` setting
counts, so a secret added to ``Settings`` is covered without a change here.
"""

from __future__ import annotations

import functools

from lazyaf_protocol.redact import Redactor
from pydantic import SecretStr

from lazyaf.agents.service import machine_secrets
from lazyaf.settings import Settings


def server_secrets(settings: Settings) -> list[str]:
    """The values of every secret setting that is set."""
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]


@functools.lru_cache(maxsize=8)
def _redactor(secrets: tuple[str, ...]) -> Redactor:
    return Redactor(secrets)


def server_redactor(settings: Settings) -> Redactor:
    """A redactor that knows the server's secrets, and the model credentials it read on this
    machine for agents (lazyaf.agents.service) (cached: compiling is the costly part)."""
    return _redactor(tuple(sorted({*server_secrets(settings), *machine_secrets()})))
