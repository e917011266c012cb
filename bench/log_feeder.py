"""Play a runner that streams a long agent log: for board_bench.mjs's heap figure.

Connects to ``WS /api/runners/connect`` like a real runner (lazyaf_protocol.messages), claims the
queued job JOB_ID, enters the agent phase, then sends EVENTS normalized agent events (a seeded,
realistic mix of assistant text, thinking, tool calls and tool results, some of them errors),
pipelined with at most WINDOW unacknowledged, heartbeating meanwhile. The backend stores each one
and broadcasts it as a ``job_event`` to every board, exactly as for a real agent.

The backend takes each runner event in a transaction of its own (~100 a second on a busy
2-core machine: plenty for an agent, slow for 100,000), so ``--via db`` (the default) writes all
but the last event of each BATCH straight into the database with the backend's own code
(the ``job_event`` and ``board_event`` rows that ``orchestration.attempts.record_events`` writes, with its
models, a batch per transaction), then sends the batch's last event over the WebSocket: committing it rings the server's
event pump, which broadcasts the whole batch to every board in sequence order. The board
receives the same ``job_event`` frames either way. ``--via ws`` sends every event over the socket.

Prints one JSON line per milestone on stdout ({"assigned"}, {"progress"}, {"done"}), then holds
the job (heartbeating) until stdin closes, so the board keeps showing a running job while it is
measured. Run with LazyAF's venv (it imports lazyaf_protocol and websockets):

    .venv/bin/python bench/log_feeder.py --server http://127.0.0.1:8765 --job-id ID --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from typing import Any

import httpx
from lazyaf_protocol import messages as protocol
from websockets.asyncio.client import connect

WORDS = ["the", "function", "returns", "a", "list", "of", "cards", "sorted", "by", "position", "so", "the", "board", "can", "render", "each", "column", "without", "another", "query", "we", "keep", "the", "diff", "small", "and", "add", "a", "test", "for", "the", "empty", "case", "then", "run", "the", "suite", "again", "to", "make", "sure", "nothing", "else", "broke", "while", "the", "runner", "streams", "its", "output"]
TOOLS = ("Bash", "Read", "Edit", "Grep", "Write")
LAST_TEXT = "bench-last-event"


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def make_event(rng: random.Random, n: int, total: int) -> dict[str, Any]:
    """Event number n (1-based): a four-beat cycle of text, tool call, tool result, and either."""
    if n == total:
        return {"kind": "text", "text": f"{LAST_TEXT} {n}: all done."}
    beat = n % 4
    tool_id = f"toolu_bench{n // 4:08d}"
    if beat == 1:
        if rng.random() < 0.15:
            return {"kind": "thinking", "text": sentence(rng, 20, 80)}
        return {"kind": "text", "text": f"[{n}] " + sentence(rng, 8, 60)}
    if beat == 2:
        tool = rng.choice(TOOLS)
        if tool == "Bash":
            arguments: dict[str, Any] = {"command": f"pytest -q tests/test_{rng.randint(1, 99)}.py", "description": "Run tests"}
        elif tool in ("Read", "Write", "Edit"):
            arguments = {"file_path": f"src/module_{rng.randint(1, 500)}.py"}
            if tool != "Read":
                arguments["content"] = "\n".join(sentence(rng, 4, 12) for _ in range(rng.randint(1, 6)))
        else:
            arguments = {"pattern": rng.choice(WORDS), "path": "src"}
        return {"kind": "tool_call", "tool": tool, "tool_use_id": tool_id, "input": arguments}
    if beat == 3:
        lines = "\n".join(f"{i:4d}  " + sentence(rng, 3, 12) for i in range(rng.randint(2, 30)))
        is_error = rng.random() < 0.03
        return {"kind": "tool_result", "tool_use_id": tool_id, "output": lines, "is_error": is_error}
    if rng.random() < 0.01:
        return {"kind": "error", "text": "API error: overloaded, retrying in 2s"}
    return {"kind": "text", "text": f"[{n}] " + sentence(rng, 4, 30)}


class DirectWriter:
    """Writes job events with the backend's own code into its database (``--via db``)."""

    def __init__(self, data_dir: str, job_id: str, card_id: str) -> None:
        from lazyaf.db.engine import make_engine, make_sessionmaker
        from lazyaf.settings import Settings

        settings = Settings(data_dir=data_dir)
        self.engine = make_engine(settings.sqlalchemy_url)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.job_id, self.card_id = job_id, card_id

    async def write(self, attempt: int, events: list[tuple[int, dict[str, Any]]]) -> None:
        """One transaction per batch: the job_event rows and their board_event rows, in seq order."""
        import uuid
        from datetime import datetime

        from lazyaf.events.models import BoardEvent
        from lazyaf.jobs.models import JobEvent
        from sqlalchemy import insert

        now = datetime.now().astimezone()
        job = uuid.UUID(self.job_id)
        async with self.sessionmaker() as session:
            await session.execute(insert(JobEvent), [
                {"job_id": job, "attempt": attempt, "seq": seq, "kind": str(e.get("kind", "text"))[:20],
                 "data": e, "created_at": now}
                for seq, e in events
            ])
            await session.execute(insert(BoardEvent), [
                {"type": "job_event", "created_at": now, "data": {
                    "job_id": self.job_id, "card_id": self.card_id, "attempt": attempt, "seq": seq, "event": e}}
                for seq, e in events
            ])
            await session.commit()


async def run(args: argparse.Namespace) -> None:
    url = args.server.replace("http", "ws", 1).rstrip("/") + "/api/runners/connect"
    rng = random.Random(args.seed)
    # A runner authenticates: the registration token, asked for with the user's own (loopback) rights.
    async with httpx.AsyncClient(timeout=10) as http:
        token = (await http.get(args.server.rstrip("/") + "/api/runners/docker-command")).json()
    headers = {"Authorization": f"Bearer {token['registration_token']}"}
    async with connect(url, max_size=None, ping_interval=None, additional_headers=headers) as ws:
        await ws.send(protocol.Hello(name=args.name, kind="remote", agents=["claude"], version="bench").model_dump_json())
        welcome = protocol.backend_message.validate_json(await ws.recv())
        assert isinstance(welcome, protocol.Welcome), welcome
        assign = None
        deadline = time.monotonic() + 30
        while assign is None:
            await ws.send(protocol.Claim().model_dump_json())
            while True:
                message = protocol.backend_message.validate_json(await ws.recv())
                if isinstance(message, protocol.Assign):
                    if message.job_id != args.job_id:
                        raise SystemExit(f"assigned {message.job_id}, expected {args.job_id}: queue another job?")
                    assign = message
                    break
                if isinstance(message, protocol.NoJob):
                    break
            if assign is None:
                if time.monotonic() > deadline:
                    raise SystemExit(f"job {args.job_id} was never assigned")
                await asyncio.sleep(0.2)
        job_id, attempt = assign.job_id, assign.attempt
        say(assigned=job_id, attempt=attempt)
        await ws.send(protocol.Progress(job_id=job_id, attempt=attempt, phase="agent").model_dump_json())

        acked = 0
        window = asyncio.Condition()
        finished = asyncio.Event()

        async def receive() -> None:
            nonlocal acked
            async for raw in ws:
                message = protocol.backend_message.validate_json(raw)
                if isinstance(message, protocol.Ack):
                    async with window:
                        acked = max(acked, message.seq)
                        window.notify_all()
                elif isinstance(message, protocol.Revoked | protocol.Cancel | protocol.Shutdown):
                    raise SystemExit(f"the backend sent {message.type}")

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(max(welcome.heartbeat_interval, 0.5))
                await ws.send(protocol.Heartbeat(job_id=job_id, attempt=attempt).model_dump_json())

        async def stdin_closed() -> None:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
            finished.set()

        tasks = [asyncio.create_task(receive()), asyncio.create_task(heartbeat())]
        writer = DirectWriter(args.data_dir, job_id, assign.card_id) if args.via == "db" else None
        started = time.monotonic()
        pending: list[tuple[int, dict[str, Any]]] = []
        for seq in range(1, args.events + 1):
            if writer is not None and seq % args.batch and seq != args.events:
                pending.append((seq, make_event(rng, seq, args.events)))
                continue
            if pending and writer is not None:
                await writer.write(attempt, pending)
                pending = []
            if writer is None and seq - acked > args.window:
                async with window:
                    await window.wait_for(lambda s=seq: s - acked <= args.window)
            event = make_event(rng, seq, args.events)
            await ws.send(protocol.Event(job_id=job_id, attempt=attempt, seq=seq, event=event).model_dump_json())
            if writer is not None:  # its commit rings the pump; the next batch waits for it, to stay in order
                async with window:
                    await window.wait_for(lambda s=seq: acked >= s)
            if seq % 10_000 == 0:
                say(progress=seq, acked=acked, seconds=round(time.monotonic() - started, 1))
        async with window:
            await window.wait_for(lambda: acked >= args.events)
        elapsed = time.monotonic() - started
        say(done=args.events, seconds=round(elapsed, 2), per_second=round(args.events / elapsed))
        waiter = asyncio.create_task(stdin_closed())
        await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=500, help="most events in flight without an ack")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default="bench-feeder")
    parser.add_argument("--via", choices=["db", "ws"], default="db")
    parser.add_argument("--batch", type=int, default=1000, help="events per database batch (--via db)")
    parser.add_argument("--data-dir", help="the server's data dir (--via db)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
