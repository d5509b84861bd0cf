"""Answers from scores: ranked candidates with calibrated confidence, evidence, national lines and reasons.

:meth:`HSSuggester.suggest_batch` and :meth:`HSSuggester.validate` score queries (``RawScores``); the functions here
turn one query's scores into the answer a customs broker reads. They only read the suggester (its rulings, code space,
calibrators, nomenclature and parameters), so answering stays thread-safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from features.text import text_language
from models.suggester.answer import (
    Agreement,
    AnswerCode,
    Candidate,
    Evidence,
    ModelInfo,
    QueryEcho,
    Reason,
    SuggestionAnswer,
    TariffEvidence,
    ValidationAnswer,
)
from models.suggester.calibration import NATIONAL
from models.suggester.channels import RawScores, top_columns
from models.suggester.elements import missing_elements
from models.suggester.overlay import Overlay

if TYPE_CHECKING:
    from models.suggester.suggester import HSSuggester

EVIDENCE_PER_CANDIDATE = 3


def calibrated(model: HSSuggester, level: int, value: float) -> float:
    """The level's calibrated confidence for a raw score (the score clipped to [0, 1] without a calibrator)."""
    cal = model.calibrators.get(level)
    return float(cal(value)[0]) if cal is not None else float(min(max(value, 0.0), 1.0))


_PREFIXES: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _prefix_groups(space: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray]:
    """(group codes, group of each column) for ``space`` (cached per space array: the suggester reuses one)."""
    key = (id(space), level)
    hit = _PREFIXES.get(key)
    if hit is not None and hit[0] is space:
        return hit[1], hit[2]
    groups, inverse = np.unique(np.array([c[:level] for c in space], dtype=object), return_inverse=True)
    if len(_PREFIXES) > 64:
        _PREFIXES.clear()
    _PREFIXES[key] = (space, groups, inverse)
    return groups, inverse


def level_sums(p6: np.ndarray, space: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    """HS4 and HS2 scores: sums over their HS6 codes (so an answer's heading is always its subheading's parent)."""
    out = []
    for level in (4, 2):
        if not len(space):
            out.append({})
            continue
        groups, inverse = _prefix_groups(space, level)
        sums = np.bincount(inverse, weights=np.asarray(p6, dtype=np.float64), minlength=len(groups))
        nz = np.flatnonzero(sums > 0)
        out.append(dict(zip(groups[nz].tolist(), sums[nz].tolist())))
    return out[0], out[1]


def national_votes(neighbours, code6: str) -> list[tuple[str, float]]:
    """(national line, similarity-weighted share among the neighbours under ``code6``), best first.

    ``neighbours`` are (hs_code, similarity) pairs, one per ruling. Rulings coded at 6 digits count in the total, so
    a library that mostly stops at HS6 never looks sure about a national line.
    """
    weights: dict[str, float] = {}
    total = 0.0
    for code, sim in neighbours:
        if not code.startswith(code6):
            continue
        w = max(float(sim), 1e-6)
        total += w
        if len(code) > 6:
            weights[code] = weights.get(code, 0.0) + w
    if total <= 0:
        return []
    return [(c, w / total) for c, w in sorted(weights.items(), key=lambda kv: -kv[1])]


# ----------------------------------------------------------------------------------------------------- evidence
def _ruling(model: HSSuggester, ref: int, overlay: Overlay) -> tuple[str, str, str, str, Any]:
    if ref >= 0:
        return (model.ruling_ids[ref], model.ruling_texts[ref], model.ruling_codes[ref], model.ruling_sources[ref],
                model.ruling_dates[ref])
    j = -ref - 2
    return overlay.ids[j], overlay.texts[j], overlay.codes[j], overlay.sources[j], overlay.dates[j]


def _evidence(model: HSSuggester, raw: RawScores, overlay: Overlay) -> dict[str, list[Evidence]]:
    """Neighbours grouped by HS6, each ruling once with its best similarity over the channels."""
    best: dict[int, tuple[float, str]] = {}
    for channel, (sims, refs) in (("lexical", raw.lex), ("dense", raw.dense)):
        for s, ref in zip(sims, refs):
            ref = int(ref)
            if ref == -1:
                continue
            if ref not in best or s > best[ref][0]:
                best[ref] = (float(s), channel)
    by_code: dict[str, list[Evidence]] = {}
    for ref, (s, channel) in sorted(best.items(), key=lambda kv: -kv[1][0]):
        rid, text, code, source, day = _ruling(model, ref, overlay)
        by_code.setdefault(code[:6], []).append(Evidence(
            ruling_id=rid, text=text, hs_code=code, similarity=round(min(max(s, 0.0), 1.0), 4), source=source,
            ruling_date=day, channel="overlay" if ref <= -2 else channel))
    return by_code


def _evidence_for_code(model: HSSuggester, code6: str, raw: RawScores) -> list[Evidence]:
    """Best lexical matches among the rulings of one code (a candidate that no kNN neighbour supports).

    Read from the query's full sparse similarity row kept by the search, so it costs no second search.
    """
    idx = model.code_index.get(code6)
    row = raw.extra.get("lex_all")
    if idx is None or row is None or row.nnz == 0:
        return []
    cols, sims = row.indices, row.data
    mask = model.ruling_class[cols] == idx
    if not mask.any():
        return []
    cols, sims = cols[mask], sims[mask]
    top = np.argsort(-sims)[:EVIDENCE_PER_CANDIDATE]
    out = []
    for t in top:
        r = int(cols[t])
        out.append(Evidence(ruling_id=model.ruling_ids[r], text=model.ruling_texts[r], hs_code=model.ruling_codes[r],
                            similarity=round(float(min(max(sims[t], 0.0), 1.0)), 4),
                            source=model.ruling_sources[r], ruling_date=model.ruling_dates[r], channel="lexical"))
    return out


def _describe(model: HSSuggester, code: str) -> tuple[str | None, str | None]:
    if model.nomenclature is None:
        return None, None
    try:
        entry = model.nomenclature.describe(code)
    except Exception:  # a code the nomenclature cannot parse simply has no description
        entry = None
    return (entry.en, entry.zh) if entry is not None else (None, None)


def _national(model: HSSuggester, code6: str, evidence: list[Evidence], p6_raw: float, c6: float) -> list[AnswerCode]:
    """8/10-digit lines under ``code6`` seen among the neighbours: score = raw P(HS6) × the line's vote share,
    calibrated on held-out national codes, never above the HS6 confidence."""
    out = []
    for code, share in national_votes([(ev.hs_code, ev.similarity) for ev in evidence], code6):
        conf = min(calibrated(model, NATIONAL, p6_raw * share), c6)
        out.append(AnswerCode(code=code, level=len(code), confidence=round(conf, 4)))
    return out


# ------------------------------------------------------------------------------------------------------ answers
def _candidates(model: HSSuggester, raw: RawScores, overlay: Overlay, space: np.ndarray, p4: dict[str, float],
                top_k: int) -> list[Candidate]:
    p6 = raw.p6
    order = top_columns(p6, top_k)
    evidence = _evidence(model, raw, overlay)
    candidates: list[Candidate] = []
    conf6, conf4 = raw.extra.get("conf6"), raw.extra.get("conf4")
    for idx in (int(i) for i in order[:top_k] if p6[i] > 0):
        code = space[idx]
        c6 = conf6[idx] if conf6 is not None and idx in conf6 else calibrated(model, 6, p6[idx])
        c4 = conf4.get(code[:4]) if conf4 is not None and code[:4] in conf4 else calibrated(
            model, 4, p4.get(code[:4], 0.0))
        if candidates:
            # Candidates are ranked by the fused score; the evidence calibrator may rate a lower-ranked one a hair
            # higher. Shown confidences stay non-increasing down the list so the ranking reads consistently.
            c6 = min(c6, candidates[-1].confidence)
        c4 = max(c4, c6)
        ev = evidence.get(code, []) or _evidence_for_code(model, code, raw)
        en, zh = _describe(model, code)
        tariff_ev, basis, has_rulings = _tariff_side(raw, idx, ev)
        candidates.append(Candidate(
            code=code, level=6, description_en=en, description_zh=zh, confidence=round(c6, 4),
            evidence=ev[:EVIDENCE_PER_CANDIDATE], parent_hs4=code[:4], confidence_hs4=round(c4, 4),
            national=_national(model, code, ev, float(p6[idx]), c6), tariff_evidence=tariff_ev,
            evidence_basis=basis, has_rulings=has_rulings))
    return candidates


# A channel "supports" a candidate when it gives it at least this share of its own distribution.
SUPPORT_SHARE = 0.02


def _tariff_side(raw: RawScores, idx: int, ev: list[Evidence]) -> tuple[list[TariffEvidence], str, bool]:
    """(tariff texts behind the candidate, what it rests on, whether the library has rulings for the code)."""
    if "p_tariff" not in raw.extra:  # a library-only suggester: rulings are all there is
        return [], "rulings", True
    has_rulings = idx < raw.extra["in_library"]
    tariff_ev = [TariffEvidence(code=c, text=t, similarity=round(min(max(s, 0.0), 1.0), 4))
                 for c, t, s in raw.extra["tariff_evidence"].get(idx, [])]
    by_rulings = has_rulings and bool(ev) and raw.extra["p_rulings"][idx] >= SUPPORT_SHARE
    by_tariff = raw.extra["p_tariff"][idx] >= SUPPORT_SHARE
    if by_rulings and by_tariff:
        basis = "both"
    elif by_rulings or (not by_tariff and has_rulings and raw.extra["p_rulings"][idx] >= raw.extra["p_tariff"][idx]):
        basis = "rulings"
    else:
        basis = "tariff_text"
    return tariff_ev, basis, bool(has_rulings)


def _reasons(candidates: list[Candidate], answer: AnswerCode | None, no_support: bool, best_sim: float,
             threshold: float) -> list[Reason]:
    reasons: list[Reason] = []
    if no_support:
        reasons.append(Reason(
            code="no_similar_rulings",
            en=f"No ruling in the library is close to this text (best similarity {best_sim:.2f}); "
               "the candidates are guesses.",
            zh=f"规则库中没有与该描述相近的历史归类（最高相似度 {best_sim:.2f}），候选编码仅供参考。"))
    if not candidates:
        reasons.append(Reason(code="no_candidates", en="The library produced no candidate code.",
                              zh="规则库未给出任何候选编码。"))
    elif answer is None and not no_support:
        reasons.append(Reason(
            code="low_confidence",
            en=f"Even the heading (HS4 {candidates[0].parent_hs4}) has confidence {candidates[0].confidence_hs4:.2f}, "
               f"below the threshold {threshold:.2f}.",
            zh=f"即使在品目层级（HS4 {candidates[0].parent_hs4}）置信度也只有 {candidates[0].confidence_hs4:.2f}，"
               f"低于阈值 {threshold:.2f}。"))
    elif answer is not None and answer.level == 4:
        reasons.append(Reason(
            code="answer_at_heading",
            en=f"Confident at heading level only; the subheading {candidates[0].code} has confidence "
               f"{candidates[0].confidence:.2f}.",
            zh=f"仅在品目层级可信；子目 {candidates[0].code} 的置信度为 {candidates[0].confidence:.2f}。"))
    if len(candidates) > 1 and answer is None and candidates[1].confidence >= 0.5 * candidates[0].confidence > 0:
        reasons.append(Reason(
            code="close_alternatives",
            en=f"{candidates[0].code} and {candidates[1].code} are close; the declaration elements decide.",
            zh=f"{candidates[0].code} 与 {candidates[1].code} 得分接近，需依据申报要素判断。"))
    reasons.extend(_open_world_reasons(candidates, answer))
    return reasons


def _open_world_reasons(candidates: list[Candidate], answer: AnswerCode | None) -> list[Reason]:
    """Why an answer of the open-world suggester needs review: no ruling behind it, or two headings close."""
    if not candidates or answer is not None:
        return []
    out = []
    top = candidates[0]
    if top.evidence_basis == "tariff_text":
        best = top.tariff_evidence[0].similarity if top.tariff_evidence else 0.0
        what = "no ruling for this code" if not top.has_rulings else "no close ruling for this code"
        what_zh = "规则库中没有该编码的历史归类" if not top.has_rulings else "规则库中没有与之相近的该编码归类"
        out.append(Reason(code="tariff_text_only",
                          en=f"{what}; tariff text only (best tariff similarity {best:.2f}).",
                          zh=f"{what_zh}，仅依据税则文本（最高相似度 {best:.2f}）。"))
    other = next((c for c in candidates[1:] if c.parent_hs4 != top.parent_hs4), None)
    if other is not None and other.confidence_hs4 >= 0.5 * top.confidence_hs4 > 0:
        out.append(Reason(code="close_headings",
                          en=f"Two headings close: {top.parent_hs4} and {other.parent_hs4}.",
                          zh=f"两个品目得分接近：{top.parent_hs4} 与 {other.parent_hs4}。"))
    return out


def suggestion_answer(model: HSSuggester, text: str, elements: dict, norm: str, raw: RawScores, overlay: Overlay,
                      space: np.ndarray, top_k: int) -> SuggestionAnswer:
    """The answer to one query: candidates, the deepest confident level, reasons and the elements to add."""
    p = model.params
    p4, p2 = level_sums(raw.p6, space)
    candidates = _candidates(model, raw, overlay, space, p4, top_k)
    hierarchy: list[AnswerCode] = []
    answer = None
    best_lex = float(raw.lex[0][0]) if len(raw.lex[0]) and raw.lex[1][0] != -1 else 0.0
    best_dense = float(raw.dense[0][0]) if len(raw.dense[0]) and raw.dense[1][0] != -1 else 0.0
    no_support = best_lex < p.floor_lexical and best_dense < p.floor_dense
    if candidates:
        top = candidates[0]
        c2 = max(calibrated(model, 2, p2.get(top.code[:2], 0.0)), top.confidence_hs4)
        hierarchy = [AnswerCode(code=top.code[:2], level=2, confidence=round(c2, 4)),
                     AnswerCode(code=top.code[:4], level=4, confidence=top.confidence_hs4),
                     AnswerCode(code=top.code, level=6, confidence=top.confidence)]
        if top.national:
            hierarchy.append(top.national[0])
        if not no_support:
            for level_answer in reversed(hierarchy):
                bar = p.threshold if level_answer.level != 4 else max(
                    p.threshold, getattr(p, "threshold_hs4", None) or p.threshold)
                if level_answer.level >= 4 and level_answer.confidence >= bar:
                    answer = level_answer
                    break
    reasons = _reasons(candidates, answer, no_support, max(best_lex, best_dense), p.threshold)
    missing: list[str] = []
    if answer is None or answer.level < 6:
        missing = missing_elements(candidates[0].code[:2] if candidates else None, elements)
    return SuggestionAnswer(
        query=QueryEcho(text=text, normalised=norm, language=text_language(norm), declared_elements=elements),
        candidates=candidates, answer=answer, needs_review=answer is None, reasons=reasons,
        missing_elements=missing, hierarchy=hierarchy,
        evidence_basis=candidates[0].evidence_basis if candidates else None,
        model=ModelInfo(name=model.name, version=model.version, index_fingerprint=model.fingerprint,
                        encoder=model.encoder_name))


def validation_answer(model: HSSuggester, code: str, suggestion: SuggestionAnswer, raw: RawScores,
                      space: np.ndarray) -> ValidationAnswer:
    """Does the declared ``code`` (normalised) agree with ``suggestion``? Its confidence, alternatives, reasons."""
    threshold = model.params.threshold
    p4, _ = level_sums(raw.p6, space)
    idx = {c: i for i, c in enumerate(space)}.get(code[:6]) if len(code) >= 6 else None
    conf6 = calibrated(model, 6, float(raw.p6[idx])) if idx is not None else 0.0
    if idx is not None and raw.extra.get("conf6") is not None and idx in raw.extra["conf6"]:
        conf6 = raw.extra["conf6"][idx]
    conf4 = max(calibrated(model, 4, p4.get(code[:4], 0.0)), conf6) if code[:4] in p4 else conf6
    if raw.extra.get("conf4") is not None and code[:4] in raw.extra["conf4"]:
        conf4 = max(raw.extra["conf4"][code[:4]], conf6)
    top = suggestion.candidates[0] if suggestion.candidates else None
    agree6 = bool(top is not None and len(code) >= 6 and top.code == code[:6])
    agree4 = bool(top is not None and top.code[:4] == code[:4])
    reasons = []
    if not agree4:
        reasons.append(Reason(code="heading_disagrees",
                              en=f"The declared heading {code[:4]} differs from the suggested "
                                 f"{top.code[:4] if top else '-'}.",
                              zh=f"申报品目 {code[:4]} 与建议品目 {top.code[:4] if top else '-'} 不一致。"))
    elif not agree6:
        reasons.append(Reason(code="subheading_disagrees",
                              en=f"The declared code {code} differs from the suggested {top.code if top else '-'} "
                                 "within the same heading.",
                              zh=f"申报编码 {code} 与建议编码 {top.code if top else '-'} 在同一品目下不一致。"))
    if conf6 < threshold and len(code) >= 6:
        reasons.append(Reason(code="declared_low_confidence",
                              en=f"The library gives the declared code a confidence of {conf6:.2f} only.",
                              zh=f"规则库对申报编码的置信度仅为 {conf6:.2f}。"))
    alternatives = [c for c in suggestion.candidates if c.code != code[:6]]
    return ValidationAnswer(
        declared_code=code, agreement=Agreement(hs6=agree6, hs4=agree4),
        declared_confidence=round(conf6, 4), declared_confidence_hs4=round(conf4, 4),
        suggested=suggestion.answer, alternatives=alternatives,
        needs_review=not agree6 or conf6 < threshold, reasons=reasons, suggestion=suggestion)
