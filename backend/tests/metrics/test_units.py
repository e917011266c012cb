"""The parts of the metrics that are plain functions: failure reasons, periods in a time zone,
percentiles."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from lazyaf_protocol import conflict_markers, credentials
from lazyaf_protocol import messages as protocol
from lazyaf_runner.agents.base import interruption_reason
from sqlalchemy import column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import CompileError

from lazyaf.metrics.period import make_period, server_zone
from lazyaf.metrics.reasons import classify
from lazyaf.metrics.service import percentile, spread
from lazyaf.orchestration.runs import verification_failure


def test_the_sentences_lazyaf_fails_attempts_with_fall_into_their_reasons() -> None:
    check = protocol.VerifyResult(
        name="lint", command="ruff check .", exit_code=1, duration_ms=3, output="E501\n" * 50
    )
    timed_out = interruption_reason("Claude Code", timed_out=True, cancelled=False, timeout=1800)
    cases = {
        verification_failure(check): "verification:lint",
        "Timed out: the job ran longer than 3600 s.": "timeout",
        timed_out: "timeout",
        "Runner lost: it stopped sending heartbeats while running the agent.": "runner_lost",
        conflict_markers.refusal(["a.py", "b.py"]): "conflicts_left",
        conflict_markers.refusal(["a.py"], unmerged=True): "conflicts_left",
        credentials.NO_CREDENTIAL: "credential",
        credentials.rejected("the ANTHROPIC_API_KEY", 401): "credential",
        "Claude Code stopped at its turn limit (40 turns) before finishing; split the task.": "turn_limit",
        "Claude Code exited with code 1 without a result; stderr: Traceback…": "agent_crashed",
        "Claude Code reported an API error: overloaded": "api_error",
        "The agent finished without changing anything.": "no_changes",
        "Push refused: ! [remote rejected] HEAD -> refs/lazyaf/attempts/x/1 (hook declined)": "push_refused",
        "The runner failed unexpectedly: KeyError: 'x'": "runner_crashed",
        None: "unknown",
        "  ": "unknown",
    }
    assert timed_out is not None
    assert {text: classify(text).key for text in cases} == cases


def test_an_unknown_sentence_is_grouped_by_its_first_sentence_with_the_details_blanked() -> None:
    a = classify("The widget broke on 3 files in src/app.py at deadbeef1. More detail follows.")
    b = classify("The widget broke on 12 files in lib/x/y.py at 0123456789abcdef.\nOther text")
    assert a == b
    assert a.label == "The widget broke on N files in … at …."
    assert a.key == "other:" + a.label.lower()
    assert classify("Something else went wrong.") != a
    assert len(classify("x " * 500).label) <= 80


def test_percentiles_interpolate_like_statistics_quantiles_inclusive() -> None:
    rng = random.Random(15)
    for size in (2, 3, 7, 10, 51):
        values = sorted(rng.uniform(0, 1000) for _ in range(size))
        deciles = statistics.quantiles(values, n=10, method="inclusive")
        assert percentile(values, 0.9) == pytest.approx(deciles[8])
        assert percentile(values, 0.5) == pytest.approx(statistics.median(values))
    assert percentile([4.0], 0.9) == 4.0
    assert spread([]).model_dump() == {"count": 0, "mean": None, "median": None, "p90": None, "max": None}
    assert spread([3, 1, 2]).model_dump() == {"count": 3, "mean": 2.0, "median": 2.0, "p90": 2.8, "max": 3.0}


def test_a_period_across_a_dst_change_has_a_piece_per_offset() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    span = make_period(4, berlin, "Europe/Berlin", now)
    assert span.dates == (date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30), date(2026, 3, 31))
    assert span.since == datetime(2026, 3, 27, 23, tzinfo=UTC)
    assert span.pieces == ((datetime(2026, 3, 29, 1, tzinfo=UTC), 3600), (None, 7200))
    assert make_period(30, ZoneInfo("UTC"), "UTC", now).pieces == ((None, 0),)
    kathmandu = make_period(1, ZoneInfo("Asia/Kathmandu"), "Asia/Kathmandu", now)
    assert kathmandu.pieces == ((None, 5 * 3600 + 45 * 60),)
    # A year in New York: two changes.
    assert len(make_period(365, ZoneInfo("America/New_York"), "America/New_York", now).pieces) == 3


def test_local_dates_compile_for_sqlite_and_postgresql_only() -> None:
    span = make_period(4, ZoneInfo("Europe/Berlin"), "Europe/Berlin", datetime(2026, 3, 31, tzinfo=UTC))
    query = select(span.local_date_sql(column("completed_at")))
    assert "date(completed_at, '+3600 seconds')" in str(query.compile(dialect=sqlite.dialect()))
    assert "INTERVAL '7200 seconds' AS DATE" in str(query.compile(dialect=postgresql.dialect()))
    from sqlalchemy.dialects import mysql

    with pytest.raises(CompileError, match="no form for mysql"):
        str(query.compile(dialect=mysql.dialect()))


def test_the_servers_zone_follows_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kathmandu")
    assert server_zone() == (ZoneInfo("Asia/Kathmandu"), "Asia/Kathmandu")
    monkeypatch.setenv("TZ", "Not/A_Zone")
    zone, _ = server_zone()  # falls back to the machine's zone
    assert datetime(2026, 1, 1, tzinfo=UTC).astimezone(zone).utcoffset() is not None
