"""A settable clock for tests that involve waiting: time moves only when the code under test sleeps.

``clock()`` is epoch seconds (what GitHub's ``x-ratelimit-reset`` is compared with);
``await clock.sleep(s)`` records ``s`` and advances the clock instead of waiting, so a test of
"wait until the reset, then retry" runs instantly and can assert how long the code would have waited.
"""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
