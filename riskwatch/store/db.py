"""Durable state: alert state, the outbox and a few facts, in one SQLite file (WAL).

Why one transaction per cycle: a crash (SIGKILL, power loss) must leave either the old alert
state and no new messages, or the new state with its messages queued. Anything else either
forgets an alert (state advanced, message lost) or repeats one early (message queued, state not
advanced). Delivery bookkeeping (attempts, sent parts, removal once sent) is written by the
delivery workers in their own small transactions.

The state dir never holds a secret: outbox rows name their URL by ``notify.destination_key``
(a hash), and the URL is looked up in the loaded config when sending.

One connection, shared by the daemon's loop and the delivery worker threads under a lock:
SQLite serialises writers anyway, and a lock is simpler than a connection per thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from riskwatch.errors import StoreError
from riskwatch.model import AlertKey, AlertState, Message
from riskwatch.store import accounts, answering, history, migrate, quarantine
from riskwatch.store.rows import (
    OUTBOX_COLUMNS,
    CorruptRow,
    OutboxItem,
    alert_row,
    checked_history,
    outbox_row,
    state_from_json,
    state_to_json,
)

__all__ = ["FILENAME", "MIGRATIONS", "OutboxItem", "Store", "state_from_json", "state_to_json"]
log = logging.getLogger("riskwatch.store")
FILENAME = "state.sqlite"

# Each entry moves the schema from version i to i+1 (SQL, or a function of the connection);
# PRAGMA user_version records where a file is. Append only: never edit a shipped migration.
MIGRATIONS: tuple[migrate.Migration, ...] = (
    """
    CREATE TABLE alerts (key TEXT PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dest_key TEXT NOT NULL,
        channel TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT,
        keys TEXT NOT NULL DEFAULT '[]',
        parts_sent INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_dest ON outbox (dest_key, id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # What the service is told of a message (DESIGN 11), and the send attempts made (``attempts``
    # counts failed delivery cycles, which the backoff and STUCK_AFTER read).
    """
    ALTER TABLE outbox ADD COLUMN notify_type TEXT NOT NULL DEFAULT 'info';
    ALTER TABLE outbox ADD COLUMN sends INTEGER NOT NULL DEFAULT 0;
    """,
    history.MIGRATION,
    answering.MIGRATION,
    quarantine.MIGRATION,
    accounts.migrate,  # alert identity gains the account (DESIGN 14)
)


def _key_json(key: AlertKey) -> str:
    return json.dumps(list(key))


# --------------------------------------------------------------------------- the store


class Store:
    """Alert state + outbox + meta. Every sqlite3 error leaves as ``StoreError`` naming the file."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: str,
        *,
        readonly: bool = False,
        quarantine: bool = True,
    ) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        # Corrupt rows: set aside (the daemon) or only reported (``status``, a dry run).
        self.quarantine = quarantine and not readonly
        self.corrupt: list[StoreError] = []
        self._lock = threading.RLock()
        # What the file holds, so a cycle serialises and writes only the alerts that changed.
        self._committed: dict[AlertKey, AlertState] = {}

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, state_dir: str, *, readonly: bool = False, quarantine: bool = True) -> Store:
        """Open (creating it 0700, the file 0600) the state dir's database, migrated.
        ``readonly`` (``--dry-run``) opens an existing file without writing anything;
        ``quarantine=False`` (``status``) reports corrupt rows in ``corrupt`` and moves none."""
        if readonly:
            return cls._open_readonly(state_dir)
        path = os.path.join(state_dir, FILENAME)
        try:
            if not os.path.isdir(state_dir):
                os.makedirs(state_dir, mode=0o700, exist_ok=True)
                os.chmod(state_dir, 0o700)
            if not os.path.exists(path):
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise StoreError(f"cannot create state dir {state_dir}: {exc.strerror}") from exc
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open: {exc}") from exc
        store = cls(conn, path, quarantine=quarantine)
        with store._errors("open"):
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            store._migrate()
        store._committed = store._read_state()
        return store

    @classmethod
    def _open_readonly(cls, state_dir: str) -> Store:
        """A dry run reads the state and never writes it: no journal_mode pragma, no
        migration, and no -wal/-shm files. SQLite creates those even for ``mode=ro`` when the
        database is in WAL mode, so when no -wal file exists (no riskwatch has the file open and
        everything is in the main file) the file is also opened ``immutable``; when one exists,
        a daemon is probably running and the WAL must be read through."""
        path = os.path.join(state_dir, FILENAME)
        if not os.path.isfile(path):
            raise StoreError(f"{path}: no such file")
        uri = pathlib.Path(path).absolute().as_uri() + "?mode=ro"
        if not os.path.exists(path + "-wal"):
            uri += "&immutable=1"
        try:
            conn = sqlite3.connect(
                uri, uri=True, check_same_thread=False, isolation_level=None, timeout=10
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open read-only: {exc}") from exc
        store = cls(conn, path, readonly=True)
        try:
            with store._errors("open read-only"):
                version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != len(MIGRATIONS):
                raise StoreError(
                    f"{path}: schema {version}, this riskwatch uses {len(MIGRATIONS)}; run"
                    " riskwatch once without --dry-run to migrate it"
                    if version < len(MIGRATIONS)
                    else f"{path}: written by a newer riskwatch (schema {version});"
                    " upgrade riskwatch"
                )
            store._committed = store._read_state()
        except StoreError:
            conn.close()
            raise
        return store

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: written by a newer riskwatch (schema {version}); upgrade riskwatch"
            )
        for i in range(version, len(MIGRATIONS)):
            with self._transaction():
                migrate.apply(self._conn, MIGRATIONS[i])
                self._conn.execute(f"PRAGMA user_version={i + 1}")

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot {doing}: {exc}") from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE .. COMMIT, rolled back on any error, COMMIT's own included: the
        connection is shared, so one failed COMMIT (disk full, I/O error, busy) left open would
        make every later BEGIN fail until a restart."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the first error is the one to report
                        self._conn.execute("ROLLBACK")
                raise

    def _write(self, doing: str, body: Callable[[sqlite3.Connection], object]) -> None:
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only (--dry-run): cannot {doing}")
        with self._errors(doing), self._transaction() as conn:
            body(conn)

    def _read(self, doing: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._errors(doing), self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ alert state

    def load_state(self) -> dict[AlertKey, AlertState]:
        """The alert state as last committed: read once at open, then kept by commit_cycle
        (this process is the state's only writer), so a start does not parse it twice."""
        return dict(self._committed)

    def alert(self, key: AlertKey) -> AlertState | None:
        """One alert as last committed (no copy of the whole state)."""
        return self._committed.get(key)

    def _read_state(self) -> dict[AlertKey, AlertState]:
        rows = self._read("read alert state", "SELECT key, data FROM alerts")
        out: dict[AlertKey, AlertState] = {}
        for key, data in rows:
            try:
                s = alert_row(key, data)
            except CorruptRow as bad:
                self._set_aside(bad, key, (key, data))
                continue
            out[s.key] = s
        return out

    def _set_aside(self, bad: CorruptRow, row_id: object, row: object) -> None:
        """A row that cannot be read: moved to ``quarantine`` with one warning (the daemon) or
        remembered in ``corrupt`` for ``status`` to show. Never raised: one bad row must not
        stop the others, nor the daemon."""
        error = StoreError(f"{self.path}: {bad}")
        if self.quarantine:
            try:
                self._write("set aside a corrupt row", lambda c: quarantine.move(
                    c, bad, row_id, row, time.time()))  # fmt: skip
            except StoreError as exc:  # the disk may be full: skip it this time, say so once
                if all(str(e) != str(error) for e in self.corrupt):
                    log.warning("%s; could not move it aside (%s), skipping it", error, exc)
            else:
                log.warning("%s; moved it to the quarantine table and went on", error)
                return
        if all(str(e) != str(error) for e in self.corrupt):
            self.corrupt.append(error)

    def quarantined(self) -> int:  # how many rows were set aside as corrupt (for ``status``)
        with self._errors("read quarantine"), self._lock:
            return quarantine.count(self._conn)

    def commit_cycle(
        self,
        state: Mapping[AlertKey, AlertState],
        outgoing: Sequence[tuple[str, Message]] = (),
        meta: Mapping[str, str] | None = None,
        *,
        records: Sequence[history.Record] = (),
        forget_before: float | None = None,
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """Write the new alert state, queue ``outgoing``, set ``meta``, add the cycle's history
        ``records`` and prune the history older than ``forget_before``: all or nothing; ``also``
        writes more in the same transaction (the answering layer's memory and acks)."""
        old = self._committed
        gone = [(_key_json(k),) for k in old if k not in state]
        changed = [
            (_key_json(k), state_to_json(s))
            for k, s in state.items()
            if (was := old.get(k)) is not s and was != s
        ]

        queued = [
            (d, m.channel, m.title, m.body, m.created_at, json.dumps(m.keys), m.notify_type)
            for d, m in outgoing
        ]

        def body(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM alerts WHERE key = ?", gone)
            conn.executemany("INSERT OR REPLACE INTO alerts (key, data) VALUES (?, ?)", changed)
            conn.executemany(
                "INSERT INTO outbox (dest_key, channel, title, body, created_at, keys, notify_type)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                queued,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                list((meta or {}).items()),
            )
            history.insert(conn, records)
            if forget_before is not None:
                history.prune(conn, forget_before)
            if also is not None:
                also(conn)

        with self._lock:
            self._write("commit cycle", body)
            self._committed = dict(state)

    # ------------------------------------------------------------------ meta

    def get_meta(self, key: str) -> str | None:
        rows = self._read("read meta", "SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "write meta",
            lambda c: c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)
            ),
        )

    # ------------------------------------------------------------------ outbox

    def undelivered(self, dest_key: str | None = None) -> list[OutboxItem]:
        """Queued messages in order (all, or one URL's); a corrupt row is set aside."""
        where, params = ("WHERE dest_key = ?", (dest_key,)) if dest_key else ("", ())
        rows = self._read(
            "read outbox", f"SELECT {OUTBOX_COLUMNS} FROM outbox {where} ORDER BY id", params
        )
        out: list[OutboxItem] = []
        for r in rows:
            try:
                out.append(outbox_row(r))
            except CorruptRow as bad:
                self._set_aside(bad, r[0], r)
        return out

    def outbox_depth(self) -> int:
        """How many messages wait for delivery (a metric read every cycle: a COUNT, not rows)."""
        ((n,),) = self._read("read outbox", "SELECT COUNT(*) FROM outbox")
        return int(n)

    def dest_keys(self) -> set[str]:
        return {k for (k,) in self._read("read outbox", "SELECT DISTINCT dest_key FROM outbox")}

    def mark_parts_sent(self, item_id: int, parts_sent: int, sends: int = 0) -> None:
        """``sends``: the send attempts the accepted part took (added to the count)."""
        self._write(
            "update outbox",
            lambda c: c.execute(
                "UPDATE outbox SET parts_sent = ?, sends = sends + ? WHERE id = ?",
                (parts_sent, sends, item_id),
            ),
        )

    def mark_failed(
        self,
        item_id: int,
        *,
        attempts: int,
        next_attempt_at: float,
        error: str,
        sends: int = 0,
        outcome: history.Record | None = None,
        uncertain: int | None = None,
    ) -> None:
        """A failed delivery cycle (``attempts`` counts them; ``sends`` adds this cycle's send
        attempts; ``uncertain`` counts sends that may have arrived, None: unchanged);
        ``outcome`` goes to the history in the same transaction."""
        sql = (
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?,"
            " sends = sends + ?, uncertain = COALESCE(?, uncertain)"
        )
        args = (attempts, next_attempt_at, error, sends, uncertain, item_id)
        self._write(
            "update outbox", lambda c: history.after(c, f"{sql} WHERE id = ?", args, outcome)
        )

    def remove(self, item_id: int, outcome: history.Record | None = None) -> None:
        """Sent (or dropped): the message leaves the outbox; ``outcome`` goes to the history in
        the same transaction."""
        sql = "DELETE FROM outbox WHERE id = ?"
        self._write("update outbox", lambda c: history.after(c, sql, (item_id,), outcome))

    def read_history(self, since: float) -> list[history.Record]:
        """The history from ``since`` on, oldest first (``riskwatch history``); a row that is
        not what riskwatch wrote is left out and named in ``corrupt``."""
        with self._errors("read history"), self._lock:
            rows = history.select(self._conn, since)
        return checked_history(self.path, rows, self.corrupt)
