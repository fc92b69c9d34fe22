"""systemd's notify protocol in a dozen lines of stdlib, so the unit can be ``Type=notify``.

A datagram per call to ``$NOTIFY_SOCKET`` (``@`` means the abstract namespace). Without the
variable (not under systemd, or in tests) every call is a no-op, so callers never branch.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        addr = env.get("NOTIFY_SOCKET", "")
        self._addr = "\0" + addr[1:] if addr.startswith("@") else addr
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval: float | None = (
            int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and mine else None
        )

    @property
    def enabled(self) -> bool:
        return bool(self._addr)

    def send(self, **fields: str) -> None:
        """Send ``KEY=value`` lines (``ready="1"`` becomes ``READY=1``). Never blocks and never
        raises: a notify socket that is full or gone must not stop the watching."""
        if not self._addr:
            return
        payload = "\n".join(f"{k.upper()}={v}" for k, v in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.connect(self._addr)
                sock.send(payload)
        except OSError:
            pass

    def ready(self, status: str = "") -> None:
        self.send(ready="1", **({"status": status} if status else {}))

    def reloading(self) -> None:
        self.send(reloading="1", monotonic_usec=str(time.monotonic_ns() // 1000))

    def watchdog(self) -> None:
        if self.watchdog_interval:
            self.send(watchdog="1")

    def status(self, text: str) -> None:
        self.send(status=text.replace("\n", " "))

    def stopping(self) -> None:
        self.send(stopping="1")
