"""Shipment services: checks and scoring on the served snapshot. Blocking: routes call them in a worker thread."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import TypeAdapter, ValidationError

from data.errors import InvalidInputError, error_path, field_error
from data.shipments.schema import Shipment
from serving.batch import parse_envelope, split_lines
from serving.common import BatchItemError
from serving.served import ServedModels
from serving.shipments.schemas import (
    CheckResponse,
    FindingOut,
    LineCode,
    ScoreBatchOptions,
    ScoreBatchResponse,
    ScoreRequest,
    ScoreResponse,
)

_SHIPMENT = TypeAdapter(Shipment)
_OPTIONS = TypeAdapter(ScoreBatchOptions)


def _finding_out(finding: Any) -> FindingOut:
    return FindingOut(code=finding.code, fields=list(finding.fields), severity=finding.severity,
                      message_en=finding.message_en, message_zh=finding.message_zh, category=finding.category)


def _schema_findings(exc: ValidationError) -> list[FindingOut]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        path = error_path(err.get("loc", ()), "shipment")
        out.append(FindingOut(code=f"schema.{err.get('type', 'invalid')}", fields=[path], severity="error",
                              message_en=f"{path}: {err.get('msg', 'invalid')}",
                              message_zh=f"字段 {path} 无效：{err.get('msg', 'invalid')}", category="schema"))
    return out


def refresh_facts(served: ServedModels, book) -> None:
    """Give the scorer's nomenclature the store's current tariff facts (one reference assignment, so a check in
    flight sees the old facts or the new, never a mix): facts imported after the models were loaded are checked at
    once, without waiting for the next model swap."""
    nomenclature = getattr(served.scorer, "nomenclature", None)
    if book is None or nomenclature is None or not hasattr(nomenclature, "facts"):
        return
    if nomenclature.facts is not book.facts:
        nomenclature.facts = book.facts


def _codes(shipment: Shipment | None, served: ServedModels, book) -> dict[str, Any]:
    """The line codes with facts and transitions, and the edition of the declaration date (``serving.editions``)."""
    if shipment is None or book is None:
        return {}
    from serving.editions import shipment_lines

    nomenclature = getattr(served.scorer, "nomenclature", None)
    return {"lines": shipment_lines(shipment, book, nomenclature),
            "edition": book.stamp(shipment.declaration.declared_at.date())}


def check(served: ServedModels, document: dict[str, Any], book=None) -> CheckResponse:
    """Schema problems become findings (the caller wants to know everything that is wrong, not a bare 422)."""
    from features.checks import run_checks

    shipment_id = document.get("shipment_id") if isinstance(document.get("shipment_id"), str) else None
    shipment = None
    refresh_facts(served, book)
    try:
        shipment = _SHIPMENT.validate_python(document)
    except ValidationError as exc:
        findings, valid = _schema_findings(exc), False
    else:
        findings, valid = [_finding_out(f) for f in run_checks(shipment, served.scorer.nomenclature)], True
    counts = Counter(f.severity for f in findings)
    return CheckResponse(shipment_id=shipment_id, schema_valid=valid, findings=findings,
                         counts={s: counts.get(s, 0) for s in ("error", "warning", "info")},
                         model_versions=served.version_map(), **_codes(shipment, served, book))


def score(served: ServedModels, request: ScoreRequest, book=None) -> ScoreResponse:
    refresh_facts(served, book)
    result = served.scorer.score(request.shipment, explain=request.explain, route_options=request.route_options or ())
    return respond(served, result, request.shipment, book)


def score_many(served: ServedModels, shipments: list[Shipment], explain: bool) -> list[Any]:
    """Concurrent single-shipment requests, coalesced (same results as :func:`score` without route options)."""
    return served.scorer.score_batch(shipments, explain=explain)


def respond(served: ServedModels, result: Any, shipment: Shipment | None = None, book=None) -> ScoreResponse:
    extra = _codes(shipment, served, book)
    if extra:  # validated, as model_construct would leave the facts and transitions as plain dicts
        extra = {"lines": [LineCode.model_validate(x) for x in extra["lines"]], "edition": extra["edition"]}
    return ScoreResponse.model_construct(**dict(result), **extra, model_versions=served.version_map())


def score_batch(served: ServedModels, body: bytes, *, max_items: int, ndjson: bool = False,
                explain: bool | None = None, with_documents: bool = False
                ) -> ScoreBatchResponse | tuple[ScoreBatchResponse, list[Any]]:
    """A JSON body ``{"shipments": [...], "explain": ...}`` or, with ``ndjson``, one shipment per line and options from
    the query string. The items go to the scorer as received (dicts, or raw lines it parses itself): it validates
    each document once, and large batches go to its worker processes. ``with_documents``: also return the documents
    (for the shipment recorder)."""
    if ndjson:
        documents: list[Any] = split_lines(body, max_items=max_items)
        options = ScoreBatchOptions(explain=False if explain is None else explain)
    else:
        if explain is not None:  # two places for one option would leave one of them silently ignored
            raise InvalidInputError("give explain in the JSON body", details=[field_error(
                "query.explain", "a query option applies to application/x-ndjson bodies only")])
        options, documents = parse_envelope(body, items_field="shipments", max_items=max_items,
                                            envelope_adapter=_OPTIONS)
    scored = served.scorer.score_documents(documents, explain=options.explain)
    response = ScoreBatchResponse.model_construct(results=scored.results, errors=item_errors(scored.errors),
                                                  model_versions=served.version_map())
    return (response, documents) if with_documents else response


def item_errors(errors: list[dict[str, Any]]) -> list[BatchItemError]:
    """The scorer's document-relative errors with the request path in front (``order.lines.0.quantity`` of item 3 is
    ``body.shipments.3.order.lines.0.quantity``; "shipment", the document as a whole, is ``body.shipments.3``)."""
    out = []
    for e in errors:
        index, path = e["index"], e.get("field") or "shipment"
        field = f"body.shipments.{index}" if path == "shipment" else f"body.shipments.{index}.{path}"
        out.append(BatchItemError.model_construct(index=index, field=field, reason=e["reason"],
                                                  type=e.get("type", "invalid")))
    return out
