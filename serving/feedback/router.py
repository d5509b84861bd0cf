"""``POST /v1/hs/feedback``: API users confirm or correct a suggestion; the decision becomes a ruling at once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from data.errors import InvalidInputError, field_error
from data.store.reviews import ReviewAction
from models.names import HS_SUGGESTER
from serving.auth import require_scope
from serving.deps import run_model, served_models
from serving.feedback.service import Decision, FeedbackReceipt, record_decision
from serving.idempotency import mark_replayed, request_once
from serving.limits import DeclaredElements, ProductText, limited_body
from serving.openapi import documented_body
from serving.served import ServedModels

router = APIRouter(prefix="/v1/hs", tags=["hs"])


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "不锈钢真空保温杯 500ml", "declared_elements": {"材质": "不锈钢", "用途": "日用"},
         "action": "override", "suggested_code": "7323930000", "final_code": "9617009000",
         "reason": "vacuum flask: heading 9617 takes precedence over kitchenware of 7323",
         "evidence_ids": ["r3f1c0a2b4d5e6f708192a3b"]},
        {"text": "kids plastic building blocks toy set 500 pcs", "action": "accept", "suggested_code": "9503009000"},
    ]})

    text: ProductText = Field(..., description="The product description that was classified.")
    declared_elements: DeclaredElements = Field(default_factory=dict)
    action: ReviewAction = Field(..., description="accept: the suggested code is right; override: final_code is.")
    suggested_code: str | None = Field(None, description="The code the suggester proposed (required for accept).")
    suggested_confidence: float | None = Field(None, ge=0, le=1)
    final_code: str | None = Field(None, description="The correct code (required for override; 6, 8 or 10 digits).")
    reason: str = Field("", description="Why the suggestion was overridden (required for override).")
    reviewer: str | None = Field(None, description="Only used when auth is disabled; otherwise the API key's name.")
    model_version: str | None = Field(None, description="Version that made the suggestion; default: the served one.")
    index_fingerprint: str | None = Field(None, description="Index that answered; default: the served one.")
    evidence_ids: list[str] = Field(default_factory=list, max_length=100)
    idempotency_key: str | None = Field(None, description=(
        "Makes a resend safe: the same key (here or in the `Idempotency-Key` header) with the same body records the "
        "decision once and answers the first receipt again (header `Idempotent-Replayed: true`); with another body "
        "it is refused (409)."))


class FeedbackResponse(BaseModel):
    review_id: int
    ruling_id: str
    hs_code: str
    action: ReviewAction
    reviewer: str
    searchable: bool = Field(description="True when the ruling is already in the served index.")
    replayed: bool = Field(False, description="True when this answers an earlier request with the same key.")
    ruling: dict[str, Any]
    model_versions: dict[str, int]


def _record(request: Request, served: ServedModels, body: FeedbackRequest) -> FeedbackReceipt:
    key_name = getattr(request.state, "api_key_name", None)
    reviewer = key_name or (body.reviewer or "").strip()
    if not reviewer:
        raise InvalidInputError("say who made the decision: 'reviewer' is required when auth is disabled",
                                details=[field_error("reviewer", "empty")])
    suggester = served.suggester
    served_version = served.versions.get(HS_SUGGESTER)
    once = request_once(request, payload=body.model_dump(mode="json", exclude={"idempotency_key"}),
                        body_key=body.idempotency_key, owner=reviewer)
    decision = Decision(
        text=body.text, declared_elements=body.declared_elements, action=body.action, final_code=body.final_code,
        suggested_code=body.suggested_code, suggested_confidence=body.suggested_confidence, reason=body.reason,
        reviewer=reviewer, model_name=HS_SUGGESTER,
        model_version=body.model_version or (str(served_version.version) if served_version else None),
        index_fingerprint=body.index_fingerprint or getattr(suggester, "fingerprint", None),
        evidence_ids=body.evidence_ids,
    )
    nomenclature = getattr(suggester, "nomenclature", None)
    from serving.editions import decision_edition, tariff_book

    state = request.app.state
    edition_codes = decision_edition(decision, tariff_book(state.engine, state.settings.hs2028_effective_date),
                                     nomenclature)  # a code only HS 2028 has: recorded in that edition
    return record_decision(state.engine, suggester, decision, nomenclature=nomenclature, channel="api",
                           max_text_chars=state.settings.max_text_chars, overlays=served.overlays,
                           served_version=str(served_version.version) if served_version else None, once=once,
                           edition_codes=edition_codes)


_EXAMPLES = FeedbackRequest.model_config["json_schema_extra"]["examples"]


@router.post("/feedback", response_model=FeedbackResponse, status_code=201,
             dependencies=[Depends(require_scope("suggest"))],
             summary="Accept or override a suggestion: stored as a reviewer ruling, searchable at once",
             openapi_extra=documented_body(FeedbackRequest, {"override": _EXAMPLES[0], "accept": _EXAMPLES[1]}))
async def feedback(request: Request, body: Annotated[FeedbackRequest, Depends(limited_body(FeedbackRequest))],
                   served: ServedModels = Depends(served_models)) -> Response:
    receipt = await run_model(request, _record, request, served, body)
    result = FeedbackResponse(
        review_id=receipt.review.id, ruling_id=receipt.ruling.ruling_id, hs_code=receipt.ruling.hs_code,
        action=receipt.review.action, reviewer=receipt.review.reviewer, searchable=receipt.searchable,
        replayed=receipt.replayed, ruling=receipt.ruling.model_dump(mode="json"), model_versions=served.version_map())
    return mark_replayed(Response(result.model_dump_json(), media_type="application/json", status_code=201),
                         receipt.replayed)
