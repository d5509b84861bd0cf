"""Writes stored shipments, predictions and outcomes directly (the KPI and monitoring tests' fixtures).

The product's ingest (scoring with storage, outcome posts and imports) has its own tests; these fixtures need exact,
hand-chosen rows, so they bypass it and insert the table rows as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from data.store.shipments import OutcomeRow, PredictionRow, ShipmentRow

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # a Monday, 12:00 in China


def shipment(shipment_id: str, declared_at: datetime, **overrides: Any) -> dict[str, Any]:
    row = {"shipment_id": shipment_id, "declared_at": declared_at, "order_created_at": None, "data_ready_at": None,
           "export_port": "CNSHA", "destination_port": "USLAX", "destination_country": "US", "carrier": "SF",
           "channel": "air", "hs_chapter": "85", "declared_value_usd": 1000.0, "n_error_findings": 0,
           "n_three_document_findings": 0, "document": {}, "features": {}, "findings": [], "source": "api",
           "first_seen_at": declared_at, "updated_at": declared_at}
    row.update(overrides)
    return row


def outcome(shipment_id: str, declared_at: datetime, *, hours: float | None = 24.0, **overrides: Any
            ) -> dict[str, Any]:
    row = {"shipment_id": shipment_id, "declared_at": declared_at,
           "released_at": declared_at + timedelta(hours=hours) if hours is not None else None, "delay_hours": hours,
           "inspected": False, "result": "released", "first_pass": True, "costs": {}, "source": "api",
           "received_at": declared_at + timedelta(days=3)}
    row.update(overrides)
    return row


def prediction(shipment_id: str, scored_at: datetime, **overrides: Any) -> dict[str, Any]:
    row = {"shipment_id": shipment_id, "scored_at": scored_at, "delay_version": 1, "risk_version": 1,
           "p50_hours": 20.0, "p90_hours": 40.0, "risk_level": "low", "p_low": 0.8, "p_medium": 0.15, "p_high": 0.05}
    row.update(overrides)
    return row


def add_rows(engine: Engine, shipments: Iterable[dict] = (), outcomes: Iterable[dict] = (),
             predictions: Iterable[dict] = ()) -> None:
    """Bulk-insert the rows (executemany: fast enough for the benchmark's 200k as well)."""
    with engine.begin() as conn:
        for table, rows in ((ShipmentRow, list(shipments)), (OutcomeRow, list(outcomes)),
                            (PredictionRow, list(predictions))):
            if rows:
                conn.execute(insert(table), rows)
