"""training/cluster/encoding.py: the suggester's library encoded on a two-worker LocalCluster gives the embeddings,
the index and the answers of a local build."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from training.cluster.encoding import DaskEncoder


@lru_cache(maxsize=1)
def _encoder():
    from models.encoders import load_encoder

    return load_encoder("use", threads=1)


@lru_cache(maxsize=1)
def _library():
    from demo.rulings import generate_demo_rulings

    return generate_demo_rulings(260, seed=3)


def test_embeddings_are_those_of_the_local_encoder(client):
    from models.suggester.suggester import dense_text

    texts = [dense_text(r) for r in _library()]
    texts = texts + texts[:40]  # repeats are encoded once, as locally
    dask_encoder = DaskEncoder(_encoder(), client, batches_per_part=1)  # many parts: both workers encode
    np.testing.assert_array_equal(dask_encoder.encode(texts, batch_size=32), _encoder().encode(texts, batch_size=32))
    assert dask_encoder.encode([]).shape == (0, _encoder().dim)
    assert (dask_encoder.name, dask_encoder.fingerprint, dask_encoder.spec) == (_encoder().name,
                                                                                _encoder().fingerprint, "use")


def test_a_build_on_the_cluster_answers_as_a_local_build(client, tmp_path):
    from data.nomenclature import Nomenclature
    from models.suggester.suggester import HSSuggester
    from training.hs import build_suggester

    library, queries = _library()[:220], [r.product_name for r in _library()[220:]]
    nomenclature = Nomenclature.default()
    local = build_suggester(library, encoder=_encoder(), nomenclature=nomenclature, progress=False, seed=0)
    on_dask = build_suggester(library, encoder=DaskEncoder(_encoder(), client), nomenclature=nomenclature,
                              progress=False, seed=0)
    on_dask.encoder = _encoder()  # what `clearance hs build` saves: the plain encoder
    saved = HSSuggester.load(on_dask.save(tmp_path / "bundle"), encoder=_encoder())
    for a, b in zip(local.suggest_batch(queries), saved.suggest_batch(queries)):
        assert [(c.code, round(c.confidence, 6)) for c in a.candidates] == \
               [(c.code, round(c.confidence, 6)) for c in b.candidates]
        assert a.answer == b.answer
