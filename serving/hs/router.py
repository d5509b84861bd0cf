"""``/v1/hs/*``: thin handlers; the work is in :mod:`serving.hs.service`, run off the event loop.

Bodies are validated with the app's input limits (``serving.limits.limited_body``), so the limits are the settings'.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

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
from serving.limits import limited_body
from serving.openapi import documented_body
from serving.served import ServedModels

router = APIRouter(prefix="/v1/hs", tags=["hs"], dependencies=[Depends(require_scope("suggest"))])

_SUGGEST_EXAMPLES = SuggestRequest.model_config["json_schema_extra"]["examples"]
_VALIDATE_EXAMPLES = ValidateRequest.model_config["json_schema_extra"]["examples"]


async def _book(request: Request):
    """The store's tariff facts and HS 2028 correlation (cached; a store query at most every few seconds)."""
    from serving.editions import tariff_book

    state = request.app.state
    return await run_in_threadpool(tariff_book, state.engine, state.settings.hs2028_effective_date)


def _json(model) -> Response:
    # pydantic serialises in Rust; FastAPI's generic path would re-validate an answer we just built.
    return Response(model.model_dump_json(), media_type="application/json")


@router.post("/suggest", response_model=SuggestResponse, summary="HS code candidates for one product description",
             openapi_extra=documented_body(SuggestRequest, {"chinese_with_elements": _SUGGEST_EXAMPLES[0],
                                                            "english_title": _SUGGEST_EXAMPLES[1]}))
async def suggest(request: Request, body: Annotated[SuggestRequest, Depends(limited_body(SuggestRequest))],
                  served: Annotated[ServedModels, Depends(served_models)]) -> Response:
    # Concurrent requests share one encoder + faiss batch (see serving.coalesce); alone, a request runs at once.
    async def run(requests):
        return await run_model(request, service.suggest_many, served, requests, body.top_k)

    answer = await request.app.state.coalescer.submit(("suggest", id(served), body.top_k), body, run)
    return _json(service.respond(served, answer, await _book(request)))


@router.post("/suggest/batch", response_model=SuggestBatchResponse,
             summary="HS code candidates for many descriptions (invalid items are reported, the rest answered)",
             openapi_extra=documented_body(SuggestBatchRequest, {
                 "two_items": {"items": [{"text": "不锈钢真空保温杯 500ml"},
                                         {"text": "kids plastic building blocks toy set 500 pcs",
                                          "declared_elements": {"材质": "ABS塑料"}}], "top_k": 3}}))
async def suggest_batch(request: Request, served: Annotated[ServedModels, Depends(served_models)]) -> Response:
    result = await run_model(request, service.suggest_batch, served, await request.body(),
                             limits=request.app.state.settings.limits, book=await _book(request))
    return _json(result)


@router.post("/validate", response_model=ValidateResponse,
             summary="Is this declared code plausible for this description? Agreement, confidence, alternatives",
             openapi_extra=documented_body(ValidateRequest, {"declared_code": _VALIDATE_EXAMPLES[0]}))
async def validate(request: Request, body: Annotated[ValidateRequest, Depends(limited_body(ValidateRequest))],
                   served: Annotated[ServedModels, Depends(served_models)]) -> Response:
    return _json(await run_model(request, service.validate, served, body, await _book(request)))
