"""Request and response bodies of ``POST /v1/shipments/outcomes``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from data.shipments.outcomes import Outcome
from serving.common import BatchItemError


class OutcomesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"outcomes": Outcome.model_config["json_schema_extra"]["examples"]}]})

    outcomes: list[Outcome] = Field(min_length=1, description="At most settings.max_outcome_batch outcomes")


class WriteCountsOut(BaseModel):
    inserted: int = Field(description="Shipment ids seen for the first time")
    updated: int = Field(description="Stored outcomes replaced by different values")
    unchanged: int = Field(description="Re-sent outcomes identical to the stored ones: nothing written")
    duplicates: int = Field(description="Earlier items naming a shipment id that a later item of the batch names "
                                        "too (the last one applies)")


class OutcomesResponse(BaseModel):
    received: int
    stored: WriteCountsOut
    errors: list[BatchItemError] = Field(description="One per bad field of a rejected item; the others are stored")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "received": 2, "stored": {"inserted": 1, "updated": 0, "unchanged": 0, "duplicates": 0},
        "errors": [{"index": 1, "field": "body.outcomes.1.result",
                    "reason": "Input should be 'released', 'held', 'returned' or 'rejected'", "type": "literal_error"}]}]})
