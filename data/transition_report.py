"""Which stored rulings and reviewer decisions the HS 2028 transition touches, grouped by HS 2022 subheading.

Read by ``clearance rulings transition-report`` and the console's HS 2028 page. Every ruling of the library whose code
is renumbered or split is listed once (a reviewer decision is a ruling with source ``reviewer``; its review-log id is
attached). A split ruling is *resolved* once a reviewer decision under an HS 2028 code names it (``transition_of`` in
the decision's notes, written by the console's resolve form through the feedback path).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime

from pydantic import BaseModel, Field

from data.transition import TO_EDITION, TariffBook, TransitionTarget

#: Column order of the CSV export (the page, the CLI and the tests agree on it).
CSV_COLUMNS = ("hs6", "status", "new_codes", "kind", "ruling_id", "review_id", "hs_code", "text", "source",
               "ruling_date", "nomenclature_version", "resolved_code", "resolved_by")


class AffectedRuling(BaseModel):
    kind: str = Field(description="ruling (imported library) or decision (a reviewer's)")
    ruling_id: str
    review_id: int | None = None
    hs_code: str
    text: str
    declared_elements: dict[str, str] = Field(default_factory=dict)
    source: str
    ruling_date: date | None = None
    nomenclature_version: str = "HS2022"
    resolved_code: str | None = None
    resolved_by: str | None = Field(None, description="The ruling id of the decision that resolved a split.")


class CodeGroup(BaseModel):
    hs6: str
    status: str
    new_codes: list[str]
    targets: list[TransitionTarget]
    rulings: int = 0
    decisions: int = 0
    resolved: int = 0
    items: list[AffectedRuling] = Field(default_factory=list)


class TransitionReport(BaseModel):
    effective_date: date
    generated_at: datetime
    correlation_loaded: bool
    rulings_scanned: int
    totals: dict[str, dict[str, int]] = Field(default_factory=dict)
    groups: list[CodeGroup] = Field(default_factory=list)

    def rows(self) -> list[dict]:
        """One CSV row per affected ruling, in :data:`CSV_COLUMNS` order."""
        out = []
        for g in self.groups:
            for it in g.items:
                out.append({"hs6": g.hs6, "status": g.status, "new_codes": "|".join(g.new_codes), "kind": it.kind,
                            "ruling_id": it.ruling_id, "review_id": it.review_id, "hs_code": it.hs_code,
                            "text": it.text, "source": it.source, "ruling_date": it.ruling_date,
                            "nomenclature_version": it.nomenclature_version, "resolved_code": it.resolved_code,
                            "resolved_by": it.resolved_by})
        return out


def _notes(ruling) -> dict:
    try:
        data = json.loads(ruling.notes or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def build_report(rulings: Iterable, review_ids: dict[str, int], book: TariffBook) -> TransitionReport:
    """The report over ``rulings`` (any iterable of ``Ruling``); ``review_ids`` maps ruling id → review-log id."""
    groups: dict[str, CodeGroup] = {}
    resolutions: dict[str, tuple[str, str]] = {}  # original ruling id → (new code, resolving ruling id)
    scanned = 0
    for r in rulings:
        scanned += 1
        if r.nomenclature_version == TO_EDITION:
            origin = _notes(r).get("transition_of")
            if origin:
                resolutions[origin] = (r.hs_code, r.ruling_id)
            continue
        t = book.transition(r.hs_code, edition=r.nomenclature_version)
        if t is None or t.status not in ("renumbered", "split"):
            continue
        g = groups.get(r.hs_code[:6])
        if g is None:
            g = groups[r.hs_code[:6]] = CodeGroup(hs6=r.hs_code[:6], status=t.status, new_codes=t.new_codes,
                                                   targets=t.targets)
        source = getattr(r.source, "value", str(r.source))
        kind = "decision" if source == "reviewer" else "ruling"
        g.items.append(AffectedRuling(kind=kind, ruling_id=r.ruling_id, review_id=review_ids.get(r.ruling_id),
                                      hs_code=r.hs_code, text=r.product_name, source=source,
                                      declared_elements=dict(r.declared_elements), ruling_date=r.ruling_date,
                                      nomenclature_version=r.nomenclature_version))
        if kind == "decision":
            g.decisions += 1
        else:
            g.rulings += 1
    totals = {s: {"codes": 0, "rulings": 0, "decisions": 0, "resolved": 0} for s in ("renumbered", "split")}
    for g in groups.values():
        for it in g.items:
            if it.ruling_id in resolutions:
                it.resolved_code, it.resolved_by = resolutions[it.ruling_id]
                g.resolved += 1
        g.items.sort(key=lambda it: (it.resolved_code is not None, it.hs_code, it.ruling_id))
        tot = totals[g.status]
        tot["codes"] += 1
        tot["rulings"] += g.rulings
        tot["decisions"] += g.decisions
        tot["resolved"] += g.resolved
    ordered = sorted(groups.values(), key=lambda g: (g.status != "split", -(g.rulings + g.decisions), g.hs6))
    return TransitionReport(effective_date=book.effective_date, generated_at=datetime.now(UTC),
                            correlation_loaded=book.has_correlation, rulings_scanned=scanned, totals=totals,
                            groups=ordered)


def transition_report(engine, book: TariffBook) -> TransitionReport:
    """The report over the store's ruling library and review log."""
    from data.rulings.repository import RulingRepository
    from data.store.reviews import iter_reviews

    review_ids = {}
    for entry in iter_reviews(engine):
        review_ids.setdefault(entry.ruling_id, entry.id)  # newest first: a repeated decision shows its latest log row
    return build_report(RulingRepository(engine).iter_all(), review_ids, book)
