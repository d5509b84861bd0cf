"""The one loader of served sets (``serving.served``): the service, ``clearance risk score`` and ``clearance hs
suggest`` get the same composition — same rules, the store's nomenclature, reviewer rulings replayed.

Real small delay/risk models (tests/models/shipment_models.py) are registered as champions next to the fake HS
suggester, so the scorer is the real ``ShipmentScorer`` with real findings.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from data.errors import ClearanceError, UnavailableError
from data.settings import Settings
from data.shipments.examples import example_shipment
from data.store.db import open_store
from models.names import DELAY, HS_SUGGESTER, RISK
from serving.feedback.service import Decision, record_decision
from serving.served import load_served
from tests.serving.conftest import copy_registry, register_model, wait_ready
from tests.serving.fakes import OverlayNative

pytestmark = pytest.mark.slow

#: Chinese tariff lines under the example's subheadings; the example declares 6109.10.00.00, which is not one of them.
NATIONAL = "code8,hs6,year,zh,en\n61091010,610910,2025,棉制针织T恤衫,Cotton T-shirts knitted\n" \
           "39231000,392310,2025,塑料盒箱,Plastic boxes and cases\n"


def _register_native(settings: Settings, name: str, native, tmp: Path) -> int:
    from models.tabular_pyfunc import NativePyfunc

    path = tmp / f"{name}.pkl"
    path.write_bytes(pickle.dumps(native, protocol=pickle.HIGHEST_PROTOCOL))
    return register_model(settings, name, NativePyfunc(), artifacts={"native": str(path)})


@pytest.fixture(scope="session")
def scorer_registry(fake_registry: Path, tmp_path_factory) -> Path:
    """The fake registry plus real small delay and risk models as their champions (v2)."""
    from tests.models.shipment_models import small_models

    root = copy_registry(fake_registry, tmp_path_factory.mktemp("scorer-registry"))
    settings = Settings(data_dir=root)
    delay, risk = small_models()
    for name, native in ((DELAY, delay), (RISK, risk)):
        assert _register_native(settings, name, native, root) == 2
    return root


@pytest.fixture
def scorer_settings(scorer_registry: Path, tmp_path: Path) -> Settings:
    """A private copy in ``tmp_path/var``: the data dir the ``cli`` fixture points the CLI at."""
    return Settings(data_dir=copy_registry(scorer_registry, tmp_path / "var"), reload_interval_s=3600,
                    auth_disabled=True)


def _cli_findings(cli, tmp_path: Path) -> list[dict]:
    out = tmp_path / "scored.jsonl"
    result = cli("risk", "score", tmp_path / "shipment.json", "--no-explain", "--workers", 0, "--out", out)
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    return line["result"]["findings"]


def test_risk_score_cli_checks_codes_against_the_store_nomenclature_like_the_service(cli, scorer_settings,
                                                                                     tmp_path):
    (tmp_path / "shipment.json").write_text(json.dumps(example_shipment()))
    assert [f["code"] for f in _cli_findings(cli, tmp_path)] == []  # HS2022 only: the 10-digit codes pass at HS6
    (tmp_path / "tariff.csv").write_text(NATIONAL)
    imported = cli("nomenclature", "import", tmp_path / "tariff.csv")
    assert imported.exit_code == 0, imported.output

    findings = _cli_findings(cli, tmp_path)
    invalid = [f for f in findings if f["code"] == "HS_CODE_INVALID"]
    assert len(invalid) == 1 and "6109100000" in invalid[0]["message_en"], findings
    assert "HS2022+CN2025" in invalid[0]["message_en"]

    from serving.app import create_app

    with TestClient(create_app(scorer_settings, poll=False)) as client:  # the service's own loader
        wait_ready(client)
        response = client.post("/v1/risk/score", json={"shipment": example_shipment(), "explain": False})
        assert response.status_code == 200, response.text
        assert response.json()["findings"] == findings
        assert response.json()["model_versions"] == {DELAY: 2, HS_SUGGESTER: 1, RISK: 2}


def test_load_served_builds_only_the_models_asked_for_under_the_alias(scorer_settings):
    from models.scoring import ShipmentScorer

    served = load_served(scorer_settings.model_copy(update={"score_workers": 3}), names=(DELAY, RISK))
    assert served.suggester is None and isinstance(served.scorer, ShipmentScorer)
    assert served.scorer.workers == 3  # settings.score_workers, as the service's scorer
    assert served.scorer.delay_model is served.natives[DELAY] and served.scorer.risk_model is served.natives[RISK]
    assert served.version_map() == {DELAY: 2, RISK: 2} and not served.stale
    assert load_served(scorer_settings, names=(DELAY, RISK), workers=0).scorer.workers == 0
    cache = scorer_settings.model_cache_dir
    assert (cache / DELAY / "2" / ".complete").is_file()  # loaded through the model cache …
    assert not (cache / "manifest.json").exists()  # … which only the holder marks as the last served set
    with pytest.raises(ClearanceError) as info:
        load_served(scorer_settings, "challenger", names=(DELAY, RISK))  # promotion cleared the challenger alias
    assert info.value.code == "registry_unavailable" and "no challenger" in info.value.message


def test_risk_score_cli_names_the_alias_it_could_not_load(cli, scorer_settings, tmp_path):
    (tmp_path / "shipment.json").write_text(json.dumps(example_shipment()))
    result = cli("risk", "score", tmp_path / "shipment.json", "--alias", "challenger")
    error = result.exception  # the CLI's entry point prints ClearanceErrors without a traceback
    assert isinstance(error, UnavailableError) and "under alias 'challenger'" in error.message
    assert "clearance train" in error.message and {d["field"] for d in error.details} == {DELAY, RISK}


def test_hs_suggest_cli_answers_with_the_reviewer_rulings_like_the_service(cli, scorer_settings):
    register_model(scorer_settings, HS_SUGGESTER, OverlayNative())  # v2: a suggester that really searches
    text = "不锈钢真空保温杯 650ml"
    decision = Decision(text=text, action="override", suggested_code="961700", final_code="7323.93.00",
                        reason="kitchenware", reviewer="王芳")
    stored = record_decision(open_store(scorer_settings.database_url), None, decision).ruling
    result = cli("hs", "suggest", text, "--json")
    assert result.exit_code == 0, result.output
    evidence = [e for c in json.loads(result.output)["candidates"] for e in c["evidence"]]
    top = max(evidence, key=lambda e: e["similarity"])
    assert (top["ruling_id"], top["source"], top["hs_code"]) == (stored.ruling_id, "reviewer", "73239300")
