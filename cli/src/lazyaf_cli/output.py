"""How the CLI writes numbers, names and statuses: one format for each, everywhere.

Costs are dollars with four decimals (``$0.0123``); durations under a minute have one decimal
(``4.2s``), longer ones minutes and seconds (``3m 05s``) or hours and minutes (``1h 02m``);
counts agree with their nouns (``1 file``, ``2 files``). Colour goes through ``click.style``:
``click.echo`` drops it when the output is not a terminal.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import click

LISTED = 10
SHORT_ID = 8
"""Characters of an id shown for a card or job, as on the board's tiles."""

STATUS_COLOURS = {
    "todo": "white",
    "in_progress": "cyan",
    "in_review": "yellow",
    "done": "green",
    "failed": "red",
    "queued": "cyan",
    "running": "cyan",
    "completed": "green",
    "cancelled": "magenta",
    "idle": "green",
    "busy": "cyan",
    "offline": "red",
    "restarting": "yellow",
}
PRIORITIES = ("low", "normal", "high", "urgent")
COLUMNS = {
    "todo": "To Do",
    "in_progress": "In Progress",
    "in_review": "In Review",
    "done": "Done",
    "failed": "Failed",
}


def listing(names: list[str]) -> str:
    """``a, b, c``; past ten names, the first ten and how many more."""
    if len(names) <= LISTED:
        return ", ".join(names)
    return ", ".join(names[:LISTED]) + f" and {len(names) - LISTED} more"


def table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns two spaces apart; the first row is the header.

    Cells may hold colour codes: widths are measured on the visible text.
    """
    widths = [max(len(click.unstyle(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell + " " * (w - len(click.unstyle(cell))) for cell, w in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    )


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 commit``, ``2 commits``; ``nouns`` for irregular plurals."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def cost(usd: float | None) -> str:
    """``$0.0123``; ``-`` when unknown."""
    return "-" if usd is None else f"${usd:.4f}"


def duration(seconds: float | None) -> str:
    """``4.2s`` under a minute, ``3m 05s`` under an hour, else ``1h 02m``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 59.95:
        return f"{max(seconds, 0):.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def short(identifier: str | None) -> str:
    return (identifier or "")[:SHORT_ID]


def status(name: str | None) -> str:
    """A status in its colour."""
    text = str(name or "-")
    return click.style(text, fg=STATUS_COLOURS.get(text))


def priority(value: int | None) -> str:
    return PRIORITIES[value] if value is not None and 0 <= value < len(PRIORITIES) else str(value)


def stats(job: dict[str, Any]) -> str:
    """``1 commit, 2 files, +10 -3`` from a job's counts; empty when it has none."""
    if job.get("commits") is None and job.get("files_changed") is None:
        return ""
    parts = []
    if job.get("commits") is not None:
        parts.append(plural(job["commits"], "commit"))
    if job.get("files_changed") is not None:
        parts.append(plural(job["files_changed"], "file"))
    if job.get("lines_added") is not None or job.get("lines_removed") is not None:
        parts.append(f"+{job.get('lines_added') or 0} -{job.get('lines_removed') or 0}")
    return ", ".join(parts)


def first_line(text: str | None, limit: int = 200) -> str:
    line = (text or "").strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def is_terminal(stream: IO[str] | None = None) -> bool:
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Spinner:
    """A one-line progress indicator on stderr, redrawn in place while the caller waits.

    Does nothing unless stderr is a terminal. Anything else printed while it spins goes through
    ``echo`` (or inside ``paused()``), which clears the line first and redraws it after, so the
    spinner never tears output apart.
    """

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    INTERVAL = 0.1

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = is_terminal(sys.stderr) if enabled is None else enabled
        self._text: Callable[[], str] | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._frames = itertools.cycle(self.FRAMES)
        self._shown = False

    def show(self, text: Callable[[], str] | str | None) -> None:
        """Spin with ``text`` (a string, or a function called at each frame); None hides it."""
        with self._lock:
            self._text = (lambda: text) if isinstance(text, str) else text
            if self._text is None:
                self._clear()
            elif self.enabled and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="spinner", daemon=True)
                self._thread.start()

    def echo(self, message: str = "", *, err: bool = False, nl: bool = True) -> None:
        with self._lock:
            self._clear()
            click.echo(message, err=err, nl=nl)
            self._draw()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self._clear()

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        if not self.enabled or self._text is None or self._stop.is_set():
            return
        width = _terminal_width() - 3
        text = self._text()
        if len(text) > width:
            text = text[: max(width - 1, 0)] + "…"
        sys.stderr.write(f"\r\033[K{click.style(next(self._frames), fg='cyan')} {text}")
        sys.stderr.flush()
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._shown = False


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        return 80


def elapsed_since(start: float) -> str:
    return duration(time.monotonic() - start)
