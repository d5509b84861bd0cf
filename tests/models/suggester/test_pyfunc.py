"""The MLflow pyfunc wrapper: log, load through MLflow, ``.native`` is the suggester, predict returns answers."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from models.suggester.suggester import HSSuggester

pytestmark = pytest.mark.slow


def test_pyfunc_roundtrip_through_mlflow(suggester, demo_library, tmp_path):
    import mlflow

    from models.suggester.pyfunc import log_pyfunc

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = mlflow.create_experiment("hs-pyfunc-test", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=exp):
        uri = log_pyfunc(suggester, tmp_path / "bundle")
    model = mlflow.pyfunc.load_model(uri)
    native = model.unwrap_python_model().native
    assert isinstance(native, HSSuggester)
    assert native.fingerprint == suggester.fingerprint

    r = demo_library[620]
    frame = pd.DataFrame([{"text": r.product_name, "declared_elements": json.dumps(r.declared_elements,
                                                                                   ensure_ascii=False)},
                          {"text": "不锈钢真空保温杯 500ml", "declared_elements": None}])
    out = model.predict(frame, params={"top_k": 3})
    assert isinstance(out, list) and len(out) == 2
    assert set(out[0]) >= {"query", "candidates", "answer", "needs_review", "reasons", "missing_elements", "model"}
    assert len(out[0]["candidates"]) <= 3
    assert out[0]["query"]["declared_elements"] == r.declared_elements
    direct = suggester.suggest(r.product_name, r.declared_elements, top_k=3)
    assert [c["code"] for c in out[0]["candidates"]] == [c.code for c in direct.candidates]
    json.dumps(out, ensure_ascii=False)  # JSON-able as promised

    only_text = model.predict(pd.DataFrame({"text": ["LED desk lamp"]}))
    assert len(only_text) == 1 and only_text[0]["candidates"]
