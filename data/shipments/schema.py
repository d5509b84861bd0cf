"""The 9710 shipment: order (订单), waybill (运单), declaration (报关单/申报清单) and timestamps.

The schema rejects what cannot be a shipment (wrong types, negative quantities, unknown ISO codes, impossible time
order) with a pydantic ``ValidationError`` whose every error names the field path; it never fills a silent default
for a value the sender got wrong. What is *valid but suspicious* — a missing phone, documents that disagree, an HS
code that is not in the nomenclature — passes the schema and becomes a finding in ``features.checks``: a shipment
with a missing phone still exists and must be scored and told what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Literal

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from data.errors import pydantic_details
from data.shipments.examples import example_shipment
from data.shipments.reference import CHANNELS, CREDIT_GRADES, DECLARATION_MODES

Channel = Literal["express", "air", "sea_fcl", "sea_lcl", "rail"]
CreditGrade = Literal["advanced_certified", "general", "discredited"]
DeclarationMode = Literal["9710_list", "declaration_form"]
assert set(Channel.__args__) == set(CHANNELS)  # type: ignore[attr-defined]
assert set(CreditGrade.__args__) == set(CREDIT_GRADES)  # type: ignore[attr-defined]
assert set(DeclarationMode.__args__) == set(DECLARATION_MODES)  # type: ignore[attr-defined]


_COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
# ISO 4217 also lists codes that are not money (XXX "no currency", XTS testing, XAU gold, XDR SDR, bond units...);
# an invoice in them is an error, so only real currencies are accepted.
_NOT_MONEY = frozenset({"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"})
_CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies) - _NOT_MONEY

# Validators take the fast path for already-clean codes: they run several times per shipment and batch scoring
# validates tens of thousands of shipments per second.


def _code_in(valid: frozenset[str], what: str) -> Callable[[str], str]:
    """Validator of a code from ``valid``, accepted in any case and with blanks around it."""

    def check(v: str) -> str:
        if v in valid:
            return v
        u = v.strip().upper()
        if u not in valid:
            raise ValueError(f"'{v}' is not an {what} code")
        return u

    return check


_country = _code_in(_COUNTRIES, "ISO 3166-1 alpha-2 country")
_currency = _code_in(_CURRENCIES, "ISO 4217 currency")


_LOCODE = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")


def _locode(v: str) -> str:
    u = v.strip().upper()
    if not _LOCODE.fullmatch(u):
        raise ValueError(f"'{v}' is not a UN/LOCODE (2-letter country + 3 letters/digits, e.g. USLAX)")
    if u[:2] not in _COUNTRIES:
        raise ValueError(f"'{v}' starts with '{u[:2]}', which is not an ISO 3166-1 country code")
    return u


_HS_SEPARATORS = re.compile(r"[\s.\-]")
_HS_DIGITS = re.compile(r"\d{4,10}")


def _hs_code(v: str) -> str:
    if 4 <= len(v) <= 10 and v.isdigit() and v.isascii():
        return v
    # "8516.71.00", "8516 71" and "8516-71" are how people write codes; only the digits are kept.
    code = _HS_SEPARATORS.sub("", v)
    if not _HS_DIGITS.fullmatch(code) or not code.isascii():
        raise ValueError(f"'{v}' is not an HS code (4 to 10 digits, dots and spaces allowed)")
    return code


CountryCode = Annotated[str, Field(strict=True), AfterValidator(_country)]
CurrencyCode = Annotated[str, Field(strict=True), AfterValidator(_currency)]
Locode = Annotated[str, Field(strict=True), AfterValidator(_locode)]
HSCode = Annotated[str, Field(strict=True), AfterValidator(_hs_code)]
# Free text must contain something other than blanks. Whitespace is stripped only on the fields the checks compare
# or parse (names, postcode, phone, units, carrier): stripping every string costs ~15% of validation time.
Text = Annotated[str, Field(strict=True, min_length=1, max_length=500, pattern=r"\S")]
ShortText = Annotated[str, Field(strict=True, min_length=1, max_length=120, pattern=r"\S")]
OptionalText = Annotated[str | None, Field(strict=True, max_length=500)]
Stripped = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), Field(strict=True)]
ShortStripped = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
                          Field(strict=True)]
# Upper bounds far above any real shipment keep products and sums finite (a 1e308 quantity would make totals inf and
# silently defeat the value comparisons).
Positive = Annotated[float, Field(strict=True, gt=0, le=1e9, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(strict=True, ge=0, le=1e9, allow_inf_nan=False)]
Money = Annotated[float, Field(strict=True, ge=0, le=1e12, allow_inf_nan=False)]
Flag = Annotated[bool, Field(strict=True)]


def _documents(value: object) -> object:
    """Supervision documents of a line as a list; a CSV cell or a form gives them as one text, ``B;4:0123``."""
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;|,\s]+", value) if part.strip()]
    return value


# A document the declaration presents for a line's supervision conditions: the condition's letter code (监管证件代码),
# optionally followed by ``:`` and the document number (``B:310000123456789``, ``4:24-CN-0001``).
SupervisionDocument = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                                       pattern=r"^[0-9A-Za-z](:[^\s]{1,60})?$"),
                                Field(strict=True)]
SupervisionDocuments = Annotated[list[SupervisionDocument], BeforeValidator(_documents), Field(max_length=20)]
RebateRate = Annotated[float | None, Field(strict=True, ge=0, le=100, allow_inf_nan=False)]


# extra="forbid": a misspelt field ("postal_code") must be an error, not silently dropped data.
# cache_strings="none": pydantic would intern short strings parsed from JSON, but most of a shipment's strings are
# unique (ids, names, descriptions), so the cache lookups cost more than they save (~1.5 µs of ~21 per document).
_CONFIG = ConfigDict(extra="forbid", cache_strings="none")


class _Model(BaseModel):
    model_config = _CONFIG


class Consignee(_Model):
    name: Stripped
    address: OptionalText = None
    postcode: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=20), Field(strict=True)] = None
    phone: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=40), Field(strict=True)] = None
    country: CountryCode


class OrderLine(_Model):
    description: Text
    hs_code: HSCode | None = None
    quantity: Positive
    unit: ShortStripped
    unit_price: NonNegative
    currency: CurrencyCode
    net_weight_kg: Positive | None = None  # per line, when the seller knows it


class Order(_Model):
    order_id: ShortText
    platform: ShortText
    buyer: ShortText
    consignee: Consignee
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=500)]


class DangerousGoods(_Model):
    lithium_battery: Flag = False
    liquid: Flag = False
    magnetic: Flag = False
    powder: Flag = False


class Waybill(_Model):
    waybill_no: ShortText
    carrier: ShortStripped
    channel: Channel
    export_port: Locode
    destination_port: Locode
    consignee_name: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=500),
                              Field(strict=True)] = None
    gross_weight_kg: Positive
    packages: Annotated[int, Field(strict=True, ge=1, le=10_000_000)]
    dangerous_goods: DangerousGoods = DangerousGoods()
    battery_certified_channel: Flag = False


class RouteOption(_Model):
    """A routing alternative to score beside the shipment: the waybill fields it replaces (at least one). They are
    validated like the waybill's own, so the shipment with an option applied is a valid shipment."""

    channel: Channel | None = None
    carrier: ShortStripped | None = None
    export_port: Locode | None = None
    destination_port: Locode | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> RouteOption:
        if not self.model_dump(exclude_none=True):
            raise ValueError("a route option changes at least one of channel, carrier, export_port, destination_port")
        return self


class DeclarationLine(_Model):
    hs_code: HSCode | None = None
    description: OptionalText = None
    quantity: Positive
    unit: ShortStripped
    value: Money  # line value in the declaration currency
    # The supervision documents (监管证件) this line presents; checked against the code's supervision conditions.
    documents: SupervisionDocuments = Field(default_factory=list)
    # The exporter's own rebate ledger for this line's code, percent; compared with the tariff's rebate when given.
    ledger_rebate_rate: RebateRate = None


class Declaration(_Model):
    declaration_no: Annotated[str | None, Field(strict=True, max_length=64)] = None
    mode: DeclarationMode
    declared_value: Money
    currency: CurrencyCode
    lines: Annotated[list[DeclarationLine], Field(min_length=1, max_length=500)]
    credit_grade: CreditGrade
    consignee_name: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=500),
                              Field(strict=True)] = None
    destination_country: CountryCode
    gross_weight_kg: Positive | None = None
    declared_at: AwareDatetime


_TIME_ORDER = ("order_created", "data_ready", "predeclared", "declared", "released")


class Timestamps(_Model):
    """Milestones in time order; ``released`` stays empty until customs releases (unknown when scoring)."""

    order_created: AwareDatetime
    data_ready: AwareDatetime | None = None
    predeclared: AwareDatetime | None = None
    declared: AwareDatetime | None = None
    released: AwareDatetime | None = None

    @model_validator(mode="after")
    def _in_order(self) -> Timestamps:
        # One check of the whole sequence rather than a validator per field: it runs for every shipment of a batch,
        # and the errors still name each field (an error raised here keeps its own locations, under "timestamps").
        errors = None
        prev_name, prev = "order_created", self.order_created
        for name in _TIME_ORDER[1:]:
            v = getattr(self, name)
            if v is None:
                continue
            if v < prev:
                errors = errors or []
                errors.append(InitErrorDetails(
                    type=PydanticCustomError("time_order", "{field} ({at}) is before {earlier} ({earlier_at})",
                                             {"field": name, "at": v.isoformat(), "earlier": prev_name,
                                              "earlier_at": prev.isoformat()}),
                    loc=(name,), input=v))
            prev_name, prev = name, v
        if errors:
            raise ValidationError.from_exception_data("Timestamps", errors)
        return self


class Shipment(_Model):
    # the example shows up in the OpenAPI page and the console
    model_config = ConfigDict(_CONFIG, json_schema_extra={"examples": [example_shipment()]})

    shipment_id: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9._:\-]{1,64}$")]
    order: Order
    waybill: Waybill
    declaration: Declaration
    timestamps: Timestamps

    @field_validator("timestamps")
    @classmethod
    def _agrees_with_declaration(cls, v: Timestamps, info: ValidationInfo) -> Timestamps:
        decl = info.data.get("declaration")
        if decl is None:  # the declaration itself was invalid and is reported on its own path
            return v
        if v.declared is not None and v.declared != decl.declared_at:
            raise ValueError("declared must equal declaration.declared_at (they are the same event)")
        if v.released is not None and v.released < decl.declared_at:
            raise ValueError("released is before declaration.declared_at")
        if v.order_created > decl.declared_at:
            raise ValueError("order_created is after declaration.declared_at")
        return v


def error_details(exc) -> list[dict[str, str]]:
    """A pydantic ``ValidationError`` as ``[{"field": "order.lines.0.quantity", "reason": ..., "type": ...}]`` (the
    API's shape; ``type`` is pydantic's error type, e.g. ``greater_than``, for callers that act on the kind)."""
    return pydantic_details(exc.errors(include_url=False, include_input=False), default="shipment")
