"""Response shape of ``GET /v1/kpi``: snake_case figure names; a figure with no data is null, never 0."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class KpiFigures(BaseModel):
    n_shipments: int = Field(description="Shipments declared in the group (stored, or only reported by an outcome)")
    n_outcomes: int = Field(description="Of those, with a clearance outcome")
    n_reviews: int | None = Field(description="Review decisions in the group (null: reviews have no such dimension)")
    preparation_hours_p50: float | None = Field(description="Median hours from order to declaration")
    release_hours_p50: float | None = Field(description="Median hours from declaration to release")
    release_hours_p90: float | None = Field(description="90th percentile of hours from declaration to release")
    exception_handling_hours: float | None = Field(
        description="Median hours from declaration to release of shipments with an exception (inspected, amended, held)")
    cost_per_declaration: float | None = Field(description="Mean summed costs of outcomes that report costs")
    demurrage_incidence: float | None = Field(description="Share of outcomes with demurrage or detention")
    demurrage_amount: float | None = Field(description="Sum of demurrage and detention")
    first_pass_rate: float | None = Field(description="Share of outcomes accepted without amendment (一次通过率)")
    data_error_rate: float | None = Field(description="Share of scored shipments with an error finding")
    three_document_match_rate: float | None = Field(
        description="Share of scored shipments without a three-document (三单对碰) finding")
    override_rate: float | None = Field(description="Share of review decisions that overrode the suggested code")


class KpiGroup(KpiFigures):
    group: str = Field(description="2026-W10 (ISO week), 2026-03 (month), or the port/carrier/channel/chapter; "
                                   "'(unknown)' for outcomes of shipments the service never scored")


class ServiceFigures(BaseModel):
    api_requests: int = Field(description="API requests (/v1/...) answered since the process started")
    api_availability: float | None = Field(description="Share of those not answered with a 5xx")
    api_latency_p50_ms: float | None
    api_latency_p90_ms: float | None
    since: datetime = Field(description="When this process started counting")


class KpiResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [{
        "from": "2026-03-01T16:00:00Z", "to": "2026-03-15T16:00:00Z", "group_by": "week",
        "total": {"n_shipments": 5, "n_outcomes": 4, "n_reviews": 3, "first_pass_rate": 0.5,
                  "release_hours_p50": 30.0, "release_hours_p90": 46.0},
        "groups": [{"group": "2026-W10", "n_shipments": 4, "n_outcomes": 3, "first_pass_rate": 0.667},
                   {"group": "2026-W11", "n_shipments": 0, "n_outcomes": 0, "first_pass_rate": None}],
        "service": {"api_requests": 1200, "api_availability": 0.999, "api_latency_p50_ms": 4.2,
                    "api_latency_p90_ms": 21.0, "since": "2026-03-15T08:00:00Z"}}]})

    from_: datetime = Field(alias="from", description="Start of the period (UTC, inclusive)")
    to: datetime = Field(description="End of the period (UTC, exclusive)")
    group_by: str
    total: KpiFigures
    groups: list[KpiGroup]
    service: ServiceFigures
