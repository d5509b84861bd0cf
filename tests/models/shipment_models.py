"""Small shipment models built once per test process (history + training take seconds; many tests read them)."""

from __future__ import annotations

import json
import tempfile
from functools import lru_cache

N_SHIPMENTS = 8000


@lru_cache(maxsize=1)
def small_history():
    from demo.history import history_frame

    return history_frame(n=N_SHIPMENTS, seed=11, cache_dir=tempfile.gettempdir() + "/clearance-test-cache")


@lru_cache(maxsize=1)
def small_models():
    """(DelayModel, RiskModel) trained on the time split of the small history (1 thread, deterministic)."""
    from models.names import DELAY, RISK
    from training.shipment_models import fit_shipment_models

    res = fit_shipment_models(small_history(), num_threads=1, seed=0, baselines=False)
    return res[DELAY].native, res[RISK].native


@lru_cache(maxsize=1)
def nomenclature():
    from data.nomenclature import Nomenclature

    return Nomenclature.default()


def scorer():
    from models.advisories import load_rules
    from models.scoring import ShipmentScorer

    delay, risk = small_models()
    return ShipmentScorer(delay, risk, load_rules(), nomenclature())


def shipment(**changes):
    """The clean example shipment with dotted-path changes, e.g. ``shipment(**{"waybill.channel": "air"})``.

    ``month="2025-12"`` moves every date of the example (June 2025) into that month.
    """
    from data.shipments.examples import example_shipment
    from data.shipments.schema import Shipment

    month = changes.pop("month", None)
    doc = example_shipment()
    if month:
        doc = json.loads(json.dumps(doc).replace("2025-06", month))
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[p]
        node[last] = value
    return Shipment.model_validate(doc)
