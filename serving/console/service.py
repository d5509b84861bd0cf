"""What the console pages show, computed from the served models and the store; no HTTP and no HTML here.

The router turns requests into calls on these functions and renders their results; keeping them apart lets tests
check the page logic (form parsing, hierarchy names, CSV in and out) without a browser.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from data.errors import InvalidInputError, error_path, field_error, pydantic_details
from data.settings import InputLimits
from data.tariff import rate_label, supervision_label
from serving.console.i18n import pick
from serving.hs.schemas import SuggestRequest


# --------------------------------------------------------------------------------------------------- classify form
def parse_elements(keys: list[str], values: list[str], limits: InputLimits) -> dict[str, str]:
    """Declaration-element rows from the form: blank rows are dropped, a value without a name is an error."""
    elements: dict[str, str] = {}
    problems: list[dict[str, str]] = []
    if len(keys) > limits.elements or len(values) > limits.elements:
        raise InvalidInputError(f"At most {limits.elements} declaration elements",
                                code="bad_elements",
                                details=[field_error("declared_elements", f"more than {limits.elements} rows")])
    first_row: dict[str, int] = {}
    for i in range(max(len(keys), len(values))):
        key = (keys[i] if i < len(keys) else "").strip()
        value = (values[i] if i < len(values) else "").strip()
        if not key and not value:
            continue
        # Fields are paths as in the API's JSON (``declared_elements.材质``: the elements are an object); the row,
        # numbered from 1 as the reviewer sees it on the page, is in the reason.
        if not key:
            problems.append(field_error("declared_elements", f"row {i + 1}: value '{value[:30]}' has no element name"))
            continue
        if key in elements:
            problems.append(field_error(error_path(("declared_elements", key)),
                                        f"element '{key}' appears twice (rows {first_row[key]} and {i + 1})"))
            continue
        elements[key] = value
        first_row[key] = i + 1
    if problems:
        raise InvalidInputError("Declaration elements are incomplete", code="bad_elements", details=problems)
    return elements


# The page's headline per field (the Chinese one is ``i18n.ERRORS_ZH[code]``).
_FORM_ERRORS = {"text": ("empty_text", "Enter a product description"),
                "declared_elements": ("bad_elements", "Declaration elements are over the limits"),
                "top_k": ("bad_top_k", "top_k must be a number between 1 and 20")}


def classify_request(text: str, elements: dict[str, str], top_k: str, limits: InputLimits) -> SuggestRequest:
    """The form as the API's :class:`SuggestRequest`, validated with the same limits; the problems named by field."""
    try:
        return SuggestRequest.model_validate({"text": (text or "").strip(), "declared_elements": elements or None,
                                              "top_k": top_k or 5}, context=limits)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        code, message = _FORM_ERRORS.get(str(first["loc"][0]), ("invalid_input", "The form is invalid"))
        if first["type"] == "string_too_long" and first["loc"] == ("text",):
            code, message = "text_too_long", f"The description is too long: {first['msg']}"
        raise InvalidInputError(message, code=code, details=pydantic_details(errors)) from None


# ------------------------------------------------------------------------------------------------ classify result
@dataclass
class HierarchyLevel:
    code: str
    level: int
    name: str


@dataclass
class CandidateView:
    code: str
    level: int
    confidence: float
    name: str
    hierarchy: list[HierarchyLevel]
    evidence: list[dict[str, Any]]
    acceptable: bool  # a ruling needs at least HS6
    tariff: list[dict[str, Any]] = field(default_factory=list)  # facts of the national lines (serving.editions)
    transition: dict[str, Any] | None = None
    rebate: str = ""  # "13 %", "9-13 %", "unknown"; "" when no facts were imported for the code
    supervision: str = ""  # "AB", "none", "unknown"
    tariff_evidence: list[dict[str, Any]] = field(default_factory=list)  # tariff texts (nomenclature channel)
    evidence_basis: str | None = None  # rulings, tariff_text or both
    has_rulings: bool | None = None


@dataclass
class ClassifyView:
    answer: dict[str, Any]
    candidates: list[CandidateView]
    needs_review: bool
    low_confidence: bool
    evidence_ids: list[str] = field(default_factory=list)


def format_code(code: str) -> str:
    """8516.71.00-style grouping, as customs staff read codes."""
    code = code or ""
    if len(code) <= 4:
        return code
    groups = [code[:4]] + [code[i:i + 2] for i in range(4, len(code), 2)]
    return ".".join(groups)


def _hierarchy(code: str, nomenclature: Any | None, lang: str) -> list[HierarchyLevel]:
    if nomenclature is None:
        return []
    try:
        entries = nomenclature.hierarchy(code)
    except Exception:  # a code the nomenclature cannot place is shown without names, not an error
        return []
    return [HierarchyLevel(code=e.code, level=e.level, name=pick(lang, e.en, e.zh)) for e in entries]


def classify_view(answer: Any, nomenclature: Any | None, lang: str) -> ClassifyView:
    """The page's view of a :class:`SuggestionAnswer`: names in the page language, evidence ids for the feedback."""
    data = answer.model_dump(mode="json") if hasattr(answer, "model_dump") else dict(answer)
    candidates = []
    evidence_ids: list[str] = []
    for cand in data.get("candidates", []):
        hierarchy = _hierarchy(cand["code"], nomenclature, lang)
        name = pick(lang, cand.get("description_en"), cand.get("description_zh"))
        tariff = list(cand.get("tariff") or [])
        candidates.append(CandidateView(
            code=cand["code"], level=int(cand.get("level") or len(cand["code"])),
            confidence=float(cand.get("confidence") or 0.0), name=name, hierarchy=hierarchy,
            evidence=list(cand.get("evidence") or []), acceptable=len(cand["code"]) >= 6,
            tariff=tariff, transition=cand.get("transition"),
            rebate=rate_label([f.get("rebate_rate") for f in tariff]) if tariff else "",
            supervision=supervision_label([f.get("supervision") for f in tariff]) if tariff else "",
            tariff_evidence=list(cand.get("tariff_evidence") or []), evidence_basis=cand.get("evidence_basis"),
            has_rulings=cand.get("has_rulings"),
        ))
        for ev in cand.get("evidence") or []:
            if ev.get("ruling_id") and ev["ruling_id"] not in evidence_ids:
                evidence_ids.append(ev["ruling_id"])
    top = data.get("answer")
    low = bool(data.get("needs_review")) or top is None or int(top.get("level") or 0) < 6
    return ClassifyView(answer=data, candidates=candidates, needs_review=bool(data.get("needs_review")),
                        low_confidence=low, evidence_ids=evidence_ids)


# ---------------------------------------------------------------------------------------------------- CSV helpers
def to_csv(rows: list[dict[str, Any]], columns: list[str] | tuple[str, ...], *, header: bool = True) -> str:
    """CSV text; with the header it starts with a BOM so that Excel opens Chinese text as UTF-8."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow({k: _defused(_cell(v)) for k, v in row.items()})
    return ("\ufeff" if header else "") + buf.getvalue()


# A cell starting with one of these is a formula to Excel, LibreOffice and Sheets (OWASP "CSV injection"); a leading
# apostrophe makes it text, shown as typed. Numbers are written as numbers, so a negative value stays a number.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _defused(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "|".join(str(_cell(v)) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value


def review_rows(entries: list[Any]) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in entries]


# ------------------------------------------------------------------------------------------------- models page
IMAGE_TYPES: dict[str, str] = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
                               ".jpeg": "image/jpeg"}
MAX_PLOTS_PER_RUN = 40


def list_plot_paths(mlflow_client: Any, run_id: str, max_depth: int = 3) -> list[str]:
    """Image artifacts logged to ``run_id`` (reliability diagrams, accuracy by chapter, feature importance …).

    Model directories (those holding an ``MLmodel`` file) are not walked: they hold weights, not plots.
    """
    found: list[str] = []

    def walk(path: str | None, depth: int) -> None:
        entries = mlflow_client.list_artifacts(run_id, path)
        if any(not e.is_dir and e.path.rsplit("/", 1)[-1] == "MLmodel" for e in entries):
            return
        for entry in entries:
            if len(found) >= MAX_PLOTS_PER_RUN:
                return
            if entry.is_dir:
                if depth < max_depth:
                    walk(entry.path, depth + 1)
            elif Path(entry.path).suffix.lower() in IMAGE_TYPES:
                found.append(entry.path)

    walk(None, 0)
    return sorted(found)


def cached_plot(cache_root: Path, tracking_uri: str, run_id: str, artifact_path: str) -> Path:
    """A local copy of one plot under ``<model cache>/plots/<run_id>/``, downloaded from MLflow on first use."""
    import shutil
    import tempfile

    import mlflow.artifacts

    target = (cache_root / "plots" / run_id / artifact_path).resolve()
    base = (cache_root / "plots" / run_id).resolve()
    if base not in target.parents:
        raise InvalidInputError("bad plot path", details=[field_error("path", "outside the run's artifacts")])
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=tmp,
                                                    tracking_uri=tracking_uri)
        # Written under a temporary name and moved, so a concurrent reader never serves half an image.
        shutil.move(local, target)
    return target


def run_metrics(mlflow_client: Any, run_id: str | None) -> dict[str, float]:
    if not run_id:
        return {}
    return dict(sorted(mlflow_client.get_run(run_id).data.metrics.items()))
