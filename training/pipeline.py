"""``clearance train``: the whole demo, end to end, from nothing to registered challengers (and champions).

1. The ruling library: when the store has no rulings, the generated demo library is imported (a real import through
   the same reader and repository as ``clearance rulings import``).
2. The HS suggester is built from every ruling in the store, evaluated on a held-out slice, logged and registered.
3. The shipment history: when the store holds no outcomes, the generated demo history (documents + outcomes) is
   written as an outcomes file and imported through ``clearance shipments import``'s code
   (``features.shipment_records.import_outcomes``), like an ERP export.
4. The delay and risk models are trained on the store's shipments with outcomes (``training.store_history``: the
   stored feature rows, congestion as of each declaration), evaluated on the last months, logged and registered.
5. Optionally each new challenger is promoted: the suggester by the same guarded rule as ``clearance models
   promote``, delay and risk by the recent-outcome gate (``training.recent_gate``: both versions scored on the
   newest outcomes neither was trained on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data.settings import Settings
from models.names import DELAY, HS_SUGGESTER, RISK
from training import registry

log = logging.getLogger(__name__)


@dataclass
class PipelineReport:
    trained: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    promotions: dict[str, registry.PromotionResult] = field(default_factory=dict)


def _has_champion(name: str, settings: Settings) -> bool:
    try:
        registry.get_version(name, settings, alias=registry.CHAMPION)
        return True
    except Exception:
        return False


def ensure_demo_library(settings: Settings, n: int, seed: int) -> int:
    """Import the generated demo library when the store holds no rulings; returns the store's ruling count."""
    from data.rulings.importer import import_rulings
    from data.rulings.repository import RulingRepository
    from data.store.db import open_store
    from demo.rulings import write_demo_rulings

    engine = open_store(settings.database_url)
    repository = RulingRepository(engine)
    if repository.count() == 0:
        path = Path(settings.data_dir) / "demo" / "rulings.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_demo_rulings(path, n=n, seed=seed)
        summary = import_rulings(engine, path, None, progress=True)
        log.info("imported demo library: %s", summary)
    return repository.count()


def ensure_demo_history(settings: Settings, n: int, seed: int, *, months: int = 24, regime: Any = None,
                        progress: bool = True) -> int:
    """Import the generated demo shipment history when the store holds no outcomes; returns the outcome count."""
    from data.store.db import open_store
    from data.store.outcomes import ShipmentStore
    from demo.outcomes import write_outcomes
    from demo.shipments import generate_shipments
    from features.shipment_records import import_outcomes

    engine = open_store(settings.database_url)
    store = ShipmentStore(engine)
    if store.count()["outcomes"] == 0:
        history = generate_shipments(n=n, months=months, seed=seed, progress=progress, regime=regime)
        path = write_outcomes(history, Path(settings.data_dir) / "demo" / "shipment-outcomes.parquet")
        del history
        summary = import_outcomes(engine, path, progress=progress, source="import")
        log.info("imported the demo shipment history: %s", summary.to_report(5))
    return store.count()["outcomes"]


def train_from_store(settings: Settings, *, seed: int = 42, register: bool = True, promote: bool = False,
                     baselines: bool = True, progress: bool = True, params: dict[str, Any] | None = None
                     ) -> tuple[dict[str, Any], dict[str, registry.PromotionResult]]:
    """Delay and risk trained on the store's shipments with outcomes; promoted by the recent-outcome gate when
    asked. What ``clearance train`` and ``clearance risk train --from-store`` run."""
    from data.store.db import open_store
    from training.shipment_models import train_shipment_models
    from training.store_history import store_history_frame

    frame = store_history_frame(open_store(settings.database_url), progress=progress)
    results = train_shipment_models(settings, frame, seed=seed, register=register, baselines=baselines,
                                    progress=progress, params={"history": "store", **(params or {})})
    promotions = {}
    if promote and register:
        from training.recent_gate import promote_on_recent

        promotions = {name: promote_on_recent(settings, name, frame) for name in (DELAY, RISK)}
    return results, promotions


def train_all(settings: Settings, *, only: tuple[str, ...] = ("hs", "shipments"), skip_existing: bool = False,
              promote: bool = False, rulings_n: int = 3600, shipments_n: int = 200_000, seed: int = 42,
              baselines: bool = True) -> PipelineReport:
    """Fill the demo world and train what ``only`` names; ``baselines=False`` leaves the baselines out of the shipment
    evaluation report (on a small history they cost more than the models)."""
    from data.rulings.repository import RulingRepository
    from data.store.db import open_store

    report = PipelineReport()
    targets: list[str] = []
    if "hs" in only:
        if skip_existing and _has_champion(HS_SUGGESTER, settings):
            report.skipped.append(HS_SUGGESTER)
        else:
            from training.hs import train_and_log

            ensure_demo_library(settings, rulings_n, seed=7)
            rulings = list(RulingRepository(open_store(settings.database_url)).iter_all())
            from training.cluster.client import dask_client

            with dask_client(settings) as client:  # Dask when CLEARANCE_DASK_SCHEDULER is set: encoding on workers
                report.trained[HS_SUGGESTER] = train_and_log(settings, rulings, encoder_spec=settings.encoder,
                                                             register=True, client=client)
            targets.append(HS_SUGGESTER)
    if "shipments" in only:
        names = (DELAY, RISK)
        if skip_existing and all(_has_champion(n, settings) for n in names):
            report.skipped.extend(names)
        else:
            from demo.shipments import GENERATOR_REVISION

            ensure_demo_history(settings, shipments_n, seed)
            results, promotions = train_from_store(settings, seed=seed, register=True, promote=promote,
                                                   baselines=baselines,
                                                   params={"demo_generator_revision": GENERATOR_REVISION})
            report.trained.update(results)
            report.promotions.update(promotions)
    if promote:
        for name in targets:  # delay and risk were promoted by the recent-outcome gate
            report.promotions[name] = registry.promote(name, settings, actor="clearance train")
    return report
