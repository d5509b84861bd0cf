"""``/v1/shipments/check``, ``/v1/risk/score`` and ``/v1/risk/score/batch``: thin handlers over the service."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from serving.auth import require_scope
from serving.deps import run_model, served_models
from serving.openapi import documented_body
from serving.served import ServedModels
from serving.shipments import service
from serving.shipments.examples import SHIPMENT_EXAMPLE
from serving.shipments.schemas import CheckResponse, ScoreBatchRequest, ScoreBatchResponse, ScoreRequest, ScoreResponse

router = APIRouter(prefix="/v1", tags=["shipments"], dependencies=[Depends(require_scope("score"))])


async def _book(request: Request):
    from starlette.concurrency import run_in_threadpool

    from serving.editions import tariff_book

    state = request.app.state
    return await run_in_threadpool(tariff_book, state.engine, state.settings.hs2028_effective_date)


def _json(model) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


@router.post("/shipments/check", response_model=CheckResponse,
             summary="Schema, data-quality and three-document (三单对碰) findings for one shipment")
async def check(request: Request,
                body: dict[str, Any] = Body(description="A shipment document (see the Shipment schema)",
                                            openapi_examples={"shipment": {"summary": "A 9710 sea shipment to the US",
                                                                           "value": SHIPMENT_EXAMPLE}}),
                served: ServedModels = Depends(served_models)) -> Response:
    return _json(await run_model(request, service.check, served, body, await _book(request)))


@router.post("/risk/score", response_model=ScoreResponse,
             summary="Delay (P50/P90 hours), risk level with reasons, findings, advisories; optional route options")
async def score(request: Request,
                body: ScoreRequest = Body(openapi_examples={
                    "with_route_options": {"summary": "Score and rank two alternatives too",
                                           "value": ScoreRequest.model_config["json_schema_extra"]["examples"][0]},
                    "plain": {"summary": "Just the shipment", "value": {"shipment": SHIPMENT_EXAMPLE}}}),
                served: ServedModels = Depends(served_models)) -> Response:
    recorder = request.app.state.recorder
    if body.route_options:
        result = await run_model(request, _fresh(recorder, service.score), served, body, await _book(request))
    else:
        # Concurrent requests share one vectorised scorer call (see serving.coalesce); alone, it runs at once.
        book = await _book(request)
        service.refresh_facts(served, book)

        async def run(shipments):
            return await run_model(request, _fresh(recorder, service.score_many), served, shipments, body.explain)

        scored = await request.app.state.coalescer.submit(("score", id(served), body.explain), body.shipment, run)
        result = service.respond(served, scored, body.shipment, book)
    request.app.state.metrics.observe_risk_levels([result.risk.level])
    recorder.record([body.shipment], [result], served.version_map(), getattr(served.scorer, "congestion", None))
    return _json(result)


def _fresh(recorder, fn):
    """``fn(served, ...)`` run after the scorer got the current congestion figures (in the worker thread: a
    refresh queries the store)."""
    def run(served: ServedModels, *args):
        recorder.refresh_congestion(served.scorer)
        return fn(served, *args)

    return run


NDJSON_TYPES = frozenset({"application/x-ndjson"})

_BATCH_DESCRIPTION = """\
Two body formats, chosen by `Content-Type`:

* `application/json`: `{"shipments": [...], "explain": false}`.
* `application/x-ndjson`: one shipment document per line (blank lines are ignored), options as query parameters
  (`?explain=true`). Lines are parsed where they are validated, so this is the cheaper format for large batches.

At most `max_score_batch` shipments per request (422 naming `body.shipments`, or `body` for NDJSON). Each shipment is
validated on its own: `results[i]` is null for an invalid one and `errors` names each bad field as
`body.shipments.{i}.<path in the document>` (`body.shipments.{i}` when the item as a whole is not a shipment, e.g. an
NDJSON line that is not JSON); the others are scored. For NDJSON, `i` counts the shipments, not blank lines.
Large batches without explanations are spread over the service's scoring processes (`CLEARANCE_SCORE_WORKERS`)."""


def _batch_openapi() -> dict:
    extra = documented_body(ScoreBatchRequest, {
        "two_shipments": {"shipments": [SHIPMENT_EXAMPLE, {**SHIPMENT_EXAMPLE, "shipment_id": "SHP-2"}],
                          "explain": False}})
    line = json.dumps(SHIPMENT_EXAMPLE, ensure_ascii=False)
    extra["requestBody"]["content"]["application/x-ndjson"] = {
        "schema": {"type": "string", "description": "One Shipment JSON document per line"},
        "example": line + "\n" + line.replace("SHP-2026-000123", "SHP-2") + "\n"}
    return extra


@router.post("/risk/score/batch", response_model=ScoreBatchResponse,
             summary="Score many shipments (invalid ones are reported by index and field, the rest scored)",
             description=_BATCH_DESCRIPTION, openapi_extra=_batch_openapi())
async def score_batch(request: Request,
                      explain: bool | None = Query(None, description="Reasons per shipment (slower); "
                                                                     "application/x-ndjson bodies only"),
                      served: ServedModels = Depends(served_models)) -> Response:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body, max_items = await request.body(), request.app.state.settings.max_score_batch

    recorder = request.app.state.recorder

    def scored_response() -> tuple[Response, list[str]]:
        recorder.refresh_congestion(served.scorer)
        # serialised here, in the worker thread: ~0.1 s for 20k results would otherwise block the event loop
        result, documents = service.score_batch(served, body, max_items=max_items, ndjson=media_type in NDJSON_TYPES,
                                                explain=explain, with_documents=True)
        recorder.record(documents, result.results, served.version_map(), getattr(served.scorer, "congestion", None))
        return _json(result), [r.risk.level for r in result.results if r is not None]

    response, levels = await run_model(request, scored_response)
    request.app.state.metrics.observe_risk_levels(levels)
    return response
