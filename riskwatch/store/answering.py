"""The tables of answering back (DESIGN 12), one migration of the store: silences (matchers
as JSON), acks (by alert key), the answering layer's memory per alert, and the short ids that
Telegram buttons name alerts by. Read and written by ``store.silences`` and
``store.alertids``; apart so that the store's migrations list stays a list.
"""

MIGRATION = """
    CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        ends_at REAL NOT NULL
    );
    CREATE TABLE acks (key TEXT PRIMARY KEY, by TEXT NOT NULL, at REAL NOT NULL);
    CREATE TABLE answering (key TEXT PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE alert_ids (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        since REAL NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX alert_ids_key ON alert_ids (key, since);
    """
