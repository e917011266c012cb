"""The period a metrics answer covers, in someone's days: the last N calendar days of a time zone.

Days are local days (a user's "spend per day" splits at their midnight, not UTC's), so grouping by
day cannot be ``date(completed_at)``. The database groups by ``local_date(column)``: the column's
UTC instant shifted by the zone's offset and cut to a date. An offset changes only at a DST
transition, so over a period it is constant in a few pieces; ``local_date`` is one ``CASE`` over
those pieces, exact for every zone (half-hour and 45-minute offsets too), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import case, literal_column
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

from lazyaf.errors import InvalidInput

LOCALTIME = Path("/etc/localtime")


def server_zone() -> tuple[tzinfo, str]:
    """The server machine's own time zone and its name: ``TZ``, else ``/etc/localtime`` (with its
    DST rules), else the fixed offset in force now."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        with LOCALTIME.open("rb") as file:
            zone = ZoneInfo.from_file(file)
        target = os.path.realpath(LOCALTIME)
        return zone, target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "localtime"
    except OSError:
        fixed = datetime.now().astimezone().tzinfo or UTC
        return fixed, str(fixed)


def parse_zone(name: str | None) -> tuple[tzinfo, str]:
    """An IANA zone by name (``Europe/Berlin``); None for the server's own. A 422 naming it when
    there is no such zone."""
    if name is None:
        return server_zone()
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError, OSError, UnicodeError):
        raise InvalidInput(
            f"There is no time zone called '{name[:64]}'; send an IANA name such as Europe/Berlin or "
            "UTC, or leave tz out for the server's own."
        ) from None


@dataclass(frozen=True)
class Period:
    """The last ``days`` calendar days of ``zone`` up to ``until``, today included."""

    zone: tzinfo
    zone_name: str
    days: int
    since: datetime
    """Local midnight of the first day, in UTC."""
    until: datetime
    dates: tuple[date, ...]
    pieces: tuple[tuple[datetime | None, int], ...]
    """(up to this UTC instant, exclusive; None for the last piece, UTC offset in seconds)."""

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def local_date_sql(self, column: Any) -> ColumnElement[str]:
        """The local date of a UTC timestamp column, computed in the database ('YYYY-MM-DD' on
        SQLite, a date on PostgreSQL: read it with ``as_date``)."""
        *earlier, (_, last) = self.pieces
        if not earlier:
            return local_date(column, last)
        whens = [(column < end, local_date(column, offset)) for end, offset in earlier]
        return case(*whens, else_=local_date(column, last))


def as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def make_period(days: int, zone: tzinfo, zone_name: str, now: datetime) -> Period:
    today = now.astimezone(zone).date()
    dates = tuple(today - timedelta(days=days - 1 - i) for i in range(days))
    midnights = [_midnight(d, zone) for d in dates] + [now.astimezone(UTC)]
    pieces: list[tuple[datetime | None, int]] = []
    offset = _offset(midnights[0], zone)
    for start, end in zip(midnights, midnights[1:], strict=False):
        while _offset(end, zone) != offset:
            change = _first_change(start, end, zone, offset)
            pieces.append((change, offset))
            start, offset = change, _offset(change, zone)
    pieces.append((None, offset))
    return Period(zone, zone_name, days, midnights[0], now.astimezone(UTC), dates, tuple(pieces))


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _offset(at: datetime, zone: tzinfo) -> int:
    delta = at.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _first_change(start: datetime, end: datetime, zone: tzinfo, offset: int) -> datetime:
    """The first instant in (start, end] whose offset is not ``offset`` (to the second)."""
    low, high = start, end
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _offset(middle, zone) == offset:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0) if _offset(high.replace(microsecond=0), zone) != offset else high


class local_date(FunctionElement[str]):  # noqa: N801 (a SQL function's name)
    """``local_date(utc_column, offset_seconds)``: the calendar date of the instant shifted by the
    offset, compiled for SQLite (``date(x, '+N seconds')``) and PostgreSQL."""

    type = String()
    inherit_cache = True

    def __init__(self, column: Any, offset: int) -> None:
        # The offset is a literal of the statement (an int we made), so it is in its cache key.
        super().__init__(column, literal_column(str(int(offset))))


def _parts(element: local_date, compiler: Any, **kw: Any) -> tuple[str, int]:
    column, offset = element.clauses
    return compiler.process(column, **kw), int(offset.name)


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: Any, **kw: Any) -> str:
    column, offset = _parts(element, compiler, **kw)
    return f"date({column}, '{offset:+d} seconds')"


@compiles(local_date, "postgresql")
def _local_date_postgresql(element: local_date, compiler: Any, **kw: Any) -> str:
    column, offset = _parts(element, compiler, **kw)
    return f"CAST(({column} AT TIME ZONE 'UTC') + INTERVAL '{offset:d} seconds' AS DATE)"


@compiles(local_date)
def _local_date_other(element: local_date, compiler: Any, **kw: Any) -> str:
    raise CompileError(f"local_date() has no form for {compiler.dialect.name}; add one in metrics/period.py.")
