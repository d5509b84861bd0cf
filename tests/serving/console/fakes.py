"""Stand-ins behind the suggester/scorer contracts for the console and feedback tests, and an app around them.

``OverlaySuggester`` really searches its rulings (character-bigram overlap) and really grows with ``add_rulings``, so
the feedback loop is tested end to end without an encoder; the browser test uses the real tiny models.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from data.nomenclature import Nomenclature
from data.rulings.schema import Ruling
from models.names import HS_SUGGESTER
from serving.served import ServedModels, ServedVersion
from tests.serving.fakes import PoolLessScorer


def _bigrams(text: str) -> set[str]:
    t = "".join(text.lower().split())
    return {t[i:i + 2] for i in range(len(t) - 1)} or {t}


class OverlaySuggester:
    """``add_delay_s`` makes adding rulings slow (as encoding them is), so a test can see who asks meanwhile."""

    def __init__(self, rulings: list[Ruling], nomenclature: Nomenclature, threshold: float = 0.5,
                 tag: str = "overlay", add_delay_s: float = 0.0):
        self.tag = tag
        self.add_delay_s = add_delay_s
        self._rulings = tuple(rulings)
        self._base = len(self._rulings)
        self.ruling_ids = [r.ruling_id for r in rulings]
        self.nomenclature = nomenclature
        self.threshold = threshold
        self.fingerprint = "fake-index-0001"
        self.encoder_name = "bigram-fake"
        self.fail_next_add = False

    @property
    def n_rulings(self) -> int:
        return len(self._rulings)

    def add_rulings(self, rulings: list[Ruling]) -> None:
        if self.fail_next_add:
            self.fail_next_add = False
            raise RuntimeError("index busy")
        if self.add_delay_s:
            time.sleep(self.add_delay_s)
        self._rulings = self._rulings + tuple(rulings)  # copy-on-write: readers keep the tuple they started with

    def overlay_rulings(self) -> list[Ruling]:
        return list(self._rulings[self._base:])

    def suggest(self, text: str, declared_elements: dict | None = None, top_k: int = 5) -> dict[str, Any]:
        rulings = self._rulings
        q = _bigrams(text)
        scored = sorted(((len(q & _bigrams(r.product_name)) / len(q | _bigrams(r.product_name)), r) for r in rulings),
                        key=lambda x: -x[0])[:20]
        by_code: dict[str, list[tuple[float, Ruling]]] = {}
        for sim, r in scored:
            if sim > 0:
                by_code.setdefault(r.hs_code[:6], []).append((sim, r))
        total = sum(s for items in by_code.values() for s, _ in items) or 1.0
        candidates = []
        for code, items in sorted(by_code.items(), key=lambda kv: -sum(s for s, _ in kv[1]))[:top_k]:
            entry = self.nomenclature.describe(code)
            candidates.append({
                "code": code, "level": 6, "description_en": entry.en if entry else None,
                "description_zh": entry.zh if entry else None, "confidence": sum(s for s, _ in items) / total,
                "evidence": [{"ruling_id": r.ruling_id, "text": r.product_name, "hs_code": r.hs_code,
                              "similarity": s, "source": r.source.value, "ruling_date": r.ruling_date}
                             for s, r in items[:3]]})
        top = candidates[0] if candidates else None
        confident = top is not None and top["confidence"] >= self.threshold
        declared = declared_elements or {}
        return {
            "query": {"text": text, "normalised": text.lower(), "language": "zh", "declared_elements": declared},
            "candidates": candidates,
            "answer": {"code": top["code"], "level": 6, "confidence": top["confidence"]} if confident else None,
            "needs_review": not confident,
            "reasons": [] if confident else [{"code": "low_confidence", "en": "No candidate is confident enough",
                                              "zh": "没有足够可信的候选"}],
            "missing_elements": [k for k in ("材质", "用途", "品牌") if k not in declared],
            "model": {"name": HS_SUGGESTER, "version": "3", "index_fingerprint": self.fingerprint,
                      "encoder": self.encoder_name},
        }


class AnsweringOverlaySuggester(OverlaySuggester):
    """Answers with ``SuggestionAnswer`` objects, as ``HSSuggester`` does (what the CLI prints)."""

    def suggest(self, text: str, declared_elements: dict | None = None, top_k: int = 5):
        from models.suggester.answer import SuggestionAnswer

        return SuggestionAnswer.model_validate(super().suggest(text, declared_elements, top_k))

    def suggest_batch(self, items, top_k: int = 5):
        return [self.suggest(i if isinstance(i, str) else i["text"],
                             None if isinstance(i, str) else i.get("declared_elements"), top_k) for i in items]

    def validate(self, text: str, declared_code: str, declared_elements: dict | None = None):
        """The HSSuggester contract over the fake's answer: agreement when the declared code starts a candidate."""
        from data.errors import InvalidInputError, field_error
        from data.rulings.schema import normalise_hs_code
        from models.suggester.answer import ValidationAnswer

        try:
            code = normalise_hs_code(declared_code, lengths=(4, 6, 8, 10))
        except ValueError as exc:
            raise InvalidInputError(f"declared_code: {exc}", details=[field_error("declared_code", str(exc))]) from None
        suggestion = self.suggest(text, declared_elements, 3)
        agrees = any(c.code.startswith(code[:6]) for c in suggestion.candidates)
        return ValidationAnswer.model_validate({
            "declared_code": code, "agreement": {"hs6": agrees, "hs4": agrees},
            "declared_confidence": 0.9 if agrees else 0.01, "declared_confidence_hs4": 0.9 if agrees else 0.02,
            "suggested": suggestion.answer, "alternatives": suggestion.candidates, "needs_review": not agrees,
            "reasons": [], "suggestion": suggestion})


class FixedScorer(PoolLessScorer):
    """Real data-quality findings (H3's checks), fixed delay/risk numbers: enough to test the page and the CSV."""

    def __init__(self, nomenclature: Nomenclature):
        self.nomenclature = nomenclature
        self.calls: list[int] = []

    def score_batch(self, shipments, explain=False):
        from features.checks import run_checks

        self.calls.append(len(shipments))
        out = []
        for s in shipments:
            findings = [f.model_dump(mode="json") for f in run_checks(s, self.nomenclature)]
            out.append({
                "shipment_id": s.shipment_id, "findings": findings,
                "delay": {"p50_hours": 30.0, "p90_hours": 70.5, "reasons": [
                    {"feature": "channel", "en": "Sea LCL raises the P90 delay by 12.0 h", "zh": "海运拼箱：P90 通关时长增加 12.0 小时", "impact": 12.0,
                     "unit": "hours"}]},
                "risk": {"level": "high", "probabilities": {"low": 0.1, "medium": 0.2, "high": 0.7}, "reasons": [
                    {"feature": "lithium_to_us", "en": "Lithium battery to the US without a certified channel raises the high-risk probability by 31.0 points",
                     "zh": "锂电池发往美国且未走认证渠道：高风险概率提高 31.0 个百分点", "impact": 0.31, "unit": "probability"}]},
                "advisories": [{"rule_id": "lithium_us", "en": "Use a battery-certified channel",
                                "zh": "请使用带电认证渠道"}],
                "route_options": []})
        return out


class StaticHolder:
    """The holder interface the app uses (current/peek/add_listener/start/stop) around one fixed snapshot.

    ``overlays`` (a ``ReviewerOverlays``) keeps the suggester in step with feedback as a loaded set is; without it,
    feedback reaches only the suggester the request used.
    """

    def __init__(self, suggester: Any, scorer: Any, run_id: str | None = None, version: int = 3,
                 overlays: Any = None):
        now = datetime.now(UTC)
        versions = {HS_SUGGESTER: ServedVersion(name=HS_SUGGESTER, version=version, run_id=run_id,
                                                metrics=MappingProxyType({"hs6_top1": 0.91}), source="registry",
                                                uri=f"models:/{HS_SUGGESTER}/{version}", served_since=now,
                                                loaded_at=now)}
        self.snapshot = ServedModels(suggester=suggester, scorer=scorer, versions=MappingProxyType(versions),
                                     natives=MappingProxyType({HS_SUGGESTER: suggester}), stale=False, created_at=now,
                                     overlays=overlays)

    def current(self) -> ServedModels:
        return self.snapshot

    def peek(self) -> ServedModels:
        return self.snapshot

    def add_listener(self, fn) -> None:
        fn(self.snapshot)

    def start(self, poll: bool = True) -> None:
        pass

    def stop(self, timeout: float = 10.0) -> None:
        pass


def seed_rulings() -> list[Ruling]:
    rows = [
        ("不锈钢真空保温杯 500ml", "9617009000"), ("stainless steel vacuum flask 750ml", "9617009000"),
        ("不锈钢保温壶 1L 户外", "9617009000"), ("LED台灯 USB充电 护眼", "9405210000"),
        ("LED desk lamp rechargeable", "9405210000"), ("儿童塑料积木玩具 500片", "9503009000"),
        ("kids plastic building blocks set", "9503009000"), ("不锈钢炒锅 32cm 家用", "7323930000"),
        ("stainless steel frying pan 28cm", "7323930000"), ("锂离子电池 18650 3.7V", "8507600000"),
    ]
    return [Ruling(product_name=t, hs_code=c, source="customs_ruling", ruling_date="2024-05-01") for t, c in rows]


def console_app(settings, holder):
    """The real service (``serving.app.create_app``) around ``holder``; models are not loaded from a registry."""
    from serving.app import create_app

    return create_app(settings, holder=holder, start_models=False)


# ------------------------------------------------------------------------------------------------ page helpers
ALL_SCOPES = ("suggest", "score", "admin")


class FakeClock:
    """A console-session clock the test moves by hand (``clock.now += 3600``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def build_console(settings, nomenclature, *, clock=None, seeded: bool = True, holder=None):
    """The console app over fake models (a suggester that searches ``seed_rulings``, a fixed scorer); the seed
    rulings are stored too when ``seeded``. Returns (app, holder)."""
    from data.rulings.repository import RulingRepository
    from serving.console.sessions import SessionStore

    holder = holder or StaticHolder(OverlaySuggester(seed_rulings(), nomenclature), FixedScorer(nomenclature))
    app = console_app(settings, holder)
    if clock is not None:
        app.state.console_sessions = SessionStore(app.state.engine, clock=clock)
    if seeded:
        RulingRepository(app.state.engine).upsert_many(seed_rulings())
    return app, holder


def sign_in(client, *scopes: str, name: str | None = None, use_header: bool = True) -> str:
    """Create a key, sign in through the form, and (``use_header``) send the session's CSRF token on every request."""
    from data.store.keys import create_key
    from serving.console.auth import SESSION_COOKIE

    _, key = create_key(client.app.state.engine, name or f"staff-{'-'.join(scopes)}", list(scopes or ALL_SCOPES))
    client.cookies.delete(SESSION_COOKIE)  # a signed-in browser is sent on from /signin
    client.headers.pop("X-CSRF-Token", None)
    form = client.get("/signin")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text).group(1)
    response = client.post("/signin", data={"api_key": key, "signin_token": token, "next": "/models"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    if use_header:
        client.headers["X-CSRF-Token"] = csrf_token(client)
    return key


def csrf_token(client) -> str:
    page = client.get("/models")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def page_context(page: str) -> str:
    """The suggestion context a classify result page carries into its feedback form."""
    match = re.search(r'name="context" value="([^"]*)"', page)
    assert match, "the result page carries the suggestion context into the feedback form"
    return html.unescape(match.group(1))


def stored(client) -> tuple[int, int]:
    """(rulings, review-log rows) in the console's store."""
    from data.rulings.repository import RulingRepository
    from data.store.reviews import count_reviews

    engine = client.app.state.engine
    return RulingRepository(engine).count(), count_reviews(engine)
