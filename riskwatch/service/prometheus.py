"""Optional Prometheus endpoint (``metrics: {listen: 127.0.0.1:9464}``), via prometheus_client.

Imported only when configured. Its own registry (no default process collectors of other
libraries), served by prometheus_client's threaded HTTP server on the configured address.

Per-position and per-alert series come from a collector that reads the last *published*
snapshot and alert state at scrape time: the loop swaps in references (both are immutable
once published), so a scrape never sees a half-rebuilt set of series, and the metric values
are computed per scrape (every 15-60 s) instead of per cycle.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence

from riskwatch.config.values import listen_address
from riskwatch.core.metrics import BY_SCOPE
from riskwatch.errors import ConfigError
from riskwatch.model import AlertKey, AlertState, Snapshot
from riskwatch.service.cycle import Outcome, Watcher

log = logging.getLogger("riskwatch.metrics")


class _Published:
    """The last snapshot and alert state, as prometheus_client's collector protocol wants."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: dict[str, Snapshot] = {}  # each account's last good poll (DESIGN 14)
        self._state: Mapping[AlertKey, AlertState] = {}

    def publish(
        self, snapshots: Sequence[Snapshot] | Snapshot | None, state: Mapping[AlertKey, AlertState]
    ) -> None:
        if isinstance(snapshots, Snapshot):
            snapshots = (snapshots,)
        with self._lock:
            if snapshots:
                self._snapshots = {**self._snapshots, **{s.account: s for s in snapshots}}
            self._state = state

    def collect(self) -> Iterator[object]:
        """The series; never raises (a scrape must never print a traceback): a value that
        cannot be computed is left out, and a failure ends the scrape's families early."""
        try:
            yield from self._collect()
        except Exception as exc:  # the edge: one line, the rest of the registry still served
            log.warning("metrics scrape incomplete: %s: %s", type(exc).__name__, exc)

    def _collect(self) -> Iterator[object]:
        from prometheus_client.core import GaugeMetricFamily

        with self._lock:
            snapshots, state = list(self._snapshots.values()), self._state
        values = GaugeMetricFamily(
            "riskwatch_position_metric",
            "a position's metric value",
            labels=["product_type", "symbol", "side", "metric", "account"],
        )
        for snap in snapshots:
            for p in snap.positions:
                for name, metric in BY_SCOPE["position"].items():
                    try:
                        value = metric.fn(p)
                    except (ArithmeticError, ValueError, TypeError):
                        continue  # an undefined value is no series, like None
                    if value is not None:
                        labels = [p.product_type, p.symbol, p.side, name, snap.account]
                        values.add_metric(labels, value)
        yield values
        count = GaugeMetricFamily(
            "riskwatch_positions", "open positions watched", labels=["account"]
        )
        for snap in snapshots:
            count.add_metric([snap.account], len(snap.positions))
        yield count
        firing = GaugeMetricFamily(
            "riskwatch_alert_firing",
            "1 while the alert fires (2 when critical)",
            labels=["rule", "product_type", "subject", "side", "account"],
        )
        counts: dict[tuple[str, str], int] = {}
        for a in state.values():
            counts[(a.status, a.severity)] = counts.get((a.status, a.severity), 0) + 1
            if a.status == "firing":
                firing.add_metric(list(a.key), 2 if a.severity == "critical" else 1)
        yield firing
        alerts = GaugeMetricFamily(
            "riskwatch_alerts", "alerts by status and severity", labels=["status", "severity"]
        )
        for (status, severity), n in sorted(counts.items()):
            alerts.add_metric([status, severity], n)
        yield alerts


class Exporter:
    def __init__(self, listen: str) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
            from prometheus_client.exposition import start_http_server
        except ImportError as exc:
            raise ConfigError(
                "metrics.listen is set but prometheus_client is not installed: "
                "pip install 'riskwatch[metrics]'"
            ) from exc
        try:
            host, port = listen_address(listen, any_port=True)
        except ValueError as exc:
            raise ConfigError(f"metrics.listen {listen}: {exc}") from exc
        self.registry = r = CollectorRegistry()
        self.published = _Published()
        r.register(self.published)  # type: ignore[arg-type]
        self.poll_seconds = Histogram(
            "riskwatch_cycle_duration_seconds", "duration of one watch cycle", registry=r
        )
        self.errors = Counter(
            "riskwatch_poll_errors_total",
            "failed polls by error kind and account",
            ["kind", "account"],
            registry=r,
        )
        self.last_success = Gauge(
            "riskwatch_last_successful_poll_timestamp_seconds",
            "last good poll, per account",
            ["account"],
            registry=r,
        )
        self.outbox = Gauge("riskwatch_outbox_depth", "undelivered messages", registry=r)
        self.enqueued = Counter(
            "riskwatch_notifications_enqueued_total",
            "messages queued per channel",
            ["channel"],
            registry=r,
        )
        self.stream_up = Gauge(
            "riskwatch_stream_up",
            "feed: stream: 1 while the WebSockets are up, 0 while down (polling goes on)",
            registry=r,
        )
        self.stream_evaluations = Counter(
            "riskwatch_stream_evaluations_total",
            "evaluations of the rules on WebSocket marks, between polls",
            registry=r,
        )
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=r)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"metrics.listen {listen}: cannot listen: {exc}") from exc
        # socketserver prints a traceback for a request that failed (a scraper that hung up):
        # one debug line instead.
        self._server.handle_error = _quiet_error  # type: ignore[method-assign]
        log.info("Prometheus metrics on http://%s/metrics", listen)

    def update(self, outcome: Outcome, watcher: Watcher) -> None:
        if outcome.source == "stream":
            self.stream_evaluations.inc()
        else:
            self.poll_seconds.observe(outcome.duration)
        if watcher.stream_down is not None:
            self.stream_up.set(0 if watcher.health.stream_down_since is not None else 1)
        errors = outcome.errors or (
            ((watcher.accounts[0].name, outcome.error),) if outcome.error is not None else ()
        )
        for account, error in errors:
            self.errors.labels(kind=type(error).__name__, account=account).inc()
        for a in watcher.accounts:
            if a.health.last_success:
                self.last_success.labels(account=a.name).set(a.health.last_success)
        for _, message in outcome.outgoing:
            self.enqueued.labels(channel=message.channel).inc()
        self.published.publish(outcome.snapshots or outcome.snapshot, watcher.state)
        if watcher.persist and watcher.store is not None:
            self.outbox.set(watcher.store.outbox_depth())

    def close(self) -> None:
        self._server.shutdown()


def _quiet_error(request: object, client_address: object) -> None:
    import sys

    exc = sys.exc_info()[1]
    log.debug("metrics request from %s failed: %s", client_address, type(exc).__name__)
