"""Follow a card live: its agent's log, its job's phase and status, until it reaches review or fails.

One WebSocket (``/ws?since=<seq>``) brings every board event committed after the REST answer
the follower started from (its ``X-LazyAF-Seq``), so nothing between reading the card and
connecting is missed; other cards' events are skipped. Events already printed from
``GET /jobs/{id}/logs`` are recognised by (job, attempt, seq) and not printed twice. A dropped
socket reconnects with ``?since=<last seq seen>``; a ``resync`` (the server no longer holds the
events we missed) re-reads the card and its log over REST.

A follow-up job (verification failed, so a *fix* job was queued) keeps the card in progress:
the follower moves on to it. It ends when the card leaves *in progress*.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from lazyaf_cli import output
from lazyaf_cli.client import ApiClient, Card, Job
from lazyaf_cli.context import AppContext
from lazyaf_cli.output import Spinner, first_line, short

FINAL_CARD = {"in_review", "done", "failed", "todo"}
SUCCESS_CARD = {"in_review", "done"}
FINAL_JOB = {"completed", "failed", "cancelled"}
RECONNECT_FOR = 30.0
"""Seconds of failed reconnects before the follower gives up on the server."""
SUMMARY_KEYS = ("command", "file_path", "path", "pattern", "url", "query", "description", "prompt")


def tool_summary(data: dict[str, Any] | None, limit: int = 160) -> str:
    """What a tool call does, in one line: its command, file, pattern… (as the board's log shows it)."""
    if not data:
        return ""
    text = next((data[k] for k in SUMMARY_KEYS if isinstance(data.get(k), str) and data[k]), "")
    if not text and isinstance(data.get("todos"), list):
        text = output.plural(len(data["todos"]), "todo")
    if not text:
        text = next((v for v in data.values() if isinstance(v, str) and v), "") or json.dumps(data)
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LogPrinter:
    """Writes a card's log for people (or NDJSON with --json): assistant text in full, each tool
    call on one line, failed tool results and errors in red, phases and job changes as notes."""

    def __init__(self, app: AppContext, spinner: Spinner) -> None:
        self.app = app
        self.spinner = spinner
        self._last: dict[tuple[str, int], int] = {}

    def is_new(self, job_id: str, attempt: int, seq: int) -> bool:
        """True once per (job, attempt, seq): events come in order within an attempt."""
        key = (job_id, attempt)
        if seq <= self._last.get(key, 0):
            return False
        self._last[key] = seq
        return True

    def event(self, job_id: str, attempt: int, seq: int, event: dict[str, Any]) -> None:
        if not self.is_new(job_id, attempt, seq):
            return
        if self.app.as_json:
            record = {"type": "event", "job_id": job_id, "attempt": attempt, "seq": seq, "event": event}
            self.spinner.echo(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
            return
        line = render_event(event)
        if line is not None:
            self.spinner.echo(line)

    def job(self, job: Job) -> None:
        if self.app.as_json:
            self.spinner.echo(json.dumps({"type": "job", "job": job}, separators=(",", ":")))

    def note(self, text: str, *, colour: str = "cyan") -> None:
        if not self.app.as_json:
            self.spinner.echo(click.style(f"· {text}", fg=colour))

    def header(self, job: Job) -> None:
        if not self.app.as_json:
            self.spinner.echo(click.style(f"── {job_title(job)}", bold=True))


def job_title(job: Job) -> str:
    """``build job 1a2b3c4d (completed, 12.3s, $0.0123)``."""
    return f"{job['kind']} job {short(job['id'])} ({', '.join([str(job['status']), *job_facts(job)])})"


def job_facts(job: Job) -> list[str]:
    """How long the job took (from its runner taking it to its end) and what its agent cost."""
    facts = []
    seconds = _between(job.get("started_at"), job.get("completed_at"))
    if seconds is None and job.get("duration_ms") is not None:
        seconds = job["duration_ms"] / 1000
    if seconds is not None:
        facts.append(output.duration(seconds))
    if job.get("cost_usd") is not None:
        facts.append(output.cost(job["cost_usd"]))
    return facts


def _between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return None


def render_event(event: dict[str, Any]) -> str | None:
    """One event as text for a person; None for events not worth a line."""
    kind = event.get("kind")
    if kind == "text":
        return str(event.get("text") or "")
    if kind == "thinking":
        return click.style(f"✻ {first_line(event.get('text'), 160)}", dim=True)
    if kind == "tool_call":
        summary = tool_summary(event.get("input"))
        return click.style(f"▸ {event.get('tool') or 'tool'}", bold=True) + (f" {summary}" if summary else "")
    if kind == "tool_result":
        if not event.get("is_error"):
            return None
        return click.style(f"  ✗ {first_line(event.get('output') or event.get('text'), 200)}", fg="red")
    if kind == "error":
        return click.style(f"error: {event.get('text') or event.get('output') or 'unknown'}", fg="red")
    if kind == "system":
        if event.get("subtype") != "init":
            return None
        model = f" (model {event['model']})" if event.get("model") else ""
        return click.style(f"· agent started{model}", dim=True)
    if kind == "result":
        facts = [output.plural(event["num_turns"], "turn")] if event.get("num_turns") is not None else []
        if event.get("duration_ms") is not None:
            facts.append(output.duration(event["duration_ms"] / 1000))
        if event.get("cost_usd") is not None:
            facts.append(output.cost(event["cost_usd"]))
        what = "agent failed" if event.get("is_error") else "agent done"
        return click.style(f"· {what}" + (f": {', '.join(facts)}" if facts else ""), dim=True)
    return None


def print_history(api: ApiClient, printer: LogPrinter, job: Job) -> None:
    """Everything the job has logged so far."""
    for stored in api.job_events(job["id"]):
        printer.event(job["id"], stored["attempt"], stored["seq"], stored["data"])


class Follower:
    """Watches one card over the board socket until it leaves *in progress*."""

    def __init__(self, app: AppContext, card: Card, printer: LogPrinter, spinner: Spinner) -> None:
        self.app = app
        self.card = card
        self.printer = printer
        self.spinner = spinner
        self.job: Job | None = None
        self.seq: int | None = None
        self.reconnecting: float | None = None
        """Since when the socket has been down (None while it is up)."""
        self._job_started = time.monotonic()

    def run(self, since: int | None, job: Job | None) -> Card:
        """Follow from board event ``since`` on; the card as it ended."""
        self.seq = since
        self._set_job(job, announce=False)
        self.spinner.show(self._progress)
        failing_since: float | None = None
        delay = 0.2
        while not self.finished():
            try:
                with self._socket() as ws:
                    failing_since = self.reconnecting = None
                    delay = 0.2
                    self._consume(ws)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403):
                    raise click.ClickException(
                        "The LazyAF server refused the board socket; set LAZYAF_TOKEN to the server's token."
                    ) from None
                failing_since = self.reconnecting = failing_since or time.monotonic()
                if time.monotonic() - failing_since > RECONNECT_FOR:
                    raise click.ClickException(
                        f"Lost the LazyAF server at {self.app.server} while following; the job goes on "
                        "there. Follow it again with `lazyaf card logs CARD --follow`."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 3.0)
        return self.card

    @contextmanager
    def _socket(self) -> Iterator[ClientConnection]:
        headers = {"Authorization": f"Bearer {self.app.token}"} if self.app.token else None
        ws = connect(
            self.app.api.ws_url(self.seq),
            additional_headers=headers,
            open_timeout=10,
            max_size=None,
            compression=None,
        )
        try:
            yield ws
        finally:
            ws.close()

    def finished(self) -> bool:
        """Whether following is over: the card left *in progress*."""
        return self.card["status"] in FINAL_CARD

    def _consume(self, ws: ClientConnection) -> None:
        while not self.finished():
            frame = json.loads(ws.recv())
            kind, data = frame.get("type"), frame.get("data") or {}
            if kind == "resync":
                self._resync()
            elif kind != "hello":
                self._apply(kind, data)
            if isinstance(frame.get("seq"), int):
                self.seq = frame["seq"]
            elif kind in ("hello", "resync") and self.seq is None:
                self.seq = data.get("seq")

    def _apply(self, kind: str, data: dict[str, Any]) -> None:
        card_id = self.card["id"]
        if kind == "job_event" and data.get("card_id") == card_id:
            self.printer.event(data["job_id"], data["attempt"], data["seq"], data.get("event") or {})
        elif kind == "job_status" and data.get("job", {}).get("card_id") == card_id:
            self._job_changed(data["job"])
        elif kind == "card_updated" and data.get("card", {}).get("id") == card_id:
            self._card_changed(data["card"])
        elif kind == "card_deleted" and data.get("card_id") == card_id:
            raise click.ClickException("The card was deleted while you followed it.")

    def _card_changed(self, card: Card) -> None:
        self.card = card
        if self.app.as_json:
            self.spinner.echo(json.dumps({"type": "card", "card": card}, separators=(",", ":")))
        if card.get("job_id") and (self.job is None or card["job_id"] != self.job["id"]):
            self._set_job(self.app.api.get_job(card["job_id"]), announce=True)

    def _job_changed(self, job: Job) -> None:
        if self.job is not None and job["id"] != self.job["id"]:
            if job["id"] != self.card.get("job_id"):
                return  # an older job of this card
            self._set_job(job, announce=True)
            return
        before = self.job or {}
        self.job = job
        self.printer.job(job)
        notes = []
        if before.get("status") != job["status"] and job["status"] in ("queued", "running"):
            if job["status"] == "running":
                self._job_started = time.monotonic()
            notes.append(f"job {job['status']}")
        if job.get("phase") and before.get("phase") != job["phase"]:
            notes.append(f"phase: {job['phase']}")
        if notes:
            self.printer.note(", ".join(notes))

    def _set_job(self, job: Job | None, *, announce: bool) -> None:
        if job is None:
            return
        self.job = job
        self._job_started = time.monotonic()
        if announce:
            self.printer.job(job)
            self.printer.header(job)

    def _resync(self) -> None:
        self._card_changed(self.app.api.get_card(self.card["id"]))
        if self.job is not None:
            print_history(self.app.api, self.printer, self.job)

    def _progress(self) -> str:
        if self.reconnecting is not None:
            return f"lost the server, reconnecting ({output.elapsed_since(self.reconnecting)})"
        job = self.job
        if job is None or job["status"] == "queued":
            reason = self.card.get("waiting_reason")
            return f"queued, {reason or 'waiting for a runner'} ({output.elapsed_since(self._job_started)})"
        phase = job.get("phase") or job["status"]
        return f"{job['kind']} · {phase} · {output.elapsed_since(self._job_started)}"
