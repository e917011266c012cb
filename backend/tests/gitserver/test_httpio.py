"""The streamed request body: chunk boundaries, gzip inflation in bounded pieces, its cap, hang-ups."""

from __future__ import annotations

import gzip
import zlib

import pytest
from starlette.types import Message

from lazyaf.gitserver.httpio import ClientDisconnected, GitHTTPError, RequestBody


def receiver(*messages: Message):  # type: ignore[no-untyped-def]
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    return receive


def body_messages(data: bytes, size: int) -> list[Message]:
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]


async def read_all(body: RequestBody, size: int = 1000) -> bytes:
    out = b""
    while chunk := await body.read_some(size):
        assert len(chunk) <= size
        out += chunk
    return out


async def test_plain_body_is_read_across_messages() -> None:
    data = bytes(range(256)) * 40
    body = RequestBody(receiver(*body_messages(data, 333)), gzip=False, max_inflated=10)

    assert await read_all(body) == data


async def test_gzip_body_is_inflated_in_bounded_pieces() -> None:
    data = b"0032want " + b"a" * 100_000
    body = RequestBody(receiver(*body_messages(gzip.compress(data), 100)), gzip=True, max_inflated=1 << 20)

    assert await read_all(body, size=4096) == data


async def test_gzip_body_past_the_cap_is_413() -> None:
    bomb = zlib.compress(b"\0" * 10_000_000)
    packed = gzip.compress(b"\0" * 10_000_000)
    body = RequestBody(receiver(*body_messages(packed, 4096)), gzip=True, max_inflated=1_000_000)

    with pytest.raises(GitHTTPError) as caught:
        await read_all(body, size=65536)

    assert len(bomb) < 20_000 and caught.value.status == 413


async def test_truncated_gzip_body_is_400() -> None:
    packed = gzip.compress(b"hello world" * 100)
    body = RequestBody(receiver(*body_messages(packed[:-12], 50)), gzip=True, max_inflated=1 << 20)

    with pytest.raises(GitHTTPError) as caught:
        await read_all(body)

    assert caught.value.status == 400 and "truncated" in caught.value.message


async def test_hang_up_mid_body_is_client_disconnected() -> None:
    first = {"type": "http.request", "body": b"partial", "more_body": True}
    body = RequestBody(receiver(first), gzip=False, max_inflated=10)

    assert await body.read_some() == b"partial"
    with pytest.raises(ClientDisconnected):
        await body.read_some()


async def test_disconnect_watcher_keeps_unread_body_for_the_reader() -> None:
    body = RequestBody(receiver(*body_messages(b"abcdef", 2)), gzip=False, max_inflated=10)

    await body.wait_disconnect()

    assert await read_all(body) == b"abcdef"
