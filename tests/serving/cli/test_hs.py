"""CLI: clearance hs build / suggest / validate against a temporary store."""

from __future__ import annotations

import json

import pytest

from data.errors import ClearanceError, InvalidInputError

pytestmark = pytest.mark.slow


def test_build_then_suggest_and_validate(cli, tmp_path):
    from demo.rulings import write_demo_rulings

    path = write_demo_rulings(tmp_path / "lib.jsonl", n=300, seed=4)
    assert cli("rulings", "import", path).exit_code == 0
    built = cli("hs", "build")
    assert built.exit_code == 0, built.output
    assert (tmp_path / "var" / "hs-suggester" / "meta.json").is_file()

    out = cli("hs", "suggest", "不锈钢真空保温杯 500ml", "--top-k", "3", "--json")
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert len(body["candidates"]) <= 3 and body["query"]["text"] == "不锈钢真空保温杯 500ml"
    assert {"answer", "needs_review", "reasons", "missing_elements", "model"} <= set(body)

    table = cli("hs", "suggest", "LED desk lamp", "--elements", "材质:铝|用途:照明")
    assert table.exit_code == 0 and "HS candidates" in table.output

    checked = cli("hs", "validate", "LED desk lamp", "9405.20")
    assert checked.exit_code == 0, checked.output
    body = json.loads(checked.output)
    assert body["declared_code"] == "940520" and set(body["agreement"]) == {"hs6", "hs4"}


def test_bad_input_is_a_clear_error(cli, tmp_path):
    from demo.rulings import write_demo_rulings

    cli("rulings", "import", write_demo_rulings(tmp_path / "lib.jsonl", n=80, seed=4))
    assert cli("hs", "build").exit_code == 0
    res = cli("hs", "suggest", "   ")
    assert isinstance(res.exception, InvalidInputError)
    assert res.exception.details[0]["field"] == "text"
    res = cli("hs", "validate", "lamp", "94x5")
    assert isinstance(res.exception, InvalidInputError)
    res = cli("hs", "suggest", "lamp", "--elements", "no separator here")
    assert isinstance(res.exception, InvalidInputError)


def test_build_on_empty_store_is_a_cold_start_suggester(cli):
    built = cli("hs", "build")
    assert built.exit_code == 0, built.output
    out = cli("hs", "suggest", "fresh boneless beef", "--json", "--elements", "Material: beef|用途: 食用")
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert body["evidence_basis"] == "tariff_text" and body["needs_review"] is True
    assert body["candidates"][0]["code"][:2] == "02" and body["candidates"][0]["tariff_evidence"]
    assert body["query"]["declared_elements"] == {"材质": "beef", "用途": "食用"}


def test_suggest_without_model(cli):
    res = cli("hs", "suggest", "lamp", "--model-dir", "/nonexistent/bundle")
    assert isinstance(res.exception, ClearanceError)
