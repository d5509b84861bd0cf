"""``clearance train``: the whole demo, end to end, from nothing to registered challengers (and champions).

1. The ruling library: when the store has no rulings, the generated demo library is imported (a real import through
   the same reader and repository as ``clearance rulings import``).
2. The HS suggester is built from every ruling in the store, evaluated on a held-out slice, logged and registered.
3. The delay and risk models are trained on the generated demo shipment history (``demo.history.history_frame``,
   cached under ``<data_dir>/cache``), evaluated on the last months, logged and registered.
4. Optionally each new challenger is promoted through the same guarded rule as ``clearance models promote``.
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
            from demo.history import history_frame
            from demo.shipments import GENERATOR_REVISION
            from training.shipment_models import train_shipment_models

            frame = history_frame(n=shipments_n, seed=seed, cache_dir=Path(settings.data_dir) / "cache",
                                  progress=True)
            results = train_shipment_models(settings, frame, seed=seed, register=True, baselines=baselines, params={
                "history": "demo", "generator_revision": GENERATOR_REVISION})
            report.trained.update(results)
            targets.extend(names)
    if promote:
        for name in targets:
            report.promotions[name] = registry.promote(name, settings, actor="clearance train")
    return report
