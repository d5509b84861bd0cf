"""The one shape of an HS suggestion (CLI ``--json``, API response and pyfunc output are this object, dumped).

Reasons are bilingual because the readers are customs brokers (Chinese) and the exporters' overseas buyers (English).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from data.tariff import TariffFacts
from data.transition import Edition, Transition


class Evidence(BaseModel):
    """A historical ruling that supports a candidate."""

    ruling_id: str
    text: str
    hs_code: str
    similarity: float = Field(..., description="Best similarity of this ruling to the query over the channels, 0-1.")
    source: str
    ruling_date: date | None = None
    channel: str = Field("lexical", description="Which search found it: lexical, dense or overlay.")
    # Filled by the serving layer (serving/editions.py) once a correlation is imported; the suggester never sets it.
    transition: Transition | None = None


class TariffEvidence(BaseModel):
    """A text of the tariff itself (an HS subheading or a national line) that supports a candidate."""

    code: str
    text: str
    similarity: float = Field(..., description="Similarity of the tariff text to the query (dense and lexical), 0-1.")
    source: str = Field("tariff_text", description="Always tariff_text: the nomenclature, not a ruling.")


EVIDENCE_BASIS_DOC = "What the candidate rests on: rulings, tariff_text or both."


class AnswerCode(BaseModel):
    code: str
    level: int
    confidence: float = Field(..., ge=0.0, le=1.0)


class Candidate(BaseModel):
    code: str
    level: int = Field(..., description="Digits of the code: 6, 8 or 10.")
    description_en: str | None = None
    description_zh: str | None = None
    confidence: float = Field(..., ge=0.0, le=1.0, description="Calibrated probability that this code is right.")
    evidence: list[Evidence] = Field(default_factory=list)
    tariff_evidence: list[TariffEvidence] = Field(default_factory=list,
                                                  description="Tariff texts behind this code (nomenclature channel).")
    evidence_basis: str | None = Field(None, description=EVIDENCE_BASIS_DOC)
    has_rulings: bool | None = Field(None, description="Whether the library holds any ruling for this code.")
    parent_hs4: str = ""
    confidence_hs4: float = Field(0.0, ge=0.0, le=1.0, description="Calibrated probability that the HS4 is right.")
    national: list[AnswerCode] = Field(default_factory=list,
                                       description="8/10-digit lines under this HS6 seen in the evidence, most likely first.")
    # Filled by the serving layer (serving/editions.py): facts of the national lines, the HS 2028 transition.
    tariff: list[TariffFacts] = Field(default_factory=list,
                                      description="Tariff facts (rebate, VAT, supervision, inspection, units) of the "
                                                  "national lines under this code; empty when none were imported.")
    transition: Transition | None = None


class Reason(BaseModel):
    code: str
    en: str
    zh: str


class QueryEcho(BaseModel):
    text: str
    normalised: str
    language: str
    declared_elements: dict[str, str] = Field(default_factory=dict)


class ModelInfo(BaseModel):
    name: str
    version: str | None = None
    index_fingerprint: str
    encoder: str


class SuggestionAnswer(BaseModel):
    query: QueryEcho
    candidates: list[Candidate]
    answer: AnswerCode | None
    needs_review: bool
    reasons: list[Reason] = Field(default_factory=list)
    missing_elements: list[str] = Field(default_factory=list)
    evidence_basis: str | None = Field(None, description="What the top candidate rests on: rulings, tariff_text "
                                                         "or both.")
    model: ModelInfo
    hierarchy: list[AnswerCode] = Field(default_factory=list,
                                        description="HS2 → HS4 → HS6 (→ national) path of the top candidate.")
    edition: Edition | None = Field(None, description="Nomenclature edition and national tariff version of the codes.")


class Agreement(BaseModel):
    hs6: bool
    hs4: bool


class ValidationAnswer(BaseModel):
    """Does a declared code agree with what the library suggests?"""

    declared_code: str
    agreement: Agreement
    declared_confidence: float = Field(..., ge=0.0, le=1.0,
                                       description="Calibrated probability of the declared code at its HS6 level.")
    declared_confidence_hs4: float = Field(..., ge=0.0, le=1.0)
    suggested: AnswerCode | None
    alternatives: list[Candidate]
    needs_review: bool
    reasons: list[Reason] = Field(default_factory=list)
    suggestion: SuggestionAnswer
    declared_transition: Transition | None = None
    edition: Edition | None = Field(None, description="Edition in force on the declaration date.")
    edition_problem: str | None = Field(None, description="Why the declared code is not valid in the edition in "
                                                          "force on the declaration date; null when it is.")
