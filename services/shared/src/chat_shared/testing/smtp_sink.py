"""A local SMTP server that keeps every mail as a file: ``make dev``'s mail sink and the tests' (aiosmtpd).

Each mail is written to ``<dir>/<UTC time>-<recipient>.eml`` and announced with one line on stdout, so a
developer sees the welcome or password-reset mail at once and can open it in a mail client.

    python -m chat_shared.testing.smtp_sink --port 8026 --dir .data/mail
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.sink.keep(list(envelope.rcpt_tos), bytes(envelope.content))
        return "250 Message accepted"


class SmtpSink:
    """An SMTP server on 127.0.0.1 writing each mail under ``directory``; ``messages`` holds them parsed."""

    def __init__(self, directory: Path, port: int = 0, echo: bool = False) -> None:
        self.directory = Path(directory)
        self.echo = echo
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=port or _free_port())

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def keep(self, recipients: list[str], content: bytes) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            for to in recipients:
                path = self.directory / f"{stamp}-{_UNSAFE.sub('_', to)}.eml"
                path.write_bytes(content)
                if self.echo:
                    print(f"mail to {to}: {parsed['Subject']} → {path}", flush=True)
            self.messages.append(parsed)

    def to(self, address: str) -> list[EmailMessage]:
        """The mails received for ``address``."""
        with self._lock:
            return [m for m in self.messages if address in str(m["To"])]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument("--dir", type=Path, default=Path(".data/mail"))
    args = parser.parse_args()
    sink = SmtpSink(args.dir, args.port, echo=True)
    sink.start()
    print(f"SMTP sink on 127.0.0.1:{sink.port}, mails under {args.dir}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
