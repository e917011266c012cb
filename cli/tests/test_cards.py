"""Cards from the terminal against a live server: creating and listing them, naming one (id, prefix,
REPO#prefix), and the one-line answers when a card is unknown, ambiguous, refused or the server down."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import ANSI, Invoke, canned_server, error_line, invoke, make_repo, run_on_pty
from lazyaf.testing import LiveServer, wait_until
from lazyaf_runner import credentials

from lazyaf_cli.commands.review import APPROVE_PATH


def cards_of(server: LiveServer, repo: str = "demo") -> list[dict[str, Any]]:
    repo_id = next(r["id"] for r in httpx.get(server.api("/repos"), timeout=10).json() if r["name"] == repo)
    found: list[dict[str, Any]] = httpx.get(server.api(f"/repos/{repo_id}/cards"), timeout=10).json()
    return found


@pytest.fixture
def demo(lazyaf: Invoke, tmp_path: Path) -> None:
    assert lazyaf("ingest", make_repo(tmp_path / "demo"), "--name", "demo").exit_code == 0


def new(lazyaf: Invoke, title: str, *args: str, repo: str = "demo") -> str:
    result = lazyaf("card", "new", repo, title, *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_new_prints_the_id_and_adds_the_card_to_todo(
    lazyaf: Invoke, server: LiveServer, demo: None, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.md"
    spec.write_text("Add a --version flag.\n\nPrint the version and exit.\n")

    result = lazyaf("card", "new", "demo", "Version flag", "--description-file", spec, "--priority", "high")

    assert result.exit_code == 0, result.output
    card_id = result.stdout.strip()
    assert result.stdout == f"{uuid.UUID(card_id)}\n"
    assert result.stderr == (
        f"Created 'Version flag' in demo's To Do; start it with `lazyaf card start {card_id[:8]} --follow`.\n"
    )
    [card] = cards_of(server)
    assert (card["id"], card["status"], card["priority"]) == (card_id, "todo", 2)
    assert card["description"] == spec.read_text()


def test_new_reads_the_description_from_stdin(lazyaf: Invoke, server: LiveServer, demo: None) -> None:
    result = lazyaf("card", "new", "demo", "From stdin", "--description-file", "-", input="Do the thing.\n")

    assert result.exit_code == 0, result.output
    assert cards_of(server)[0]["description"] == "Do the thing.\n"


def test_new_refuses_two_descriptions_and_creates_nothing(
    lazyaf: Invoke, server: LiveServer, demo: None, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.md"
    spec.write_text("x")

    result = lazyaf("card", "new", "demo", "T", "--description", "y", "--description-file", spec)

    assert error_line(result) == "Pass either --description or --description-file, not both."
    assert cards_of(server) == []


def test_new_in_an_unknown_repo(lazyaf: Invoke, server: LiveServer, demo: None) -> None:
    result = lazyaf("card", "new", "nope", "T")

    assert error_line(result) == "No repo named 'nope' (or with that id); see `lazyaf repos`."
    assert cards_of(server) == []


def test_new_with_a_title_the_server_refuses(lazyaf: Invoke, server: LiveServer, demo: None) -> None:
    result = lazyaf("card", "new", "demo", "   ")

    assert error_line(result) == "Invalid request: title: String should have at least 1 character."
    assert cards_of(server) == []


def test_a_priority_that_is_not_one(lazyaf: Invoke, demo: None) -> None:
    result = lazyaf("card", "new", "demo", "T", "--priority", "meh")

    assert result.exit_code == 2
    assert "'meh' is not a priority; use low, normal, high or urgent (or 0-3)." in result.stderr


def test_cards_lists_columns_in_plain_text_when_piped(lazyaf: Invoke, server: LiveServer, demo: None) -> None:
    first = new(lazyaf, "First card")
    second = new(lazyaf, "Second card", "--priority", "urgent")

    result = lazyaf("cards", "demo")

    assert result.exit_code == 0, result.output
    assert not ANSI.search(result.stdout)
    assert result.stdout.splitlines() == [
        "ID        STATUS  PRIORITY  TITLE        BRANCH",
        f"{first[:8]}  todo    normal    First card   -",
        f"{second[:8]}  todo    urgent    Second card  -",
    ]
    assert lazyaf("cards", "demo", "--status", "in_review").stdout == (
        "No cards in in_review in demo; add one with `lazyaf card new demo TITLE`.\n"
    )


def test_cards_of_an_unknown_repo(lazyaf: Invoke, server: LiveServer) -> None:
    assert (
        error_line(lazyaf("cards", "nope")) == "No repo named 'nope' (or with that id); see `lazyaf repos`."
    )


@pytest.mark.parametrize("form", ["id", "prefix", "hash", "repo", "repo-id", "upper", "dashed"])
def test_a_card_by_id_prefix_or_repo_and_prefix(
    lazyaf: Invoke, server: LiveServer, demo: None, form: str
) -> None:
    card_id = new(lazyaf, "Named card")
    repo_id = cards_of(server)[0]["repo_id"]
    ref = {
        "id": card_id,
        "prefix": card_id[:8],
        "hash": f"#{card_id[:8]}",
        "repo": f"demo#{card_id[:6]}",
        "repo-id": f"{repo_id}#{card_id[:6]}",
        "upper": card_id[:8].upper(),
        "dashed": card_id[:13],
    }[form]

    result = lazyaf("card", "show", ref, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["card"]["id"] == card_id


def test_unknown_cards(lazyaf: Invoke, server: LiveServer, demo: None) -> None:
    card_id = new(lazyaf, "Only card")
    other = "0" if card_id[0] != "0" else "1"
    missing = str(uuid.uuid4())

    assert error_line(lazyaf("card", "show", f"{other}abc")) == (
        f"No card in any repo has an id starting with '{other}abc'; "
        "pass a card id, an id prefix such as 3f2a1b9c, or REPO#prefix."
    )
    assert error_line(lazyaf("card", "start", f"demo#{other}abc")).startswith(
        f"No card in repo 'demo' has an id starting with '{other}abc'; "
    )
    assert (
        error_line(lazyaf("card", "approve", missing))
        == f"No card with id {missing}; see `lazyaf cards REPO`."
    )
    assert error_line(lazyaf("card", "show", "hello")) == (
        "'hello' is not a card id; pass a card id, an id prefix such as 3f2a1b9c, or REPO#prefix."
    )
    assert error_line(lazyaf("card", "show", "nope#abc")) == (
        "No repo named 'nope' (or with that id); see `lazyaf repos`."
    )
    assert cards_of(server)[0]["status"] == "todo"


def test_an_ambiguous_prefix_lists_the_candidates(
    lazyaf: Invoke, server: LiveServer, demo: None, tmp_path: Path
) -> None:
    # 17 ids among 16 possible first characters: at least two share one.
    ids = [new(lazyaf, f"Card {n}") for n in range(17)]
    first, _ = Counter(i[0] for i in ids).most_common(1)[0]
    matching = sorted((i for i in ids if i[0] == first), key=lambda i: ids.index(i))

    line = error_line(lazyaf("card", "start", first))

    shown = "; ".join(f"demo#{i[:8]} 'Card {ids.index(i)}'" for i in matching)
    assert line == f"'{first}' matches {len(matching)} cards: {shown}. Pass more of the id."
    assert {c["status"] for c in cards_of(server)} == {"todo"}
    # Any of the candidates, as listed, names exactly one card.
    assert lazyaf("card", "show", f"demo#{matching[0][:8]}").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["cards", "demo"],
        ["card", "new", "demo", "T"],
        ["card", "show", "3f2a1b9c"],
        ["card", "start", "3f2a1b9c", "--follow"],
        ["card", "logs", "3f2a1b9c", "--follow"],
        ["card", "approve", "demo#3f2a"],
        ["runners"],
        ["runners", "scale", "local", "2"],
    ],
    ids=" ".join,
)
def test_server_down_is_one_line(down_url: str, args: list[str]) -> None:
    result = invoke("--server", down_url, *args)

    assert error_line(result) == f"LazyAF server not reachable at {down_url}; start it with `lazyaf serve`."


def test_start_without_a_runner_then_cancel(lazyaf: Invoke, server: LiveServer, demo: None) -> None:
    card_id = new(lazyaf, "Waits")

    started = lazyaf("card", "start", card_id[:8])

    assert started.exit_code == 0, started.output
    card = cards_of(server)[0]
    assert card["status"] == "in_progress"
    assert started.stdout == (
        f"Started 'Waits' (build job {card['job_id'][:8]}, queued); "
        f"follow it with `lazyaf card logs {card_id[:8]} --follow`.\n"
    )
    again = lazyaf("card", "start", card_id[:8])
    assert error_line(again).startswith("Card 'Waits' is in_progress")

    cancelled = lazyaf("card", "cancel", card_id[:8])

    assert cancelled.stdout == "Cancelled the build job of 'Waits'; the card is back in To Do.\n"
    assert cards_of(server)[0]["status"] == "todo"


def test_start_without_a_model_credential_is_one_line_saying_what_to_do(
    lazyaf: Invoke, server: LiveServer, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    card_id = new(lazyaf, "Needs a login")
    server.settings.anthropic_api_key = None
    for name in (*credentials.MODEL_CREDENTIAL_VARIABLES, "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)

    started = lazyaf("card", "start", card_id[:8])

    assert error_line(started) == credentials.NO_CREDENTIAL
    assert cards_of(server)[0]["status"] == "todo" and cards_of(server)[0]["job_id"] is None


def test_following_a_card_cancelled_elsewhere_exits_1(lazyaf: Invoke, server: LiveServer, demo: None) -> None:
    card_id = new(lazyaf, "Waits")
    assert lazyaf("card", "start", card_id[:8]).exit_code == 0
    job_id = cards_of(server)[0]["job_id"]

    def cancel() -> None:
        assert httpx.post(server.api(f"/jobs/{job_id}/cancel"), timeout=10).status_code == 200

    result = run_on_pty(
        "card", "logs", card_id[:8], "--follow", server=server.url, when=[("waiting for a runner", cancel)]
    )

    assert result.returncode == 1
    assert "queued, waiting for a runner" in ANSI.sub("", result.output)  # the spinner, while it waited
    assert result.text.strip().splitlines()[-1] == (
        "Error: Card 'Waits' went back to To Do: its job was cancelled."
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approve"], "Card 'Not yet' is todo: only in_review cards can be approved."),
        (["reject"], "Card 'Not yet' is todo: only in_review cards can be rejected."),
        (["retry"], "Card 'Not yet' is todo: only failed cards can be retried."),
        (["request-changes"], "Card 'Not yet' is todo: changes can be requested only in review."),
        (["diff"], "Card 'Not yet' has no branch yet; start it first."),
        (["logs"], "Card 'Not yet' has not run yet; start it with `lazyaf card start {ref} --follow`."),
        (["cancel"], "Card 'Not yet' has no job to cancel."),
        (["comment", "x", "--line", "3"], "--line needs --file: say which file the line is in."),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else "",
)
def test_refusals_say_why_and_change_nothing(
    lazyaf: Invoke, server: LiveServer, demo: None, args: list[str], message: str
) -> None:
    card_id = new(lazyaf, "Not yet")
    before = cards_of(server)

    result = lazyaf("card", args[0], card_id[:8], *args[1:])

    assert error_line(result) == message.format(ref=card_id[:8])
    assert cards_of(server) == before


def test_show_a_card_that_never_ran(lazyaf: Invoke, server: LiveServer, demo: None) -> None:
    card_id = new(lazyaf, "Fresh", "--description", "Line one\nLine two")

    result = lazyaf("card", "show", card_id[:8])

    assert result.stdout == (
        "Fresh\n"
        f"  id          {card_id}\n"
        "  repo        demo\n"
        "  status      todo\n"
        "  priority    normal\n"
        "  attempts    0 of 3 used\n"
        "\n"
        "  Line one\n"
        "  Line two\n"
    )


def test_whole_card_comment(lazyaf: Invoke, server: LiveServer, demo: None) -> None:
    card_id = new(lazyaf, "Talk")

    result = lazyaf("card", "comment", card_id[:8], "Use a friendlier tone", "--json")

    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert (made["body"], made["file"], made["line"], made["job_id"]) == (
        "Use a friendlier tone",
        None,
        None,
        None,
    )


def test_runners_scale_and_list(lazyaf: Invoke, server: LiveServer) -> None:
    assert lazyaf("runners").stdout == (
        f"Pool: local 0, docker 0{'' if _docker(server) else ' (no Docker engine here)'}.\n"
        "No runners yet; start one with `lazyaf runners scale local 1`.\n"
    )

    scaled = lazyaf("runners", "scale", "local", "1")

    assert scaled.stdout == "Local runners: 1 (was 0).\n"
    wait_until(lambda: json.loads(lazyaf("runners", "--json").stdout)["runners"], 30)
    listed = lazyaf("runners").stdout.splitlines()
    assert listed[1].split() == ["NAME", "KIND", "STATUS", "JOB", "SEEN"]
    assert listed[2].split()[:2] == ["local-1", "local"]
    assert lazyaf("runners", "scale", "local", "0").stdout == "Local runners: 0 (was 1).\n"
    assert lazyaf("runners", "scale", "local", "0").stdout == "Local runners: 0 (unchanged).\n"


def _docker(server: LiveServer) -> bool:
    available: bool = httpx.get(server.api("/runners"), timeout=30).json()["docker_available"]
    return available


# approve's expected_head: sent only to a server whose OpenAPI document takes it.

CARD_ID = "3f2a1b9c-0000-4000-8000-000000000001"
REPO_ID = "9e1d0c2b-0000-4000-8000-000000000002"
HEAD = "a" * 40


def _approve_routes(accepts: bool) -> dict[tuple[str, str], tuple[int, object]]:
    body_schema = {"$ref": "#/components/schemas/ApproveBody"}
    approve: dict[str, Any] = {"responses": {}}
    if accepts:
        approve["requestBody"] = {
            "content": {"application/json": {"schema": {"anyOf": [body_schema, {"type": "null"}]}}}
        }
    card = {"id": CARD_ID, "repo_id": REPO_ID, "title": "T", "status": "in_review", "branch_name": "lazyaf/t"}
    repo = {"id": REPO_ID, "name": "demo", "default_branch": "main"}
    return {
        ("GET", "/openapi.json"): (
            200,
            {
                "paths": {APPROVE_PATH: {"post": approve}},
                "components": {
                    "schemas": {"ApproveBody": {"properties": {"expected_head": {"type": "string"}}}}
                },
            },
        ),
        ("GET", f"/api/cards/{CARD_ID}"): (200, card),
        ("GET", f"/api/repos/{REPO_ID}"): (200, repo),
        ("GET", f"/api/repos/{REPO_ID}/branches"): (
            200,
            [{"name": "lazyaf/t", "sha": HEAD, "is_default": False}],
        ),
        ("POST", f"/api/cards/{CARD_ID}/approve"): (
            200,
            {"card": {**card, "status": "done"}, "merge_sha": "b" * 40},
        ),
    }


@pytest.mark.parametrize("accepts", [True, False])
def test_approve_sends_the_head_it_read_when_the_server_takes_it(accepts: bool) -> None:
    with canned_server(_approve_routes(accepts)) as canned:
        result = invoke("--server", canned.url, "card", "approve", CARD_ID)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"Approved 'T': merged lazyaf/t ({HEAD[:7]}) into main as bbbbbbb.\n"
    [body] = [body for method, path, _, body in canned.seen if method == "POST"]
    assert body == ({"expected_head": HEAD} if accepts else None)


def test_approve_refuses_a_head_other_than_the_one_reviewed() -> None:
    with canned_server(_approve_routes(True)) as canned:
        result = invoke("--server", canned.url, "card", "approve", CARD_ID, "--head", "1234567")

    assert error_line(result) == (
        f"Branch lazyaf/t is at {HEAD[:7]}, not 1234567: read it again with `lazyaf card diff 3f2a1b9c`."
    )
    assert not [path for method, path, _, _ in canned.seen if method == "POST"]
