"""The delay and risk training frame from the store: stored shipments with outcomes, through serving's feature code.

Each shipment's feature row is the one ``features.shipment_features.feature_row`` computed when it was scored or
imported (``features.shipment_records.shipment_record`` stores it with the feature version); a row of another
feature version is recomputed from the stored document (``Shipment`` → ``run_checks`` → ``feature_row``), so a change
to the features never trains on stale rows. The congestion columns are then computed for every row as of its own
declaration (``features.congestion.CongestionHistory.columns``: only outcomes known before it, no look-ahead), from
every stored outcome whose shipment is stored. Labels come from the outcomes by the product's rule
(``data.shipments.outcomes.training_labels``). The frame has the shape ``training.shipment_models`` trains on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from data.shipments.outcomes import training_labels
from data.store.outcomes import ShipmentStore
from features.congestion import CongestionHistory, add_congestion
from features.shipment_features import FEATURE_NAMES, FEATURES_VERSION, LABEL_COLUMNS, feature_row, rows_to_frame
from features.shipment_records import VERSION_KEY

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

log = logging.getLogger(__name__)


def store_history_frame(engine: Engine, *, nomenclature: Any = None, progress: bool = False) -> pd.DataFrame:
    """``shipment_id``, ``declared_at``, FEATURE_NAMES and LABEL_COLUMNS for every stored shipment with an outcome
    that has a release time (held shipments still waiting have no delay to learn), oldest first."""
    import pandas as pd

    store = ShipmentStore(engine)
    ids, declared, rows, labels = [], [], [], []
    stale: list[int] = []  # positions of rows stored by another feature version
    stream = store.training_rows()
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, desc="training frame", unit="shipment", mininterval=0.5)
    for r in stream:
        if r["delay_hours"] is None:
            continue
        features = r["features"] or {}
        if features.get(VERSION_KEY) != FEATURES_VERSION:
            stale.append(len(rows))
        rows.append({name: features.get(name) for name in FEATURE_NAMES})
        ids.append(r["shipment_id"])
        declared.append(r["declared_at"])
        labels.append(training_labels(r["result"], r["inspected"], r["delay_hours"]))
    if stale:
        if nomenclature is None:
            from data.nomenclature import Nomenclature

            nomenclature = Nomenclature.load(engine)
        documents = store.documents([ids[i] for i in stale])
        for i in stale:
            rows[i] = _recompute(documents[ids[i]], nomenclature)
        log.info("recomputed %d feature rows of another feature version from their documents", len(stale))
    frame = rows_to_frame(rows)
    frame.insert(0, "declared_at", pd.to_datetime(declared, utc=True))
    frame.insert(0, "shipment_id", ids)
    for col in LABEL_COLUMNS:
        frame[col] = [lab[col] for lab in labels]
    frame["delay_hours"] = frame["delay_hours"].astype(float)
    if len(frame):
        add_congestion(frame, CongestionHistory.from_rows(store.congestion_rows()))
    return frame


def _recompute(document: dict, nomenclature: Any) -> dict[str, object]:
    from data.shipments.schema import Shipment
    from features.checks import run_checks

    shipment = Shipment.model_validate(document)
    return feature_row(shipment, run_checks(shipment, nomenclature))
