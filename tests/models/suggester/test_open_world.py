"""Open-world suggestion (issue 14): the tariff as code space, cold start, codes without rulings, attributes,
incremental rebuilds and confidence on held-out codes.

The session ``suggester`` (tests/models/conftest.py) is built on 600 generated rulings with the default HS 2022
nomenclature, so its nomenclature channel covers every HS6 subheading.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

HANDBAG = "Women's leather handbag with zipper, PU lining"


@pytest.fixture(scope="module")
def cold(use_encoder, tmp_path_factory):
    from training.hs import build_suggester

    return build_suggester([], encoder=use_encoder, progress=False,
                           embedding_cache=tmp_path_factory.mktemp("emb-cold"))


def test_cold_start_answers_from_the_tariff_alone(cold):
    assert cold.n_rulings == 0
    ans = cold.suggest("fresh boneless beef")
    assert ans.candidates[0].code[:4] in {"0201", "0202"}
    assert ans.evidence_basis == "tariff_text"
    assert all(c.tariff_evidence and not c.evidence and c.has_rulings is False for c in ans.candidates)
    # Nothing to calibrate on: every answer goes to review, and says why.
    assert ans.needs_review and ans.answer is None
    assert "tariff_text_only" in {r.code for r in ans.reasons}


def test_cold_start_grows_with_a_reviewer_decision(cold):
    from data.rulings.schema import Ruling

    copy = type(cold).__new__(type(cold))
    copy.__dict__.update(cold.__dict__)
    import threading

    from models.suggester.overlay import Overlay

    copy._overlay, copy._write_lock = Overlay(), threading.Lock()
    copy.add_rulings([Ruling(product_name="骨瓷咖啡杯 带碟 CX-77", hs_code="6911101900", source="reviewer")])
    ans = copy.suggest("骨瓷咖啡杯 带碟 CX-77")
    assert ans.candidates[0].code == "691110"
    assert ans.candidates[0].evidence and ans.candidates[0].evidence[0].channel == "overlay"


def test_a_code_without_rulings_is_answerable_and_says_so(suggester):
    assert "020130" not in set(suggester.codes6)  # boneless fresh bovine meat: not in the generated library
    ans = suggester.suggest("fresh boneless beef", top_k=5)
    cand = next((c for c in ans.candidates if c.code == "020130"), None)
    assert cand is not None, [c.code for c in ans.candidates]
    assert cand.has_rulings is False and cand.evidence_basis == "tariff_text" and cand.tariff_evidence
    assert cand.tariff_evidence[0].code.startswith("020130")


def test_handbag_finds_4202_21_and_is_not_confidently_wrong(suggester):
    ans = suggester.suggest(HANDBAG, top_k=5)
    assert "420221" in [c.code for c in ans.candidates]
    if ans.answer is not None:
        assert "420221".startswith(ans.answer.code[:6])


@pytest.mark.parametrize("elements, canonical", [
    ({"Material": "Metal", "Item Type": "Pendant"}, {"材质": "Metal", "种类": "Pendant"}),
    ({"材质": "铜", "用途": "装饰"}, {"材质": "铜", "用途": "装饰"}),
    ({"材料": "铜", "usage": "装饰"}, {"材质": "铜", "用途": "装饰"}),
], ids=["en", "zh", "zh-variant"])
def test_attributes_become_declaration_elements_and_move_every_channel(suggester, elements, canonical):
    plain = suggester.score_texts(["necklace"])[0]
    ans = suggester.suggest("necklace", elements)
    assert ans.query.declared_elements == canonical
    assert set(canonical) .isdisjoint(ans.missing_elements)
    from features.text import compose_text

    raw = suggester.score_texts([compose_text("necklace", "", canonical)])[0]
    assert not np.allclose(raw.extra["p_tariff"], plain.extra["p_tariff"])  # the nomenclature channel sees them
    assert not np.allclose(raw.extra["v_dense"], plain.extra["v_dense"])  # and the ruling channels


def test_parse_attributes_lines_en_and_zh():
    from models.suggester.elements import parse_attributes

    assert parse_attributes("Material: Metal\nItem Type: Pendant|用途：装饰") == {
        "材质": "Metal", "种类": "Pendant", "用途": "装饰"}
    with pytest.raises(ValueError, match="no ':'"):
        parse_attributes("Material Metal")


class _Counting:
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self, inner):
        self.inner, self.texts = inner, []
        self.name, self.fingerprint = inner.name, inner.fingerprint

    def encode(self, texts, batch_size: int = 64, progress: bool = False):
        self.texts.extend(texts)
        return self.inner.encode(texts, batch_size=batch_size)


def test_incremental_rebuild_encodes_only_the_new_rulings(use_encoder, demo_library, tmp_path):
    from data.rulings.schema import Ruling
    from training.hs import build_suggester

    base = demo_library[:300]
    new = [Ruling(product_name=f"新品样品 第{k}号 NX-{k:03d}", hs_code="9503000090", source="reviewer")
           for k in range(3)]
    first = _Counting(use_encoder)
    build_suggester(base, encoder=first, progress=False, tariff=False, embedding_cache=tmp_path)
    assert len(first.texts) > 250  # everything encoded once (duplicate texts once)
    second = _Counting(use_encoder)  # a new process would start like this: only the disk cache is shared
    s = build_suggester(base + new, encoder=second, progress=False, tariff=False, embedding_cache=tmp_path)
    assert sorted(second.texts) == sorted(r.product_name.lower() for r in new)
    assert s.built_with["encoded_texts"] == 3


def test_embedding_cache_keys_on_the_encoder_fingerprint(tmp_path):
    from models.suggester.embedding_cache import EmbeddingCache

    class Fake:
        def __init__(self, fp):
            self.fingerprint, self.calls = fp, 0

        def encode(self, texts, progress=False):
            self.calls += len(texts)
            return np.ones((len(texts), 4), dtype=np.float32)

    a = Fake("enc-a")
    EmbeddingCache(tmp_path, a.fingerprint).encode(a, ["Cotton T-Shirt", "cotton  t-shirt", "mug"])
    assert a.calls == 2  # normalised texts share a row
    again = Fake("enc-a")
    EmbeddingCache(tmp_path, again.fingerprint).encode(again, ["mug", "bowl"])
    assert again.calls == 1
    other = Fake("enc-b")
    EmbeddingCache(tmp_path, other.fingerprint).encode(other, ["mug"])
    assert other.calls == 1  # another encoder never reads these vectors


def test_validation_holds_out_whole_codes(suggester):
    assert suggester.metrics["val_open_held_out_codes_n"] > 0
    assert {"e6", "e4"} <= set(suggester.calibrators)


def test_confidence_on_held_out_codes(use_encoder, demo_library):
    """Rulings of some codes removed from the library: their queries are rarely confident, and mostly not wrong."""
    from training.hs import build_suggester

    lib = demo_library[:600]
    codes = sorted({r.hs6 for r in lib})
    removed = set(codes[::8])
    s = build_suggester([r for r in lib if r.hs6 not in removed], encoder=use_encoder, progress=False, seed=1)
    queries = [r for r in demo_library[600:] + lib if r.hs6 in removed][:80]
    answers = s.suggest_batch([r.product_name for r in queries])
    confident = [(a, r) for a, r in zip(answers, queries) if a.answer is not None]
    assert len(queries) >= 40
    # The heading may well be known (a confident HS4 answer can be right); the subheading is not in the library.
    at_hs6 = [(r.product_name, a.answer.code) for a, r in confident if len(a.answer.code) >= 6]
    wrong = [(r.product_name, a.answer.code) for a, r in confident if not r.hs_code.startswith(a.answer.code)]
    assert len(at_hs6) <= 0.1 * len(queries), at_hs6
    assert len(wrong) <= 0.1 * len(queries), wrong


def test_evidence_calibrator_tells_ruling_backed_from_tariff_only():
    from models.suggester.fusion import FEATURES, EvidenceCalibrator

    rng = np.random.default_rng(0)
    n = 2000
    x = np.zeros((n, len(FEATURES)), dtype=np.float32)
    x[:, 0] = rng.uniform(0.3, 1.0, n)  # the fused score
    x[:, 3] = rng.integers(0, 2, n)  # in_library
    # Same scores, but tariff-only candidates are right a third as often.
    y = rng.uniform(size=n) < x[:, 0] * np.where(x[:, 3] > 0, 1.0, 0.33)
    cal = EvidenceCalibrator(6).fit(x, y)
    probe = np.zeros((2, len(FEATURES)), dtype=np.float32)
    probe[:, 0] = 0.9
    probe[0, 3] = 1.0
    with_rulings, tariff_only = cal(probe)
    assert with_rulings > tariff_only + 0.2


def test_a_bundle_saved_before_the_nomenclature_channel_still_loads(suggester, tmp_path, use_encoder):
    import pickle

    from models.suggester.bundle import BUNDLE_FILE
    from models.suggester.suggester import HSSuggester

    suggester.save(tmp_path)
    with open(tmp_path / BUNDLE_FILE, "rb") as fh:
        state = pickle.load(fh)
    del state["tariff"]  # what bundles written before issue 14 hold
    state["params"].__dict__.pop("threshold_hs4", None)
    with open(tmp_path / BUNDLE_FILE, "wb") as fh:
        pickle.dump(state, fh)
    old = HSSuggester.load(tmp_path, encoder=use_encoder)
    ans = old.suggest("LED desk lamp")
    assert old.tariff is None and ans.candidates and all(c.code in set(old.codes6) for c in ans.candidates)


def test_the_tariff_dense_space_is_centred_and_projected(suggester, use_encoder):
    from models.suggester.tariff import PROJECTED_DIMS

    channel = suggester.tariff
    assert channel.axes.shape == (use_encoder.dim, PROJECTED_DIMS)
    emb = np.vstack([channel.emb[k] for k in ("chapter", "heading", "hs6", "national") if len(channel.emb[k])])
    assert emb.shape[1] == PROJECTED_DIMS
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    # Centred: the texts share no common direction any more (raw USE vectors of tariff texts all point one way).
    assert np.linalg.norm(emb.mean(axis=0)) < 0.1
    raw = use_encoder.encode(["Handbags, with outer surface of leather"])
    assert np.linalg.norm(raw @ channel.axes) > 0  # queries go through the same projection
    assert channel.project(raw).shape == (1, PROJECTED_DIMS)


def test_a_channel_pickled_before_the_projection_keeps_raw_cosines(suggester):
    from models.suggester.tariff import TariffChannel

    state = {k: v for k, v in suggester.tariff.__dict__.items() if k not in ("center", "axes")}
    old = TariffChannel.__new__(TariffChannel)
    old.__setstate__(state)  # what unpickling a channel saved before the projection does
    q = np.ones((1, 7), dtype=np.float32)
    assert old.center is None and np.array_equal(old.project(q), q)
