"""``POST /v1/shipments/outcomes``: clearance outcomes back into the product (scope ``score``)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request, Response

from serving.auth import require_scope
from serving.deps import run_model
from serving.idempotency import mark_replayed, request_once
from serving.openapi import documented_body
from serving.outcomes import service
from serving.outcomes.schemas import OutcomesRequest, OutcomesResponse

router = APIRouter(prefix="/v1", tags=["shipments"], dependencies=[Depends(require_scope("score"))])

_DESCRIPTION = """\
What happened at clearance, one item per shipment: `shipment_id`, `declared_at`, `released_at` and/or
`delay_hours`, `inspected`, `result` (released / held / returned / rejected), `first_pass` (一次通过) and optional
`costs` (`demurrage`, `detention`, `inspection_fees`, `declaration_cost`, USD).

Idempotent per shipment id: re-sending an outcome already stored changes nothing (`unchanged`), a different one
replaces it (`updated`). An `Idempotency-Key` header makes a resent request (same body) get the first answer back
(`Idempotent-Replayed: true`) without touching the store; the same key with another body is a 409. Each item is validated on its own: a bad one is reported as
`body.outcomes.{i}.<field>` and the others are stored. At most `max_outcome_batch` items per request."""


@router.post("/shipments/outcomes", response_model=OutcomesResponse, summary="Report clearance outcomes (one or a "
             "batch)", description=_DESCRIPTION,
             openapi_extra=documented_body(OutcomesRequest, {"one": OutcomesRequest.model_config[
                 "json_schema_extra"]["examples"][0]}))
async def post_outcomes(request: Request) -> Response:
    body, state = await request.body(), request.app.state
    # A resend under the same Idempotency-Key gets the first answer (same body required: a hash of its bytes).
    once = request_once(request, payload=body.decode("utf-8", "backslashreplace"))
    result, replayed = await run_model(request, service.post_outcomes, state.engine, body,
                                       max_items=state.settings.max_outcome_batch, once=once)
    return mark_replayed(Response(json.dumps(result, ensure_ascii=False), media_type="application/json"), replayed)
