"""The Alertmanager sender: one base URL, one ``POST /api/v2/alerts`` per queued post.

It is a ``Sender`` like apprise's, so an Alertmanager URL gets what every URL gets: its own
worker thread, retries with backoff, the durable outbox (a post survives a restart), and no
other URL waits for it. Every configured URL gets every post, as Prometheus does: each
Alertmanager of a cluster must hear every alert for the cluster to deduplicate, so they are
never load-balanced.

The body is written at send time from the queued document (``render.alertmanager``), so a
post that waited through an outage still has a firing ``endsAt`` ahead of it. A URL may carry
basic-auth credentials: only the masked form is shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from riskwatch import logs
from riskwatch.delivery.apprise_sender import UNLIMITED
from riskwatch.errors import DeliveryError, StoreError
from riskwatch.render import alertmanager as am
from riskwatch.store.db import Store

log = logging.getLogger("riskwatch.notify")

ENDPOINT = "/api/v2/alerts"
_EXCERPT = 160
META_ACCEPTED = "alertmanager.accepted."  # + destination key: the newest post it accepted


class Accepted:
    """When the newest post each Alertmanager accepted was queued, kept in the store: a post
    superseded before a restart (or a reload that rebuilt its sender) stays superseded, so its
    stale firing set never re-fires an alert resolved since."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: str) -> float:
        try:
            return float(self._store.get_meta(META_ACCEPTED + key) or 0.0)
        except (StoreError, ValueError):
            return 0.0

    def set(self, key: str, queued: float) -> None:
        try:
            self._store.set_meta(META_ACCEPTED + key, repr(queued))
        except StoreError as exc:  # the post was accepted; only the memory of it is shorter
            log.warning("could not record an accepted Alertmanager post: %s", exc)


def masked(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``; a user name without a password
    is a token (``https://TOKEN@host``), so it is the one replaced."""
    parts = urlsplit(url)
    if parts.username is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    user = logs.MASK if parts.password is None else f"{parts.username}:{logs.MASK}"
    netloc = f"{user}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class AlertmanagerSender:
    """Posts queued Alertmanager documents to one Alertmanager (``base_url`` + ENDPOINT)."""

    # A JSON document takes no "(delayed 4m12s)" prefix: Alertmanager is told the times.
    marks_late = False

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        clock: Callable[[], float] = time.time,
        accepted: Accepted | None = None,
        key: str = "",
    ) -> None:
        self._url = base_url.rstrip("/") + ENDPOINT
        self._shown = masked(base_url.rstrip("/"))
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._session: Any = None
        self._accepted, self._key = accepted, key
        # queued_at of the newest post accepted (remembered across restarts with ``accepted``)
        self._newest = accepted.get(key) if accepted is not None else 0.0

    def display(self) -> str:
        return self._shown

    def limit(self) -> int:
        return UNLIMITED  # a JSON document must never be split

    def title_separate(self) -> bool:
        return True

    def send(self, title: str, body: str, notify_type: str = "info") -> None:
        """Post one queued document. One older than a post already accepted is superseded:
        the outbox lets a post that keeps failing fall behind newer ones, and its stale firing
        set must not undo a newer resolve, so only its events (a liquidation, told in no
        other post) are sent, and a post without any counts as delivered.
        ``notify_type`` is for chat services: Alertmanager routes by the ``severity`` label."""
        now = self._clock()
        with self._lock:  # one accepted "in the future" (the clock stepped back) orders nothing
            newest = self._newest if self._newest <= now else float("-inf")
        try:
            queued = am.queued_at(body)
            superseded = queued < newest
            alerts = am.api_alerts(body, now, once_only=superseded)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DeliveryError(f"{self._shown}: unreadable queued post ({exc})") from exc
        if superseded and not alerts:
            log.info("%s: skipped a post queued before one already accepted", self._shown)
            return
        self._post(alerts)
        with self._lock:
            newer = queued > self._newest or self._newest > now
            self._newest = queued if newer else self._newest
        if newer and self._accepted is not None:
            self._accepted.set(self._key, queued)

    def _post(self, alerts: list[dict[str, object]]) -> None:
        """``POST /api/v2/alerts``; ``DeliveryError`` (one line, the password masked) unless
        Alertmanager accepted them."""
        import requests

        with self._lock:
            if self._session is None:
                self._session = requests.Session()
            session = self._session
        try:
            resp = session.post(self._url, json=alerts, timeout=self.timeout)
        except requests.Timeout as exc:
            raise DeliveryError(f"{self._shown}: timeout after {self.timeout:g} s") from exc
        except requests.ConnectionError as exc:
            raise DeliveryError(f"{self._shown}: {_connection_reason(exc)}") from exc
        except requests.RequestException as exc:
            raise DeliveryError(f"{self._shown}: {type(exc).__name__}") from exc
        with resp:
            if 200 <= resp.status_code < 300:
                return
            excerpt = " ".join(resp.text[:_EXCERPT].split())
            retry_after = _retry_after(resp.headers.get("Retry-After"))
        raise DeliveryError(
            logs.redact(f"{self._shown}: HTTP {resp.status_code}: {excerpt or resp.reason}"),
            retry_after=retry_after,
        )

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the ordinary backoff serves


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "name not resolved"),
        ("nodename nor servname", "name not resolved"),
        ("Temporary failure in name resolution", "name not resolved"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
        ("timed out", "connect timeout"),
    ):
        if needle in text:
            return reason
    return "connection failed"
