"""Outcomes posted by an ERP or a routing system: each item validated on its own, the good ones stored at once."""

from __future__ import annotations

from pydantic import TypeAdapter
from sqlalchemy import Engine

from data.shipments.outcomes import Outcome
from data.store.outcomes import ShipmentStore
from serving.batch import parse_batch
from serving.common import BatchItemError
from serving.outcomes.schemas import OutcomesResponse, WriteCountsOut

_OUTCOME = TypeAdapter(Outcome)


def post_outcomes(engine: Engine, body: bytes, *, max_items: int) -> OutcomesResponse:
    """Validate ``{"outcomes": [...]}`` item by item and store the valid ones (idempotent per shipment id)."""
    parsed = parse_batch(body, items_field="outcomes", item_adapter=_OUTCOME, max_items=max_items)
    counts = ShipmentStore(engine).upsert_outcomes([o for _, o in parsed.items], source="api")
    return OutcomesResponse(received=parsed.total, stored=WriteCountsOut(**counts.as_dict()),
                            errors=[BatchItemError(**e) for e in parsed.errors])
