"""Text from GitHub, made safe to show on the board and to hand an agent as data.

Whoever can open an issue can write into it, so an issue is untrusted input for an agent. What
a person reading the issue on GitHub cannot see must not reach the agent either (the way
claude-code-action's ``sanitizer.ts`` does it, and its #1779 shows why):

* HTML comments (``<!-- … -->``, also unterminated ones), which GitHub does not render;
* zero-width and other invisible characters, and Unicode tag characters (U+E0000–U+E007F);
* bidirectional controls (Trojan Source: text that reads differently from how it runs);
* hidden attributes of inline HTML (``alt``, ``title``, ``aria-*``, ``data-*``) and image alt text.

And the data blocks the prompts wrap GitHub's text in (``<github_issue>``, ``<github_data>``) cannot be
closed, nor a ``<trigger_comment>`` opened, from inside.
"""

from __future__ import annotations

import re

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
INVISIBLE = re.compile(
    "["
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0"
    "\U000e0000-\U000e007f"
    "]"
)
_HIDDEN_ATTRIBUTE = re.compile(
    r"""\s(?:alt|title|aria-[\w-]+|data-[\w-]+)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE
)
_IMAGE_ALT = re.compile(r"!\[[^\]]*\]\(")
_DATA_TAG = re.compile(r"<(/?)\s*(github_issue|github_comment|github_data|trigger_comment)", re.IGNORECASE)


def sanitize(text: str | None, *, limit: int | None = None) -> str:
    """``text`` without hidden content; cut to ``limit`` characters with a note when longer."""
    if not text:
        return ""
    text = _HTML_COMMENT.sub("", text)
    text = INVISIBLE.sub("", text)
    text = _HIDDEN_ATTRIBUTE.sub("", text)
    text = _IMAGE_ALT.sub("![](", text)
    text = _DATA_TAG.sub(lambda m: f"&lt;{m.group(1)}{m.group(2)}", text)
    text = text.replace("\r\n", "\n").strip()
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip() + f"\n[… cut: {len(text) - limit} more characters]"
    return text


def sanitize_line(text: str | None, *, limit: int = 200) -> str:
    """One line (a title, a label, a login): sanitized, whitespace folded, cut to ``limit``."""
    flat = " ".join(sanitize(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
