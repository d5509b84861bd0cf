"""The demo shipment history as a training frame: generated documents → features + labels, cached as parquet.

Each generated document goes through the same path as a served one (``Shipment.model_validate`` → ``run_checks`` →
``feature_row``), so the models learn only what a served shipment shows; the congestion columns are computed from the
history's own outcomes as of each declaration (``features.congestion.add_congestion``), as a store frame's are.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from features.congestion import add_congestion
from features.shipment_features import FEATURES_VERSION, LABEL_COLUMNS, feature_row, rows_to_frame

if TYPE_CHECKING:
    import pandas as pd

    from features.checks import NomenclatureLike


def cache_path(cache_dir: str | Path, n: int, seed: int, months: int) -> Path:
    """Where the frame for (n, seed, months) is cached: keyed by the feature version and the generator's revision, so
    a change to either never reuses a stale frame."""
    from demo.shipments import GENERATOR_REVISION

    return Path(cache_dir) / f"shipment-history-n{n}-m{months}-s{seed}-{FEATURES_VERSION}-g{GENERATOR_REVISION}.parquet"


def history_frame(n: int = 200_000, seed: int = 42, *, months: int = 24, nomenclature: NomenclatureLike | None = None,
                  cache_dir: str | Path | None = None, progress: bool = False) -> pd.DataFrame:
    """Features + labels for a generated history: ``shipment_id``, ``declared_at``, FEATURE_NAMES, LABEL_COLUMNS.

    With ``cache_dir`` the frame is kept as parquet (:func:`cache_path`) and read back on the next call.
    """
    import pandas as pd

    from data.shipments.schema import Shipment
    from demo.shipments import generate_shipments
    from features.checks import run_checks

    path = None
    if cache_dir is not None:
        path = cache_path(cache_dir, n, seed, months)
        if path.exists():
            return pd.read_parquet(path)
    if nomenclature is None:
        from data.nomenclature import Nomenclature

        nomenclature = Nomenclature.default()
    history = generate_shipments(n=n, months=months, seed=seed, progress=progress)
    docs = history.shipments
    if progress:
        from tqdm import tqdm

        docs = tqdm(docs, desc="features", unit="shipment")
    rows = []
    validate = Shipment.model_validate
    for doc in docs:
        s = validate(doc)
        rows.append(feature_row(s, run_checks(s, nomenclature)))
    frame = rows_to_frame(rows)
    frame.insert(0, "declared_at", history.labels["declared_at"].to_numpy())
    frame.insert(0, "shipment_id", history.labels["shipment_id"].to_numpy())
    for col in LABEL_COLUMNS:
        frame[col] = history.labels[col].to_numpy()
    # the ports' recent congestion as the store would give it: from these outcomes, as of each declaration
    add_congestion(frame)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return frame
