"""The demo history as an ERP would export it: one outcome row per shipment, with its documents.

``make run`` (``training.pipeline``) writes this file and imports it with ``clearance shipments import``'s code
(``features.shipment_records.import_outcomes``), so the demo reaches the models through the same door as a
company's own history. The outcome fields follow the generator's labels:

- ``result``: returned → returned, held → held (released after the hold), otherwise released;
  ``inspected`` = the generator's inspected outcome; ``released_at`` from the documents (none when returned),
  ``delay_hours`` the generated delay.
- ``first_pass`` (一次通过): released without a hold and without any injected data error or document mismatch (a
  declaration with errors is amended before release).
- ``costs`` (USD): declaration cost by channel (express 5, air 25, sea 45, rail 40); inspection fees when inspected
  (80, sea 120); for sea, demurrage 120 a day beyond 96 h and detention 150 when held.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from demo.shipments import ShipmentHistory

DECLARATION_COST = {"express": 5.0, "air": 25.0, "sea_fcl": 45.0, "sea_lcl": 45.0, "rail": 40.0}
INSPECTION_FEE, INSPECTION_FEE_SEA = 80.0, 120.0
DEMURRAGE_FREE_HOURS, DEMURRAGE_PER_DAY, DETENTION_HELD = 96.0, 120.0, 150.0


def outcome_frame(history: ShipmentHistory) -> pd.DataFrame:
    """The outcome columns of ``clearance shipments import`` plus ``document`` (JSON text), one row per shipment."""
    labels, latent = history.labels, history.latent
    outcome = labels["outcome"].to_numpy()
    delay = labels["delay_hours"].to_numpy(float)
    channel = latent["channel"].to_numpy()
    sea = np.char.startswith(channel.astype(str), "sea")
    inspected = outcome == "inspected"
    held = outcome == "held"
    result = np.where(outcome == "returned", "returned", np.where(held, "held", "released"))
    clean = (latent["n_data_errors"].to_numpy() == 0) & (latent["n_doc_mismatches"].to_numpy() == 0)
    first_pass = clean & (result == "released")
    fee = np.where(inspected, np.where(sea, INSPECTION_FEE_SEA, INSPECTION_FEE), np.nan)
    demurrage = np.where(sea & (delay > DEMURRAGE_FREE_HOURS),
                         np.round((delay - DEMURRAGE_FREE_HOURS) / 24 * DEMURRAGE_PER_DAY, 2), np.nan)
    detention = np.where(sea & held, DETENTION_HELD, np.nan)
    declared = [d["declaration"]["declared_at"] for d in history.shipments]
    released = [d["timestamps"].get("released") for d in history.shipments]
    return pd.DataFrame({
        "shipment_id": labels["shipment_id"].to_numpy(), "declared_at": declared, "released_at": released,
        "delay_hours": delay, "inspected": inspected, "result": result, "first_pass": first_pass,
        "declaration_cost": [DECLARATION_COST[c] for c in channel], "inspection_fees": fee,
        "demurrage": demurrage, "detention": detention,
        "document": [json.dumps(d, ensure_ascii=False) for d in history.shipments]})


def write_outcomes(history: ShipmentHistory, path: str | Path) -> Path:
    """The demo history as an outcomes file (Parquet), ready for ``clearance shipments import``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    outcome_frame(history).to_parquet(path, index=False)
    return path
