"""``/v1/hs/*``: thin handlers; the work is in :mod:`serving.hs.service`, run off the event loop."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Request, Response

from serving.auth import require_scope
from serving.deps import run_model, served_models
from serving.hs import service
from serving.hs.schemas import (
    SuggestBatchRequest,
    SuggestBatchResponse,
    SuggestRequest,
    SuggestResponse,
    ValidateRequest,
    ValidateResponse,
)
from serving.openapi import documented_body
from serving.served import ServedModels

router = APIRouter(prefix="/v1/hs", tags=["hs"], dependencies=[Depends(require_scope("suggest"))])


_SUGGEST_EXAMPLES = SuggestRequest.model_config["json_schema_extra"]["examples"]


def _json(model) -> Response:
    # pydantic serialises in Rust; FastAPI's generic path would re-validate an answer we just built.
    return Response(model.model_dump_json(), media_type="application/json")


@router.post("/suggest", response_model=SuggestResponse, summary="HS code candidates for one product description")
async def suggest(request: Request,
                  body: SuggestRequest = Body(openapi_examples={
                      "chinese_with_elements": {"summary": "Chinese text with declaration elements",
                                                "value": _SUGGEST_EXAMPLES[0]},
                      "english": {"summary": "English title", "value": _SUGGEST_EXAMPLES[1]}}),
                  served: ServedModels = Depends(served_models)) -> Response:
    service.check_limits(body, max_chars=request.app.state.settings.max_text_chars)

    # Concurrent requests share one encoder + faiss batch (see serving.coalesce); alone, a request runs at once.
    async def run(requests):
        return await run_model(request, service.suggest_many, served, requests, body.top_k)

    answer = await request.app.state.coalescer.submit(("suggest", id(served), body.top_k), body, run)
    return _json(service.respond(served, answer))


@router.post("/suggest/batch", response_model=SuggestBatchResponse,
             summary="HS code candidates for many descriptions (invalid items are reported, the rest answered)",
             openapi_extra=documented_body(SuggestBatchRequest, {
                 "two_items": {"items": [{"text": "不锈钢真空保温杯 500ml"},
                                         {"text": "kids plastic building blocks toy set 500 pcs",
                                          "declared_elements": {"材质": "ABS塑料"}}], "top_k": 3}}))
async def suggest_batch(request: Request, served: ServedModels = Depends(served_models)) -> Response:
    settings = request.app.state.settings
    result = await run_model(request, service.suggest_batch, served, await request.body(),
                             max_items=settings.max_suggest_batch, max_chars=settings.max_text_chars)
    return _json(result)


@router.post("/validate", response_model=ValidateResponse,
             summary="Is this declared code plausible for this description? Agreement, confidence, alternatives")
async def validate(request: Request,
                   body: ValidateRequest = Body(openapi_examples={
                       "declared_code": {"summary": "Check a declared code",
                                         "value": ValidateRequest.model_config["json_schema_extra"]["examples"][0]}}),
                   served: ServedModels = Depends(served_models)) -> Response:
    result = await run_model(request, service.validate, served, body,
                             max_chars=request.app.state.settings.max_text_chars)
    return _json(result)
