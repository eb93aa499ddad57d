"""A real SMTP server on loopback (aiosmtpd) for tests: keeps what it accepts, and can
answer like a busy, strict or stalling server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """``data_replies``: replies given to DATA, in turn, before accepting ("451 busy");
    ``refuse``: address -> reply at RCPT ("550 no such user"); ``stall_after``: after
    accepting that many messages, the next DATA waits until ``release()`` and keeps the
    message only if the client is still connected (``stalled`` is set meanwhile)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.data_replies: list[str] = []
        self.refuse: dict[str, str] = {}
        self.stall_after: int | None = None
        self.stalled = threading.Event()
        self._released = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.pop(0)
        if self.stall_after is not None and len(self.messages) >= self.stall_after:
            self.stalled.set()
            while not self._released.is_set():
                if server.transport is None or server.transport.is_closing():
                    return "421 client gone"  # never reaches anyone: nothing delivered
                await asyncio.sleep(0.02)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def release(self) -> None:
        self.stall_after = None
        self._released.set()

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpSink, int]]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        sink.release()
        controller.stop()
