"""Prometheus metrics: requests and latency by route template and status, served model versions, risk levels.

Each app gets its own ``CollectorRegistry`` so that several apps in one process (tests) do not collide; labels use
the route template (``/v1/hs/suggest``), never the raw path, so that unknown URLs cannot blow up cardinality.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

UNMATCHED_ROUTE = "<unmatched>"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.requests = Counter("clearance_http_requests_total", "HTTP requests by route template and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("clearance_http_request_duration_seconds", "Request latency by route template.",
                                 ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.model_version = Gauge("clearance_model_version", "Registry version of each served model.",
                                   ["model"], registry=self.registry)
        self.model_info = Gauge("clearance_model_info", "1 for the served version of each model (with its source).",
                                ["model", "version", "source"], registry=self.registry)
        self.model_stale = Gauge("clearance_models_stale",
                                 "1 while the service serves cached versions because the registry was unreachable.",
                                 registry=self.registry)
        self.reloads = Counter("clearance_model_reloads_total", "Registry checks by outcome.", ["outcome"],
                               registry=self.registry)
        self.risk_levels = Counter("clearance_predicted_risk_level_total", "Predicted risk levels served.",
                                   ["level"], registry=self.registry)
        self.auth_failures = Counter("clearance_auth_failures_total",
                                     "Failed authentications by door (api, console) and reason.", ["door", "reason"],
                                     registry=self.registry)
        self.auth_lockouts = Counter("clearance_auth_lockouts_total",
                                     "Client addresses and key prefixes locked out after too many failures.",
                                     registry=self.registry)
        self.auth_refused = Counter("clearance_auth_locked_refusals_total",
                                    "Attempts answered 429 because the caller was locked out.",
                                    registry=self.registry)
        self._info_lock = threading.Lock()
        self._info_labels: set[tuple[str, str, str]] = set()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def observe_risk_levels(self, levels: Iterable[str]) -> None:
        for level in levels:
            self.risk_levels.labels(level).inc()

    def set_served(self, versions: dict[str, tuple[int, str]], stale: bool) -> None:
        """``versions``: model name → (version, source). Old version labels are removed, not left at 1."""
        with self._info_lock:
            wanted = {(name, str(v), source) for name, (v, source) in versions.items()}
            for labels in self._info_labels - wanted:
                self.model_info.remove(*labels)
            for labels in wanted:
                self.model_info.labels(*labels).set(1)
            self._info_labels = wanted
            for name, (version, _source) in versions.items():
                self.model_version.labels(name).set(version)
            self.model_stale.set(1 if stale else 0)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
