"""Request and response bodies of the shipment routes: check, score, batch score."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from data.shipments.schema import RouteOption, Shipment
from data.tariff import TariffFacts
from data.transition import Edition, Transition
from models.scoring import ScoreResult
from serving.common import MODEL_VERSIONS_EXAMPLE, BatchItemError
from serving.shipments.examples import SHIPMENT_EXAMPLE


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"shipment": SHIPMENT_EXAMPLE, "explain": True,
         "route_options": [{"channel": "air"}, {"destination_port": "USSEA", "carrier": "COSCO"}]}]})

    shipment: Shipment
    explain: bool = Field(True, description="Include the reasons behind delay and risk")
    route_options: list[RouteOption] | None = Field(None, max_length=20,
                                                    description="Alternatives to score and rank for routing")


class ScoreBatchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    explain: bool = Field(False, description="Reasons per shipment (slower)")


class ScoreBatchRequest(ScoreBatchOptions):
    shipments: list[Shipment] = Field(min_length=1, description="At most settings.max_score_batch shipments")


class FindingOut(BaseModel):
    code: str
    fields: list[str]
    severity: Literal["info", "warning", "error"]
    message_en: str
    message_zh: str
    category: str = Field(description="mandatory, format, hs_code, value, three_document, dangerous_goods, "
                                      "declaration_mode, tariff, or schema (the document does not parse)")


class LineCode(BaseModel):
    """A code the shipment shows, with its tariff facts and HS 2028 transition on the declaration date."""

    field: str = Field(description="Where the code is, e.g. declaration.lines.0.hs_code")
    hs_code: str
    tariff: TariffFacts | None = Field(None, description="Facts of this national line; null when none imported")
    transition: Transition | None = Field(None, description="Null until a correlation is imported")


class CheckResponse(BaseModel):
    shipment_id: str | None
    schema_valid: bool = Field(description="False when the document does not parse as a shipment; the findings say "
                                           "which fields and why")
    findings: list[FindingOut]
    counts: dict[str, int] = Field(description="Findings per severity")
    lines: list[LineCode] = Field(default_factory=list, description="The line codes with facts and transitions")
    edition: Edition | None = Field(None, description="Edition in force on the declaration date")
    model_versions: dict[str, int]

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "shipment_id": "SHP-2026-000123", "schema_valid": True,
        "findings": [{"code": "consignee_mismatch", "fields": ["order.consignee.name", "waybill.consignee_name"],
                      "severity": "warning", "message_en": "Consignee differs between order and waybill",
                      "message_zh": "订单与运单收货人不一致", "category": "three_document"}],
        "counts": {"error": 0, "warning": 1, "info": 0}, "model_versions": MODEL_VERSIONS_EXAMPLE}]})


class ScoreResponse(ScoreResult):
    lines: list[LineCode] = Field(default_factory=list, description="The line codes with facts and transitions")
    edition: Edition | None = Field(None, description="Edition in force on the declaration date")
    model_versions: dict[str, int]

    model_config = ConfigDict(json_schema_extra={"examples": [{"model_versions": MODEL_VERSIONS_EXAMPLE}]})


class ScoreBatchResponse(BaseModel):
    results: list[ScoreResult | None] = Field(description="One result per shipment, null where it was invalid")
    errors: list[BatchItemError]
    model_versions: dict[str, int]

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "results": [None], "errors": [{"index": 0, "field": "body.shipments.0.declaration.currency",
                                       "reason": "Value error, 'ZZZ' is not an ISO 4217 currency code",
                                       "type": "value_error"}],
        "model_versions": MODEL_VERSIONS_EXAMPLE}]})
