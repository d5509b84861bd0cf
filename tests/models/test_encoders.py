"""Encoders: shape and normalisation, cross-lingual retrieval, fingerprints and their refusal, thread safety."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from data.errors import EncoderMismatchError, InvalidInputError
from models.encoders import (
    Encoder,
    SentenceTransformerEncoder,
    check_compatible,
    fingerprints_match,
    load_encoder,
    make_fingerprint,
    minilm_model_dir,
)

TEXTS = ["不锈钢真空保温杯 500ml", "LED ceiling light for living room", "儿童塑料积木玩具", "lithium battery pack 18650"]


@pytest.mark.parametrize("fixture, dim", [("use_encoder", 512), ("minilm_encoder", 384)])
def test_encode_returns_normalised_float32_rows(request, fixture, dim):
    encoder = request.getfixturevalue(fixture)
    assert isinstance(encoder, Encoder)
    vectors = encoder.encode(TEXTS, batch_size=2)
    assert vectors.shape == (len(TEXTS), dim) and vectors.dtype == np.float32 and encoder.dim == dim
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # batching must not change what a text maps to
    np.testing.assert_allclose(vectors, encoder.encode(TEXTS, batch_size=64), atol=1e-5)
    assert encoder.encode([]).shape == (0, dim)


def test_encode_rejects_a_bare_string_and_non_strings(use_encoder):
    with pytest.raises(InvalidInputError):
        use_encoder.encode("one string")
    with pytest.raises(InvalidInputError, match="text 1"):
        use_encoder.encode(["ok", 3])


PAIRS = [
    ("不锈钢真空保温杯", "stainless steel vacuum flask"),
    ("实木餐桌", "solid wood dining table"),
    ("LED吸顶灯", "LED ceiling lamp"),
    ("锂离子电池组", "lithium-ion battery pack"),
    ("儿童毛绒玩具", "plush toy for children"),
    ("女士棉质T恤", "women's cotton t-shirt"),
    ("手机充电线", "mobile phone charging cable"),
    ("电动螺丝刀", "electric screwdriver"),
]


def test_use_is_cross_lingual(use_encoder):
    zh = use_encoder.encode([p[0] for p in PAIRS])
    en = use_encoder.encode([p[1] for p in PAIRS])
    sims = zh @ en.T
    # each Chinese product is nearer its English translation than any other English product, and vice versa
    assert (sims.argmax(axis=1) == np.arange(len(PAIRS))).all()
    assert (sims.argmax(axis=0) == np.arange(len(PAIRS))).all()


def test_load_encoder_caches_per_process_and_rejects_unknown_specs(use_encoder, tmp_path):
    assert load_encoder("use", threads=2) is use_encoder
    assert load_encoder(" USE ", threads=2) is use_encoder
    with pytest.raises(InvalidInputError, match="unknown encoder"):
        load_encoder("bert-large")
    with pytest.raises(InvalidInputError, match="not a sentence-transformers model directory"):
        load_encoder(str(tmp_path))


def test_names(use_encoder, minilm_encoder):
    assert use_encoder.name == "use-multilingual-v3"
    assert minilm_encoder.name == "st:all-MiniLM-L6-v2"
    # .spec loads the same encoder again
    assert load_encoder(use_encoder.spec) is use_encoder and load_encoder(minilm_encoder.spec) is minilm_encoder


def test_fingerprint_is_stable_and_differs_between_backends(use_encoder, minilm_encoder):
    fp = use_encoder.fingerprint
    assert fp.startswith("sha256:") and ";golden:" in fp
    # recomputed from scratch (weights hash from the on-disk cache, golden embedding re-encoded): identical
    use_encoder._fingerprint = None
    assert use_encoder.fingerprint == fp
    assert not fingerprints_match(fp, minilm_encoder.fingerprint)


def test_fingerprint_sees_behaviour_not_just_weights(use_encoder):
    weights = use_encoder.weights_sha256
    probe = use_encoder.encode(["不锈钢真空保温杯 500ml stainless steel vacuum flask with lid"])[0]
    other = use_encoder.encode(["a completely different probe sentence"])[0]
    same = make_fingerprint(weights, probe)
    # float noise of the size BLAS reordering makes is tolerated ...
    noisy = probe + np.float32(1e-6)
    assert fingerprints_match(same, make_fingerprint(weights, noisy / np.linalg.norm(noisy)))
    # ... a different embedding for the probe with the same weights is not
    assert not fingerprints_match(same, make_fingerprint(weights, other))
    # ... nor the same behaviour with other weights
    assert not fingerprints_match(same, make_fingerprint("0" * 64, probe))


def test_check_compatible_refuses_another_encoder(use_encoder, minilm_encoder):
    check_compatible(use_encoder.name, use_encoder.fingerprint, use_encoder)
    with pytest.raises(EncoderMismatchError) as err:
        check_compatible(use_encoder.name, use_encoder.fingerprint, minilm_encoder)
    message = str(err.value)
    assert "use-multilingual-v3" in message and "st:all-MiniLM-L6-v2" in message
    assert err.value.status == 409 and err.value.details["expected"]["fingerprint"] == use_encoder.fingerprint
    # same name, different weights: refused too
    fake = use_encoder.fingerprint.replace("sha256:", "sha256:f", 1)[: len(use_encoder.fingerprint)]
    with pytest.raises(EncoderMismatchError):
        check_compatible(use_encoder.name, fake, use_encoder)


def test_local_sentence_transformers_directory_is_accepted(minilm_encoder, tmp_path):
    # a copy of the packaged model under another path is a "local directory" encoder with the same weights hash
    import shutil

    copy = tmp_path / "my-model"
    shutil.copytree(minilm_model_dir(), copy)
    encoder = load_encoder(str(copy), threads=1)
    assert isinstance(encoder, SentenceTransformerEncoder) and encoder.name == "st:my-model"
    assert encoder.spec == str(copy.resolve())
    assert encoder.weights_sha256 == minilm_encoder.weights_sha256
    np.testing.assert_allclose(encoder.encode(TEXTS[:2]), minilm_encoder.encode(TEXTS[:2]), atol=1e-5)
    # a changed weight file changes the fingerprint (hash cache keyed by size+mtime must miss)
    (copy / "1_Pooling" / "config.json").write_text((copy / "1_Pooling" / "config.json").read_text() + "\n")
    assert encoder.weights_sha256 != minilm_encoder.weights_sha256


@pytest.mark.parametrize("fixture", ["use_encoder", "minilm_encoder"])
def test_concurrent_encode_from_eight_threads(request, fixture):
    encoder = request.getfixturevalue(fixture)
    texts = [f"{t} 型号 {i}" for i in range(6) for t in TEXTS]
    expected = encoder.encode(texts, batch_size=8)
    barrier = threading.Barrier(8)

    def work(_):
        barrier.wait()
        return encoder.encode(texts, batch_size=8)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for r in results:
        np.testing.assert_allclose(r, expected, atol=1e-5)


def test_repeated_texts_get_identical_rows_in_input_order(use_encoder):
    texts = ["电热水壶", "air fryer", "电热水壶", "yoga mat", "air fryer"]
    vectors = use_encoder.encode(texts, batch_size=2)
    assert vectors.shape == (5, 512)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[1], vectors[4])
    np.testing.assert_allclose(vectors[3], use_encoder.encode(["yoga mat"])[0], atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])


def test_weight_hash_is_cached_on_disk_by_path_size_and_mtime(tmp_path, monkeypatch):
    import os

    from models.encoders import hash_weight_files

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    weights = tmp_path / "w" / "weights.bin"
    weights.parent.mkdir()
    weights.write_bytes(b"a" * 1000)
    first = hash_weight_files([weights], weights.parent)
    assert (tmp_path / "cache" / "clearance" / "weight-hashes.json").is_file()
    # same size and mtime: answered from the cache without reading the file (so the stale value comes back) ...
    stat = weights.stat()
    weights.write_bytes(b"b" * 1000)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert hash_weight_files([weights], weights.parent) == first
    # ... any real change of size or mtime is re-hashed
    weights.write_bytes(b"b" * 1001)
    assert hash_weight_files([weights], weights.parent) != first
