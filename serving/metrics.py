"""Prometheus metrics: requests and latency by route template and status, served model versions, risk levels.

Each app gets its own ``CollectorRegistry`` so that several apps in one process (tests) do not collide; labels use
the route template (``/v1/hs/suggest``), never the raw path, so that unknown URLs cannot blow up cardinality.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

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
        self.started_at = time.time()

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

    def api_figures(self) -> dict[str, float | int | None]:
        """Availability and latency of the API routes (``/v1/...``) since this process started, from the request
        counter and the latency histogram: availability is the share of requests not answered with a 5xx; latency
        P50/P90 are read off the histogram buckets (linear inside a bucket, as Prometheus' histogram_quantile)."""
        total = errors = 0.0
        buckets: dict[float, float] = {}
        for family in self.registry.collect():
            if family.name == "clearance_http_requests":
                for sample in family.samples:
                    if sample.name.endswith("_total") and sample.labels["route"].startswith("/v1/"):
                        total += sample.value
                        errors += sample.value if sample.labels["status"].startswith("5") else 0.0
            elif family.name == "clearance_http_request_duration_seconds":
                for sample in family.samples:
                    if sample.name.endswith("_bucket") and sample.labels["route"].startswith("/v1/"):
                        le = float(sample.labels["le"])
                        buckets[le] = buckets.get(le, 0.0) + sample.value
        return {"api_requests": int(total), "api_availability": (1.0 - errors / total) if total else None,
                "api_latency_p50_ms": _bucket_quantile(buckets, 0.5), "api_latency_p90_ms": _bucket_quantile(buckets, 0.9),
                "since": self.started_at}

    def add_kpi_gauges(self, figures: Callable[[], dict[str, float]], window_days: int, refresh_s: float) -> None:
        """Export the dashboard's totals over the last ``window_days`` as ``clearance_kpi{figure=...}``."""
        self.registry.register(KpiCollector(figures, window_days, refresh_s))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _bucket_quantile(buckets: dict[float, float], q: float) -> float | None:
    """The ``q`` quantile in milliseconds from cumulative histogram buckets (``le`` -> count); None without requests."""
    edges = sorted(buckets)
    if not edges or buckets[edges[-1]] == 0:
        return None
    rank = q * buckets[edges[-1]]
    lower, below = 0.0, 0.0
    for le in edges:
        count = buckets[le]
        if count >= rank:
            if le == float("inf"):
                return lower * 1000.0  # beyond the last finite bucket: its bound is all one can say
            inside = (rank - below) / (count - below) if count > below else 1.0
            return (lower + (le - lower) * inside) * 1000.0
        lower, below = le, count
    return lower * 1000.0


class KpiCollector:
    """The KPI totals as gauges, computed on scrape but at most every ``refresh_s`` (a scrape every 15 s must not
    re-read the store each time). A figure with no data is left out (absent), not exported as 0."""

    def __init__(self, figures: Callable[[], dict[str, float]], window_days: int, refresh_s: float):
        self._figures = figures
        self._window = str(window_days)
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, float]] | None = None

    def _current(self) -> dict[str, float]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self._refresh_s:
                try:
                    self._cached = (now, self._figures())
                except Exception as exc:  # the store briefly unreachable: no KPI samples, the other metrics stay
                    log.warning("KPI gauges unavailable: %s", exc)
                    return {}
            return self._cached[1]

    def describe(self):  # no samples at registration time: the store is read on the first scrape only
        return [GaugeMetricFamily("clearance_kpi", "Customs KPI over the last window_days days (see docs/console.md).",
                                  labels=["figure", "window_days"])]

    def collect(self):
        family = GaugeMetricFamily("clearance_kpi", "Customs KPI over the last window_days days (see docs/console.md).",
                                   labels=["figure", "window_days"])
        for figure, value in sorted(self._current().items()):
            family.add_metric([figure, self._window], value)
        yield family
