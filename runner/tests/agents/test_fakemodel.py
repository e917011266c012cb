"""The scripted model speaks the Messages API wire format (what the real CLI relies on)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from fakemodel import (
    FakeModel,
    HttpError,
    ModelRequest,
    Steps,
    Thinking,
    ToolUse,
    reply,
)

HEADERS = {"x-api-key": "sk-test-x", "anthropic-version": "2023-06-01"}


@pytest.fixture
def client(fake_model: FakeModel) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake_model.url, headers=HEADERS, timeout=10) as client:
        yield client


def body(*messages: dict[str, object], stream: bool = True) -> dict[str, object]:
    return {"model": "claude-test", "max_tokens": 100, "stream": stream, "messages": list(messages)}


def prompt(text: str) -> dict[str, object]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def sse(response: httpx.Response) -> list[tuple[str, dict[str, object]]]:
    events = []
    for chunk in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_head_is_answered(client: httpx.Client, fake_model: FakeModel) -> None:
    assert client.head("/").status_code == 200
    assert [r.method for r in fake_model.all_requests] == ["HEAD"]
    assert fake_model.requests == []


def test_streamed_reply_is_server_sent_events(client: httpx.Client, fake_model: FakeModel) -> None:
    fake_model.script = Steps(
        reply(Thinking("hmm"), "Writing.", ToolUse("Write", {"file_path": "a", "content": "b"}))
    )

    response = client.post("/v1/messages?beta=true", json=body(prompt("go")))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse(response)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert "".join(d.get("text", "") for d in deltas) == "Writing."
    assert "".join(d.get("thinking", "") for d in deltas) == "hmm"
    assert json.loads("".join(d.get("partial_json", "") for d in deltas)) == {
        "file_path": "a",
        "content": "b",
    }
    starts = [data["content_block"]["type"] for name, data in events if name == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use"]
    message_delta = events[-2][1]
    assert message_delta["delta"]["stop_reason"] == "tool_use"
    assert message_delta["usage"] == {"output_tokens": 40}
    assert fake_model.requests[0].query == "beta=true"


def test_non_streaming_request_gets_one_json_message(client: httpx.Client, fake_model: FakeModel) -> None:
    fake_model.script = Steps("Hello.")

    response = client.post("/v1/messages", json=body(prompt("hi"), stream=False))

    message = response.json()
    assert response.headers["content-type"] == "application/json"
    assert message["content"] == [{"type": "text", "text": "Hello."}]
    assert (message["stop_reason"], message["model"]) == ("end_turn", "claude-test")
    assert message["usage"]["input_tokens"] == 1200


def test_error_step_answers_like_the_api(client: httpx.Client, fake_model: FakeModel) -> None:
    fake_model.script = Steps(HttpError(400, "scripted bad request"))

    response = client.post("/v1/messages", json=body(prompt("hi")))

    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error"
    assert error["error"] == {"type": "invalid_request_error", "message": "scripted bad request"}
    assert response.headers["request-id"].startswith("req_")


def test_broken_script_answers_500_instead_of_hanging(client: httpx.Client, fake_model: FakeModel) -> None:
    def broken(request: ModelRequest) -> Steps:
        raise KeyError("oops")

    fake_model.script = broken  # type: ignore[assignment]

    assert client.post("/v1/messages", json=body(prompt("hi"))).status_code == 500


def test_steps_follow_assistant_turns_since_the_latest_prompt() -> None:
    script = Steps("first", "second", "third")
    tool_turn = [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]
    reminder = {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"}]}

    def step(*messages: dict[str, object]) -> str:
        request = ModelRequest("POST", "/v1/messages", {}, {"messages": list(messages)})
        blocks = script(request).blocks  # type: ignore[union-attr]
        return blocks[0].text  # type: ignore[union-attr]

    assert step(prompt("a")) == "first"
    assert step(prompt("a"), *tool_turn) == "second"
    assert step(prompt("a"), *tool_turn, *tool_turn, *tool_turn) == "third"  # the last one repeats
    # A resumed session: a new prompt after the old conversation starts from the first step.
    old = [prompt("a"), *tool_turn, {"role": "assistant", "content": "done"}]
    assert step(*old, {"role": "user", "content": "b"}) == "first"
    assert step(*old, {"role": "user", "content": "b"}, *tool_turn) == "second"
    # A reminder alone is not a prompt.
    assert step(prompt("a"), *tool_turn, reminder) == "second"


def test_requests_are_recorded_with_helpers(client: httpx.Client, fake_model: FakeModel) -> None:
    client.post(
        "/v1/messages", json=body(prompt("<system-reminder>ctx</system-reminder>"), prompt("make it"))
    )

    [request] = fake_model.requests
    assert request.last_user_text == "make it"
    assert request.stream and request.headers["x-api-key"] == "sk-test-x"
    assert request.contains("make it") and not request.contains("something else")
