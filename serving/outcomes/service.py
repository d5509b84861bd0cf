"""Outcomes posted by an ERP or a routing system: each item validated on its own, the good ones stored at once."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Engine

from data.shipments.outcomes import Outcome
from data.store.idempotency import Once, run_once
from data.store.outcomes import ShipmentStore
from serving.batch import parse_batch
from serving.common import BatchItemError
from serving.outcomes.schemas import OutcomesResponse, WriteCountsOut

_OUTCOME = TypeAdapter(Outcome)
#: The idempotency-key scope of outcome posts (keys are per scope and per API key).
OUTCOMES_SCOPE = "shipment_outcomes"


def post_outcomes(engine: Engine, body: bytes, *, max_items: int, once: Once | None = None
                  ) -> tuple[dict[str, Any], bool]:
    """Validate ``{"outcomes": [...]}`` item by item and store the valid ones (idempotent per shipment id); with
    ``once`` (an ``Idempotency-Key``) the rows and the key commit together and a resend gets the first answer back.
    Returns (the JSON answer, replayed)."""
    parsed = parse_batch(body, items_field="outcomes", item_adapter=_OUTCOME, max_items=max_items)

    def work(session: Any) -> dict[str, Any]:
        counts = ShipmentStore(engine).upsert_outcomes([o for _, o in parsed.items], source="api",
                                                       connection=session.connection())
        return OutcomesResponse(received=parsed.total, stored=WriteCountsOut(**counts.as_dict()),
                                errors=[BatchItemError(**e) for e in parsed.errors]).model_dump(mode="json")

    if once is None:
        return run_once(engine, OUTCOMES_SCOPE, "", None, "", work)
    return run_once(engine, OUTCOMES_SCOPE, once.owner, once.key, once.request_hash, work)
