"""``lazyaf runners``: the runner pool — list it, or scale local or Docker runners."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from lazyaf_cli import output
from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.options import Group
from lazyaf_cli.output import short

COLUMNS = ("NAME", "KIND", "STATUS", "JOB", "SEEN")


@click.group(cls=Group, invoke_without_command=True)
@click.pass_context
def runners(ctx: click.Context) -> None:
    """List the runners; `runners scale` sizes the pool.

    A pool runner that exited shows as restarting until the pool starts it
    again, or as failed once it kept crashing (scale again to retry it).

    With --json: {"runners": [{id, name, kind, status, current_job_id,
    container_id, agents, version, last_heartbeat, created_at, pooled,
    restarts, last_exit, last_exit_at, log_tail, restart_at, failed_at}],
    "local": N, "docker": N, "docker_available": bool, "waiting": {job id:
    {code, message, ahead, busy, runners, starting, failed}}}, as the API
    returns it.
    """
    if ctx.invoked_subcommand is None:
        app = ctx.find_object(AppContext)
        assert app is not None
        show_pool(app, app.api.request("GET", "/runners"))


@runners.command("scale")
@click.argument("kind", type=click.Choice(["local", "docker"]))
@click.argument("count", type=click.IntRange(0, 32))
@pass_app
def scale(app: AppContext, kind: str, count: int) -> None:
    """Keep COUNT runners of KIND running.

    KIND is local (processes on this machine) or docker (containers).

    With --json: the pool, as `lazyaf runners --json` prints it.
    """
    before = app.api.request("GET", "/runners")
    pool = app.api.request("POST", "/runners/scale", json={"kind": kind, "count": count})
    if app.as_json:
        app.print_json(pool)
        return
    was = before[kind]
    change = "unchanged" if was == pool[kind] else f"was {was}"
    click.echo(f"{kind.capitalize()} runners: {pool[kind]} ({change}).")


def show_pool(app: AppContext, pool: dict[str, Any]) -> None:
    if app.as_json:
        app.print_json(pool)
        return
    docker = (
        "docker " + str(pool["docker"]) + ("" if pool["docker_available"] else " (no Docker engine here)")
    )
    click.echo(f"Pool: local {pool['local']}, {docker}.")
    if not pool["runners"]:
        click.echo("No runners yet; start one with `lazyaf runners scale local 1`.")
        return
    click.echo(output.table([COLUMNS, *(_row(r) for r in pool["runners"])]))
    for runner in pool["runners"]:
        if runner.get("failed_at"):
            click.echo(
                f"{runner['name']} kept crashing ({runner.get('last_exit') or 'no exit status'}); "
                f"retry it with `lazyaf runners scale {runner['kind']} {pool[runner['kind']]}`."
            )


def _state(runner: dict[str, Any]) -> str:
    """The runner's status, or what the pool is doing about a pool runner that exited."""
    if runner["status"] == "offline" and runner.get("failed_at"):
        return "failed"
    if runner["status"] == "offline" and runner.get("restart_at"):
        return "restarting"
    return str(runner["status"])


def _row(runner: dict[str, Any]) -> tuple[str, ...]:
    return (
        runner["name"],
        runner["kind"],
        output.status(_state(runner)),
        short(runner.get("current_job_id")) or "-",
        _ago(runner.get("last_heartbeat")),
    )


def _ago(stamp: str | None) -> str:
    if not stamp:
        return "-"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return output.duration((datetime.now(UTC) - then).total_seconds()) + " ago"
