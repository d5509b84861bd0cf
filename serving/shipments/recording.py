"""Scored shipments into the store, and the port congestion figures the scorer reads.

:class:`ShipmentRecorder` keeps what was scored (``Settings.record_shipments``, on by default): the document, the
feature row it was scored with (congestion figures included), its findings and one prediction row naming the model
versions. The service records off the request path (a queue and one writer thread: a response never waits for the
store); ``clearance risk score`` records each chunk as it goes (:func:`record_scored`). Both also refresh the scorer's
:class:`~features.congestion.CongestionSnapshot` from the store's recent outcomes every
``Settings.congestion_refresh_s`` seconds (:meth:`ShipmentRecorder.refresh_congestion`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from data.store.outcomes import ShipmentStore
from features.congestion import CongestionSnapshot, current_congestion
from models.names import DELAY, RISK

log = logging.getLogger(__name__)


def record_scored(engine: Engine, documents: Sequence[Any], results: Sequence[Any], versions: dict[str, int],
                  congestion: CongestionSnapshot | None, source: str) -> int:
    """Store the scored shipments among ``documents`` (a Shipment, a dict or raw JSON each; ``results[i]`` is the
    ScoreResult of document i, None where it was invalid); returns how many were stored."""
    from data.shipments.schema import Shipment
    from features.shipment_features import feature_row
    from features.shipment_records import shipment_record

    shipments, predictions = [], []
    now = datetime.now(UTC)
    for doc, result in zip(documents, results, strict=True):
        if result is None:
            continue
        if isinstance(doc, Shipment):
            shipment = doc
        elif isinstance(doc, bytes | bytearray | str):
            shipment = Shipment.model_validate_json(doc)
        else:
            shipment = Shipment.model_validate(doc)
        row = feature_row(shipment, result.findings, congestion)
        shipments.append(shipment_record(shipment, result.findings, row, source))
        p = result.risk.probabilities
        predictions.append({"shipment_id": shipment.shipment_id, "scored_at": now,
                            "delay_version": versions.get(DELAY), "risk_version": versions.get(RISK),
                            "p50_hours": result.delay.p50_hours, "p90_hours": result.delay.p90_hours,
                            "risk_level": result.risk.level, "p_low": p.low, "p_medium": p.medium,
                            "p_high": p.high})
    if not shipments:
        return 0
    store = ShipmentStore(engine)
    store.upsert_shipments(shipments)
    store.add_predictions(predictions)
    return len(shipments)


class ShipmentRecorder:
    """The service's recorder: :meth:`record` queues, one daemon thread writes. ``enabled=False`` records nothing
    (the congestion figures are refreshed either way: they come from outcomes, not from recorded scores)."""

    def __init__(self, engine: Engine, *, enabled: bool = True, refresh_s: float = 300.0, max_queue: int = 1000):
        self.engine = engine
        self.enabled = enabled
        self.refresh_s = refresh_s
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._snapshot: CongestionSnapshot | None = None
        self._refreshed = float("-inf")
        self.dropped = 0

    # ---- congestion --------------------------------------------------------------------------------------------
    def refresh_congestion(self, scorer: Any) -> None:
        """Give ``scorer`` the current congestion figures, recomputed when older than ``refresh_s``. Blocking (a
        store query every few minutes): call it from a worker thread."""
        if time.monotonic() - self._refreshed >= self.refresh_s:
            with self._lock:
                if time.monotonic() - self._refreshed >= self.refresh_s:
                    try:
                        self._snapshot = current_congestion(self.engine)
                    except Exception:  # figures stay as they were; scoring goes on
                        log.exception("refreshing the congestion figures failed")
                    self._refreshed = time.monotonic()
        if scorer is not None and getattr(scorer, "congestion", None) is not self._snapshot:
            scorer.congestion = self._snapshot

    # ---- recording ---------------------------------------------------------------------------------------------
    def record(self, documents: Sequence[Any], results: Sequence[Any], versions: dict[str, int],
               congestion: CongestionSnapshot | None) -> None:
        if not self.enabled:
            return
        self._start()
        try:
            self._queue.put_nowait((list(documents), list(results), dict(versions), congestion))
        except queue.Full:  # the store is far behind: losing a record beats holding the response
            self.dropped += 1
            log.warning("shipment recorder queue full; %d batches not recorded", self.dropped)

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="clearance-recorder", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                record_scored(self.engine, *item, source="api")
            except Exception:
                log.exception("recording scored shipments failed")
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until everything queued is written (tests, shutdown)."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self.flush()
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None
