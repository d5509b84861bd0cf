"""The KPI rows of the whole store, read once and kept in memory, so that each dashboard view is a numpy pass.

Reading 200k stored shipments into column arrays takes seconds on SQLite (the driver hands over rows one at a time);
grouping and quantiles over arrays already in memory take tens of milliseconds. So the service reads the whole
store once and re-reads it only when it changed (``data.store.kpi.change_token``: counts and latest write times)
and the copy is older than ``kpi_refresh_s``: figures are at most that many seconds behind the store, which is
what a dashboard reviewed weekly or quarterly needs, and a store that takes outcomes every minute is not re-read for
every page view. Once a copy exists, a re-read runs in a background thread while views keep using the copy they
have (``background=True``): only the very first view waits for the store.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine

from data.store.kpi import KpiRows, ReviewRows, change_token, kpi_rows, review_rows

_EVER = (datetime(1970, 1, 2, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


class KpiSource:
    def __init__(self, engine: Engine, refresh_s: float, *, background: bool = True):
        self.engine = engine
        self.refresh_s = refresh_s
        self.background = background
        self._lock = threading.Lock()
        self._cached: tuple[tuple, float, KpiRows, ReviewRows] | None = None
        self._refreshing: threading.Thread | None = None
        self.loads = 0  # how many whole-store reads (tests, the bench)

    def _read(self, token: tuple) -> None:
        rows, reviews = kpi_rows(self.engine, *_EVER), review_rows(self.engine, *_EVER)
        with self._lock:
            self._cached = (token, time.monotonic(), rows, reviews)
            self.loads += 1

    def _background_read(self, token: tuple) -> None:
        try:
            self._read(token)
        finally:
            self._refreshing = None

    def _all(self) -> tuple[KpiRows, ReviewRows]:
        with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached[1] < self.refresh_s:
                return cached[2], cached[3]
        token = change_token(self.engine)
        with self._lock:
            cached = self._cached
            if cached is not None and cached[0] == token:
                self._cached = (token, time.monotonic(), cached[2], cached[3])
                return cached[2], cached[3]
            if cached is not None and self.background:
                if self._refreshing is None:
                    self._refreshing = threading.Thread(target=self._background_read, args=(token,), daemon=True,
                                                        name="clearance-kpi-refresh")
                    self._refreshing.start()
                return cached[2], cached[3]
        self._read(token)  # the first read (or background=False): this view waits for it
        with self._lock:
            return self._cached[2], self._cached[3]

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for a background re-read in progress (tests)."""
        thread = self._refreshing
        if thread is not None:
            thread.join(timeout)

    def period(self, start: datetime, end: datetime) -> tuple[KpiRows, ReviewRows]:
        rows, reviews = self._all()
        lo, hi = start.timestamp(), end.timestamp()
        return (rows.take((rows.declared_s >= lo) & (rows.declared_s < hi)),
                reviews.take((reviews.created_s >= lo) & (reviews.created_s < hi)))

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None


def source_of(state) -> KpiSource:
    """The app's one KPI source (created on first use)."""
    source = getattr(state, "kpi_source", None)
    if source is None:
        source = state.kpi_source = KpiSource(state.engine, state.settings.kpi_refresh_s)
    return source

