"""Cross-lingual retrieval: Chinese queries find English rulings of the same product and vice versa (USE encoder)."""

from __future__ import annotations

import re

import pytest

from data.rulings.schema import Ruling
from training.hs import build_suggester

pytestmark = pytest.mark.slow

FLASK_EN = [
    ("stainless steel vacuum flask 500ml", "961700"), ("double wall insulated thermos bottle", "961700"),
    ("LED desk lamp with USB charging", "940520"), ("table lamp for bedroom, dimmable LED", "940520"),
    ("cotton men's knitted T-shirt", "610910"), ("short sleeve cotton tee shirt for women", "610910"),
    ("plastic building blocks toy set for children", "950300"), ("kids puzzle toy made of plastic", "950300"),
    ("lithium-ion battery pack 18650", "850760"), ("rechargeable lithium ion cell 3.7V", "850760"),
    ("wooden dining chair", "940161"), ("upholstered armchair with wooden frame", "940161"),
]
FLASK_ZH = [
    ("不锈钢真空保温杯 500ml", "961700"), ("双层保温水壶", "961700"),
    ("LED台灯 USB充电", "940520"), ("卧室床头灯 可调光", "940520"),
    ("男士纯棉针织T恤", "610910"), ("女式短袖棉质T恤", "610910"),
    ("儿童塑料积木玩具套装", "950300"), ("儿童塑料拼图玩具", "950300"),
    ("18650锂离子电池组", "850760"), ("3.7V可充电锂电池", "850760"),
    ("木制餐椅", "940161"), ("木框架软垫扶手椅", "940161"),
]


def _library(pairs):
    return [Ruling(product_name=t, hs_code=c, source="customs_ruling") for t, c in pairs]


@pytest.mark.parametrize("library, queries", [(FLASK_EN, FLASK_ZH), (FLASK_ZH, FLASK_EN)], ids=["zh->en", "en->zh"])
def test_query_in_one_language_finds_rulings_in_the_other(use_encoder, library, queries):
    s = build_suggester(_library(library), encoder=use_encoder, progress=False)
    hits = dense_hits = 0
    for text, code in queries:
        # Latin tokens (LED, USB, 18650) would match lexically; drop them so only meaning can bridge the languages.
        query = re.sub(r"[A-Za-z0-9.]+", " ", text) if re.search(r"[\u4e00-\u9fff]", text) else text
        ans = s.suggest(query)
        raw = s.score_texts([query])[0]
        dense_hits += s.ruling_codes[raw.dense[1][0]] == code  # nearest ruling by meaning alone
        if ans.candidates[0].code == code:
            hits += 1
            assert any(ev.hs_code == code for ev in ans.candidates[0].evidence)
    assert dense_hits >= 9, f"{dense_hits}/12 nearest rulings are the same product"  # chance is 2/12
    assert hits >= 7, f"{hits}/12 answers are the right code"


def test_cross_lingual_on_generated_library(use_encoder, demo_library):
    en = [r for r in demo_library if r.language == "en"]
    zh = [r for r in demo_library if r.language == "zh"]
    s = build_suggester(en, encoder=use_encoder, progress=False)
    known = set(s.codes6)
    queries = [r for r in zh if r.hs6 in known][:80]
    texts = [re.sub(r"[A-Za-z0-9\-]+", " ", q.product_name) for q in queries]
    raws = s.score_texts(texts)
    hit5 = sum(q.hs6 in {s.ruling_codes[i][:6] for i in raw.dense[1][:5] if i >= 0} for raw, q in zip(raws, queries))
    assert hit5 / len(queries) >= 0.35  # chance with ~160 codes is about 3%
