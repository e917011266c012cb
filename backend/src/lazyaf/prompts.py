"""Prompt templates: Jinja2 over the prompts/ folder (user-editable), strict about undefined names."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from lazyaf.settings import Settings, checkout_root

README_NAMES = ("README.md", "README.rst", "README.txt", "README")
README_EXCERPT_CHARS = 4000


def template_dirs(settings: Settings) -> list[Path]:
    """settings.prompts_dir first, then the checkout's prompts/ (the defaults, editable in place)."""
    dirs = []
    if settings.prompts_dir is not None:
        dirs.append(settings.prompts_dir)
    root = checkout_root()
    if root is not None:
        dirs.append(root / "prompts")
    return [d for d in dirs if d.is_dir()]


@functools.lru_cache(maxsize=8)
def _environment(dirs: tuple[str, ...]) -> jinja2.Environment:
    # Cached: the loader re-reads a template when its file changes, so edits still apply at once.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(dirs)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


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
    """Render template ``name`` with ``context``."""
    return environment(settings).get_template(name).render(**context).strip() + "\n"
