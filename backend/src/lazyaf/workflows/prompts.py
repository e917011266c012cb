"""Prompt templates: Jinja2 over the prompts/ folder (user-editable), strict about undefined names.
``render`` is the one render function every prompt goes through (the step prompts of
``workflows.steps``, GitHub's comments and prompts).

Templates run in Jinja's immutable sandbox (a template edited by a user cannot reach Python
internals through the objects it is given). What the user wrote (a card, a review comment) is
the agent's instructions; everything else that reaches a prompt (a failed attempt's error,
the checks' output, the branch's diff, conflicting file names, the README) was written by an
agent, a runner or the repository, and goes through the ``untrusted`` filter: redacted (the
prompt is stored with the job, and a diff may hold a key an agent committed), cut to a limit
and quoted as data in a fenced block that no line of it can close.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
from lazyaf_protocol.redact import Redactor

from lazyaf.redaction import server_redactor
from lazyaf.settings import Settings, checkout_root

README_EXCERPT_CHARS = 4000
UNTRUSTED_LIMIT = 4000
"""Characters of runner-supplied text (a failure, checks' output) a follow-up prompt quotes."""
_BACKTICK_RUN = re.compile(r"`{3,}")


def template_dirs(settings: Settings) -> list[Path]:
    """settings.prompts_dir first, then ``<data dir>/prompts`` (a user's overrides, e.g.
    ``steps/build.md.j2``), then the checkout's prompts/ (the defaults, editable in place)."""
    dirs = []
    if settings.prompts_dir is not None:
        dirs.append(settings.prompts_dir)
    dirs.append(settings.data_dir / "prompts")
    root = checkout_root()
    if root is not None:
        dirs.append(root / "prompts")
    return [d for d in dirs if d.is_dir()]


def untrusted(value: object, limit: int = UNTRUSTED_LIMIT, language: str = "text") -> str:
    """``value`` quoted as data: its last ``limit`` characters (a failure is reported at the
    end) in a fenced block longer than any run of backticks inside it, so it cannot close it."""
    text = str(value)
    if len(text) > limit:
        text = f"[… {len(text) - limit} earlier characters cut …]\n{text[-limit:]}"
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


@functools.lru_cache(maxsize=8)
def _environment(dirs: tuple[str, ...]) -> jinja2.Environment:
    # Cached: the loader re-reads a template when its file changes, so edits still apply at once.
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(list(dirs)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["untrusted"] = _untrusted_filter
    return env


_REDACTOR = "lazyaf_redactor"  # the render context's redactor, for the filter


@jinja2.pass_context
def _untrusted_filter(
    context: jinja2.runtime.Context, value: object, limit: int = UNTRUSTED_LIMIT, language: str = "text"
) -> str:
    redactor = context.get(_REDACTOR)
    text = redactor.text(str(value)) if isinstance(redactor, Redactor) else str(value)
    return untrusted(text, limit, language)


def environment(settings: Settings) -> jinja2.Environment:
    return _environment(tuple(str(d) for d in template_dirs(settings)))


def readme_excerpt(text: str | None) -> str:
    if not text:
        return ""
    text = text.strip()
    if len(text) <= README_EXCERPT_CHARS:
        return text
    return text[:README_EXCERPT_CHARS].rsplit("\n", 1)[0] + "\n[…]"


def render(settings: Settings, name: str, **context: Any) -> str:
    """Render template ``name`` with ``context`` (untrusted parts redacted with the server's secrets).
    The one render function: every prompt an agent receives is rendered here."""
    template = environment(settings).get_template(name)
    return template.render(**context, **{_REDACTOR: server_redactor(settings)}).strip() + "\n"
