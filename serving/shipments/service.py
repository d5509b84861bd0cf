"""Shipment services: checks and scoring on the served snapshot. Blocking: routes call them in a worker thread."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import TypeAdapter, ValidationError

from data.shipments.schema import Shipment
from serving.batch import parse_batch
from serving.common import BatchItemError
from serving.errors import field_path
from serving.holder import ServedModels
from serving.shipments.schemas import (CheckResponse, FindingOut, ScoreBatchOptions, ScoreBatchResponse,
                                       ScoreRequest, ScoreResponse)

_SHIPMENT = TypeAdapter(Shipment)
_OPTIONS = TypeAdapter(ScoreBatchOptions)


def _finding_out(finding: Any) -> FindingOut:
    return FindingOut(code=finding.code, fields=list(finding.fields), severity=finding.severity,
                      message_en=finding.message_en, message_zh=finding.message_zh, category=finding.category)


def _schema_findings(exc: ValidationError) -> list[FindingOut]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        path = field_path(err.get("loc", ())) or "shipment"
        out.append(FindingOut(code=f"schema.{err.get('type', 'invalid')}", fields=[path], severity="error",
                              message_en=f"{path}: {err.get('msg', 'invalid')}",
                              message_zh=f"字段 {path} 无效：{err.get('msg', 'invalid')}", category="schema"))
    return out


def check(served: ServedModels, document: dict[str, Any]) -> CheckResponse:
    """Schema problems become findings (the caller wants to know everything that is wrong, not a bare 422)."""
    from features.checks import run_checks

    shipment_id = document.get("shipment_id") if isinstance(document.get("shipment_id"), str) else None
    try:
        shipment = _SHIPMENT.validate_python(document)
    except ValidationError as exc:
        findings, valid = _schema_findings(exc), False
    else:
        findings, valid = [_finding_out(f) for f in run_checks(shipment, served.scorer.nomenclature)], True
    counts = Counter(f.severity for f in findings)
    return CheckResponse(shipment_id=shipment_id, schema_valid=valid, findings=findings,
                         counts={s: counts.get(s, 0) for s in ("error", "warning", "info")},
                         model_versions=served.version_map())


def score(served: ServedModels, request: ScoreRequest) -> ScoreResponse:
    options = [o.model_dump(exclude_none=True) for o in request.route_options] if request.route_options else None
    result = served.scorer.score(request.shipment, explain=request.explain, route_options=options)
    return respond(served, result)


def score_many(served: ServedModels, shipments: list[Shipment], explain: bool) -> list[Any]:
    """Concurrent single-shipment requests, coalesced (same results as :func:`score` without route options)."""
    return served.scorer.score_batch(shipments, explain=explain)


def respond(served: ServedModels, result: Any) -> ScoreResponse:
    return ScoreResponse.model_construct(**dict(result), model_versions=served.version_map())


def score_batch(served: ServedModels, body: bytes, *, max_items: int) -> ScoreBatchResponse:
    parsed = parse_batch(body, items_field="shipments", item_adapter=_SHIPMENT, max_items=max_items,
                         envelope_adapter=_OPTIONS)
    results: list[Any] = [None] * parsed.total
    if parsed.items:
        scored = served.scorer.score_batch([s for _, s in parsed.items], explain=parsed.envelope.explain)
        for (index, _), result in zip(parsed.items, scored, strict=True):
            results[index] = result
    errors = [BatchItemError(**e) for e in parsed.errors]
    return ScoreBatchResponse.model_construct(results=results, errors=errors, model_versions=served.version_map())
