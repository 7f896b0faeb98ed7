"""A real SMTP server on 127.0.0.1 (aiosmtpd) that counts the Message-IDs it receives.

Used by the outbox proofs and the drain benchmark: the worker under test
talks SMTP to it exactly as it would to a mail provider.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import BytesHeaderParser

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.message_ids: Counter[str] = Counter()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow provider: keeps a batch in flight long enough to kill it
        with self.lock:
            self.message_ids[str(headers.get("Message-ID", "")).strip()] += 1
        return "250 Message accepted"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.message_ids)

    def total(self) -> int:
        with self.lock:
            return sum(self.message_ids.values())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_sink(*, delay: float = 0.0) -> Iterator[tuple[CountingHandler, int]]:
    """Yield (handler, port) of a running sink; stop it on exit."""
    handler = CountingHandler(delay=delay)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def smtp_env(port: int, **extra: str) -> dict[str, str]:
    """Worker environment that sends real SMTP to the sink."""
    return {
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_TIMEOUT": "5",
        **extra,
    }
