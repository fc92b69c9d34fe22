"""One daemon per state dir: an exclusive ``fcntl.flock`` on ``riskwatch.lock`` in it.

Why flock and not a PID file: the kernel releases the lock when the process dies (kill -9
included), so a crash never leaves a stale lock behind, and a PID reused by another process
is never mistaken for a daemon. The file holds the holder's pid only so the refused one can
name it. Only the daemon takes the lock; ``status``, ``positions`` and the other commands
read and write the store under SQLite's own locking while a daemon runs.
"""

from __future__ import annotations

import fcntl
import os

from riskwatch.errors import AlreadyRunning, StoreError

FILENAME = "riskwatch.lock"


class StateLock:
    def __init__(self, fd: int, path: str) -> None:
        self._fd = fd
        self.path = path

    @classmethod
    def acquire(cls, state_dir: str, *, pid: int | None = None) -> StateLock:
        """Hold the state dir's lock, or raise ``AlreadyRunning`` naming the holder's pid."""
        path = os.path.join(state_dir, FILENAME)
        try:
            os.makedirs(state_dir, mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise AlreadyRunning(
                f"another riskwatch daemon ({who}) is running on the state dir {state_dir}; "
                "stop it first, or give this one its own state_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{pid or os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = -1


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
