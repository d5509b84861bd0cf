"""HS suggestion services: the served suggester behind validated requests. Blocking: routes call them in a worker
thread. Input limits are the request schemas' (``serving.limits``); the suggester checks types only."""

from __future__ import annotations

from pydantic import TypeAdapter

from data.settings import InputLimits
from models.names import HS_SUGGESTER
from serving import editions
from serving.batch import parse_batch
from serving.common import BatchItemError
from serving.hs.schemas import (
    SuggestBatchItem,
    SuggestBatchOptions,
    SuggestBatchResponse,
    SuggestRequest,
    SuggestResponse,
    ValidateRequest,
    ValidateResponse,
)
from serving.served import ServedModels

_ITEM = TypeAdapter(SuggestBatchItem)
_OPTIONS = TypeAdapter(SuggestBatchOptions)


def _stamp(answer, served: ServedModels, book=None):
    """The answer's own ``model.version`` is the registry version that answered (the suggester cannot know it); with
    the store's tariff ``book``, the facts, transitions and edition stamp (``serving.editions``)."""
    answer.model.version = str(served.versions[HS_SUGGESTER].version)
    if book is not None:
        editions.annotate_suggestion(answer, book)
    return answer


def suggest_many(served: ServedModels, requests: list[SuggestRequest], top_k: int) -> list:
    """Concurrent single requests, coalesced into one encoder/faiss batch (the same answers as one by one)."""
    return served.suggester.suggest_batch(
        [{"text": r.text, "declared_elements": r.declared_elements} for r in requests], top_k=top_k)


def respond(served: ServedModels, answer, book=None) -> SuggestResponse:
    return SuggestResponse.model_construct(**dict(_stamp(answer, served, book)), model_versions=served.version_map())


def suggest_batch(served: ServedModels, body: bytes, *, limits: InputLimits, book=None) -> SuggestBatchResponse:
    """Every valid item answered; each invalid one (a type, a blank text, a text or element over the limits) is
    reported by index and field."""
    parsed = parse_batch(body, items_field="items", item_adapter=_ITEM, max_items=limits.suggest_batch,
                         envelope_adapter=_OPTIONS, context=limits)
    results = [None] * parsed.total
    if parsed.items:
        answers = served.suggester.suggest_batch(
            [{"text": item.text, "declared_elements": item.declared_elements} for _, item in parsed.items],
            top_k=parsed.envelope.top_k)
        for (index, _), answer in zip(parsed.items, answers, strict=True):
            results[index] = _stamp(answer, served, book)
    errors = [BatchItemError(**e) for e in parsed.errors]
    return SuggestBatchResponse.model_construct(results=results, errors=errors, model_versions=served.version_map())


def validate(served: ServedModels, request: ValidateRequest, book=None) -> ValidateResponse:
    answer = served.suggester.validate(request.text, request.declared_code, request.declared_elements)
    _stamp(answer.suggestion, served)
    if book is not None:
        editions.annotate_validation(answer, book, request.declaration_date)
    return ValidateResponse.model_construct(**dict(answer), model_versions=served.version_map())
