"""The command grammar: what counts as `@lazyaf <verb> [text]`, and what does not."""

from __future__ import annotations

import pytest

from lazyaf.github.commands.grammar import mentions, parse

COMMANDS = {
    "@lazyaf plan": ("plan", ""),
    "@LazyAF PLAN": ("plan", ""),
    "@lazyaf refine add error handling": ("refine", "add error handling"),
    "Thanks!\n\n@lazyaf iterate make the tests\nmore thorough": ("iterate", "make the tests\nmore thorough"),
    "@lazyaf: build": ("build", ""),
    "@lazyaf, oneshot please": ("oneshot", "please"),
    "(cc) @lazyaf status": ("status", ""),
    "@aidw plan": ("plan", ""),
    "> @lazyaf cancel\n\n@lazyaf status": ("status", ""),  # the quote does not count, the line after does
    "@lazyaf frobnicate now": ("frobnicate", "now"),  # a phrase with an unknown verb: help
    "@lazyaf": (None, ""),
}
NOT_COMMANDS = {
    "no phrase here": "plain text",
    "@lazyafx plan": "the phrase must stand alone",
    "me@lazyaf plan": "preceded by a letter",
    "> @lazyaf plan": "a quoted line (a quote-reply of an old command)",
    "  > @lazyaf plan": "an indented quote",
    "```\n@lazyaf plan\n```": "a fenced code block",
    "~~~sh\n@lazyaf build\n~~~": "a tilde fence",
    "Run `@lazyaf plan` to start": "inline code",
    "``@lazyaf `plan` ``": "inline code with backticks inside",
    "<!-- @lazyaf plan -->": "an HTML comment (hidden on GitHub)",
    "@\u200blazyaf plan": "a zero-width character inside the phrase",
    "````\n```\n@lazyaf plan\n```\n````": "a fence inside a longer fence",
}


@pytest.mark.parametrize(("body", "expected"), COMMANDS.items(), ids=list(COMMANDS))
def test_commands_parse(body: str, expected: tuple[str | None, str]) -> None:
    parsed = parse(body)
    assert parsed is not None
    assert (parsed.verb, parsed.text) == expected


@pytest.mark.parametrize("body", NOT_COMMANDS, ids=list(NOT_COMMANDS.values()))
def test_these_are_not_commands(body: str) -> None:
    assert parse(body) is None


def test_the_phrase_is_a_setting_and_aidw_stays_an_alias() -> None:
    assert parse("/bot build", "/bot") is not None and parse("/bot build", "/bot").verb == "build"  # type: ignore[union-attr]
    assert parse("@lazyaf build", "/bot") is None
    assert parse("@aidw build", "/bot") is not None
    assert mentions("please @LAZYAF plan", "@lazyaf") and not mentions("nothing", "@lazyaf")
