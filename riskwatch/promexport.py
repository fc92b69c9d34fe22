"""Optional Prometheus endpoint (``metrics: {listen: 127.0.0.1:9464}``), via prometheus_client.

Imported only when configured. Its own registry (no default process collectors of other
libraries), served by prometheus_client's threaded HTTP server on the configured address.
"""

from __future__ import annotations

import logging

from riskwatch.cycle import Outcome, Watcher
from riskwatch.errors import ConfigError
from riskwatch.metrics import BY_SCOPE, POSITION_METRICS

log = logging.getLogger("riskwatch.metrics")


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
        host, _, port = listen.rpartition(":")
        self.registry = r = CollectorRegistry()
        pos = ("product_type", "symbol", "side")
        self.position_metric = Gauge(
            "riskwatch_position_metric", "a position's metric value", [*pos, "metric"], registry=r
        )
        self.alerts = Gauge(
            "riskwatch_alerts", "alerts by status and severity", ["status", "severity"], registry=r
        )
        self.alert_state = Gauge(
            "riskwatch_alert_firing",
            "1 while the alert fires (2 when critical)",
            ["rule", "product_type", "subject", "side"],
            registry=r,
        )
        self.poll_seconds = Histogram(
            "riskwatch_cycle_duration_seconds", "duration of one watch cycle", registry=r
        )
        self.errors = Counter(
            "riskwatch_poll_errors_total", "failed polls by error kind", ["kind"], registry=r
        )
        self.last_success = Gauge(
            "riskwatch_last_successful_poll_timestamp_seconds", "last good poll", registry=r
        )
        self.positions = Gauge("riskwatch_positions", "open positions watched", registry=r)
        self.outbox = Gauge("riskwatch_outbox_depth", "undelivered messages", registry=r)
        self.enqueued = Counter(
            "riskwatch_notifications_enqueued_total",
            "messages queued per channel",
            ["channel"],
            registry=r,
        )
        try:
            self._server, self._thread = start_http_server(
                int(port), addr=host or "127.0.0.1", registry=r
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"metrics.listen {listen}: cannot listen: {exc}") from exc
        log.info("Prometheus metrics on http://%s/metrics", listen)

    def update(self, outcome: Outcome, watcher: Watcher) -> None:
        self.poll_seconds.observe(outcome.duration)
        if outcome.error is not None:
            self.errors.labels(kind=type(outcome.error).__name__).inc()
        if watcher.health.last_success:
            self.last_success.set(watcher.health.last_success)
        for _, message in outcome.outgoing:
            self.enqueued.labels(channel=message.channel).inc()
        if outcome.snapshot is not None:
            self._positions(outcome)
        self._alerts(watcher)
        if watcher.persist:
            self.outbox.set(watcher.store.outbox_depth())

    def _positions(self, outcome: Outcome) -> None:
        snap = outcome.snapshot
        self.position_metric.clear()
        self.positions.set(len(snap.positions))
        fns = BY_SCOPE["position"]
        for p in snap.positions:
            for name in POSITION_METRICS:
                value = fns[name].fn(p)
                if value is not None:
                    self.position_metric.labels(p.product_type, p.symbol, p.side, name).set(value)

    def _alerts(self, watcher: Watcher) -> None:
        self.alerts.clear()
        self.alert_state.clear()
        counts: dict[tuple[str, str], int] = {}
        for a in watcher.state.values():
            counts[(a.status, a.severity)] = counts.get((a.status, a.severity), 0) + 1
            if a.status == "firing":
                level = 2 if a.severity == "critical" else 1
                self.alert_state.labels(*a.key).set(level)
        for (status, severity), n in counts.items():
            self.alerts.labels(status, severity).set(n)

    def close(self) -> None:
        self._server.shutdown()
