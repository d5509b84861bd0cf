"""Tariff facts, HS 2028 transitions and edition stamps on every answer: one composition step after the suggester.

The suggester answers in the edition it was built in and knows nothing of rebates or correlations; every door (API,
console, CLI) passes its answers through :func:`annotate_suggestion` / :func:`annotate_validation` with the store's
:class:`~data.transition.TariffBook` (:func:`tariff_book`). Keeping this out of ``models/suggester`` keeps the
suggester's internals independent of tariff data, and a re-import shows up without retraining.

After the effective date (``Settings.hs2028_effective_date``) the answer is given in HS 2028: a candidate under a
renumbered subheading becomes its new code (two old codes that move to one new code are merged, their confidences
added), and a candidate or an evidence ruling under a split subheading stays as it is, marked ``needs_review``, since
only a product-level review can choose among the new codes.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from typing import Any

from data.transition import TariffBook, Transition
from models.suggester.answer import AnswerCode, Candidate, Reason, SuggestionAnswer, ValidationAnswer

#: National lines listed per candidate (an HS6 may have dozens; the ones seen in the evidence come first).
MAX_LINES_PER_CANDIDATE = 12
#: How long a loaded book is trusted before the store is asked whether facts or the correlation changed.
BOOK_CHECK_S = 2.0

_lock = threading.Lock()
_books: dict[tuple, tuple[tuple, float, TariffBook]] = {}


def today() -> date:
    return datetime.now(UTC).date()


def tariff_book(engine: Any, effective_date: date) -> TariffBook:
    """The store's facts and correlation, reloaded when either was re-imported (checked every few seconds).

    One thread checks and loads at a time (the others wait for its book, in their worker threads): concurrent
    requests never load the same book twice, and the event loop never waits on a load.
    """
    from data.store.tariff import correlation_stamp

    key = (str(engine.url), effective_date)
    cached = _books.get(key)
    if cached is not None and time.monotonic() - cached[1] < BOOK_CHECK_S:
        return cached[2]
    with _lock:
        cached = _books.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[1] < BOOK_CHECK_S:
            return cached[2]
        stamp = correlation_stamp(engine)
        book = cached[2] if cached is not None and cached[0] == stamp else TariffBook.load(
            engine, effective_date=effective_date)
        _books[key] = (stamp, now, book)
        return book


def decision_edition(decision: Any, book: TariffBook, nomenclature: Any) -> frozenset[str] | None:
    """A reviewer decision under a code only HS 2028 has (an answer given in the new edition, or a split's target)
    is recorded in HS 2028: sets ``decision.edition`` and returns the codes it may use; None leaves it as it is."""
    from data.rulings.schema import code_digits
    from data.transition import TO_EDITION

    try:
        code6 = code_digits(decision.final_code or decision.suggested_code or "")[:6]
    except ValueError:
        return None
    known = nomenclature is None or nomenclature.is_valid(code6)
    if decision.edition is None and book.has_correlation and code6 in book.new_codes and not known:
        decision.edition = TO_EDITION
        if decision.ruling_date is None and not book.in_force():
            decision.ruling_date = book.effective_date  # an HS 2028 ruling applies from the day HS 2028 does
        return book.new_codes
    return None


def book_for_settings(settings: Any) -> TariffBook:
    from data.store.db import open_store

    return tariff_book(open_store(settings.database_url), settings.hs2028_effective_date)


# ------------------------------------------------------------------------------------------------- annotation
def _facts_of(cand: Candidate, book: TariffBook, day: date | None) -> list:
    lines = book.lines_of(cand.code, day)
    seen = [n.code for n in cand.national]
    lines.sort(key=lambda f: (f.code not in seen, seen.index(f.code) if f.code in seen else 0, f.code))
    return lines[:MAX_LINES_PER_CANDIDATE]


def _mark(cand: Candidate, book: TariffBook, day: date | None) -> None:
    cand.tariff = _facts_of(cand, book, day)
    cand.transition = book.transition(cand.code, day)
    for ev in cand.evidence:
        ev.transition = book.transition(ev.hs_code, day)


def _split_reason(codes: list[str], t: Transition) -> Reason:
    return Reason(code="hs2028_split",
                  en=f"{', '.join(codes)} split in HS 2028 (in force since {t.effective_date}) into "
                     f"{', '.join(t.new_codes)}: a reviewer decides the new code.",
                  zh=f"{', '.join(codes)} 在 HS 2028（{t.effective_date} 起实施）中拆分为 {', '.join(t.new_codes)}，"
                     "需人工复核确定新编码。")


def _in_new_edition(answer: SuggestionAnswer) -> None:
    """Renumbered candidates under their new code (merged), split ones flagged; the answer follows its code."""
    merged: dict[str, Candidate] = {}
    for cand in answer.candidates:
        t = cand.transition
        if t is not None and t.status == "renumbered" and t.new_code:
            cand = cand.model_copy(update={"code": t.new_code, "level": 6, "parent_hs4": t.new_code[:4],
                                           "national": [], "tariff": [], "description_zh": None,
                                           "description_en": (t.targets[0].note or None) if t.targets else None})
        if cand.code in merged:
            kept = merged[cand.code]
            kept.confidence = round(min(1.0, kept.confidence + cand.confidence), 4)
            kept.confidence_hs4 = max(kept.confidence_hs4, cand.confidence_hs4)
            kept.evidence = sorted(kept.evidence + cand.evidence, key=lambda e: -e.similarity)[:len(kept.evidence) + 1]
            continue
        merged[cand.code] = cand
    answer.candidates = sorted(merged.values(), key=lambda c: -c.confidence)
    top = answer.answer
    if top is not None and top.level >= 6:
        owner = next((c for c in answer.candidates if c.transition and c.transition.code[:6] == top.code[:6]
                      or c.code == top.code[:6]), None)
        t = owner.transition if owner is not None else None
        if t is not None and t.status == "renumbered":
            answer.answer = AnswerCode(code=t.new_code, level=6, confidence=owner.confidence)
        elif t is not None and t.status == "split":
            answer.answer = None
    splits = [c for c in answer.candidates[:1] if c.transition is not None and c.transition.status == "split"]
    if splits:
        answer.needs_review = True
        answer.reasons.append(_split_reason([splits[0].code], splits[0].transition))
    if answer.answer is None:
        answer.needs_review = True


def annotate_suggestion(answer: SuggestionAnswer, book: TariffBook, day: date | None = None) -> SuggestionAnswer:
    """Facts, transitions and the edition stamp on ``answer`` (in place; returned for chaining)."""
    if answer.edition is not None:  # already annotated (coalesced requests can share one answer object)
        return answer
    day = day or today()
    for cand in answer.candidates:
        _mark(cand, book, day)
    if book.has_correlation and book.in_force(day):
        _in_new_edition(answer)
    answer.edition = book.stamp(day)
    return answer


def annotate_validation(answer: ValidationAnswer, book: TariffBook, day: date | None = None) -> ValidationAnswer:
    """As :func:`annotate_suggestion`, plus whether the declared code is valid in the edition in force on ``day``
    (the declaration date)."""
    day = day or today()
    annotate_suggestion(answer.suggestion, book, day)
    for cand in answer.alternatives:
        _mark(cand, book, day)
    code = answer.declared_code
    answer.declared_transition = book.transition(code, day)
    answer.edition = book.stamp(day)
    problem = book.edition_problem(code, day)
    answer.edition_problem = problem
    if problem:
        answer.needs_review = True
        edition = book.edition_on(day)
        answer.reasons.append(Reason(code="code_not_in_edition", en=problem,
                                     zh=f"申报编码 {code} 在申报日期 {day} 适用的 {edition} 中无效"
                                        + _zh_detail(answer.declared_transition)))
    return answer


def _zh_detail(t: Transition | None) -> str:
    if t is None:
        return "。"
    if t.status == "renumbered":
        return f"：已改为 {t.new_code}。"
    if t.status == "split":
        return f"：已拆分为 {', '.join(t.new_codes)}。"
    if t.status == "new":
        return f"：该编码自 {t.effective_date} 起（HS 2028）才生效。"
    return "。"


# ----------------------------------------------------------------------------------------- comparing candidates
def _dotted(code: str) -> str:
    return code if len(code) <= 4 else ".".join([code[:4]] + [code[i:i + 2] for i in range(4, len(code), 2)])


def _supervision_label(lines: list) -> str:
    from data.tariff import supervision_label

    return supervision_label([f.supervision for f in lines])


def tariff_differences(candidates: list[Candidate], top_n: int = 3) -> list[dict[str, str]]:
    """Where the top candidates differ in export rebate or supervision conditions, against the first one.

    ``[{"kind": "rebate", "en": "4202.21 vs 4202.22: rebate 13 % vs 9 %", "zh": ...}]``; empty when no facts are
    known for them or they agree. A candidate without imported lines is "unknown", never 0 %.
    """
    from data.tariff import rate_label

    shown = [c for c in candidates[:top_n]]
    if len(shown) < 2 or not any(c.tariff for c in shown):
        return []
    first = shown[0]
    out = []
    for other in shown[1:]:
        pair = f"{_dotted(first.code)} vs {_dotted(other.code)}"
        a, b = rate_label([f.rebate_rate for f in first.tariff]), rate_label([f.rebate_rate for f in other.tariff])
        if a != b:
            out.append({"kind": "rebate", "codes": f"{first.code},{other.code}", "en": f"{pair}: rebate {a} vs {b}",
                        "zh": f"{pair}：出口退税率 {a.replace('unknown', '未知')} 对 {b.replace('unknown', '未知')}"})
        a, b = _supervision_label(first.tariff), _supervision_label(other.tariff)
        if a != b:
            zh = {"none": "无", "unknown": "未知"}
            za, zb = (" ".join(zh.get(w, w) for w in x.split(" ")) for x in (a, b))
            out.append({"kind": "supervision", "codes": f"{first.code},{other.code}",
                        "en": f"{pair}: supervision conditions {a} vs {b}",
                        "zh": f"{pair}：监管条件 {za} 对 {zb}"})
    return out


# ---------------------------------------------------------------------------------------------- shipment lines
def shipment_lines(shipment: Any, book: TariffBook, nomenclature: Any = None) -> list[dict]:
    """The codes of a shipment's order and declaration lines with their tariff facts and transition, on the
    declaration date (``[{"field", "hs_code", "tariff", "transition"}]``; lines without a code are left out)."""
    from features.tariff_checks import line_facts

    day = shipment.declaration.declared_at.date()
    out = []
    for doc, lines in (("order", shipment.order.lines), ("declaration", shipment.declaration.lines)):
        for i, ln in enumerate(lines):
            if not ln.hs_code:
                continue
            facts = line_facts(nomenclature, ln.hs_code) if nomenclature is not None else None
            if facts is None:
                found = [f for f in book.lines_of(ln.hs_code, day) if f.code == ln.hs_code]
                facts = found[0] if found else None
            out.append({"field": f"{doc}.lines.{i}.hs_code", "hs_code": ln.hs_code, "tariff": facts,
                        "transition": book.transition(ln.hs_code, day)})
    return out
