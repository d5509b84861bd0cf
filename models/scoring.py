"""ShipmentScorer (contract 11): checks -> feature row -> delay quantiles + risk probabilities -> reasons ->
advisories, for a batch of shipments; a single shipment, with or without route alternatives, is a small batch.

One path: :meth:`ShipmentScorer.score`, :meth:`~ShipmentScorer.score_batch` and
:meth:`~ShipmentScorer.score_documents` (JSON documents, validation included, large batches shared with worker
processes) all score through ``_core`` (checks, rows, models, advisory rules column-wise: compact scores) and
``_results`` (the result objects).
"""

from __future__ import annotations

import logging
import operator
import queue
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from data.errors import UnavailableError
from data.shipments.schema import RouteOption, Shipment, error_details
from features.checks import Finding, run_checks
from features.shipment_features import feature_row
from models.advisories import Advisory, AdvisoryRules
from models.explanations import GroupMap, Reason, delay_group_impacts, risk_group_impacts, top_reasons
from models.names import DELAY, RISK
from models.score_pool import collector_paused
from models.tabular import THREAD_CAP, softmax

log = logging.getLogger(__name__)


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


@dataclass
class Scored:
    """Scores of a batch (or of one slice of it) in compact form: what a worker process sends back, and what
    :meth:`ShipmentScorer._results` turns into result objects. Rows are the valid shipments, in order."""

    ids: list[str] = field(default_factory=list)
    findings: list[list] = field(default_factory=list)  # Finding objects, or their field values from a worker
    q: np.ndarray | None = None  # P50 and P90 hours, rounded to 2 decimals
    proba: np.ndarray | None = None  # risk class probabilities, in the risk model's class order
    delay_reasons: list | None = None  # with explanations only
    risk_reasons: list | None = None
    codes: list[int] = field(default_factory=list)  # the advisories that fired, as bits (AdvisoryRules.decode)
    positions: list[int] = field(default_factory=list)  # documents: the document index of each row
    errors: list[dict[str, Any]] = field(default_factory=list)  # documents: validation errors


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
        #: Recent port congestion (``features.congestion.CongestionSnapshot``) that feature rows read; the service
        #: refreshes it from the store's outcomes. None: the congestion features are missing.
        self.congestion: Any = None
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
        state.setdefault("congestion", None)
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
        missing = [n for n, m in ((DELAY, self.delay_model), (RISK, self.risk_model)) if m is None]
        if missing:
            raise UnavailableError(f"model(s) not loaded: {', '.join(missing)}", details={"missing": missing})

    # ---- core: shipments -> compact scores -> result objects ---------------------------------------------------
    def _predict(self, rows: Sequence[dict], explain: bool) -> tuple[np.ndarray, np.ndarray, list | None, list | None]:
        """(P50/P90 rounded to 2 decimals as returned, class probabilities, delay and risk reasons or None)."""
        xd = self.delay_model.matrix(rows)
        xr = xd if self._shared_matrix else self.risk_model.matrix(rows)
        if not explain:
            return (np.round(self.delay_model.predict_matrix(xd), 2), self.risk_model.predict_matrix(xr), None, None)
        dm, rm = self.delay_model, self.risk_model
        # P50 from its booster; P90 and the risk logits from the contributions (they sum to the raw scores), so
        # explaining costs one booster call per model, not two.
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
        d_reasons = [top_reasons(d_imp[i], "hours", row, self._delay_groups, top_k=self.top_k)
                     for i, row in enumerate(rows)]
        r_reasons = [top_reasons(r_imp[i], "probability", row, self._risk_groups, top_k=self.top_k)
                     for i, row in enumerate(rows)]
        return np.round(q, 2), proba, d_reasons, r_reasons

    def _core(self, shipments: Iterable[Shipment], explain: bool) -> Scored:
        """Compact scores of validated shipments.

        Everything a shipment itself is needed for (checks, feature row, the values the rules read) is done in one
        pass while it is at hand, so an iterator may drop each shipment after its turn; the models and the rules then
        run column-wise over the whole batch.
        """
        nomenclature, read = self.nomenclature, self.rules.read_document
        congestion = self.congestion  # one snapshot for the whole batch, even if it is refreshed meanwhile
        part = Scored()
        rows, documents = [], []
        for s in shipments:
            findings = run_checks(s, nomenclature)
            part.findings.append(findings)
            rows.append(feature_row(s, findings, congestion))
            documents.append(read(s))
            part.ids.append(s.shipment_id)
        if not rows:
            return part
        part.q, part.proba, part.delay_reasons, part.risk_reasons = self._predict(rows, explain)
        classes = self.risk_model.classes
        predictions: dict[str, Any] = {"delay.p50_hours": part.q[:, 0], "delay.p90_hours": part.q[:, 1],
                                       "risk.level": [classes[k] for k in part.proba.argmax(axis=1).tolist()]}
        for k, c in enumerate(classes):
            predictions[f"risk.probabilities.{c}"] = part.proba[:, k]
        codes = [[f.code for f in fl] for fl in part.findings]
        part.codes = self.rules.evaluate_codes(documents, codes, rows, predictions)
        return part

    def _results(self, part: Scored) -> list[ScoreResult]:
        """Result objects of compact scores. Plain construction: pydantic's validation of these flat models costs
        less than ``model_construct`` (~1.5 µs against ~3 µs an object, measured)."""
        classes = self.risk_model.classes
        qs, ps = part.q.tolist(), part.proba.tolist()
        levels = part.proba.argmax(axis=1).tolist()
        advisories = self.rules.decode(part.codes)
        findings = part.findings
        if any(fl and type(fl[0]) is tuple for fl in findings):  # from a worker: field values, in field order
            findings = [[Finding(**dict(zip(_FINDING_KEYS, f))) for f in fl] for fl in findings]
        out = []
        for i, shipment_id in enumerate(part.ids):
            delay = DelayOut(p50_hours=qs[i][0], p90_hours=qs[i][1],
                             reasons=part.delay_reasons[i] if part.delay_reasons else [])
            risk = RiskOut(level=classes[levels[i]], probabilities=Probabilities(**dict(zip(classes, ps[i]))),
                           reasons=part.risk_reasons[i] if part.risk_reasons else [])
            out.append(ScoreResult(shipment_id=shipment_id, findings=findings[i], delay=delay, risk=risk,
                                   advisories=advisories[i]))
        return out

    # ---- public API ----------------------------------------------------------------------------------------------
    def score(self, shipment: Shipment, *, explain: bool = True, route_options: Sequence[RouteOption] = ()
              ) -> ScoreResult:
        """One shipment: a batch of one. With ``route_options`` (validated by their schema) the batch also holds one
        copy of the shipment per option, its waybill changed accordingly, scored like any submitted shipment; the
        result's ``route_options`` ranks all of them, the shipment as submitted included."""
        changes: list[dict[str, str]] = []
        for option in route_options or ():
            if not isinstance(option, RouteOption):
                raise TypeError(f"a route option is a RouteOption, not {type(option).__name__}")
            changes.append(option.model_dump(exclude_none=True))
        alternatives = [shipment.model_copy(update={"waybill": shipment.waybill.model_copy(update=c)})
                        for c in changes]
        results = self.score_batch([shipment, *alternatives], explain=explain)
        result = results[0]
        if changes:
            result.route_options = _ranked(results, [{}, *changes])
        return result

    def score_batch(self, shipments: Sequence[Shipment], explain: bool = False) -> list[ScoreResult]:
        """Validated shipments, scored together: one predict call per model, the rules column-wise."""
        self._require()
        if not shipments:
            return []
        with collector_paused():
            return self._results(self._core(shipments, explain))

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
        with collector_paused():
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
            pool.submit(a, list(documents[a:a + size]), self.congestion).add_done_callback(on_done)

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
                                 portable: bool = False) -> Scored:
        """Validate and score one slice of documents (``start``: the position of its first). ``portable`` turns
        findings into tuples of their field values, cheap to send from a worker (:meth:`_results` rebuilds them)."""
        validate, validate_json = Shipment.model_validate, Shipment.model_validate_json
        raw = (bytes, str, bytearray)
        positions: list[int] = []
        errors: list[dict[str, Any]] = []

        def valid() -> Iterator[Shipment]:
            # a generator, so each shipment is checked and turned into a row right after its validation and then
            # dropped (see _core)
            for i, doc in enumerate(documents, start):
                try:
                    shipment = validate_json(doc) if isinstance(doc, raw) else validate(doc)
                except ValidationError as exc:
                    errors.extend({"index": i, **e} for e in error_details(exc))
                else:
                    positions.append(i)
                    yield shipment

        part = self._core(valid(), explain)
        part.positions, part.errors = positions, errors
        if portable:
            part.findings = [[_finding_values(f) for f in fl] for fl in part.findings]
        return part

    def _place(self, out: DocumentScores, part: Scored) -> None:
        """The result objects of one scored part, put at their documents' positions in ``out``."""
        out.errors.extend(part.errors)
        if part.ids:
            for i, result in zip(part.positions, self._results(part)):
                out.results[i] = result


def _ranked(results: Sequence[ScoreResult], options: Sequence[dict[str, str]]) -> list[RouteResult]:
    """Route results best first: lowest high-risk probability (to 4 decimals), then lowest P90 delay."""
    order = sorted(range(len(results)),
                   key=lambda i: (round(results[i].risk.probabilities.high, 4), results[i].delay.p90_hours))
    return [RouteResult(option=options[i], current=i == 0, rank=rank, delay=results[i].delay, risk=results[i].risk)
            for rank, i in enumerate(order, 1)]
