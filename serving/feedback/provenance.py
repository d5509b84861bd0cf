"""Server-side provenance of a reviewer decision: what the served model suggested, recorded by the server.

The review log says which model suggested what and how confident it was; auditors and data scientists read it to see
where the model is overruled. Taking those fields from the client let anyone write "accepted 999999, suggested by
model 999". So the server asks the suggester the request uses for its answer on the same text and declaration
elements, and records *that*: the suggested code and confidence, the served registry version, the index fingerprint
and the evidence. An accept must accept one of those candidates; what the client claims it was shown is ignored.
Suggesters are deterministic for a given set, so this is the answer the reviewer saw unless the set was swapped in
between, in which case the record names the set that stands now.
"""

from __future__ import annotations

from typing import Any

from data.errors import InvalidInputError, field_error
from data.rulings.schema import code_digits
from data.store.reviews import ReviewAction

#: Candidates asked for: more than any page shows, so a reviewer's accept of a lower candidate is among them.
TOP_K = 10


def _as_dict(answer: Any) -> dict[str, Any]:
    return answer.model_dump(mode="json") if hasattr(answer, "model_dump") else dict(answer)


def _digits(code: Any) -> str:
    try:
        return code_digits(code)
    except ValueError:
        return str(code or "")


def _matches(candidate: str, code: str) -> bool:
    # A candidate at HS6 is accepted by its national lines too, and a national line by its HS6 parent.
    return bool(candidate) and bool(code) and (candidate.startswith(code) or code.startswith(candidate))


def attest(decision: Any, suggester: Any, model_name: str, model_version: str | None) -> Any:
    """``decision`` with its provenance fields replaced by the server's (a copy); ``InvalidInputError`` when an accept
    names a code the served model does not suggest for this text."""
    answer = _as_dict(suggester.suggest(decision.text, dict(decision.declared_elements) or None, TOP_K))
    candidates = [c if isinstance(c, dict) else _as_dict(c) for c in answer.get("candidates") or []]
    model = answer.get("model") or {}
    top = candidates[0] if candidates else None
    chosen = top
    if decision.action is ReviewAction.accept:
        code = _digits(decision.final_code or decision.suggested_code)
        chosen = next((c for c in candidates if _matches(_digits(c.get("code")), code)), None)
        if code and chosen is None:
            field = "final_code" if decision.final_code else "suggested_code"
            raise InvalidInputError(f"{code} is not among the served model's suggestions for this text; an accept "
                                    "takes a suggested code, use override for any other",
                                    code="accept_not_suggested",
                                    details=[field_error(field, "not suggested by the served model for this text")])
    evidence = [ev.get("ruling_id") for c in ([chosen] if decision.action is ReviewAction.accept else candidates)
                if c for ev in (c.get("evidence") or []) if ev.get("ruling_id")]
    return decision.model_copy(update={
        "suggested_code": _digits(chosen.get("code")) if chosen else None,
        "suggested_confidence": float(chosen["confidence"]) if chosen and chosen.get("confidence") is not None
        else None,
        "model_name": model_name,
        "model_version": model_version or (str(model.get("version")) if model.get("version") else None),
        "index_fingerprint": model.get("index_fingerprint") or getattr(suggester, "fingerprint", None),
        "evidence_ids": list(dict.fromkeys(evidence))[:100],
    })
