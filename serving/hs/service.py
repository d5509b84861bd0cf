"""HS suggestion services: limits, then the served suggester. Blocking: routes call them in a worker thread."""

from __future__ import annotations

from pydantic import TypeAdapter

from data.errors import InvalidInputError
from models.names import HS_SUGGESTER
from serving.batch import parse_batch
from serving.common import BatchItemError, elements_problems, text_problems
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


def _stamp(answer, served: ServedModels):
    """The answer's own ``model.version`` is the registry version that answered (the suggester cannot know it)."""
    answer.model.version = str(served.versions[HS_SUGGESTER].version)
    return answer


def _limits(text: str, elements: dict[str, str] | None, prefix: str, max_chars: int) -> list[dict]:
    return text_problems(text, f"{prefix}.text", max_chars) + elements_problems(
        elements, f"{prefix}.declared_elements", max_chars)


def check_limits(request: SuggestRequest, *, max_chars: int) -> None:
    problems = _limits(request.text, request.declared_elements, "body", max_chars)
    if problems:
        raise InvalidInputError("input exceeds the length limits", details=problems)


def suggest(served: ServedModels, request: SuggestRequest, *, max_chars: int) -> SuggestResponse:
    check_limits(request, max_chars=max_chars)
    answer = served.suggester.suggest(request.text, request.declared_elements, top_k=request.top_k)
    return respond(served, answer)


def suggest_many(served: ServedModels, requests: list[SuggestRequest], top_k: int) -> list:
    """Concurrent single requests, coalesced into one encoder/faiss batch (same answers as :func:`suggest`)."""
    return served.suggester.suggest_batch(
        [{"text": r.text, "declared_elements": r.declared_elements} for r in requests], top_k=top_k)


def respond(served: ServedModels, answer) -> SuggestResponse:
    return SuggestResponse.model_construct(**dict(_stamp(answer, served)), model_versions=served.version_map())


def suggest_batch(served: ServedModels, body: bytes, *, max_items: int, max_chars: int) -> SuggestBatchResponse:
    parsed = parse_batch(body, items_field="items", item_adapter=_ITEM, max_items=max_items,
                         envelope_adapter=_OPTIONS)
    errors = list(parsed.errors)
    accepted = []
    for index, item in parsed.items:
        problems = _limits(item.text, item.declared_elements, f"body.items.{index}", max_chars)
        if problems:
            errors += [{"index": index, **p, "type": "too_long"} for p in problems]
        else:
            accepted.append((index, item))
    results = [None] * parsed.total
    if accepted:
        answers = served.suggester.suggest_batch(
            [{"text": item.text, "declared_elements": item.declared_elements} for _, item in accepted],
            top_k=parsed.envelope.top_k)
        for (index, _), answer in zip(accepted, answers, strict=True):
            results[index] = _stamp(answer, served)
    errors = [BatchItemError(**e) for e in sorted(errors, key=lambda e: e["index"])]
    return SuggestBatchResponse.model_construct(results=results, errors=errors, model_versions=served.version_map())


def validate(served: ServedModels, request: ValidateRequest, *, max_chars: int) -> ValidateResponse:
    problems = _limits(request.text, request.declared_elements, "body", max_chars)
    if problems:
        raise InvalidInputError("input exceeds the length limits", details=problems)
    answer = served.suggester.validate(request.text, request.declared_code, request.declared_elements)
    _stamp(answer.suggestion, served)
    return ValidateResponse.model_construct(**dict(answer), model_versions=served.version_map())
