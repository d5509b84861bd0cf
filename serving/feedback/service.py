"""Reviewer decisions become rulings: stored first, then searchable in every served suggester at once.

Order matters. The ruling is committed to the library (the system of record) before anything else, so an
acknowledged decision survives a crash or a restart; the review-log row follows; only then is the ruling added to the
copy-on-write overlay of every live suggester (:meth:`ReviewerOverlays.publish`).

Every suggester the service loads is registered with the same :class:`ReviewerOverlays`, and the reviewer rulings in
the store are replayed into it *before* its set is swapped in (a composition step of ``serving.served``): no request
answered by a new set misses an acknowledged decision, a decision stored while a set is being composed reaches that
set too, and a ruling that could not be added to an overlay is replayed when the next set is composed.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine

from data.errors import ConflictError, InvalidInputError, error_path, field_error
from data.rulings.repository import RulingRepository
from data.rulings.schema import (
    MAX_ELEMENT_KEY_CHARS,
    MAX_ELEMENT_VALUE_CHARS,
    MAX_ELEMENTS,
    MAX_NAME_CHARS,
    Ruling,
    RulingSource,
    code_digits,
    normalise_hs_code,
)
from data.store.idempotency import Once, lookup, run_once
from data.store.reviews import ReviewAction, ReviewEntry, add_review, get_review
from models.names import HS_SUGGESTER as HS_SUGGESTER_NAME
from serving.feedback.provenance import attest as attest_decision
from serving.limits import surrogate_paths

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 2000
MAX_REVIEWER_CHARS = 100
#: The idempotency scope of reviewer decisions (API and console share it: one decision, one review row).
FEEDBACK_SCOPE = "hs_feedback"


class Decision(BaseModel):
    """What a reviewer decided about one suggestion, with the provenance of that suggestion."""

    text: str = Field(description="The product description that was classified.")
    declared_elements: dict[str, str] = Field(default_factory=dict)
    action: ReviewAction
    final_code: str | None = Field(None, description="The code the reviewer settles on (accept: the suggested one).")
    suggested_code: str | None = None
    suggested_confidence: float | None = Field(None, ge=0, le=1)
    reason: str = ""
    reviewer: str = ""
    model_name: str | None = None
    model_version: str | None = None
    index_fingerprint: str | None = None
    evidence_ids: list[str] = Field(default_factory=list, max_length=100)
    # HS 2028 transition (issue 11): a decision expressed in another edition than the nomenclature's (its code is then
    # checked against ``edition_codes`` of record_decision), dated from that edition's effective date, resolving the
    # stored ruling ``transition_of``.
    edition: str | None = None
    ruling_date: date | None = None
    transition_of: str | None = None

    @field_validator("text", "reason", "reviewer", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


@dataclass(frozen=True)
class FeedbackReceipt:
    ruling: Ruling
    review: ReviewEntry
    searchable: bool
    index_error: str | None = None
    replayed: bool = False  # answered from an earlier request with the same idempotency key


def _digits(code: str) -> str:
    try:
        return code_digits(code)
    except ValueError:
        return code


def normalise_code(code: str, field: str, nomenclature: Any | None) -> str:
    """A ruling needs 6, 8 or 10 digits that the nomenclature knows (at least at HS6); the error names the field."""
    raw = (code or "").strip()
    if not raw:
        raise InvalidInputError(f"{field} is empty", details=[field_error(field, "empty")])
    try:
        normalised = normalise_hs_code(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{field}: {exc}", details=[field_error(field, str(exc))]) from exc
    if nomenclature is not None and not (nomenclature.is_valid(normalised) or nomenclature.is_valid(normalised[:6])):
        reason = f"{normalised} is not in the nomenclature ({getattr(nomenclature, 'version', 'HS')})"
        raise InvalidInputError(f"{field}: {reason}", details=[field_error(field, reason)])
    return normalised


_TEXT_FIELDS = {"text", "declared_elements", "final_code", "suggested_code", "reason", "reviewer", "model_name",
                "model_version", "index_fingerprint", "evidence_ids"}


def check_decision(decision: Decision, *, nomenclature: Any | None = None, max_text_chars: int = 2000,
                   edition_codes: frozenset[str] | None = None) -> str:
    """Every problem with the decision at once (field + reason), or the normalised final code.

    A decision in another edition (``decision.edition``) needs a code among ``edition_codes`` (its 6-digit
    subheadings) instead of one the nomenclature knows.
    """
    problems: list[dict[str, str]] = [
        field_error(error_path(loc), "not valid Unicode text (a lone surrogate escape)")
        for loc in surrogate_paths(decision.model_dump(mode="python", include=_TEXT_FIELDS))]
    if not decision.text:
        problems.append(field_error("text", "empty"))
    elif len(decision.text) > max_text_chars:
        problems.append(field_error("text", f"longer than {max_text_chars} characters ({len(decision.text)})"))
    if not decision.reviewer:
        problems.append(field_error("reviewer", "empty: say who made the decision"))
    elif len(decision.reviewer) > MAX_REVIEWER_CHARS:
        problems.append(field_error("reviewer", f"longer than {MAX_REVIEWER_CHARS} characters"))
    if len(decision.declared_elements) > MAX_ELEMENTS:
        problems.append(field_error("declared_elements", f"more than {MAX_ELEMENTS} elements"))
    for key, value in decision.declared_elements.items():
        if not key.strip():
            problems.append(field_error("declared_elements", "an element has an empty name"))
        elif len(key) > MAX_ELEMENT_KEY_CHARS:
            problems.append(field_error(f"declared_elements.{key[:20]}", f"name longer than {MAX_ELEMENT_KEY_CHARS}"))
        if len(value) > MAX_ELEMENT_VALUE_CHARS:
            problems.append(field_error(f"declared_elements.{key[:20]}",
                                        f"value longer than {MAX_ELEMENT_VALUE_CHARS} characters"))
    if len(decision.reason) > MAX_REASON_CHARS:
        problems.append(field_error("reason", f"longer than {MAX_REASON_CHARS} characters"))

    code_field = "final_code"
    code = decision.final_code
    if decision.action is ReviewAction.accept:
        if not code:
            code, code_field = decision.suggested_code, "suggested_code"
        elif decision.suggested_code and _digits(code) != _digits(decision.suggested_code):
            problems.append(field_error("final_code", "accept keeps the suggested code; use override to change it"))
    else:
        if not decision.reason:
            problems.append(field_error("reason", "empty: an override needs a reason"))
    normalised = ""
    if not code:
        problems.append(field_error(code_field, "empty"))
    else:
        try:
            if decision.edition is not None:
                normalised = normalise_code(code, code_field, None)
                if normalised[:6] not in (edition_codes or frozenset()):
                    problems.append(field_error(code_field, f"{normalised} is not a subheading of {decision.edition} "
                                                            "for this decision"))
            else:
                normalised = normalise_code(code, code_field, nomenclature)
        except InvalidInputError as exc:
            problems.extend(exc.details or [field_error(code_field, exc.message)])
    if (decision.action is ReviewAction.override and normalised and decision.suggested_code
            and normalised == _digits(decision.suggested_code)):
        problems.append(field_error("final_code", "equals the suggested code; use accept instead"))
    if problems:
        summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
        raise InvalidInputError(f"The decision was not saved: {summary}", details=problems)
    return normalised


def _split_text(text: str) -> tuple[str, str]:
    """(name, description) of a text: whole as the name when it fits, else cut at the last space before the name cap
    (the ruling's text joins the two with a newline, so no character is added), else at the cap."""
    if len(text) <= MAX_NAME_CHARS:
        return text, ""
    cut = text.rfind(" ", MAX_NAME_CHARS // 2, MAX_NAME_CHARS + 1)
    if cut > 0:
        return text[:cut], text[cut + 1:]
    return text[:MAX_NAME_CHARS], text[MAX_NAME_CHARS:]


def _ruling_for(decision: Decision, code: str, now: datetime, nomenclature: Any | None = None) -> Ruling:
    model_version = None
    if decision.model_name or decision.model_version:
        model_version = f"{decision.model_name or 'model'}@{decision.model_version or 'unknown'}"
    # Ruling has no columns for the index and the evidence; notes keep them machine-readable, and the review log
    # keeps them as proper columns.
    notes = json.dumps({
        "action": decision.action.value,
        "reason": decision.reason,
        "suggested_code": decision.suggested_code,
        "index_fingerprint": decision.index_fingerprint,
        "evidence_ids": decision.evidence_ids[:20],  # the review log keeps all of them; notes have a size cap
        **({"transition_of": decision.transition_of} if decision.transition_of else {}),
    }, ensure_ascii=False)
    # Edition stamps: the edition the code is in, and the national tariff version for a national line.
    edition = decision.edition or getattr(nomenclature, "hs_version", None) or "HS2022"
    tariff = getattr(nomenclature, "tariff_version", None) if decision.edition is None and len(code) > 6 else None
    try:
        # The library caps names: a longer text continues in ``description``, so that the ruling's text (name +
        # description) stays the reviewer's text, within the limits retraining applies, not name + the whole again.
        name, rest = _split_text(decision.text)
        return Ruling(
            product_name=name,
            description=rest,
            declared_elements={k.strip(): v.strip() for k, v in decision.declared_elements.items()},
            hs_code=code,
            language=None,
            source=RulingSource.reviewer,
            ruling_date=decision.ruling_date or (now.date() if isinstance(now, datetime) else date.today()),
            nomenclature_version=edition,
            tariff_version=tariff,
            reviewer=decision.reviewer,
            model_version=model_version,
            notes=notes,
            created_at=now,
        )
    except ValidationError as exc:
        details = [field_error(error_path(err["loc"], "ruling"), err["msg"]) for err in exc.errors()]
        raise InvalidInputError("The decision does not make a valid ruling", details=details) from exc


def record_decision(engine: Engine, suggester: Any | None, decision: Decision, *, nomenclature: Any | None = None,
                    channel: str = "console", max_text_chars: int = 2000,
                    overlays: ReviewerOverlays | None = None, served_version: str | None = None,
                    attest: bool = True, once: Once | None = None,
                    edition_codes: frozenset[str] | None = None) -> FeedbackReceipt:
    """Validate, commit the ruling and the review-log row, then make the ruling searchable.

    With a ``suggester`` (and ``attest``), the provenance fields of the review log are the server's: what that
    suggester answers for the text, under ``served_version`` (:func:`serving.feedback.provenance.attest`), never the
    client's. ``once`` (an idempotency key) makes a resent decision write its review row once: the row and the key
    commit together, and a resend gets the first receipt back (``replayed``).

    The ruling is added to ``suggester`` (the one the request used) and, through ``overlays``, to every other live
    suggester of the service: the one served now, and one being composed for a swap whose replay read the store
    before this commit. Raises :class:`InvalidInputError` (nothing written) when the decision is incomplete or the
    code is unknown.
    """
    code = check_decision(decision, nomenclature=nomenclature, max_text_chars=max_text_chars,
                          edition_codes=edition_codes)
    if once is not None:
        earlier = lookup(engine, FEEDBACK_SCOPE, once.owner, once.key, once.request_hash)
        if earlier is not None:  # answered before: no model call, no write; make sure it is searchable
            return _receipt_again(engine, suggester, overlays, earlier[0])
    if suggester is not None and attest:
        decision = attest_decision(decision, suggester, decision.model_name or HS_SUGGESTER_NAME, served_version)
    now = datetime.now(UTC)
    ruling = _ruling_for(decision, code, now, nomenclature)
    repo = RulingRepository(engine)
    try:
        stored = repo.add(ruling)
    except ConflictError:
        # The same reviewer decision already exists (content-hash id); the earlier ruling stands and is logged again.
        stored = repo.get(ruling.ruling_id)
    entry = ReviewEntry(
        created_at=now,
        reviewer=decision.reviewer,
        channel=channel,
        query_text=decision.text,
        declared_elements=dict(stored.declared_elements),
        suggested_code=_digits(decision.suggested_code) if decision.suggested_code else None,
        suggested_confidence=decision.suggested_confidence,
        final_code=code,
        action=decision.action,
        reason=decision.reason,
        model_name=decision.model_name,
        model_version=decision.model_version,
        index_fingerprint=decision.index_fingerprint,
        ruling_id=stored.ruling_id,
        evidence_ids=list(decision.evidence_ids),
    )
    saved: dict[str, ReviewEntry] = {}

    def write_review(session) -> dict:
        saved["review"] = add_review(engine, entry, session=session)
        return {"review_id": saved["review"].id, "ruling_id": stored.ruling_id}

    response, replayed = run_once(engine, FEEDBACK_SCOPE, once.owner if once else "", once.key if once else None,
                                  once.request_hash if once else "", write_review, status=201)
    if replayed:  # a concurrent resend committed first; ours rolled back
        return _receipt_again(engine, suggester, overlays, response)
    searchable, index_error = _publish(stored, suggester, overlays)
    return FeedbackReceipt(ruling=stored, review=saved["review"], searchable=searchable, index_error=index_error)


def _publish(ruling: Ruling, suggester: Any | None, overlays: ReviewerOverlays | None) -> tuple[bool, str | None]:
    if overlays is not None:
        return overlays.publish(ruling, also=suggester)
    return _add_to([suggester] if suggester is not None else [], ruling)


def _receipt_again(engine: Engine, suggester: Any | None, overlays: ReviewerOverlays | None,
                   response: dict) -> FeedbackReceipt:
    """The receipt of a decision stored earlier under the same idempotency key."""
    review = get_review(engine, int(response["review_id"]))
    ruling = RulingRepository(engine).get(str(response["ruling_id"]))
    if review is None:
        raise ConflictError("the decision stored under this Idempotency-Key is gone", code="idempotency_key_stale")
    searchable, index_error = _publish(ruling, suggester, overlays)
    return FeedbackReceipt(ruling=ruling, review=review, searchable=searchable, index_error=index_error,
                           replayed=True)


def _add_to(suggesters: list[Any], ruling: Ruling) -> tuple[bool, str | None]:
    """Add ``ruling`` to each suggester that does not hold it yet: (searchable in all of them, the last error)."""
    searchable, index_error = bool(suggesters), None
    for target in suggesters:
        try:
            # A repeated decision (same text and code) is already searchable: adding it again would double evidence.
            if not _holds(target, ruling.ruling_id):
                target.add_rulings([ruling])
        except Exception as exc:  # the decision is stored; the overlay catches up when the next set is composed
            index_error = str(exc) or type(exc).__name__
            searchable = False
            log.exception("reviewer ruling %s stored but not added to a served index", ruling.ruling_id)
    return searchable, index_error


def _holds(suggester: Any, ruling_id: str) -> bool:
    overlay = getattr(suggester, "overlay_rulings", None)
    if callable(overlay) and any(r.ruling_id == ruling_id for r in overlay()):
        return True
    ids = getattr(suggester, "ruling_ids", None)
    return ids is not None and ruling_id in set(ids)


def _known_ids(suggester: Any) -> set[str]:
    """Ruling ids the suggester already searches: its library plus its overlay (both are saved in the bundle)."""
    ids = getattr(suggester, "ruling_ids", None)  # a numpy array in HSSuggester: no truthiness tests on it
    known = {str(i) for i in ids} if ids is not None else set()
    overlay = getattr(suggester, "overlay_rulings", None)
    if callable(overlay):
        known.update(r.ruling_id for r in overlay())
    return known


def replay_reviewer_rulings(engine: Engine, suggester: Any, since: datetime | None = None) -> int:
    """Add to ``suggester`` every stored reviewer ruling it does not search yet; returns how many were added.

    Rulings already in the bundle (its library or its saved overlay) are skipped by id, so nothing is doubled;
    ``since`` (default: none) narrows the store query to rulings created after it. The service
    calls this through :meth:`ReviewerOverlays.replay_into`, never directly: that keeps it in step with decisions
    stored at the same time.
    """
    # Ids decide, not times: a ruling stored while the bundle was being built is older than its snapshot yet not in
    # it, and narrowing the read by the snapshot time would leave it out of every served set until the next build.
    known = _known_ids(suggester)
    rulings = [r for r in RulingRepository(engine).reviewer_rulings(since) if r.ruling_id not in known]
    if rulings:
        suggester.add_rulings(rulings)
    log.info("replayed %d reviewer rulings into a suggester", len(rulings))
    return len(rulings)


class ReviewerOverlays:
    """Keeps every live suggester of one service holding the reviewer rulings of its store.

    A ruling reaches a suggester in one of two ways, both checking and adding under one lock: :meth:`replay_into`
    (a composition step, run on each new set before it is swapped in) and :meth:`publish` (after a decision is
    committed). A suggester is registered before its replay reads the store, so a decision committed at any moment of
    a load reaches the set that ends up served: the replay's read sees it, or its publish (which takes the lock after
    the commit) finds the suggester registered. Suggesters are held weakly: a swapped-out one drops out once the last
    request that uses it ends.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._lock = threading.Lock()
        self._live: weakref.WeakSet[Any] = weakref.WeakSet()

    def replay_into(self, suggester: Any) -> int:
        """Register ``suggester`` and replay the stored reviewer rulings it lacks; returns how many were added."""
        with self._lock:
            self._live.add(suggester)
            return replay_reviewer_rulings(self.engine, suggester)

    def catch_up(self, since: datetime) -> int:
        """Add to every live suggester the reviewer rulings stored after ``since`` that it lacks; returns how many.

        With several replicas, a decision is published at once only into the suggesters of the replica that took it;
        the others pick it up here (the holder calls this on every poll). Rulings are matched by id, so a ruling
        already published, replayed or built into the bundle is never added twice.
        """
        rulings = RulingRepository(self.engine).reviewer_rulings(since)
        if not rulings:
            return 0
        added = 0
        with self._lock:
            for target in list(self._live):
                overlay = getattr(target, "overlay_rulings", None)
                held = {r.ruling_id for r in overlay()} if callable(overlay) else set()
                missing = [r for r in rulings if r.ruling_id not in held]
                if missing:  # the library's ids are read only when the overlay does not settle it
                    library = getattr(target, "ruling_ids", None)
                    in_library = {str(i) for i in library} if library is not None else set()
                    missing = [r for r in missing if r.ruling_id not in in_library]
                if missing:
                    target.add_rulings(missing)
                    added += len(missing)
        if added:
            log.info("caught up %d reviewer rulings stored by other replicas", added)
        return added

    def publish(self, ruling: Ruling, *, also: Any | None = None) -> tuple[bool, str | None]:
        """Add a committed ruling to every live suggester (and ``also``): (searchable in all, the last error)."""
        with self._lock:
            targets = list(self._live)
            if also is not None and also not in self._live:
                targets.append(also)
            return _add_to(targets, ruling)
