"""Small stand-ins with the real interfaces (contracts 7, 8, 11), registered as real MLflow pyfunc models.

They let the holder, hot-swap and concurrency tests run in seconds; the route tests also run against real tiny
champions (see conftest) when the suggester and scorer packages are importable.
"""

from __future__ import annotations

import threading
import time

import mlflow

from models.names import DELAY, RISK
from models.names import HS_SUGGESTER as HS


class FakeSuggester:
    """Answers with a fixed code; ``tag`` says which registered version answered. Detects concurrent misuse."""

    def __init__(self, tag: str, delay_s: float = 0.0):
        self.tag = tag
        self.delay_s = delay_s
        self.nomenclature = None
        self._inside = 0
        self._lock = threading.Lock()
        self.max_concurrency = 0
        self.calls: list[tuple[str, dict | None, int]] = []  # what the routes handed over: (text, elements, top_k)

    def _enter(self):
        with self._lock:
            self._inside += 1
            self.max_concurrency = max(self.max_concurrency, self._inside)

    def _leave(self):
        with self._lock:
            self._inside -= 1

    def _answer(self, text: str, declared_elements, top_k: int):
        from models.suggester.answer import SuggestionAnswer

        if text == "boom":
            raise RuntimeError("/secret/internal/path.py exploded")
        return SuggestionAnswer.model_validate({
            "query": {"text": text, "normalised": text.lower(), "language": "en",
                      "declared_elements": declared_elements or {}},
            "candidates": [{"code": code, "level": 6, "description_en": "Vacuum flasks" if i == 0 else None,
                            "description_zh": "保温瓶" if i == 0 else None, "confidence": round(0.9 / (i + 1), 4),
                            "evidence": []}
                           for i, code in enumerate(("961700", "732393", "392410", "701337", "481950"))][:top_k],
            "answer": {"code": "961700", "level": 6, "confidence": 0.9},
            "needs_review": False, "reasons": [], "missing_elements": [],
            "model": {"name": HS, "version": self.tag, "index_fingerprint": "fake", "encoder": "fake"}})

    def suggest(self, text, declared_elements=None, top_k=5):
        self.calls.append((text, declared_elements, top_k))
        self._enter()
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            return self._answer(text, declared_elements, top_k)
        finally:
            self._leave()

    def suggest_batch(self, items, top_k=5):
        return [self.suggest(i["text"], i.get("declared_elements"), top_k) for i in items]

    def validate(self, text, declared_code, declared_elements=None):
        from models.suggester.answer import ValidationAnswer

        suggestion = self.suggest(text, declared_elements, 3)
        agrees = declared_code.replace(".", "").startswith("961700")
        return ValidationAnswer.model_validate({
            "declared_code": declared_code, "agreement": {"hs6": agrees, "hs4": agrees},
            "declared_confidence": 0.9 if agrees else 0.01, "declared_confidence_hs4": 0.9 if agrees else 0.02,
            "suggested": suggestion.answer, "alternatives": suggestion.candidates, "needs_review": not agrees,
            "reasons": [], "suggestion": suggestion})


class FakeNative(mlflow.pyfunc.PythonModel):
    """A pyfunc whose ``.native`` (contract 8) is a fake domain object tagged with what was registered."""

    def __init__(self, kind: str, tag: str):
        self.kind = kind
        self.tag = tag

    def load_context(self, context):
        # A tag ending in "-slow" makes every answer take 0.3 s: in-flight requests during a swap.
        delay = 0.3 if self.tag.endswith("-slow") else 0.0
        self.native = (FakeSuggester(self.tag, delay) if self.kind == HS
                       else {"kind": self.kind, "tag": self.tag, "delay_s": delay})

    def predict(self, context, model_input, params=None):
        return [self.tag] * len(model_input)


class OverlayNative(mlflow.pyfunc.PythonModel):
    """A pyfunc whose ``.native`` really searches a few seed rulings and grows with ``add_rulings``."""

    def load_context(self, context):
        from data.nomenclature import Nomenclature
        from tests.serving.console.fakes import AnsweringOverlaySuggester, seed_rulings

        self.native = AnsweringOverlaySuggester(seed_rulings(), Nomenclature.default())

    def predict(self, context, model_input, params=None):
        return [None] * len(model_input)


class PoolLessScorer:
    """The scorer's worker-pool life cycle (``warm``/``retire``/``close``) for fakes that have no pool."""

    def warm(self):
        pass

    def retire(self, grace_s):
        pass

    def close(self):
        pass


class FakeScorer(PoolLessScorer):
    """Scores every shipment as 'low' and names the risk tag that answered."""

    def __init__(self, delay: dict, risk: dict):
        from data.nomenclature import Nomenclature

        self.delay, self.risk, self.delay_s = delay, risk, risk.get("delay_s", 0.0)
        self.nomenclature = Nomenclature.default()
        self.calls: list[tuple[str, bool, list]] = []  # what the routes handed over: (shipment id, explain, options)

    def score(self, shipment, *, explain=True, route_options=None):
        from models.scoring import ScoreResult

        self.calls.append((shipment.shipment_id, explain, list(route_options or [])))
        if self.delay_s:
            time.sleep(self.delay_s)
        return ScoreResult.model_validate({
            "shipment_id": shipment.shipment_id, "findings": [],
            "delay": {"p50_hours": 10.0, "p90_hours": 30.0, "reasons": []},
            "risk": {"level": "low", "probabilities": {"low": 0.8, "medium": 0.15, "high": 0.05}, "reasons": []},
            "advisories": [], "route_options": []})

    def score_batch(self, shipments, explain=False):
        return [self.score(s, explain=explain) for s in shipments]

    def score_documents(self, documents, *, explain=False):
        """The real contract: dicts or raw JSON text in, errors relative to the document, invalid items kept as None."""
        from pydantic import ValidationError

        from data.shipments.schema import Shipment, error_details
        from models.scoring import DocumentScores

        out = DocumentScores(results=[None] * len(documents))
        for i, doc in enumerate(documents):
            try:
                shipment = (Shipment.model_validate_json(doc) if isinstance(doc, (bytes, str))
                            else Shipment.model_validate(doc))
            except ValidationError as exc:
                out.errors.extend({"index": i, **e} for e in error_details(exc))
            else:
                out.results[i] = self.score(shipment, explain=explain)
        return out


def compose_fakes(natives):
    return natives[HS], FakeScorer(natives[DELAY], natives[RISK])
