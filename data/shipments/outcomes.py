"""What really happened to a shipment at clearance: the outcome an ERP or a routing system reports back.

One :class:`Outcome` per shipment id, the same fields in the API (``POST /v1/shipments/outcomes``) and in files
(``clearance shipments import``): ``shipment_id``, ``declared_at``, ``released_at`` and/or ``delay_hours``,
``inspected``, ``result`` (released / held / returned / rejected), ``first_pass`` (一次通过: accepted without
amendment) and optional ``costs``. :func:`training_labels` turns outcomes into the labels the delay and risk models
learn, by the product's own rule (:data:`RISK_HIGH_HOURS`, :data:`RISK_MEDIUM_HOURS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from data.store.shipments import OUTCOME_RESULTS

OutcomeResult = Literal["released", "held", "returned", "rejected"]
assert tuple(OutcomeResult.__args__) == OUTCOME_RESULTS  # the table's check constraint and the schema agree

#: Risk level from an outcome: high = held, returned, rejected or slower than this; medium = inspected or slower than
#: :data:`RISK_MEDIUM_HOURS`; low otherwise (the demo generator documents the same rule).
RISK_HIGH_HOURS = 120.0
RISK_MEDIUM_HOURS = 48.0
#: Two ways to give the release time must agree to this many hours (files round the delay).
_DELAY_TOLERANCE_H = 0.1
_MAX_DELAY_H = 24 * 365.0

Amount = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]


class OutcomeCosts(BaseModel):
    """Clearance costs of one shipment, in USD; every item optional."""

    model_config = ConfigDict(extra="forbid")

    demurrage: Amount | None = Field(None, description="Demurrage (滞箱费/港口滞期费)")
    detention: Amount | None = Field(None, description="Container detention")
    inspection_fees: Amount | None = Field(None, description="Inspection fees (查验费)")
    declaration_cost: Amount | None = Field(None, description="Declaration cost (报关费)")

    def compact(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"shipment_id": "SHP-2026-000123", "declared_at": "2026-03-02T09:30:00+08:00",
         "released_at": "2026-03-03T16:30:00+08:00", "inspected": True, "result": "released", "first_pass": True,
         "costs": {"inspection_fees": 120.0, "declaration_cost": 35.0}}]})

    shipment_id: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9._:\-]{1,64}$")]
    declared_at: AwareDatetime
    released_at: AwareDatetime | None = Field(None, description="When customs released the goods")
    delay_hours: Annotated[float, Field(ge=0, le=_MAX_DELAY_H, allow_inf_nan=False)] | None = Field(
        None, description="Hours from declaration to release (or to the return/rejection decision); derived from "
                          "released_at when absent")
    inspected: bool
    result: OutcomeResult
    first_pass: bool = Field(description="一次通过: accepted without amendment")
    costs: OutcomeCosts = Field(default_factory=OutcomeCosts)

    @model_validator(mode="after")
    def _times(self) -> Outcome:
        if self.released_at is not None:
            if self.released_at < self.declared_at:
                raise ValueError("released_at is before declared_at")
            hours = (self.released_at - self.declared_at).total_seconds() / 3600
            if self.delay_hours is None:
                self.delay_hours = round(hours, 3)
            elif abs(hours - self.delay_hours) > _DELAY_TOLERANCE_H:
                raise ValueError(f"delay_hours {self.delay_hours} disagrees with released_at - declared_at "
                                 f"({hours:.1f} h); give one of them")
        elif self.result == "released" and self.delay_hours is None:
            raise ValueError("a released shipment needs released_at or delay_hours")
        return self


def outcome_label(result: str, inspected: bool) -> str:
    """The models' ``outcome`` label: returned (returned or rejected), held, inspected or released."""
    if result in ("returned", "rejected"):
        return "returned"
    if result == "held":
        return "held"
    return "inspected" if inspected else "released"


#: Results that make a shipment high risk whatever its delay.
HIGH_RISK_RESULTS = ("held", "returned", "rejected")


def risk_level(result: str, inspected: bool, delay_hours: float | None) -> str:
    delay = delay_hours if delay_hours is not None else 0.0
    if result in HIGH_RISK_RESULTS or delay > RISK_HIGH_HOURS:
        return "high"
    if inspected or delay > RISK_MEDIUM_HOURS:
        return "medium"
    return "low"


def risk_levels(result: Sequence[str], inspected: Sequence[float], hours: Sequence[float]) -> np.ndarray:
    """:func:`risk_level` over columns (model monitoring re-labels thousands of stored outcomes at once); missing
    hours and inspection flags count as 0, as in :func:`risk_level`."""
    result = np.asarray(result, dtype=object)
    hours = np.nan_to_num(np.asarray(hours, float), nan=0.0)
    inspected = np.nan_to_num(np.asarray(inspected, float), nan=0.0) > 0
    high = np.isin(result, HIGH_RISK_RESULTS) | (hours > RISK_HIGH_HOURS)
    medium = inspected | (hours > RISK_MEDIUM_HOURS)
    return np.where(high, "high", np.where(medium, "medium", "low"))


def training_labels(result: str, inspected: bool, delay_hours: float | None) -> dict[str, object]:
    """``delay_hours``, ``outcome`` and ``risk_level`` (features.shipment_features.LABEL_COLUMNS) of one outcome."""
    return {"delay_hours": delay_hours, "outcome": outcome_label(result, inspected),
            "risk_level": risk_level(result, inspected, delay_hours)}


def known_at(declared_at: datetime, delay_hours: float | None) -> datetime | None:
    """When the outcome was known (release, or the return decision): the time congestion figures count it from."""
    if delay_hours is None:
        return None
    from datetime import timedelta

    return declared_at + timedelta(hours=delay_hours)
