"""``X-LazyAF-Seq`` on every API response: the last board event published when the request began.

A client that loads the board over REST and then connects to ``/ws?since=<that seq>`` misses no
change and needs no second load: whatever committed after the header was read has a later seq and
arrives over the socket (one committed just before may arrive too; applying it again is harmless).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lazyaf.events.bus import EventBus

HEADER = "x-lazyaf-seq"


class SeqHeaderMiddleware:
    def __init__(self, app: ASGIApp, bus: EventBus) -> None:
        self.app = app
        self.bus = bus

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        seq = str(self.bus.last_seq)

        async def send_with_seq(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = seq
            await send(message)

        await self.app(scope, receive, send_with_seq)
