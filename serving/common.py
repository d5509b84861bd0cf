"""Shapes shared by every domain router: the version map example, batch item errors (limits: ``serving.limits``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.names import DELAY, HS_SUGGESTER, RISK

MODEL_VERSIONS_EXAMPLE = {DELAY: 2, HS_SUGGESTER: 3, RISK: 2}


class BatchItemError(BaseModel):
    index: int = Field(description="Position of the item in the request list")
    field: str = Field(description="Path of the bad field, e.g. body.shipments.3.waybill.channel")
    reason: str
    type: str = "invalid"
