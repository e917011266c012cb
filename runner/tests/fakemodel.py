"""A scripted stand-in for the Anthropic Messages API, for driving the real Claude Code CLI.

Point the CLI at it with `ANTHROPIC_BASE_URL=<model.url>` and any `ANTHROPIC_API_KEY`. It
answers `HEAD /` (the CLI's preconnect) and `POST /v1/messages` the way the real API does:
streaming server-sent events (`message_start`, `content_block_start`, `content_block_delta`
with `text_delta` / `input_json_delta` / `thinking_delta`, `content_block_stop`,
`message_delta` with the stop reason and usage, `message_stop`), or one JSON message when the
request does not ask to stream (the CLI's fallback after a broken stream).

What the model says is decided by a *script*: any callable that takes the `ModelRequest` and
returns the next `Step` — a `Reply` (text, tool calls, thinking), an `HttpError`, or `Hang`
(never answer). `Steps(...)` is the usual script: it plays its steps in order, choosing by how
many assistant turns the conversation already has since the latest prompt, so it is
deterministic however the CLI retries, and a resumed session starts again from the first step.

Only the standard library is used, so other test suites can import this file as it is:

    model = FakeModel(write_file_script("hello.txt", "hi\\n"))
    with model:
        env["ANTHROPIC_BASE_URL"] = model.url
        ...
    model.requests[-1].messages   # what the CLI sent, in order
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

INPUT_TOKENS = 1200
"""Input tokens reported for every turn (as in the recorded transcripts)."""
OUTPUT_TOKENS = 40
"""Output tokens reported for every turn."""


# --- what a script can answer ------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Thinking:
    thinking: str
    signature: str = "sig-fake"


@dataclass(frozen=True)
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str | None = None  # generated when None


Block = Text | Thinking | ToolUse


@dataclass(frozen=True)
class Reply:
    """One assistant turn. The stop reason is `tool_use` when it calls a tool."""

    blocks: tuple[Block, ...]
    stop_reason: str | None = None

    @property
    def effective_stop_reason(self) -> str:
        if self.stop_reason:
            return self.stop_reason
        return "tool_use" if any(isinstance(b, ToolUse) for b in self.blocks) else "end_turn"


@dataclass(frozen=True)
class HttpError:
    """An error answer, shaped like the API's: `{"type": "error", "error": {...}}`."""

    status: int
    message: str
    error_type: str | None = None  # derived from the status when None

    @property
    def effective_type(self) -> str:
        if self.error_type:
            return self.error_type
        return {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            413: "request_too_large",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(self.status, "api_error")


@dataclass(frozen=True)
class Hang:
    """Never answer (the connection stays open until the model is closed)."""


Step = Reply | HttpError | Hang


def reply(*blocks: Block | str, stop_reason: str | None = None) -> Reply:
    """A `Reply` from blocks; a plain string is a text block."""
    return Reply(tuple(Text(b) if isinstance(b, str) else b for b in blocks), stop_reason)


# --- what the CLI asked --------------------------------------------------------------------


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


@dataclass
class ModelRequest:
    """One request the CLI made, as received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def query(self) -> str:
        return urlsplit(self.path).query

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def _is_prompt(self, message: dict[str, Any]) -> bool:
        # A user message that answers no tool call is a prompt (`-p`, or a resumed follow-up);
        # one made only of <system-reminder> blocks is the CLI talking, not a prompt.
        blocks = _blocks(message)
        if message.get("role") != "user" or any(b.get("type") == "tool_result" for b in blocks):
            return False
        texts = [str(b.get("text", "")).strip() for b in blocks if b.get("type") == "text"]
        return not texts or not all(t.startswith("<system-reminder>") for t in texts)

    @property
    def prompts(self) -> list[str]:
        """The text of each prompt message, oldest first (system reminders included)."""
        return [
            "\n".join(b.get("text", "") for b in _blocks(m) if b.get("type") == "text")
            for m in self.messages
            if self._is_prompt(m)
        ]

    @property
    def last_user_text(self) -> str:
        """Text of the latest prompt (the `-p` argument appears in it)."""
        prompts = self.prompts
        return prompts[-1] if prompts else ""

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """Every tool_result block in the conversation, oldest first."""
        return [
            b
            for m in self.messages
            if m.get("role") == "user"
            for b in _blocks(m)
            if b.get("type") == "tool_result"
        ]

    @property
    def turn(self) -> int:
        """Assistant turns since the latest prompt: 0 for the first request of a prompt."""
        count = 0
        for message in reversed(self.messages):
            if self._is_prompt(message):
                break
            if message.get("role") == "assistant":
                count += 1
        return count

    def contains(self, text: str) -> bool:
        """Whether `text` occurs anywhere in the request body."""
        return text in json.dumps(self.body, ensure_ascii=False)


Script = Callable[[ModelRequest], Step]


class Steps:
    """Plays its steps in order, one per assistant turn since the latest prompt; repeats the last."""

    def __init__(self, *steps: Step | str) -> None:
        if not steps:
            raise ValueError("Steps needs at least one step.")
        self.steps = [reply(s) if isinstance(s, str) else s for s in steps]

    def __call__(self, request: ModelRequest) -> Step:
        return self.steps[min(request.turn, len(self.steps) - 1)]


# --- ready-made scripts --------------------------------------------------------------------


def text_script(text: str = "Done.") -> Steps:
    return Steps(text)


def write_file_script(path: str, content: str, final: str = "Done.") -> Steps:
    """Write `path` (relative paths are relative to the CLI's cwd) with the Write tool, then say `final`."""
    return Steps(
        reply(f"I'll create {path}.", ToolUse("Write", {"file_path": path, "content": content})), final
    )


def bash_script(command: str, final: str = "Done.", description: str = "Run a command") -> Steps:
    return Steps(reply(ToolUse("Bash", {"command": command, "description": description})), final)


def commit_script(
    path: str = "hello.txt",
    content: str = "Hello from the scripted model\n",
    message: str = "Add hello.txt",
    final: str = "Done.",
) -> Steps:
    """Write a file, commit everything with Bash, then say `final` (the recorded transcript)."""
    command = f"git add -A && git commit -q -m {json.dumps(message)} && git log --oneline -1"
    return Steps(
        reply(f"I'll create {path}.", ToolUse("Write", {"file_path": path, "content": content})),
        reply(ToolUse("Bash", {"command": command, "description": "Commit the change"})),
        final,
    )


def error_script(status: int = 400, message: str = "scripted bad request") -> Steps:
    return Steps(HttpError(status, message))


def hang_script() -> Steps:
    return Steps(Hang())


# --- the server ----------------------------------------------------------------------------


class FakeModel:
    """The scripted Messages API on 127.0.0.1, served from a background thread.

    `requests` holds every `POST /v1/messages` in order; `all_requests` also holds the
    `HEAD /` preconnects and anything else. Set `script` at any time.
    """

    def __init__(self, script: Script | None = None, *, model: str | None = None) -> None:
        self.script: Script = script or text_script()
        self.model = model  # echoed from the request when None
        self.requests: list[ModelRequest] = []
        self.all_requests: list[ModelRequest] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._also: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeModel is not started.")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeModel:
        handler = type("Handler", (_Handler,), {"model": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-model", daemon=True
        )
        self._thread.start()
        return self

    def listen_also(self, host: str) -> str:
        """Answer on ``host`` too, same port (where containers reach the host: a Docker network's
        gateway); the URL there."""
        if self._server is None:
            raise RuntimeError("FakeModel is not started.")
        port = self._server.server_address[1]
        server = ThreadingHTTPServer((host, port), self._server.RequestHandlerClass)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-model-also", daemon=True
        )
        thread.start()
        self._also.append((server, thread))
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._closing.set()  # releases hanging answers
        for server, thread in [*self._also, (self._server, self._thread)]:
            if server is not None:
                server.shutdown()
                server.server_close()
            if thread is not None:
                thread.join(timeout=5)

    def __enter__(self) -> FakeModel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _record(self, request: ModelRequest) -> int:
        with self._lock:
            self.all_requests.append(request)
            if request.method == "POST" and urlsplit(request.path).path == "/v1/messages":
                self.requests.append(request)
            return next(self._ids)


def _message(step: Reply, *, model: str, number: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for index, block in enumerate(step.blocks):
        if isinstance(block, Text):
            content.append({"type": "text", "text": block.text})
        elif isinstance(block, Thinking):
            content.append({"type": "thinking", "thinking": block.thinking, "signature": block.signature})
        else:
            tool_id = block.id or f"toolu_fake{number:08d}{index:04d}"
            content.append({"type": "tool_use", "id": tool_id, "name": block.name, "input": block.input})
    return {
        "id": f"msg_fake{number:08d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": step.effective_stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": INPUT_TOKENS,
            "output_tokens": OUTPUT_TOKENS,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }


def _sse_events(message: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The event sequence of a streamed message, as the API sends it."""
    start = dict(message, content=[], stop_reason=None)
    start["usage"] = dict(message["usage"], output_tokens=1)
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            empty: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": part} for part in _halves(block["text"])]
        elif block["type"] == "thinking":
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": part} for part in _halves(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        else:
            empty = dict(block, input={})
            raw = json.dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": part} for part in _halves(raw)]
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": empty}
        for delta in deltas:
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _halves(text: str) -> list[str]:
    # Two deltas per block, so the client really has to assemble them.
    middle = len(text) // 2
    return [part for part in (text[:middle], text[middle:]) if part]


class _Handler(BaseHTTPRequestHandler):
    model: FakeModel
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like the real API

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_request(self) -> ModelRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        return ModelRequest(self.command, self.path, dict(self.headers.items()), body)

    def _send_json(self, status: int, payload: dict[str, Any], request_id: str) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", request_id)
        self.end_headers()
        self.wfile.write(data)

    def do_HEAD(self) -> None:
        self.model._record(ModelRequest("HEAD", self.path, dict(self.headers.items())))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        number = self.model._record(ModelRequest("GET", self.path, dict(self.headers.items())))
        error = {"type": "not_found_error", "message": f"Not found: {self.path}"}
        self._send_json(404, {"type": "error", "error": error}, f"req_fake{number:08d}")

    def do_POST(self) -> None:
        request = self._read_request()
        number = self.model._record(request)
        request_id = f"req_fake{number:08d}"
        path = urlsplit(self.path).path
        if path == "/v1/messages/count_tokens":
            self._send_json(200, {"input_tokens": INPUT_TOKENS}, request_id)
            return
        if path != "/v1/messages":
            error = {"type": "not_found_error", "message": f"Not found: {path}"}
            self._send_json(404, {"type": "error", "error": error}, request_id)
            return
        try:
            step = self.model.script(request)
        except Exception as exc:  # a broken script must show up in the test, not hang the CLI
            step = HttpError(500, f"fake model script failed: {exc!r}")
        if isinstance(step, Hang):
            self.model._closing.wait()
            self.close_connection = True
            return
        if isinstance(step, HttpError):
            error = {"type": step.effective_type, "message": step.message}
            self._send_json(
                step.status, {"type": "error", "error": error, "request_id": request_id}, request_id
            )
            return
        model = self.model.model or str(request.body.get("model") or "claude-fake")
        message = _message(step, model=model, number=number)
        if not request.stream:
            self._send_json(200, message, request_id)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", request_id)
        self.end_headers()
        try:
            for name, data in _sse_events(message):
                chunk = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
