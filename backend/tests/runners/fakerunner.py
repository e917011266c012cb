"""A runner speaking the wire protocol by hand (lazyaf_protocol.messages), to attack the runner socket."""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

import httpx
from lazyaf_protocol import messages as protocol
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from lazyaf.testing import LiveServer


class FakeRunner:
    """One socket to ``/api/runners/connect``; ``credential`` goes in the upgrade's Authorization header."""

    def __init__(
        self, server: LiveServer, credential: str | None, *, name: str = "fake", **hello: Any
    ) -> None:
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        url = server.url.replace("http", "ws", 1) + "/api/runners/connect"
        # Entered by hand: a test holds several sockets at once and closes them when it is done.
        self.ws: ClientConnection = connect(url, additional_headers=headers).__enter__()
        try:
            self.ws.send(protocol.Hello(name=name, kind="remote", **hello).model_dump_json())
        except ConnectionClosed:
            pass  # refused before the hello (auth.py): refusal() reads why

    def recv(self, timeout: float = 10) -> Any:
        return protocol.backend_message.validate_json(self.ws.recv(timeout))

    def send(self, message: protocol.Message) -> None:
        self.ws.send(message.model_dump_json())

    def welcome(self) -> protocol.Welcome:
        message = self.recv()
        assert isinstance(message, protocol.Welcome), message
        return message

    def refusal(self) -> tuple[int, str]:
        """The close code and reason the server ended the socket with (it must, without a welcome)."""
        try:
            message = self.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason
        raise AssertionError(f"expected the socket to close, got {message!r}")

    def next(self, kind: type[Any], timeout: float = 10) -> Any:
        """The next message of ``kind``, skipping wake-ups."""
        while True:
            message = self.recv(timeout)
            if isinstance(message, kind):
                return message
            assert isinstance(message, protocol.Wake | protocol.NoJob), message

    def claim(self) -> protocol.Assign:
        self.send(protocol.Claim())
        message = self.recv()
        while isinstance(message, protocol.Wake):
            message = self.recv()
        assert isinstance(message, protocol.Assign), message
        return message

    def close(self) -> None:
        self.ws.close()


def registration_token(server: LiveServer) -> str:
    token: str = httpx.get(server.api("/runners/docker-command")).json()["registration_token"]
    return token


def registered(server: LiveServer, name: str) -> tuple[FakeRunner, protocol.Welcome]:
    """A runner that registered with the registration token (its welcome carries its secret)."""
    runner = FakeRunner(server, registration_token(server), name=name)
    return runner, runner.welcome()


def basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"lazyaf:{token}".encode()).decode()


def db_rows(server: LiveServer, query: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows straight from the server's SQLite file (what no API shows: leases, stored events)."""
    with sqlite3.connect(server.settings.data_dir / "lazyaf.db") as db:
        return db.execute(query, args).fetchall()
