"""Evaluate the HS suggester: top-k per level, confident coverage/accuracy, calibration, slices; the baseline beside it.

``evaluate_files`` is the ``clearance hs evaluate`` work (library file → temporary store → suggester → answers);
``score_answers`` turns answers into the report every consumer reads (CLI JSON, MLflow metrics, the notebook).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from data.errors import InvalidInputError, field_error
from features.text import compose_text
from models.suggester.calibration import expected_calibration_error
from models.suggester.suggester import HSSuggester
from training.hs.baseline import BaselineClassifier
from training.hs.build import build_suggester

LEVELS = (2, 4, 6, 8, 10)
KS = (1, 3, 5)


def _ranked_codes(answer, level: int) -> list[str]:
    """Distinct codes at ``level`` in the order the answer ranks them (HS6 candidates, their national lines)."""
    seen: list[str] = []
    if level <= 6:
        for c in answer.candidates:
            code = c.code[:level]
            if code not in seen:
                seen.append(code)
    else:
        for c in answer.candidates:
            for nat in c.national:
                if len(nat.code) >= level and nat.code[:level] not in seen:
                    seen.append(nat.code[:level])
    return seen


def topk_table(rankings: list[list[str]], gold: list[str]) -> dict[str, float]:
    n = len(gold)
    return {f"top{k}": (sum(g in r[:k] for r, g in zip(rankings, gold)) / n if n else 0.0) for k in KS}


def evaluate_suggester(suggester: HSSuggester, texts: list[str], gold_codes: list[str], *,
                       progress: bool = True, batch_size: int = 256) -> dict[str, Any]:
    """Top-k per level, confident coverage/accuracy, ECE, per-language and per-chapter slices."""
    from tqdm import tqdm

    answers = []
    bar = tqdm(total=len(texts), desc="answering", unit="q", disable=not progress, mininterval=0.5)
    for start in range(0, len(texts), batch_size):
        answers.extend(suggester.suggest_batch(list(texts[start:start + batch_size]), top_k=20))
        bar.update(min(batch_size, len(texts) - start))
    bar.close()
    return score_answers(answers, gold_codes)


def score_answers(answers: list, gold_codes: list[str]) -> dict[str, Any]:
    gold_codes = [str(g) for g in gold_codes]
    n = len(gold_codes)
    report: dict[str, Any] = {"n": n}
    for level in LEVELS:
        idx = [i for i, g in enumerate(gold_codes) if len(g) >= level]
        if not idx:
            continue
        if level > 6 and not any(c.national for i in idx for c in answers[i].candidates):
            continue  # the library has no national lines: 8/10-digit accuracy would be a meaningless zero
        report[f"hs{level}"] = topk_table([_ranked_codes(answers[i], level) for i in idx],
                                          [gold_codes[i][:level] for i in idx])
        if level > 6:
            report[f"hs{level}"]["n"] = len(idx)
    conf, correct, answered, answered_ok = [], [], [], []
    for a, g in zip(answers, gold_codes):
        top = a.candidates[0] if a.candidates else None
        conf.append(top.confidence if top else 0.0)
        correct.append(bool(top and top.code == g[:6]))
        answered.append(a.answer is not None)
        answered_ok.append(bool(a.answer and g.startswith(a.answer.code)))
    conf_a, correct_a = np.array(conf), np.array(correct, dtype=float)
    answered_a = np.array(answered)
    report["confident"] = {"coverage": float(answered_a.mean()) if n else 0.0,
                           "accuracy": float(np.array(answered_ok)[answered_a].mean()) if answered_a.any() else 0.0}
    report["ece"] = expected_calibration_error(conf_a, correct_a)
    by_lang: dict[str, list[int]] = defaultdict(list)
    by_chapter: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(answers):
        by_lang[a.query.language].append(i)
        by_chapter[gold_codes[i][:2]].append(i)
    report["by_language"] = {
        lang: {"n": len(ix), **{f"hs6_{k}": v for k, v in topk_table(
            [_ranked_codes(answers[i], 6) for i in ix], [gold_codes[i][:6] for i in ix]).items()}}
        for lang, ix in sorted(by_lang.items())}
    report["by_chapter"] = {ch: {"n": len(ix), "hs6_top1": float(correct_a[ix].mean()),
                                 "hs4_top1": float(np.mean([bool(answers[i].candidates) and
                                                            answers[i].candidates[0].code[:4] == gold_codes[i][:4]
                                                            for i in ix]))}
                            for ch, ix in sorted(by_chapter.items())}
    report["reliability"] = {"confidence": conf, "correct": correct}
    return report


def evaluate_baseline(library_texts: list[str], library_codes: list[str], texts: list[str],
                      gold_codes: list[str]) -> dict[str, Any]:
    ranked6 = BaselineClassifier().fit(library_texts, library_codes).rank(texts)
    out = {}
    for level in (2, 4, 6):
        rankings = [list(dict.fromkeys(c[:level] for c in r)) for r in ranked6]
        out[f"hs{level}"] = topk_table(rankings, [g[:level] for g in gold_codes])
    return out


@dataclass
class EvaluationRun:
    report: dict[str, Any]
    suggester: HSSuggester
    library_read: dict[str, int] = field(default_factory=dict)


def evaluate_files(library: Path, queries: Path, *, mapping=None, encoder, nomenclature=None, baseline: bool = False,
                   progress: bool = True, seed: int = 0, limit: int | None = None,
                   **build_options) -> EvaluationRun:
    """The ``clearance hs evaluate`` work: library FILE → temporary store → suggester; answer every query.

    The store lives in a temporary directory and is deleted afterwards, so the user's own store is never touched.
    Queries are read with the same reader and mapping (their rows are not stored); rows with errors are counted.
    """
    from data.rulings.readers import read_rulings
    from data.rulings.repository import RulingRepository
    from data.store.db import init_db, make_engine

    lib_report = read_rulings(library, mapping, progress=progress)
    q_report = read_rulings(queries, mapping, progress=progress)
    if not lib_report.rulings:
        raise InvalidInputError(f"no valid rulings in {library}", details=[field_error("library", "no valid rows")])
    if not q_report.rulings:
        raise InvalidInputError(f"no valid queries in {queries}", details=[field_error("queries", "no valid rows")])
    with tempfile.TemporaryDirectory(prefix="clearance-eval-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'library.db'}")
        init_db(engine)
        repo = RulingRepository(engine)
        upsert = repo.upsert_many(lib_report.rulings)
        stored = list(repo.iter_all())
        engine.dispose()
    suggester = build_suggester(stored, encoder=encoder, nomenclature=nomenclature, progress=progress, seed=seed,
                                **build_options)
    qs = q_report.rulings[:limit] if limit else q_report.rulings
    texts = [compose_text(r.product_name, r.description, r.declared_elements) for r in qs]
    gold = [r.hs_code for r in qs]
    report = evaluate_suggester(suggester, texts, gold, progress=progress)
    if baseline:
        report["baseline"] = evaluate_baseline([compose_text(r.product_name, r.description, r.declared_elements)
                                                for r in stored], [r.hs_code for r in stored], texts, gold)
    report["library"] = {"rows": lib_report.total_rows, "rejected_rows": lib_report.rejected_rows,
                         "stored": len(stored), "duplicates": int(getattr(upsert, "duplicates", 0))}
    report["queries"] = {"rows": q_report.total_rows, "rejected_rows": q_report.rejected_rows, "used": len(qs)}
    report["validation"] = {k: v for k, v in suggester.metrics.items()}
    report["params"] = dict(suggester.params.__dict__)
    return EvaluationRun(report=report, suggester=suggester,
                         library_read={"rows": lib_report.total_rows, "errors": len(lib_report.errors)})


def flat_metrics(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The scalar metrics of a report as MLflow-friendly ``hs6_top1``-style keys."""
    out: dict[str, float] = {}
    for level in LEVELS:
        for k in KS:
            v = report.get(f"hs{level}", {}).get(f"top{k}")
            if v is not None:
                out[f"{prefix}hs{level}_top{k}"] = float(v)
    for key in ("coverage", "accuracy"):
        if key in report.get("confident", {}):
            out[f"{prefix}confident_{key}"] = float(report["confident"][key])
    if "ece" in report:
        out[f"{prefix}ece"] = float(report["ece"])
    for level in (2, 4, 6):
        for k in KS:
            v = report.get("baseline", {}).get(f"hs{level}", {}).get(f"top{k}")
            if v is not None:
                out[f"{prefix}baseline_hs{level}_top{k}"] = float(v)
    return out


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the per-query reliability arrays (those go to plots, not to the JSON summary)."""
    return {k: v for k, v in report.items() if k != "reliability"}
