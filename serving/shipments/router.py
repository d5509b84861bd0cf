"""``/v1/shipments/check``, ``/v1/risk/score`` and ``/v1/risk/score/batch``: thin handlers over the service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from serving.auth import require_scope
from serving.deps import run_model, served_models
from serving.holder import ServedModels
from serving.openapi import documented_body
from serving.shipments import service
from serving.shipments.examples import SHIPMENT_EXAMPLE
from serving.shipments.schemas import (CheckResponse, ScoreBatchRequest, ScoreBatchResponse,
                                       ScoreRequest, ScoreResponse)

router = APIRouter(prefix="/v1", tags=["shipments"], dependencies=[Depends(require_scope("score"))])


def _json(model) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


@router.post("/shipments/check", response_model=CheckResponse,
             summary="Schema, data-quality and three-document (三单对碰) findings for one shipment")
async def check(request: Request,
                body: dict[str, Any] = Body(description="A shipment document (see the Shipment schema)",
                                            openapi_examples={"shipment": {"summary": "A 9710 sea shipment to the US",
                                                                           "value": SHIPMENT_EXAMPLE}}),
                served: ServedModels = Depends(served_models)) -> Response:
    return _json(await run_model(request, service.check, served, body))


@router.post("/risk/score", response_model=ScoreResponse,
             summary="Delay (P50/P90 hours), risk level with reasons, findings, advisories; optional route options")
async def score(request: Request,
                body: ScoreRequest = Body(openapi_examples={
                    "with_route_options": {"summary": "Score and rank two alternatives too",
                                           "value": ScoreRequest.model_config["json_schema_extra"]["examples"][0]},
                    "plain": {"summary": "Just the shipment", "value": {"shipment": SHIPMENT_EXAMPLE}}}),
                served: ServedModels = Depends(served_models)) -> Response:
    if body.route_options:
        result = await run_model(request, service.score, served, body)
    else:
        # Concurrent requests share one vectorised scorer call (see serving.coalesce); alone, it runs at once.
        async def run(shipments):
            return await run_model(request, service.score_many, served, shipments, body.explain)

        scored = await request.app.state.coalescer.submit(("score", id(served), body.explain), body.shipment, run)
        result = service.respond(served, scored)
    request.app.state.metrics.observe_risk_levels([result.risk.level])
    return _json(result)


@router.post("/risk/score/batch", response_model=ScoreBatchResponse,
             summary="Score many shipments (invalid ones are reported by index and field, the rest scored)",
             openapi_extra=documented_body(ScoreBatchRequest, {
                 "two_shipments": {"shipments": [SHIPMENT_EXAMPLE, {**SHIPMENT_EXAMPLE, "shipment_id": "SHP-2"}],
                                   "explain": False}}))
async def score_batch(request: Request, served: ServedModels = Depends(served_models)) -> Response:
    result = await run_model(request, service.score_batch, served, await request.body(),
                             max_items=request.app.state.settings.max_score_batch)
    request.app.state.metrics.observe_risk_levels(r.risk.level for r in result.results if r is not None)
    return _json(result)
