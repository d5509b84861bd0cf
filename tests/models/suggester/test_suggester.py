"""HSSuggester behaviour on a generated library: answer shape, hierarchy, evidence, review flags, bad input."""

from __future__ import annotations

import pytest

from data.errors import InvalidInputError
from models.suggester.answer import SuggestionAnswer

pytestmark = pytest.mark.slow  # one suggester build per session (~20 s), shared by every test here


def test_answer_shape_and_ranking(suggester, demo_library):
    r = demo_library[0]
    ans = suggester.suggest(r.product_name, top_k=5)
    assert isinstance(ans, SuggestionAnswer)
    assert 1 <= len(ans.candidates) <= 5
    confs = [c.confidence for c in ans.candidates]
    assert confs == sorted(confs, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confs)
    assert len({c.code for c in ans.candidates}) == len(ans.candidates)
    assert ans.model.encoder == suggester.encoder_name
    assert ans.model.index_fingerprint == suggester.fingerprint
    assert ans.query.text == r.product_name and ans.query.language in {"zh", "en", "mixed"}
    dumped = ans.model_dump(mode="json")
    assert set(dumped) >= {"query", "candidates", "answer", "needs_review", "reasons", "missing_elements", "model"}


def test_known_ruling_text_comes_back_with_its_code_and_itself_as_evidence(suggester, demo_library):
    hits = 0
    for r in demo_library[:40]:
        ans = suggester.suggest(r.product_name, r.declared_elements)
        top = ans.candidates[0]
        if top.code == r.hs6:
            hits += 1
            assert any(ev.ruling_id == r.ruling_id for c in ans.candidates for ev in c.evidence) or \
                any(ev.similarity > 0.9 for ev in top.evidence)
    assert hits >= 36  # in-library texts: the library must know its own rulings


def test_hierarchy_is_consistent(suggester, demo_library):
    for r in demo_library[600:650]:
        ans = suggester.suggest(r.product_name)
        top = ans.candidates[0]
        levels = [h.level for h in ans.hierarchy]
        assert levels[:3] == [2, 4, 6]
        hs2, hs4, hs6 = ans.hierarchy[:3]
        assert hs6.code == top.code and hs4.code == top.code[:4] == top.parent_hs4 and hs2.code == top.code[:2]
        assert hs2.confidence >= hs4.confidence >= hs6.confidence
        if len(ans.hierarchy) > 3:
            nat = ans.hierarchy[3]
            assert nat.code.startswith(top.code) and nat.confidence <= hs6.confidence
        for c in ans.candidates:
            assert c.confidence_hs4 >= c.confidence
            assert all(n.code.startswith(c.code) for n in c.national)
        if ans.answer is not None:
            assert top.code.startswith(ans.answer.code) or ans.answer.code.startswith(top.code)
            assert ans.answer.confidence >= suggester.params.threshold
            assert ans.answer.level >= 4 and not ans.needs_review


def test_evidence_fields(suggester, demo_library):
    ids = set(suggester.ruling_ids)
    ans = suggester.suggest(demo_library[610].product_name, top_k=5)
    assert ans.candidates[0].evidence, "the top candidate must carry its supporting rulings"
    for c in ans.candidates:
        for ev in c.evidence:
            assert ev.ruling_id in ids
            assert ev.hs_code.startswith(c.code)
            assert 0.0 <= ev.similarity <= 1.0
            assert ev.source in {"customs_ruling", "pre_classification", "declaration", "reviewer"}
            assert ev.text and ev.channel in {"lexical", "dense", "overlay"}
        sims = [ev.similarity for ev in c.evidence]
        assert sims == sorted(sims, reverse=True)


def test_gibberish_needs_review_with_reason_and_missing_elements(suggester):
    ans = suggester.suggest("zqxj vvkp wmbr qqqq")
    assert ans.needs_review is True
    assert ans.answer is None
    assert ans.reasons and all(r.en and r.zh for r in ans.reasons)
    assert "品名" not in ans.missing_elements  # the text itself is the name
    assert {"用途", "材质"} <= set(ans.missing_elements)


def test_declared_elements_are_not_reported_missing(suggester):
    ans = suggester.suggest("zqxj vvkp wmbr", {"材质": "不锈钢", "brand": "Acme"})
    assert "材质" not in ans.missing_elements and "品牌" not in ans.missing_elements
    # English attribute names are echoed as the 申报要素 they map to.
    assert ans.query.declared_elements == {"材质": "不锈钢", "品牌": "Acme"}


def test_confident_answers_on_held_out_demo_queries(suggester, demo_library):
    queries = demo_library[600:700]
    answers = suggester.suggest_batch([{"text": r.product_name, "declared_elements": r.declared_elements}
                                       for r in queries])
    confident = [(a, r) for a, r in zip(answers, queries) if a.answer is not None]
    top1 = sum(a.candidates[0].code == r.hs6 for a, r in zip(answers, queries)) / len(queries)
    assert top1 >= 0.4  # generated titles are hard: the TF-IDF+SVM baseline gets 0.45 here
    # The threshold comes from a 120-ruling validation split here, so coverage is noisy: 14 to 39 of these 100
    # queries across equally good builds (measured while changing what the dense channel embeds; top-1 0.49-0.54,
    # accuracy of the confident answers 0.87-0.94). What must hold: a real share is answered, and mostly right.
    # Open world (issue 14): calibrated on a validation split that also holds out whole codes, so on this small
    # generated library few answers (often none) clear the 90 % bar; those that do must be mostly right.
    if confident:
        assert sum(r.hs_code.startswith(a.answer.code) for a, r in confident) / len(confident) >= 0.75


@pytest.mark.parametrize("text, field", [("", "text"), ("   \n\t", "text"), (None, "text"), (123, "text")])
def test_bad_text_is_a_field_error(suggester, text, field):
    with pytest.raises(InvalidInputError) as err:
        suggester.suggest(text)
    assert err.value.details[0]["field"] == field
    assert err.value.details[0]["reason"]


@pytest.mark.parametrize("top_k", [0, 51, -1, 2.5, "5", True])
def test_bad_top_k(suggester, top_k):
    with pytest.raises(InvalidInputError) as err:
        suggester.suggest("保温杯", top_k=top_k)
    assert err.value.details[0]["field"] == "top_k"


def test_bad_elements_and_batch_items(suggester):
    with pytest.raises(InvalidInputError) as err:
        suggester.suggest("保温杯", declared_elements=["材质", "钢"])  # type: ignore[arg-type]
    assert err.value.details[0]["field"] == "declared_elements"
    with pytest.raises(InvalidInputError) as err:
        suggester.suggest_batch(["保温杯", {"text": ""}])
    assert err.value.details[0]["field"] == "items.1.text"  # the one path syntax (data.errors.error_path)
    with pytest.raises(InvalidInputError) as err:
        suggester.suggest_batch(["保温杯", 42])
    assert err.value.details[0]["field"] == "items.1"
    with pytest.raises(InvalidInputError):
        suggester.suggest_batch([42])


def test_text_length_is_not_the_suggesters_business(suggester, demo_library):
    # Limits are the request schemas' (settings); a bundle must answer whatever length the service admits, or one
    # long item fails a whole batch when the setting is raised above a frozen value.
    assert not hasattr(suggester.params, "max_text_chars")
    long_text = demo_library[0].product_name + " " + "保温" * 1500  # 3000+ characters
    answers = suggester.suggest_batch(["保温杯", {"text": long_text}, "LED desk lamp"])
    assert len(answers) == 3 and all(a.candidates for a in answers)


def test_an_old_bundle_with_a_frozen_text_limit_loads_and_ignores_it(suggester, use_encoder, tmp_path):
    import pickle

    from models.suggester.bundle import BUNDLE_FILE
    from models.suggester.suggester import HSSuggester

    folder = suggester.save(tmp_path / "old")
    with open(folder / BUNDLE_FILE, "rb") as fh:
        state = pickle.load(fh)
    state["params"].max_text_chars = 2000  # what bundles saved before the limits moved to the settings carry
    with open(folder / BUNDLE_FILE, "wb") as fh:
        pickle.dump(state, fh)
    loaded = HSSuggester.load(folder, encoder=use_encoder)
    assert not hasattr(loaded.params, "max_text_chars")
    assert loaded.params == suggester.params
    assert loaded.suggest("保温杯 " * 500).candidates  # 2,000+ characters: no frozen limit applies


def test_validate_agreement_and_alternatives(suggester, demo_library):
    r = demo_library[1]
    good = suggester.validate(r.product_name, r.hs_code, r.declared_elements)
    top = good.suggestion.candidates[0].code
    assert good.agreement.hs6 == (top == r.hs6)
    assert good.agreement.hs4 == (top[:4] == r.hs_code[:4])
    assert all(c.code != r.hs6 for c in good.alternatives)
    wrong = "950300" if not r.hs6.startswith("95") else "850440"
    bad = suggester.validate(r.product_name, wrong)
    assert bad.agreement.hs6 is False and bad.needs_review is True
    assert bad.declared_confidence <= good.declared_confidence
    assert bad.reasons


@pytest.mark.parametrize("code", ["12", "abcd12", "", "7799000000", "1234567"])
def test_validate_rejects_invalid_codes(suggester, code):
    with pytest.raises(InvalidInputError) as err:
        suggester.validate("保温杯", code)
    assert err.value.details[0]["field"] == "declared_code"


def test_channel_search_is_what_scoring_fuses_and_tuning_reads(suggester, demo_library):
    """One search path: texts or precomputed rows give the same hits, in one chunk or several, and the answer's
    neighbours and fused distribution are those hits under the bundle's temperatures and weights."""
    import numpy as np

    from features.text import compose_text
    from models.suggester.channels import class_votes
    from models.suggester.suggester import CHUNK
    from models.suggester.supervised import softmax

    texts = [compose_text(r.product_name, "", r.declared_elements) for r in demo_library[400:700]]
    assert len(texts) > CHUNK  # the batch is searched in two chunks
    hits = suggester.search_channels(texts)
    rows = suggester.search_channels(features=suggester.features.transform(texts),
                                     embeddings=suggester.encoder.encode(texts))
    for name in ("lex_s", "lex_refs", "lex_c", "dense_s", "dense_refs", "dense_c", "margins"):
        np.testing.assert_array_equal(getattr(hits, name), getattr(rows, name), err_msg=name)
    p = suggester.params
    width = hits.margins.shape[1]
    sup = np.zeros_like(hits.margins)
    sup[:, suggester.sup_columns] = softmax(hits.margins[:, suggester.sup_columns], p.t_supervised)
    fused = (p.w_lexical * class_votes(hits.lex_s, hits.lex_c, p.t_lexical, width)
             + p.w_dense * class_votes(hits.dense_s, hits.dense_c, p.t_dense, width) + p.w_supervised * sup)
    fused /= fused.sum(axis=1, keepdims=True)
    raws = suggester.score_texts(texts)
    for q, raw in enumerate(raws):
        np.testing.assert_array_equal(raw.lex[1], hits.lex_refs[q])
        np.testing.assert_array_equal(raw.dense[1], hits.dense_refs[q])
        if suggester.ranker is None:  # a ranker re-scores the top candidates on top of this fusion
            # With the nomenclature channel, p6 spans the tariff; the ruling channels' part is kept beside it.
            ruling = raw.extra["p_rulings"][:width] if suggester.tariff is not None else raw.p6
            np.testing.assert_allclose(ruling, fused[q], rtol=1e-5, atol=1e-7)
