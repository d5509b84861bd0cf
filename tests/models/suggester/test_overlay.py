"""Reviewer rulings through the copy-on-write overlay; persistence; encoder mismatch refusal."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from data.errors import EncoderMismatchError
from data.rulings.schema import Ruling
from models.suggester.suggester import HSSuggester

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def saved_dir(suggester, tmp_path_factory):
    return suggester.save(tmp_path_factory.mktemp("bundle") / "hs")


@pytest.fixture()
def copy(saved_dir, use_encoder):
    """A private copy (overlay tests mutate it) loaded from the saved bundle."""
    return HSSuggester.load(saved_dir, encoder=use_encoder)


def test_save_load_roundtrip_gives_same_answers(suggester, copy, demo_library):
    assert copy.fingerprint == suggester.fingerprint and copy.n_rulings == suggester.n_rulings
    for r in demo_library[600:620]:
        a, b = suggester.suggest(r.product_name), copy.suggest(r.product_name)
        assert [c.code for c in a.candidates] == [c.code for c in b.candidates]
        assert np.allclose([c.confidence for c in a.candidates], [c.confidence for c in b.candidates])


class _OtherEncoder:
    name = "st:some-other-model"
    dim = 512
    fingerprint = "sha256:0000000000000000;golden:0.1,0.2"

    def encode(self, texts, batch_size=64, progress=False):  # pragma: no cover - must never be reached
        raise AssertionError("a mismatched encoder must be refused before use")


def test_load_refuses_a_different_encoder(saved_dir):
    with pytest.raises(EncoderMismatchError) as err:
        HSSuggester.load(saved_dir, encoder=_OtherEncoder())
    assert "st:some-other-model" in err.value.message


def test_load_refuses_same_name_with_other_weights(saved_dir, use_encoder):
    fake = _OtherEncoder()
    fake.name = use_encoder.name
    with pytest.raises(EncoderMismatchError):
        HSSuggester.load(saved_dir, encoder=fake)


def _reviewer_ruling(text: str, code: str) -> Ruling:
    return Ruling(product_name=text, hs_code=code, source="reviewer", reviewer="tester")


def test_added_ruling_is_top_evidence_and_moves_the_answer(copy):
    text = "量子纠缠演示仪 QE-9000 教学用"
    before = copy.suggest(text)
    assert all(c.code != "902300" for c in before.candidates[:1])
    new = _reviewer_ruling(text, "9023001000")
    size = copy.add_rulings([new])
    assert size == 1 and copy.n_rulings == len(copy.ruling_ids) + 1
    after = copy.suggest(text)
    top = after.candidates[0]
    assert top.code == "902300"
    assert top.evidence[0].ruling_id == new.ruling_id
    assert top.evidence[0].channel == "overlay" and top.evidence[0].source == "reviewer"
    assert top.evidence[0].similarity > 0.95
    # The overlay survives save/load.
    assert new.ruling_id in {r.ruling_id for r in copy.overlay_rulings()}


def test_overlay_survives_save_and_load(copy, tmp_path, use_encoder):
    new = _reviewer_ruling("手摇发电收音机 应急 HX-77", "8527190000")
    copy.add_rulings([new])
    again = HSSuggester.load(copy.save(tmp_path / "b"), encoder=use_encoder)
    assert again.overlay_size == 1
    assert again.suggest("手摇发电收音机 应急 HX-77").candidates[0].evidence[0].ruling_id == new.ruling_id


def test_readers_never_fail_while_rulings_are_added(copy, demo_library):
    texts = [r.product_name for r in demo_library[600:640]]
    errors: list[BaseException] = []
    answers = []
    stop = threading.Event()

    def reader(offset: int) -> None:
        i = offset
        try:
            while not stop.is_set():
                ans = copy.suggest(texts[i % len(texts)])
                # Open world: the top code may rest on the tariff text alone, but never on nothing.
                assert ans.candidates and (ans.candidates[0].evidence or ans.candidates[0].tariff_evidence)
                answers.append(ans)
                i += 1
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(k * 7,)) for k in range(4)]
    for t in threads:
        t.start()
    for k in range(8):
        copy.add_rulings([_reviewer_ruling(f"测试新品 第{k}号 样品 ZX-{k:03d}", "9503000090")])
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[0]
    assert copy.overlay_size == 8
    assert len(answers) >= 4
    assert copy.suggest("测试新品 第7号 样品 ZX-007").candidates[0].evidence[0].channel == "overlay"


def test_re_adding_the_same_ruling_replaces_it(copy):
    r = _reviewer_ruling("重复添加的样品 RX-1", "9503000090")
    copy.add_rulings([r])
    copy.add_rulings([r])
    assert copy.overlay_size == 1


@pytest.mark.parametrize("pairs", [[("保温杯", "961700")], [("保温杯", "961700"), ("LED lamp", "940520")]],
                         ids=["one-ruling", "two-codes"])
def test_tiny_libraries_still_answer(use_encoder, pairs):
    from training.hs import build_suggester

    s = build_suggester([Ruling(product_name=t, hs_code=c, source="customs_ruling") for t, c in pairs],
                        encoder=use_encoder, progress=False)
    ans = s.suggest(pairs[-1][0])
    assert ans.candidates[0].code == pairs[-1][1]
    assert ans.candidates[0].evidence


def test_empty_library_without_the_tariff_is_refused(use_encoder):
    from data.errors import InvalidInputError
    from training.hs import build_suggester

    with pytest.raises(InvalidInputError):
        build_suggester([], encoder=use_encoder, progress=False, tariff=False)
