"""Writes stored shipments, predictions and outcomes directly (the KPI and monitoring tests' fixtures).

The product's ingest (scoring with storage, outcome posts and imports) has its own tests; these fixtures need exact,
hand-chosen rows, so they bypass it and insert the table rows as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
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


def add_history(engine, frame: pd.DataFrame, *, shift_hours: float = 0.0, shift_features: bool = False) -> None:
    """Store a demo history frame (``demo.history.history_frame`` rows) as shipments with their outcomes;
    ``shift_*`` make a regime change: later releases, a new product mix."""
    import json

    import numpy as np

    from features.shipment_features import FEATURE_NAMES

    features = json.loads(frame[FEATURE_NAMES].to_json(orient="records"))
    shipments, outcomes = [], []
    for i, (row, feats) in enumerate(zip(frame.itertuples(index=False), features)):
        if shift_features:  # a new product mix: five times the value, all by sea
            feats["declared_value_usd"] = feats["declared_value_usd"] * 5
            feats["log_declared_value_usd"] = float(np.log1p(feats["declared_value_usd"]))
            feats["channel"] = "sea_fcl"
        declared = row.declared_at.to_pydatetime()
        sid = f"m{i}"
        shipments.append(shipment(sid, declared, features=feats, channel=feats["channel"], carrier=feats["carrier"],
                                  export_port=feats["export_port"], hs_chapter=feats["hs_chapter"],
                                  destination_port=feats["destination_port"],
                                  n_error_findings=int(feats["n_findings_error"] or 0),
                                  n_three_document_findings=int(feats["n_three_document_findings"] or 0)))
        returned = row.outcome == "returned"
        outcomes.append(outcome(sid, declared, hours=None if returned else float(row.delay_hours) + shift_hours,
                                inspected=row.outcome == "inspected",
                                result=row.outcome if row.outcome in ("held", "returned") else "released",
                                first_pass=row.outcome == "released"))
    add_rows(engine, shipments=shipments, outcomes=outcomes)
