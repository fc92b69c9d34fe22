"""Plain-text delivery to a stream, for ``--dry-run``, the demo and ``console://`` URLs.

Why a writer of its own: building one apprise object loads every plugin (about 0.2 s and
15-45 MiB), which the demo and a dry run should never pay. This module never imports apprise.
"""

from __future__ import annotations

import threading
from typing import TextIO

from riskwatch.model import Message


class ConsoleWriter:
    """Writes each message as its title, then its body, then a blank line, and flushes, so a
    piped demo shows alerts as they happen. Thread-safe: messages never interleave."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def write(self, message: Message) -> None:
        self.write_text(message.title, message.body)

    def write_text(self, title: str, body: str) -> None:
        text = f"{title}\n{body}\n\n" if title else f"{body}\n\n"
        with self._lock:
            self.stream.write(text)
            self.stream.flush()
