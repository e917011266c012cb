"""The command grammar: ``@lazyaf <verb> [free text]`` in a comment.

* The phrase is the link's ``trigger_phrase`` (``@lazyaf`` by default) or ``@aidw``, in any case,
  and must stand alone: preceded by the start or white space, followed by the end, white space or
  punctuation (``@lazyafx`` and ``me@lazyaf`` are not it).
* Fenced code blocks (````` ``` ````` and ``~~~``), inline code and quoted lines (``>``) are not
  read: a quote-reply of an old command, or an example in code, does not run anything.
* Hidden text (HTML comments, hidden attributes) is removed first (``sanitize``): what a reader on
  GitHub cannot see cannot give a command; an invisible character splits the word it is in.
* The first phrase counts. The word after it is the verb; the rest of the comment is free text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lazyaf.github.sanitize import INVISIBLE, sanitize

VERBS = ("plan", "refine", "build", "oneshot", "iterate", "status", "cancel")
RUNS = ("plan", "refine", "build", "oneshot", "iterate")  # verbs that start agent work
ALIASES = ("@aidw",)
DEFAULT_PHRASE = "@lazyaf"
PHRASE_PATTERN = r"^[@/][A-Za-z0-9][A-Za-z0-9_.-]{0,38}$"

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_QUOTE = re.compile(r"^[ \t]{0,3}>")


@dataclass(frozen=True)
class Parsed:
    """A comment that names the phrase: ``verb`` is None (no verb) or a word that may be unknown."""

    phrase: str
    verb: str | None
    text: str

    @property
    def known(self) -> bool:
        return self.verb in VERBS


def readable(body: str) -> str:
    """The comment without hidden text, code (fenced or inline) and quoted lines."""
    kept: list[str] = []
    fence: str | None = None
    # An invisible character splits a word (people write "@\u200blazyaf" to name LazyAF without
    # calling it); the rest of what GitHub does not show (HTML comments...) is removed.
    for line in sanitize(INVISIBLE.sub(" ", body)).split("\n"):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        if _QUOTE.match(line):
            continue
        kept.append(line)
    return _INLINE_CODE.sub(" ", "\n".join(kept))


def phrase_regex(phrases: list[str]) -> re.Pattern[str]:
    names = "|".join(re.escape(p) for p in sorted(set(p.lower() for p in phrases), key=len, reverse=True))
    return re.compile(rf"(?:^|(?<=\s))({names})(?=$|[\s.,!?;:])", re.IGNORECASE)


def phrases_of(trigger_phrase: str) -> list[str]:
    return [trigger_phrase, *ALIASES]


def mentions(body: str, trigger_phrase: str) -> bool:
    """A cheap first look (the poller's filter): does the phrase appear anywhere at all?"""
    lowered = body.lower()
    return any(p.lower() in lowered for p in phrases_of(trigger_phrase))


def parse(body: str, trigger_phrase: str = DEFAULT_PHRASE) -> Parsed | None:
    """The command in ``body``, or None when the phrase does not stand alone in readable text."""
    text = readable(body)
    match = phrase_regex(phrases_of(trigger_phrase)).search(text)
    if match is None:
        return None
    rest = text[match.end() :]
    word = re.match(r"[ \t]*[.,:;!?]*[ \t]*([A-Za-z][\w-]*)", rest)
    if word is None:
        return Parsed(phrase=match.group(1), verb=None, text="")
    free = rest[word.end() :].strip()
    return Parsed(phrase=match.group(1), verb=word.group(1).lower(), text=free)
