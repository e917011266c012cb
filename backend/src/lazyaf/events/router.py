"""WS /ws: every board event, in order, with catch-up by sequence number."""

from __future__ import annotations

import asyncio
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from lazyaf.events.bus import EventBus, Subscription, frame
from lazyaf.events.schemas import HelloFrame, ResyncFrame, SeqData
from lazyaf.validation import INT64_MAX

log = structlog.get_logger(__name__)
router = APIRouter()
CATCH_UP_PAGE = 1000


@router.websocket("/ws")
async def board_socket(
    websocket: WebSocket, since: Annotated[int | None, Query(ge=0, le=INT64_MAX)] = None
) -> None:
    """Stream board events; ``since`` replays what the client missed first."""
    bus: EventBus = websocket.app.state.bus
    await websocket.accept()
    async with bus.subscribe() as subscription:
        last = bus.last_seq if since is None else since
        await websocket.send_text(HelloFrame(type="hello", data=SeqData(seq=bus.last_seq)).model_dump_json())
        try:
            if since is not None and since < bus.last_seq:
                oldest = await bus.oldest_seq()
                if oldest is None or oldest > since + 1:
                    resync = ResyncFrame(type="resync", data=SeqData(seq=bus.last_seq))
                    await websocket.send_text(resync.model_dump_json())
                    last = bus.last_seq
                last = await _catch_up(websocket, bus, last)
            await _stream(websocket, subscription, last)
        except WebSocketDisconnect:
            pass


async def _catch_up(websocket: WebSocket, bus: EventBus, last: int) -> int:
    while True:
        rows = await bus.since(last, limit=CATCH_UP_PAGE)
        for row in rows:
            await websocket.send_text(frame(row))
            last = row.seq
        if len(rows) < CATCH_UP_PAGE:
            return last


async def _stream(websocket: WebSocket, subscription: Subscription, last: int) -> None:
    receiver = asyncio.create_task(_drain_client(websocket, subscription))
    try:
        while (item := await subscription.queue.get()) is not None:
            seq, text = item
            if seq > last:  # events already sent during catch-up are skipped
                await websocket.send_text(text)
                last = seq
        if subscription.lagging:
            # A client too slow to keep up reconnects with ?since= and catches up from the table.
            await websocket.close(code=4000, reason="lagging; reconnect with ?since=")
    finally:
        receiver.cancel()


async def _drain_client(websocket: WebSocket, subscription: Subscription) -> None:
    """Read (and ignore) what the client sends, so a close from its side ends the stream."""
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    finally:
        subscription.close()
