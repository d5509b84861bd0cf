"""Scored shipments, what the models predicted for them, and what really happened at clearance.

- ``shipments``: one row per shipment id: the validated documents, the feature-row inputs and the findings, plus the
  columns that the dashboard and the retraining frame filter and group by (declaration time, ports, carrier,
  channel, HS chapter), kept as real columns so those queries never parse JSON.
- ``shipment_predictions``: every time a shipment was scored, with the model versions that answered.
- ``shipment_outcomes``: the clearance outcome, one row per shipment id (a re-sent outcome replaces it: idempotent).
  No foreign key to ``shipments``: an ERP can report the outcome of a shipment this service never scored, and it
  still counts in the KPIs; only shipments with documents can train a model.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from data.store.db import Base, UTCDateTime

OUTCOME_RESULTS: tuple[str, ...] = ("released", "held", "returned", "rejected")


class ShipmentRow(Base):
    __tablename__ = "shipments"

    shipment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    order_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    data_ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    export_port: Mapped[str] = mapped_column(String(8), index=True)
    destination_port: Mapped[str] = mapped_column(String(8), index=True)
    destination_country: Mapped[str] = mapped_column(String(2))
    carrier: Mapped[str] = mapped_column(String(100), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    hs_chapter: Mapped[str | None] = mapped_column(String(2), nullable=True, index=True)
    declared_value_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    n_error_findings: Mapped[int] = mapped_column(Integer, default=0)
    n_three_document_findings: Mapped[int] = mapped_column(Integer, default=0)
    document: Mapped[dict] = mapped_column(JSON)  # the validated shipment, as JSON
    features: Mapped[dict] = mapped_column(JSON)  # the feature row it was scored with
    findings: Mapped[list] = mapped_column(JSON, default=list)  # [{"code", "severity", "category"}]
    source: Mapped[str] = mapped_column(String(16))  # api | cli | import
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PredictionRow(Base):
    __tablename__ = "shipment_predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.shipment_id", ondelete="CASCADE"), index=True)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    delay_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    risk_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    p50_hours: Mapped[float] = mapped_column(Float)
    p90_hours: Mapped[float] = mapped_column(Float)
    risk_level: Mapped[str] = mapped_column(String(8))
    p_low: Mapped[float] = mapped_column(Float)
    p_medium: Mapped[float] = mapped_column(Float)
    p_high: Mapped[float] = mapped_column(Float)


class OutcomeRow(Base):
    __tablename__ = "shipment_outcomes"
    __table_args__ = (CheckConstraint("result IN ('released', 'held', 'returned', 'rejected')",
                                      name="ck_shipment_outcomes_result"),)

    shipment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delay_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    inspected: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[str] = mapped_column(String(16), index=True)
    first_pass: Mapped[bool] = mapped_column(Boolean)
    costs: Mapped[dict] = mapped_column(JSON, default=dict)  # {"demurrage", "detention", "inspection_fees", ...}
    source: Mapped[str] = mapped_column(String(16))  # api | import
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
