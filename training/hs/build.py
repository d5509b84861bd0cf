"""Build the HS suggester: library, validation split, tuning and calibration (``tune``), assembly, final refit.

``build_suggester`` fits the channels on most of the library, searches them once for a held-out validation split
(:meth:`HSSuggester.search_channels`, the search serving runs), tunes kNN temperatures, channel weights and the
supervised softmax temperature on those hits, fits isotonic confidence calibrators per level on the same held-out
predictions, picks the confidence threshold and the "no similar ruling" floors, and then refits every channel on the
whole library.

Build cost (profiled at 10k demo rulings): the sentence encoder and the linear SVM dominate. So every text is
encoded once (validation queries reuse the library's embeddings), the dense index is built once and validation
queries search it with their own rows masked out, and the final SVM is fitted in a worker process while the
validation model is fitted and tuned here. Above ``supervised_max_samples`` rulings the TF-IDF vocabulary is fitted
once (validation rows are then a small share of its statistics) and the validation SVM, trained on a capped sample of
the same size as the final one would be, is reused as the final one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from data.errors import InvalidInputError, field_error
from features.text import compose_text
from models.suggester.calibration import NATIONAL, NEVER_CONFIDENT, choose_threshold, expected_calibration_error
from models.suggester.dense_index import DenseIndex
from models.suggester.embedding_cache import cached_encoder
from models.suggester.lexical import LexicalIndex, LexicalVectoriser
from models.suggester.suggester import HSSuggester, SuggesterParams, dense_text, display_text
from models.suggester.supervised import SupervisedChannel
from training.hs.open_world import fit_open_world, tariff_channel, tune_tariff, tune_tariff_self_supervised
from training.hs.tune import fit_calibrators, fit_national_calibrator, fit_ranker, topk_hits, tune_params

log = logging.getLogger(__name__)

MIN_TUNE_RULINGS = 60
MIN_TUNE_QUERIES = 20  # below this a validation split says nothing; defaults and uncalibrated scores are used


@dataclass
class _Library:
    ids: np.ndarray
    codes: np.ndarray
    texts: list[str]  # composed, normalised
    display: list[str]
    sources: np.ndarray
    dates: list
    embeddings: np.ndarray
    features: Any = None  # lexical feature rows (csr), set once the vectoriser is fitted

    def subset(self, rows: np.ndarray) -> _Library:
        return _Library(self.ids[rows], self.codes[rows], [self.texts[i] for i in rows],
                        [self.display[i] for i in rows], self.sources[rows], [self.dates[i] for i in rows],
                        self.embeddings[rows], None if self.features is None else self.features[rows])


def _library(rulings: list, encoder, progress: bool) -> _Library:
    if not rulings:
        raise InvalidInputError("cannot build a suggester from an empty library",
                                details=[field_error("rulings", "empty")])
    texts = [compose_text(r.product_name, r.description, r.declared_elements) for r in rulings]
    emb = np.ascontiguousarray(encoder.encode([dense_text(r) for r in rulings], progress=progress), dtype=np.float32)
    return _Library(
        ids=np.array([r.ruling_id for r in rulings], dtype=object),
        codes=np.array([r.hs_code for r in rulings], dtype=object),
        texts=texts, display=[display_text(r.product_name, r.description) for r in rulings],
        sources=np.array([getattr(r.source, "value", str(r.source)) for r in rulings], dtype=object),
        dates=[r.ruling_date for r in rulings], embeddings=emb)


class _MaskedIndex:
    """The library's dense index seen without some rows (the validation split), positions renumbered to the rest.

    Lets validation queries search the one index the final suggester keeps instead of a second build (at HNSW sizes a
    build costs minutes). Over-fetches and drops masked rows; rows still short of ``k`` are searched again deeper.
    """

    def __init__(self, index, keep: np.ndarray):
        self.index = index
        self.new_pos = np.where(keep, np.cumsum(keep) - 1, -1).astype(np.int64)
        self.n_keep = int(keep.sum())
        self.n_masked = int(len(keep) - self.n_keep)

    @property
    def ntotal(self) -> int:
        return self.n_keep

    def search(self, queries: np.ndarray, k: int):
        k = int(k)
        m = len(queries)
        out_s = np.full((m, k), -np.inf, dtype=np.float32)
        out_i = np.full((m, k), -1, dtype=np.int64)
        todo = np.arange(m)
        fetch = min(self.index.ntotal, k + min(self.n_masked, 2 * k + 16))
        while len(todo):
            s, i = self.index.search(queries[todo], fetch)
            mapped = np.where(i >= 0, self.new_pos[np.maximum(i, 0)], -1)
            short = []
            for row, q in enumerate(todo):
                ok = mapped[row] >= 0
                got = int(ok.sum())
                if got < k and fetch < self.index.ntotal:
                    short.append(q)
                    continue
                take = min(got, k)
                out_s[q, :take] = s[row][ok][:take]
                out_i[q, :take] = mapped[row][ok][:take]
            todo = np.array(short, dtype=np.int64)
            fetch = min(self.index.ntotal, fetch * 4)
        return out_s, out_i


# Below this many rulings the SVM fits in well under a second: not worth a worker process.
PARALLEL_FIT_MIN = 3000


def _fit_supervised(x, labels: np.ndarray, max_samples: int, seed: int) -> SupervisedChannel:
    return SupervisedChannel(max_samples=max_samples, seed=seed).fit(x, labels)


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def _start_final_svm(x, labels: np.ndarray, max_samples: int, seed: int, parallel: bool):
    """Fit the final supervised channel in a forked worker while this process fits and tunes the validation model.

    liblinear holds the GIL for its whole fit (measured: two threads fitting halves of the classes took longer than
    one thread fitting all), and the two SVM fits are half of the non-encoding build time, so the second core is
    used through a process. Fork, not spawn: spawn re-imports the caller's ``__main__`` script. The worker runs
    liblinear only (no BLAS/OpenMP pools that an inherited lock could block). Falls back to fitting in process.
    """
    if parallel and x.shape[0] >= PARALLEL_FIT_MIN:
        try:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            future = pool.submit(_fit_supervised, x, labels, max_samples, seed)
            pool.shutdown(wait=False)
            return future
        except (ValueError, OSError) as exc:  # no fork on this platform, or no processes left
            log.info("fitting the SVM in process (%s)", exc)
    return _Done(_fit_supervised(x, labels, max_samples, seed))


def _assemble(lib: _Library, *, encoder, params: SuggesterParams, calibrators, nomenclature, seed: int, ranker=None,
              supervised_max_samples: int, progress: bool, metrics=None, built_with=None, features=None, dense=None,
              supervised=None, tariff=None) -> HSSuggester:
    """A suggester over ``lib``; the vectoriser, dense index and supervised channel are reused when given."""
    if features is None:
        features = LexicalVectoriser().fit(lib.texts)
    x = lib.features if lib.features is not None else features.transform(lib.texts)
    lexical = LexicalIndex().fit(x)
    if supervised is None:
        supervised = SupervisedChannel(max_samples=supervised_max_samples, seed=seed).fit(
            x, np.array([c[:6] for c in lib.codes], dtype=object))
    if dense is None:
        dense = DenseIndex.build(lib.embeddings)
    return HSSuggester(encoder=encoder, dense_index=dense, features=features, lexical=lexical, supervised=supervised,
                       ruling_ids=lib.ids, ruling_codes=lib.codes, ruling_texts=lib.display,
                       ruling_sources=lib.sources, ruling_dates=lib.dates, params=params, calibrators=calibrators,
                       nomenclature=nomenclature, ranker=ranker, metrics=metrics, built_with=built_with,
                       tariff=tariff)


def grouped_split(texts: list[str], n_val: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hold out about ``n_val`` rulings, whole groups of identical (normalised) texts at a time.

    A library is deduplicated on (text, code), so a held-out ruling whose exact text stays in the fitting part always
    carries a *different* code there. Split row by row, validation would teach the tuner and the ranker that an exact
    text match means a wrong code, the opposite of what queries see. Whole text groups keep validation honest.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(texts):
        groups[t].append(i)
    keys = list(groups)
    val: list[int] = []
    for g in rng.permutation(len(keys)):
        if len(val) >= n_val:
            break
        val.extend(groups[keys[g]])
    val_rows = np.array(sorted(val), dtype=np.int64)
    mask = np.ones(len(texts), dtype=bool)
    mask[val_rows] = False
    return val_rows, np.flatnonzero(mask)


def held_out_codes(codes6: np.ndarray, fraction: float, rng: np.random.Generator, min_rows: int = 2) -> set[str]:
    """About ``fraction`` of the library's HS6 codes (with at least ``min_rows`` rulings), held out whole.

    Their rulings leave the provisional suggester entirely, so their validation queries look like a product whose
    code has no ruling: what the gate and the confidence calibrators must learn to recognise.
    """
    values, counts = np.unique(codes6, return_counts=True)
    eligible = values[counts >= min_rows]
    n = int(round(fraction * len(values)))
    if fraction <= 0 or len(eligible) < 4 or n < 1:
        return set()
    return set(rng.choice(eligible, size=min(n, len(eligible) - 2), replace=False).tolist())


def build_suggester(rulings: list, *, encoder, nomenclature=None, progress: bool = True, seed: int = 0,
                    val_fraction: float = 0.2, max_val: int = 4000, supervised_max_samples: int = 60_000,
                    target_accuracy: float = 0.9, threshold: float | None = None, use_ranker: bool = True,
                    parallel_fit: bool = True, tariff: bool = True, code_holdout: float = 0.1,
                    max_code_holdout_rows: int = 1000, embedding_cache=None) -> HSSuggester:
    """Fit, tune on a held-out split, calibrate, refit on everything. See the module docstring.

    With ``tariff`` (default) the code space is the whole nomenclature (``nomenclature`` or the default HS 2022):
    the nomenclature channel answers codes no ruling carries, and an empty ``rulings`` gives a cold-start suggester
    answered from the tariff alone. ``embedding_cache`` is a folder for the embedding cache (default: the settings').
    """
    rulings = list(rulings)
    cache_dir = embedding_cache
    if cache_dir is None:
        from data.settings import get_settings

        cache_dir = get_settings().embedding_cache_dir
    cached = cached_encoder(encoder, cache_dir)
    channel = None
    if tariff:
        if nomenclature is None:
            from data.nomenclature import Nomenclature

            nomenclature = Nomenclature.default()
        channel = tariff_channel(nomenclature, cached, progress=progress)
    elif not rulings:
        raise InvalidInputError("cannot build a suggester from an empty library without the tariff",
                                details=[field_error("rulings", "empty")])
    built_with = {"seed": seed, "val_fraction": val_fraction, "max_val": max_val, "code_holdout": code_holdout,
                  "supervised_max_samples": supervised_max_samples, "dense_text": "name+elements",
                  "encoder_spec": getattr(encoder, "spec", None) or _encoder_spec(encoder),
                  "tariff": channel is not None, "n_tariff_texts": channel.n_texts if channel is not None else 0}
    if not rulings:
        metrics = tune_tariff_self_supervised(channel, cached, seed)
        return _cold_start(channel, encoder=encoder, nomenclature=nomenclature, built_with=built_with,
                           target_accuracy=target_accuracy, metrics=metrics)
    lib = _library(rulings, cached, progress)
    built_with["encoded_texts"] = cached.cache.encoded
    features = LexicalVectoriser()
    lib.features = features.fit_transform(lib.texts)
    dense = DenseIndex.build(lib.embeddings)
    labels6 = np.array([c[:6] for c in lib.codes], dtype=object)
    final_svm = None
    base = SuggesterParams(target_accuracy=target_accuracy)
    n = len(rulings)
    calibrators: dict = {}
    metrics: dict[str, float] = {}
    params = base
    ranker = None
    n_codes = len({c[:6] for c in lib.codes})
    if n >= MIN_TUNE_RULINGS and n_codes >= 2:
        rng = np.random.default_rng(seed)
        held = held_out_codes(labels6, code_holdout, rng) if channel is not None else set()
        held_mask = np.array([c in held for c in labels6], dtype=bool)
        rest = np.flatnonzero(~held_mask)
        n_val = int(min(max_val, max(20, round(val_fraction * len(rest)))))
        val_sub, fit_sub = grouped_split([lib.texts[i] for i in rest], n_val, rng)
        val_in, fit_rows = rest[val_sub], rest[fit_sub]
        held_rows = np.flatnonzero(held_mask)
        # At most a third as many held-out-code queries as in-library ones: calibration must still see the library's
        # own confident cases in their real share.
        cap = min(max_code_holdout_rows, len(val_in) // 3)
        if len(held_rows) > cap:
            held_rows = np.sort(rng.choice(held_rows, cap, replace=False))
        val_rows = np.concatenate([val_in, held_rows])
        n_val = len(val_rows)
        if progress:
            log.info("tuning on %d validation rulings (%d of %d held-out codes; %d fit)", n_val, len(held_rows),
                     len(held), len(fit_rows))
        keep = np.zeros(n, dtype=bool)
        keep[fit_rows] = True
        if len(fit_rows) < supervised_max_samples:
            final_svm = _start_final_svm(lib.features, labels6, supervised_max_samples, seed, parallel_fit)
        fit_lib, val = lib.subset(fit_rows), lib.subset(val_rows)
        if final_svm is None:
            # Large library: the held-out rows are a small share of the IDF statistics, so the one vocabulary serves
            # validation too, and both SVM fits would see a capped sample of the same size: the validation model
            # serves as the final one.
            prov_features = features
        else:
            # Smaller library: the held-out rows are up to a fifth of the IDF statistics; validation gets its own
            # vocabulary from the fitting rows so tuning sees queries the way real queries look (measured on cbec:
            # sharing the vocabulary moved the tuned weights and cost 0.0005 HS6 top-1).
            prov_features = LexicalVectoriser()
            fit_lib.features = prov_features.fit_transform(fit_lib.texts)
            val.features = prov_features.transform(val.texts)
        provisional = _assemble(fit_lib, encoder=encoder, params=base, calibrators={},
                                nomenclature=nomenclature, seed=seed, supervised_max_samples=supervised_max_samples,
                                progress=progress, features=prov_features, dense=_MaskedIndex(dense, keep),
                                tariff=channel)
        if final_svm is None and held:
            # The provisional SVM never saw the held-out codes: the final one must.
            final_svm = _start_final_svm(lib.features, labels6, supervised_max_samples, seed, parallel_fit)
        elif final_svm is None:
            final_svm = _Done(provisional.supervised)
        hits_all = provisional.search_channels(features=val.features, embeddings=val.embeddings)
        code_pos = provisional.code_index
        gold_all = np.array([code_pos.get(c[:6], -1) for c in val.codes], dtype=np.int64)
        inside = np.flatnonzero(gold_all >= 0)
        if len(inside) < MIN_TUNE_QUERIES:  # a library of near-singletons: tune on every query, as misses count
            inside = np.arange(len(gold_all))
        hits, gold, val_lib = subset_hits(hits_all, inside), gold_all[inside], val.subset(inside)
        params, info = tune_params(hits, gold, len(provisional.codes6), base)
        ranker, params.t_rank, dist, rank_metrics = (fit_ranker(hits, info, provisional, gold, seed) if use_ranker
                                                     else (None, 1.0, info["fused"], {}))
        calibrators = fit_calibrators(dist, provisional.codes6, val_lib.codes)
        national = fit_national_calibrator(hits, dist, provisional, val_lib.codes)
        if national is not None:
            calibrators[NATIONAL] = national
        conf6 = calibrators[6](dist.max(axis=1))
        correct6 = provisional.codes6[dist.argmax(axis=1)] == np.array([c[:6] for c in val_lib.codes])
        params.threshold = threshold if threshold is not None else choose_threshold(conf6, correct6, target_accuracy)
        # "No similar ruling": below the 1st percentile of genuine held-out queries on both channels at once.
        params.floor_lexical = float(np.quantile(hits.lex_s[:, 0], 0.01))
        params.floor_dense = float(np.quantile(hits.dense_s[:, 0], 0.01))
        confident = conf6 >= params.threshold
        metrics = {"val_n": float(n_val), "val_fused_top1": info["val_hs6_top1"], "val_fused_top5": info["val_hs6_top5"],
                   "val_hs6_top1": float(correct6.mean()),
                   "val_hs6_top5": float(topk_hits(dist, gold, 5).mean()), "val_ranker_used": float(ranker is not None),
                   **rank_metrics,
                   "val_ece": expected_calibration_error(conf6, correct6),
                   "val_confident_coverage": float(confident.mean()),
                   "val_confident_accuracy": float(correct6[confident].mean()) if confident.any() else 0.0}
        for name, res in info["channels"].items():
            if res is not None:
                metrics[f"val_{name}_top1"], metrics[f"val_{name}_top5"] = res
        if channel is not None:
            metrics.update(_fit_open_world(provisional, params, ranker, dist, inside, hits_all, val, channel,
                                           calibrators, target_accuracy, threshold, seed))
    elif threshold is not None:
        params.threshold = threshold
    elif channel is not None:
        params.threshold = NEVER_CONFIDENT  # nothing to calibrate on: every answer goes to review
    final = _assemble(lib, encoder=encoder, params=params, calibrators=calibrators, nomenclature=nomenclature,
                      ranker=ranker, seed=seed, supervised_max_samples=supervised_max_samples, progress=progress,
                      metrics=metrics, features=features, dense=dense,
                      supervised=final_svm.result() if final_svm else None, built_with=built_with, tariff=channel)
    return final


def subset_hits(hits, rows: np.ndarray):
    """The channel hits of some validation queries only."""
    from models.suggester.channels import ChannelHits

    return ChannelHits(lex_s=hits.lex_s[rows], lex_refs=hits.lex_refs[rows], lex_c=hits.lex_c[rows],
                       dense_s=hits.dense_s[rows], dense_refs=hits.dense_refs[rows], dense_c=hits.dense_c[rows],
                       margins=hits.margins[rows], lex_all=None if hits.lex_all is None else hits.lex_all[rows])


def _fit_open_world(provisional, params, ranker, dist, inside, hits_all, val, channel, calibrators,
                    target_accuracy, threshold, seed) -> dict:
    """Nomenclature channel, gate and evidence calibrators on all validation queries (held-out codes included)."""
    from models.suggester.fusion import best_similarity
    from models.suggester.overlay import Overlay

    tariff_metrics = tune_tariff(channel, val.texts, val.embeddings, val.codes, seed)
    provisional.params, provisional.ranker = params, ranker
    p_r = provisional.fuse_hits(hits_all, Overlay())[0]
    p_r[inside] = dist  # out of fold where the re-ranker was fitted on these queries
    fitted = fit_open_world(provisional, p_r=p_r, best_lex=best_similarity(hits_all.lex_s, hits_all.lex_refs),
                            best_dense=best_similarity(hits_all.dense_s, hits_all.dense_refs), texts=val.texts,
                            embeddings=val.embeddings, gold_codes=val.codes, target_accuracy=target_accuracy,
                            seed=seed)
    calibrators.update(fitted["calibrators"])
    # HS2 (and fallback HS4/HS6) isotonic maps on the open-world distribution.
    calibrators.update(fit_calibrators(fitted["p6"], fitted["space"], fitted["gold_codes"]))
    if threshold is not None:
        params.threshold = threshold
    return {**tariff_metrics, **fitted["metrics"]}


def _cold_start(channel, *, encoder, nomenclature, built_with, target_accuracy, metrics) -> HSSuggester:
    """A suggester with no rulings: the nomenclature channel answers; nothing is calibrated, so all goes to review.

    The ruling channels exist but are empty (a vectoriser fitted on the tariff texts, an empty index), so reviewer
    decisions can still be added to the overlay and move answers at once.
    """
    from models.suggester.tariff import lexical_text

    features = LexicalVectoriser().fit([lexical_text(t) for t in channel.all_texts()])
    dim = int(encoder.dim)  # the rulings' space, not the channel's projected one
    empty = np.zeros(0, dtype=object)
    params = SuggesterParams(target_accuracy=target_accuracy, threshold=NEVER_CONFIDENT)
    return HSSuggester(encoder=encoder, dense_index=DenseIndex.build(np.zeros((0, dim), dtype=np.float32)),
                       features=features, lexical=LexicalIndex().fit(features.transform(["x"])[:0]),
                       supervised=None, ruling_ids=empty, ruling_codes=empty, ruling_texts=[], ruling_sources=empty,
                       ruling_dates=[], params=params, calibrators={}, nomenclature=nomenclature,
                       metrics={"cold_start": 1.0, **metrics}, built_with={**built_with, "cold_start": True},
                       tariff=channel)


def _encoder_spec(encoder) -> str | None:
    name = getattr(encoder, "name", "")
    if name.startswith("use"):
        return "use"
    if name == "st:all-MiniLM-L6-v2":
        return "minilm"
    return str(getattr(encoder, "model_dir", "")) or None
