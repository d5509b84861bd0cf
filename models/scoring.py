"""ShipmentScorer (contract 11): checks once -> feature row -> delay quantiles + risk probabilities -> reasons ->
advisories, plus re-scored and ranked route alternatives.

The single-shipment path never builds a DataFrame: the feature row (a dict) goes straight to the fitted
preprocessors' record path and then to the boosters. Contributions give the explained prediction for free (they sum
to the raw score), so explaining costs one booster call per model, not two.
"""

from __future__ import annotations

import logging
import operator
import queue
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from data.errors import InvalidInputError, UnavailableError, field_error
from data.runtime import fast_gil_handoff, paused_gc
from data.shipments.reference import CHANNELS
from data.shipments.schema import Shipment, error_details
from data.unchecked import build_unchecked
from features.checks import Finding, run_checks
from features.shipment_features import feature_row
from models.advisories import Advisory, AdvisoryRules, batch_context, build_context
from models.explanations import GroupMap, Reason, delay_group_impacts, risk_group_impacts, top_reasons
from models.tabular import THREAD_CAP, softmax

log = logging.getLogger(__name__)

ROUTE_FIELDS = ("channel", "carrier", "export_port", "destination_port")


class Probabilities(BaseModel):
    low: float
    medium: float
    high: float


class DelayOut(BaseModel):
    p50_hours: float
    p90_hours: float
    reasons: list[Reason] = Field(default_factory=list)


class RiskOut(BaseModel):
    level: Literal["low", "medium", "high"]
    probabilities: Probabilities
    reasons: list[Reason] = Field(default_factory=list)


class RouteResult(BaseModel):
    option: dict[str, str] = Field(description="The fields changed; empty for the shipment as submitted")
    current: bool = Field(description="True for the route as submitted")
    rank: int = Field(description="1 = best: lowest high-risk probability, then lowest P90 delay")
    delay: DelayOut
    risk: RiskOut


#: A Finding travels from a worker as the tuple of its field values, in this order.
_FINDING_KEYS = tuple(Finding.model_fields)
_finding_values = operator.attrgetter(*_FINDING_KEYS)


class ScoreResult(BaseModel):
    shipment_id: str
    findings: list[Finding]
    delay: DelayOut
    risk: RiskOut
    advisories: list[Advisory]
    route_options: list[RouteResult] = Field(default_factory=list)


@dataclass
class DocumentScores:
    """:meth:`ShipmentScorer.score_documents` output: ``results[i]`` is None where document i failed validation;
    ``errors`` has one ``{"index", "field", "reason"}`` per bad field (field paths as in the schema's errors)."""

    results: list[ScoreResult | None]
    errors: list[dict[str, Any]] = field(default_factory=list)
    workers_used: int = 0
    worker_cpu_s: float = 0.0  # CPU seconds spent in worker processes (benchmarks compare it with this process')


class ShipmentScorer:
    """Scores validated :class:`~data.shipments.schema.Shipment` objects with the delay and risk champions.

    ``workers`` > 0 lets :meth:`score_documents` spread batches of at least ``parallel_min_rows`` documents over that
    many extra processes (see :mod:`models.score_pool`); the pool starts on first use or on :meth:`start_workers`.
    """

    def __init__(self, delay_model: Any, risk_model: Any, rules: AdvisoryRules, nomenclature: Any, *,
                 top_k: int = 5, workers: int = 0, parallel_min_rows: int = 4000):
        self.delay_model = delay_model
        self.risk_model = risk_model
        self.rules = rules
        self.nomenclature = nomenclature
        self.top_k = top_k
        self.workers = workers
        self.parallel_min_rows = parallel_min_rows
        self._pool: Any = None
        self._pool_lock = threading.Lock()
        self._warmer: threading.Thread | None = None
        self._retire_timer: threading.Timer | None = None
        self._delay_groups = GroupMap(delay_model.feature_sources) if delay_model is not None else None
        self._risk_groups = GroupMap(risk_model.feature_sources) if risk_model is not None else None
        self._high = risk_model.classes.index("high") if risk_model is not None else 2
        # Both models are usually trained on the same rows and features: one matrix then serves both.
        self._shared_matrix = (delay_model is not None and risk_model is not None
                               and delay_model.feature_names == risk_model.feature_names
                               and delay_model.model_.preprocessor_.levels == risk_model.model_.preprocessor_.levels)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_pool"] = None  # processes and threads do not travel; a copy starts its own pool when asked
        for name in ("_pool_lock", "_warmer", "_retire_timer"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("workers", 0)
        state.setdefault("parallel_min_rows", 4000)
        state.setdefault("_pool", None)
        state["_pool_lock"] = threading.Lock()
        state["_warmer"] = state["_retire_timer"] = None
        self.__dict__.update(state)

    def start_workers(self) -> Any:
        """Start (once) and warm the worker pool; returns it, or None when ``workers`` is 0. Thread-safe: a batch
        arriving while the pool warms in the background waits for that pool instead of starting a second one."""
        if self._pool is None and self.workers > 0:
            with self._pool_lock:
                if self._pool is None:
                    from models.score_pool import ScorePool

                    pool = ScorePool(self, self.workers)
                    pool.warm()
                    self._pool = pool
                    weakref.finalize(self, pool.close)  # a scorer dropped without close() takes its processes along
        return self._pool

    # ---- worker-pool life cycle: the owner of a served scorer calls warm() when it starts serving it, retire() when
    # another one replaces it, close() at shutdown ---------------------------------------------------------------
    def warm(self) -> None:
        """Start the worker processes now, on a thread of their own: spawning them takes seconds, which must not be
        paid on the event loop, on a request thread, or by the first large batch. Without workers, nothing."""
        if self.workers <= 0 or self._pool is not None:
            return

        def start() -> None:
            try:
                self.start_workers()
            except Exception:  # the pool then starts on first use; serving goes on
                log.exception("warming the scoring processes failed")

        self._warmer = threading.Thread(target=start, name="clearance-score-pool-warm", daemon=True)
        self._warmer.start()

    def retire(self, grace_s: float) -> None:
        """Close the worker processes after ``grace_s`` seconds: requests that took this scorer before it was
        replaced finish on it meanwhile (a batch takes about a second)."""
        timer = threading.Timer(grace_s, self.close)
        timer.daemon = True
        self._retire_timer = timer
        timer.start()

    def close(self) -> None:
        """Stop the worker processes now (waits for a pool still starting, so none outlives this call)."""
        timer, self._retire_timer = self._retire_timer, None
        if timer is not None:
            timer.cancel()
        warmer = self._warmer
        if warmer is not None and warmer is not threading.current_thread():
            warmer.join()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _require(self) -> None:
        missing = [n for n, m in (("clearance-delay", self.delay_model), ("clearance-risk", self.risk_model)) if m is None]
        if missing:
            raise UnavailableError(f"model(s) not loaded: {', '.join(missing)}", details={"missing": missing})

    # ---- core: rows -> predictions -----------------------------------------------------------------------------
    def _predict(self, rows: Sequence[dict], explain: bool) -> tuple[np.ndarray, np.ndarray, list, list]:
        xd = self.delay_model.matrix(rows)
        xr = xd if self._shared_matrix else self.risk_model.matrix(rows)
        d_reasons: list[list[Reason]] = [[] for _ in rows]
        r_reasons: list[list[Reason]] = [[] for _ in rows]
        if not explain:
            return self.delay_model.predict_matrix(xd), self.risk_model.predict_matrix(xr), d_reasons, r_reasons
        dm, rm = self.delay_model, self.risk_model
        # P50 from its booster; P90 and the risk logits from the contributions (they sum to the raw scores).
        p50 = dm.model_.quantiles_from_matrix(xd)[:, dm._index(0.5)] if len(dm.model_.boosters_) > 1 else None
        dc = dm.contributions(xd)
        p90 = dc.sum(axis=1)
        q = np.column_stack([p50 if p50 is not None else p90, p90])
        q = np.clip(q, 0.0, None)
        q[:, 1] = np.maximum(q[:, 1], q[:, 0])
        rc = rm.contributions(xr)
        proba = softmax(rc.sum(axis=2) / rm.temperature)
        d_imp = delay_group_impacts(dc, self._delay_groups)
        r_imp, _, _ = risk_group_impacts(rc, self._risk_groups, rm.temperature, self._high)
        for i, row in enumerate(rows):
            d_reasons[i] = top_reasons(d_imp[i], "hours", row, self._delay_groups, top_k=self.top_k)
            r_reasons[i] = top_reasons(r_imp[i], "probability", row, self._risk_groups, top_k=self.top_k)
        return q, proba, d_reasons, r_reasons

    def _outs(self, q: np.ndarray, proba: np.ndarray, d_reasons: list, r_reasons: list) -> list[
            tuple[DelayOut, RiskOut]]:
        """Result objects for every row; numpy is converted to Python once, not per element."""
        classes = self.risk_model.classes
        qs = np.round(q, 2).tolist()
        ps = proba.tolist()
        levels = proba.argmax(axis=1).tolist()
        build = build_unchecked
        out = []
        for i, (qi, pi) in enumerate(zip(qs, ps)):
            delay = build(DelayOut, {"p50_hours": qi[0], "p90_hours": qi[1], "reasons": d_reasons[i]})
            risk = build(RiskOut, {"level": classes[levels[i]],
                                   "probabilities": build(Probabilities, dict(zip(classes, pi))),
                                   "reasons": r_reasons[i]})
            out.append((delay, risk))
        return out

    def _advise(self, shipment: Any, findings: list[Finding], row: dict, delay: DelayOut, risk: RiskOut
                ) -> list[Advisory]:
        ctx = build_context(shipment, findings, row,
                            {"p50_hours": delay.p50_hours, "p90_hours": delay.p90_hours},
                            {"level": risk.level, "probabilities": risk.probabilities.__dict__})
        return self.rules.evaluate(ctx)

    # ---- public API ----------------------------------------------------------------------------------------------
    def score(self, shipment: Any, *, explain: bool = True, route_options: Sequence[dict] | None = None
              ) -> ScoreResult:
        self._require()
        findings = run_checks(shipment, self.nomenclature)
        row = feature_row(shipment, findings)
        rows = [row]
        options: list[dict[str, str]] = []
        if route_options:
            for j, opt in enumerate(route_options):
                opt = dict(opt.model_dump(exclude_none=True) if hasattr(opt, "model_dump") else opt)
                bad = [k for k in opt if k not in ROUTE_FIELDS]
                if bad or not opt:
                    raise InvalidInputError(
                        f"route option {j} may change only {', '.join(ROUTE_FIELDS)}",
                        details=[field_error(f"route_options.{j}.{k}", "not a route field") for k in bad]
                        or [field_error(f"route_options.{j}", "changes nothing")])
                opt = {k: str(v).strip() for k, v in opt.items()}
                for port in ("export_port", "destination_port"):
                    if port in opt:  # the features compare UN/LOCODEs as written in the schema: upper case
                        opt[port] = opt[port].upper()
                if "channel" in opt and opt["channel"] not in CHANNELS:
                    raise InvalidInputError(f"route option {j}: unknown channel '{opt['channel']}'",
                                            details=[field_error(f"route_options.{j}.channel",
                                                                 f"one of {', '.join(CHANNELS)}")])
                options.append(opt)
                # Only the waybill changes; the checks ran once on the submitted documents.
                alt = shipment.model_copy(update={"waybill": shipment.waybill.model_copy(update=opt)})
                rows.append(feature_row(alt, findings))
        q, proba, d_reasons, r_reasons = self._predict(rows, explain)
        outs = self._outs(q, proba, d_reasons, r_reasons)
        delay, risk = outs[0]
        routes: list[RouteResult] = []
        if options:
            high = self._high
            order = sorted(range(len(rows)), key=lambda i: (round(float(proba[i, high]), 4), float(q[i, 1])))
            rank = {i: r + 1 for r, i in enumerate(order)}
            for i in order:
                d_i, r_i = outs[i]
                routes.append(RouteResult.model_construct(option=options[i - 1] if i else {}, current=i == 0,
                                                          rank=rank[i], delay=d_i, risk=r_i))
        return ScoreResult.model_construct(shipment_id=shipment.shipment_id, findings=findings, delay=delay, risk=risk,
                                           advisories=self._advise(shipment, findings, row, delay, risk),
                                           route_options=routes)

    def score_batch(self, shipments: Sequence[Any], explain: bool = False) -> list[ScoreResult]:
        """Vectorised: rows for all shipments, one predict call per model."""
        self._require()
        if not shipments:
            return []
        # A batch allocates many small acyclic objects (findings, rows, results): see data.runtime.paused_gc.
        with paused_gc():
            return self._score_batch(shipments, explain)

    def _score_batch(self, shipments: Sequence[Any], explain: bool) -> list[ScoreResult]:
        return self._results(*self._core(shipments, explain, shipments.__getitem__))

    def _core(self, shipments: Iterable[Any], explain: bool, shipment_at: Callable[[int], Any]) -> tuple:
        """(ids, findings lists, P50/P90, probabilities, delay reasons, risk reasons, advisory codes) for validated
        shipments; ``shipment_at(i)`` gives the i-th shipment again (needed only if the rules fall back to per-row
        evaluation).

        Everything a shipment itself is needed for — checks, feature row, the values the rules read — is done in
        one pass while it is in the CPU cache, and an iterator may drop each shipment after its turn: a batch of
        documents then reuses the same hot memory for the next one. Stage by stage over a whole batch (all checks,
        then all rows, ...) walks every object of every shipment from main memory again and is ~20% slower.
        """
        nomenclature, read = self.nomenclature, self.rules.read_document
        ids, findings_lists, rows, documents = [], [], [], []
        for s in shipments:
            findings = run_checks(s, nomenclature)
            findings_lists.append(findings)
            rows.append(feature_row(s, findings))
            documents.append(read(s))
            ids.append(s.shipment_id)
        if not rows:
            return ids, findings_lists, None, None, [], [], []
        q, proba, d_reasons, r_reasons = self._predict(rows, explain)
        codes = self._advice_codes(documents, findings_lists, rows, q, proba, shipment_at)
        return ids, findings_lists, q, proba, d_reasons, r_reasons, codes

    def _results(self, ids: Sequence[str], findings_lists: Sequence[list], q: np.ndarray, proba: np.ndarray,
                 d_reasons: list, r_reasons: list, codes: Sequence[int]) -> list[ScoreResult]:
        outs = self._outs(q, proba, d_reasons, r_reasons)
        advisories = self.rules.decode(codes)
        build = build_unchecked
        return [build(ScoreResult, {"shipment_id": sid, "findings": fl, "delay": o[0], "risk": o[1], "advisories": a,
                                    "route_options": []})
                for sid, fl, o, a in zip(ids, findings_lists, outs, advisories)]

    def _advice_codes(self, documents: list[tuple], findings_lists: Sequence[list], rows: list, q: np.ndarray,
                      proba: np.ndarray, shipment_at: Callable[[int], Any]) -> list[int]:
        """``_advise`` for all rows at once: the rules run column-wise on the prediction arrays (the same values as
        the result objects: P50/P90 rounded to 2 decimals as in ``_outs``) and on the shipment values in
        ``documents`` (:meth:`AdvisoryRules.read_document` per row)."""
        classes = self.risk_model.classes
        qr = np.round(q, 2)
        levels = [classes[k] for k in proba.argmax(axis=1).tolist()]
        columns: dict[str, Any] = {"delay.p50_hours": qr[:, 0], "delay.p90_hours": qr[:, 1], "risk.level": levels}
        for k, c in enumerate(classes):
            columns[f"risk.probabilities.{c}"] = proba[:, k]
        cache: dict[str, list] = {}

        def delay_rows() -> list:
            if "d" not in cache:
                cache["d"] = [{"p50_hours": a, "p90_hours": b} for a, b in qr.tolist()]
            return cache["d"]

        def risk_rows() -> list:
            if "r" not in cache:
                cache["r"] = [{"level": lv, "probabilities": dict(zip(classes, p))}
                              for lv, p in zip(levels, proba.tolist())]
            return cache["r"]

        ctx = batch_context(None, findings_lists, rows, columns, delay=delay_rows, risk=risk_rows,
                            documents=(self.rules.document_paths, documents))

        def one(i: int) -> dict:
            return build_context(shipment_at(i), findings_lists[i], rows[i], delay_rows()[i], risk_rows()[i])

        return self.rules.evaluate_codes(ctx, one)

    # ---- JSON documents in: validation included, several processes for large batches --------------------------
    def score_documents(self, documents: Sequence[Any], *, explain: bool = False) -> DocumentScores:
        """Validate and score JSON documents: parsed (dicts) or raw (``bytes``/``str`` holding one document's JSON,
        e.g. one JSONL line). Invalid documents are reported, never dropped silently, and never stop the valid ones
        from being scored; raw text that is not JSON is reported on the field ``shipment``.

        Raw JSON is the cheaper input: pydantic parses and validates it in one pass (no ``json.loads`` objects), and
        it crosses to a worker process as bytes.

        Batches of at least ``parallel_min_rows`` documents without explanations are split between this process and
        the worker pool when ``workers`` > 0; results are the same as in one process (same code, same models).
        """
        self._require()
        n = len(documents)
        pool = None
        if not explain and self.workers > 0 and n >= self.parallel_min_rows:
            pool = self.start_workers()
        out = DocumentScores(results=[None] * n, workers_used=pool.workers if pool is not None else 0)
        with paused_gc():
            if pool is None:
                self._place(out, self._score_documents_compact(documents, 0, explain=explain))
            else:
                self._score_parallel(documents, pool, out)
        out.errors.sort(key=lambda e: e["index"])
        return out

    #: Rows per chunk: large enough that per-chunk costs (a predict call, a pickle round trip) vanish, small enough
    #: that the split between this process and the workers balances itself (see _score_parallel).
    CHUNK_ROWS = 1000
    #: Chunks in flight per worker: one running, one queued behind it so the worker never waits for the next (more
    #: would leave this process waiting for a long tail of queued chunks at the end).
    QUEUE_DEPTH = 2

    def _score_parallel(self, documents: Sequence[Any], pool: Any, out: DocumentScores) -> None:
        """Work sharing without a fixed split: this process scores chunks from the front, the workers from the back,
        and a worker is handed its next chunk the moment one comes back (from the pool's callback thread, not when
        this process next looks up from its own chunk, which would leave the worker idle meanwhile). The faster side
        simply takes more chunks, whatever the load on the machine. Result objects are built here as parts arrive,
        so the batch does not end with the workers idle while this process assembles everything."""
        n = len(documents)
        # at least ~8 chunks per process, so the end of the batch does not wait on one big chunk
        size = max(1, min(self.CHUNK_ROWS, max(250, n // (8 * (pool.workers + 1)))))
        starts = list(range(0, n, size))
        lock = threading.Lock()
        bounds = [0, len(starts)]  # [next chunk from the front (this process), one past the next from the back]
        done: queue.SimpleQueue = queue.SimpleQueue()  # finished worker futures, or an exception to re-raise here

        def take(front: bool) -> int | None:
            with lock:
                if bounds[0] >= bounds[1]:
                    return None
                if front:
                    bounds[0] += 1
                    return starts[bounds[0] - 1]
                bounds[1] -= 1
                return starts[bounds[1]]

        def submit(a: int) -> None:
            pool.submit(a, list(documents[a:a + size])).add_done_callback(on_done)

        def on_done(future: Any) -> None:
            done.put(future)
            try:
                a = take(front=False)
                if a is not None:
                    submit(a)
            except BaseException as exc:  # a callback's exception would be lost; raise it in the caller
                done.put(exc)

        def place(item: Any) -> None:
            if isinstance(item, BaseException):
                raise item
            part, cpu = item.result()
            out.worker_cpu_s += cpu
            self._place(out, part)

        for _ in range(self.QUEUE_DEPTH * pool.workers):
            a = take(front=False)
            if a is None:
                break
            submit(a)
        own = placed = 0
        # The workers hold the other cores: an OpenMP team here would only wait for them (and spin).
        token = THREAD_CAP.set(1)
        try:
            with fast_gil_handoff():
                while (a := take(front=True)) is not None:
                    own += 1
                    self._place(out, self._score_documents_compact(documents[a:a + size], a, explain=False))
                    while not done.empty():
                        place(done.get())
                        placed += 1
                while placed < len(starts) - own:  # the rest was taken by the workers
                    place(done.get())
                    placed += 1
        except BaseException:
            with lock:  # no callback hands out another chunk of a batch that failed
                bounds[1] = bounds[0]
            raise
        finally:
            THREAD_CAP.reset(token)

    def _score_documents_compact(self, documents: Sequence[Any], start: int, *, explain: bool = False,
                                 portable: bool = False) -> tuple:
        """(positions, ids, findings_lists, q, proba, d_reasons, r_reasons, codes, errors) for one slice.
        ``portable`` turns findings into tuples (cheap to pickle; rebuilt by the parent)."""
        validate, validate_json = Shipment.model_validate, Shipment.model_validate_json
        raw = (bytes, str, bytearray)
        positions: list[int] = []
        errors: list[dict[str, Any]] = []

        def parse(doc: Any) -> Shipment:
            return validate_json(doc) if isinstance(doc, raw) else validate(doc)

        def valid() -> Iterator[Shipment]:
            # a generator, so each shipment is checked and turned into a row right after its validation and then
            # dropped (see _core)
            for i, doc in enumerate(documents, start):
                try:
                    shipment = parse(doc)
                except ValidationError as exc:
                    errors.extend({"index": i, **e} for e in error_details(exc))
                else:
                    positions.append(i)
                    yield shipment

        ids, findings_lists, q, proba, d_reasons, r_reasons, codes = self._core(
            valid(), explain, lambda k: parse(documents[positions[k] - start]))
        if portable:
            values = _finding_values
            findings_lists = [[values(f) for f in fl] for fl in findings_lists]
        return positions, ids, findings_lists, q, proba, d_reasons, r_reasons, codes, errors

    def _place(self, out: DocumentScores, part: tuple) -> None:
        """Build the result objects of one scored part into ``out`` (findings arrive as tuples from a worker)."""
        positions, ids, findings_lists, q, proba, d_reasons, r_reasons, codes, errors = part
        out.errors.extend(errors)
        if not positions:
            return
        if findings_lists and any(fl and type(fl[0]) is tuple for fl in findings_lists):
            build, keys = build_unchecked, _FINDING_KEYS
            findings_lists = [[build(Finding, dict(zip(keys, f))) for f in fl] for fl in findings_lists]
        results = out.results
        for i, r in zip(positions, self._results(ids, findings_lists, q, proba, d_reasons, r_reasons, codes)):
            results[i] = r
