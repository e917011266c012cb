"""/ws fan-out benchmark: latency of board events to 200 WebSocket clients, against 1 client.

A benchmark, not a test: it prints a markdown table, writes ``bench/out/ws_bench.json`` and exits 0
whether or not the target is met (non-zero only when it could not measure). Run it with the
checkout's venv (websockets, httpx, uvloop)::

    .venv/bin/python bench/ws_bench.py                       # 200 clients in 2 processes, 200 events at 20/s
    .venv/bin/python bench/ws_bench.py --clients 500 --procs 4 --no-deflate

One LazyAF server (process and helpers from ``runner_bench.py``). Clients run in ``--procs``
worker processes of this script (``--worker``), each an asyncio loop (uvloop unless
``--client-loop asyncio``) holding its share of connections, so the clients do not starve on one
core while the server uses the other. Clients offer permessage-deflate, as browsers do, unless
``--no-deflate``.

Each phase connects its clients to ``/ws``, checks that every hello names the same last sequence
number, then creates ``--events`` cards through the API at ``--rate`` per second (one
``card_updated`` event each) and tells the workers the last sequence number published. Per
(client, event): latency = the client's wall clock when the frame is handed to it − the event's
``at`` (the server's creation time of the event row, before its transaction commits; same
machine, same clock). Every client must see every sequence number after its hello exactly once,
in order; anything else counts as lost, duplicated or out of order. The reference phase is the
same with 1 client; it runs first, on the same server. Target: p95 under 20 ms with 200 clients.

For diagnosis, ``--uvicorn KEY=VALUE`` runs the same ``lazyaf.server.run`` with one
``uvicorn.run()`` argument replaced (``ws_per_message_deflate=false``, ``loop=uvloop``).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from runner_bench import OUT, BenchError, Server, fmt, load_average, percentile, stop_all

SCRIPT = Path(__file__).resolve()


# --- worker: one process holding N client connections ---------------------------------------


class Client:
    """One board connection; keeps (receive time, raw frame) and parses nothing until the end."""

    def __init__(self) -> None:
        self.hello_seq: int | None = None
        self.frames: list[tuple[float, str]] = []


async def _hold(url: str, client: Client, ready: asyncio.Event, stop: asyncio.Event, deflate: bool) -> None:
    from websockets.asyncio.client import connect

    async with connect(
        url, max_size=None, open_timeout=60, compression="deflate" if deflate else None, ping_interval=None
    ) as ws:
        client.hello_seq = json.loads(await ws.recv())["data"]["seq"]
        ready.set()
        receive = asyncio.ensure_future(_receive(ws, client))
        await stop.wait()
        receive.cancel()


async def _receive(ws: Any, client: Client) -> None:
    frames = client.frames
    async for raw in ws:
        frames.append((time.time(), raw))  # first thing: the time the frame reached this client


async def worker_main(url: str, count: int, out: Path, deflate: bool) -> None:
    """Connect, report ready, record until told the last sequence number, write results."""
    clients = [Client() for _ in range(count)]
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in clients]
    gate = asyncio.Semaphore(25)  # connection storms make the server's accept loop the bottleneck

    async def start(i: int) -> asyncio.Task[None]:
        async with gate:
            task = asyncio.create_task(_hold(url, clients[i], readies[i], stop, deflate))
            await asyncio.wait(
                [task, asyncio.create_task(readies[i].wait())], return_when=asyncio.FIRST_COMPLETED
            )
            if task.done():
                task.result()  # a failed connection is the benchmark's failure
            return task

    t0 = time.perf_counter()
    tasks = [await t for t in asyncio.as_completed([start(i) for i in range(count)])]
    connect_s = time.perf_counter() - t0
    hellos = [c.hello_seq for c in clients]
    print(f"ready {min(hellos)} {max(hellos)} {connect_s:.3f}", flush=True)  # type: ignore[type-var]
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    last = int(line.split()[1])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(len(c.frames) < last - (c.hello_seq or 0) for c in clients):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # duplicates, if any, arrive too
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    out.write_text(json.dumps({"connect_s": connect_s, "clients": [_client_result(c) for c in clients]}))
    print("done", flush=True)


def _client_result(client: Client) -> dict[str, Any]:
    received = []
    for at_client, raw in client.frames:
        frame = json.loads(raw)
        if "seq" not in frame:
            continue
        at_server = datetime.fromisoformat(frame["at"]).timestamp()
        received.append([frame["seq"], (at_client - at_server) * 1000])
    return {"hello_seq": client.hello_seq, "received": received}


def run_worker(args: argparse.Namespace) -> int:
    if args.client_loop == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(worker_main(args.url, args.clients, args.worker_out, args.deflate))
    return 0


# --- orchestrator ---------------------------------------------------------------------------


class Workers:
    """``procs`` worker processes sharing ``clients`` connections; always stopped."""

    def __init__(self, url: str, clients: int, procs: int, workdir: Path, args: argparse.Namespace) -> None:
        procs = max(1, min(procs, clients))
        shares = [clients // procs + (i < clients % procs) for i in range(procs)]
        self.outs = [workdir / f"worker-{clients}-{i}.json" for i in range(procs)]
        self.procs = []
        for share, out in zip(shares, self.outs, strict=True):
            argv = [sys.executable, str(SCRIPT), "--worker", "--url", url, "--clients", str(share)]
            argv += ["--worker-out", str(out), "--client-loop", args.client_loop]
            argv += [] if args.deflate else ["--no-deflate"]
            self.procs.append(
                subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True
                )
            )

    def wait_ready(self) -> tuple[int, float]:
        """(the hello sequence number every client saw, slowest worker's connect seconds)."""
        seqs, connect = set(), 0.0
        for proc in self.procs:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line.startswith("ready"):
                raise BenchError(f"a client worker failed to connect (exit {proc.poll()}): {line.strip()!r}")
            _, lo, hi, seconds = line.split()
            seqs |= {int(lo), int(hi)}
            connect = max(connect, float(seconds))
        if len(seqs) != 1:
            raise BenchError(
                f"clients saw different hello sequence numbers {sorted(seqs)}; events were in flight"
            )
        return seqs.pop(), connect

    def finish(self, last_seq: int) -> list[dict[str, Any]]:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(f"end {last_seq}\n")
            proc.stdin.flush()
        results = []
        for proc, out in zip(self.procs, self.outs, strict=True):
            line = proc.stdout.readline() if proc.stdout else ""
            if not line.startswith("done"):
                raise BenchError(f"a client worker did not finish (exit {proc.poll()})")
            results.append(json.loads(out.read_text()))
        return results

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            proc.wait(5)


def published_seq(server: Server, at_least: int, timeout: float = 10) -> int:
    """The bus's last published sequence number, once it reaches ``at_least`` (from a fresh hello)."""
    from websockets.sync.client import connect

    deadline = time.monotonic() + timeout
    seq = -1
    while time.monotonic() < deadline:
        with connect(server.url.replace("http", "ws", 1) + "/ws") as ws:
            seq = int(json.loads(ws.recv(timeout=5))["data"]["seq"])
        if seq >= at_least:
            return seq
        time.sleep(0.05)
    raise BenchError(f"the server published up to seq {seq}, expected at least {at_least}")


def generate_events(server: Server, repo_id: str, events: int, rate: float) -> list[float]:
    """Create ``events`` cards at ``rate``/s on an absolute schedule; POST round trips in seconds."""
    rtts = []
    t0 = time.perf_counter()
    for i in range(events):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        server.api("POST", f"/repos/{repo_id}/cards", {"title": f"ws event {i}"})
        rtts.append(time.perf_counter() - began)
    return rtts


def run_phase(
    server: Server, repo_id: str, clients: int, procs: int, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    workers = Workers(server.url.replace("http", "ws", 1) + "/ws", clients, procs, workdir, args)
    try:
        start_seq, connect_s = workers.wait_ready()
        time.sleep(0.5)
        rtts = generate_events(server, repo_id, args.events, args.rate)
        last_seq = published_seq(server, start_seq + args.events)
        results = workers.finish(last_seq)
    finally:
        workers.stop()
    return analyse(
        results,
        start_seq,
        last_seq,
        clients=clients,
        procs=len(workers.procs),
        connect_s=connect_s,
        rtts=rtts,
    )


def analyse(
    results: list[dict[str, Any]],
    start_seq: int,
    last_seq: int,
    *,
    clients: int,
    procs: int,
    connect_s: float,
    rtts: list[float],
) -> dict[str, Any]:
    expected = list(range(start_seq + 1, last_seq + 1))
    latencies: list[float] = []
    per_event: dict[int, list[float]] = {}
    lost = duplicated = out_of_order = clients_with_problems = 0
    for worker in results:
        for client in worker["clients"]:
            seqs = [seq for seq, _ in client["received"]]
            missing = len(set(expected) - set(seqs))
            dups = len(seqs) - len(set(seqs))
            disorder = sum(b <= a for a, b in zip(seqs, seqs[1:], strict=False))
            lost, duplicated, out_of_order = lost + missing, duplicated + dups, out_of_order + disorder
            clients_with_problems += bool(missing or dups or disorder)
            for seq, latency in client["received"]:
                latencies.append(latency)
                per_event.setdefault(seq, []).append(latency)
    first = [min(v) for v in per_event.values()]
    last = [max(v) for v in per_event.values()]
    return {
        "clients": clients,
        "procs": procs,
        "events": len(expected),
        "seq_range": [start_seq + 1, last_seq],
        "pairs": len(latencies),
        "expected_pairs": len(expected) * clients,
        "latency_ms": stats(latencies),
        "first_client_ms": stats(first),
        "last_client_ms": stats(last),
        "spread_ms": stats([b - a for a, b in zip(first, last, strict=True)]),
        "lost": lost,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
        "clients_with_problems": clients_with_problems,
        "connect_s": connect_s,
        "post_rtt_ms": stats([r * 1000 for r in rtts]),
    }


def stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def render(result: dict[str, Any]) -> str:
    phases, config = result["phases"], result["config"]
    first = phases[0]
    lines = [
        f"### /ws fan-out: {first['events']} events (cards created at {config['rate']:g}/s), "
        f"clients in {phases[-1]['procs']} worker process(es), {config['client_loop']} clients, "
        f"deflate {'offered' if config['deflate'] else 'off'}",
        "",
        "| clients | pairs seen / expected | latency p50 | p95 | p99 | max "
        "| first client p95 | last client p95 | lost | dup | out of order |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in phases:
        lat = p["latency_ms"]
        lines.append(
            f"| {p['clients']} | {p['pairs']} / {p['expected_pairs']} | {fmt(lat['p50'])} "
            f"| {fmt(lat['p95'])} | {fmt(lat['p99'])} | {fmt(lat['max'])} "
            f"| {fmt(p['first_client_ms']['p95'])} | {fmt(p['last_client_ms']['p95'])} "
            f"| {p['lost']} | {p['duplicated']} | {p['out_of_order']} |"
        )
    main = phases[-1]
    p95 = main["latency_ms"]["p95"]
    ok = p95 < 20 and main["lost"] == main["duplicated"] == main["out_of_order"] == 0
    versus = f", ×{p95 / first['latency_ms']['p95']:.1f} the 1-client p95" if first is not main else ""
    server = ", ".join(f"{k}={v}" for k, v in config["uvicorn"].items())
    lines += [
        "",
        f"Target p95 < 20 ms with {main['clients']} clients, nothing lost: **{'met' if ok else 'missed'}** "
        f"(p95 {fmt(p95)}{versus}; per-event spread first→last client p50 "
        f"{fmt(main['spread_ms']['p50'])}, p95 {fmt(main['spread_ms']['p95'])}).",
        f"POST /cards round trip p50 {fmt(main['post_rtt_ms']['p50'])}, "
        f"p95 {fmt(main['post_rtt_ms']['p95'])} during the {main['clients']}-client phase; "
        f"connecting {main['clients']} clients took {main['connect_s']:.2f} s.",
    ]
    if server:
        lines.append(
            f"Server run with uvicorn overrides: {server} (diagnosis, not the shipped configuration)."
        )
    return "\n".join(lines)


def uvicorn_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        overrides[key] = {"true": True, "false": False}.get(value.lower(), value)
    return overrides


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", type=int, default=200, help="Clients in the fan-out phase (default 200)."
    )
    parser.add_argument(
        "--procs", type=int, default=2, help="Worker processes holding the clients (default 2)."
    )
    parser.add_argument("--events", type=int, default=200, help="Events per phase (default 200).")
    parser.add_argument("--rate", type=float, default=20.0, help="Events per second (default 20).")
    parser.add_argument(
        "--client-loop", choices=("uvloop", "asyncio"), default="uvloop", help="Clients' event loop."
    )
    parser.add_argument(
        "--no-deflate", dest="deflate", action="store_false", help="Do not offer permessage-deflate."
    )
    parser.add_argument(
        "--no-reference", dest="reference", action="store_false", help="Skip the 1-client phase."
    )
    parser.add_argument(
        "--uvicorn",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Diagnosis: override a uvicorn.run() argument of the server (loop=uvloop, ws=wsproto, "
        "ws_per_message_deflate=false); repeatable.",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the scratch directory (server data and log, raw results)."
    )
    parser.add_argument("--out", type=Path, default=OUT / "ws_bench.json", help="JSON results path.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    atexit.register(stop_all)
    workdir = Path(tempfile.mkdtemp(prefix="lazyaf-ws-bench-"))
    began = time.monotonic()
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_average()},
        "config": {
            **{
                k: v
                for k, v in vars(args).items()
                if k not in ("worker", "url", "worker_out", "out", "uvicorn")
            },
            "uvicorn": uvicorn_overrides(args.uvicorn),
        },
        "phases": [],
    }
    server = None
    try:
        server = Server(workdir, uvicorn_overrides=uvicorn_overrides(args.uvicorn))
        repo = server.api("POST", "/repos", {"name": "ws"})
        plan = ([(1, 1)] if args.reference else []) + [(args.clients, args.procs)]
        for clients, procs in plan:
            print(f"[{time.monotonic() - began:6.1f}s] {clients} client(s)", file=sys.stderr, flush=True)
            result["phases"].append(run_phase(server, repo["id"], clients, procs, workdir, args))
    except BenchError as exc:
        print(f"ws_bench: could not measure: {exc}", file=sys.stderr)
        if server is not None:
            print(f"server log ends with:\n{server.log_tail()}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result["machine"]["load_average_after"] = load_average()
    result["seconds"] = round(time.monotonic() - began, 1)
    print(render(result))
    print(
        f"\nload average before {result['machine']['load_average_before']}, after "
        f"{result['machine']['load_average_after']}; {result['seconds']} s in all"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
