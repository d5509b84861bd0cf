"""The one settings object (pydantic-settings, prefix ``CLEARANCE_``).

It lives at the bottom of the stack, not in ``serving/``, because training and the CLI read the same paths as the
service. Every path derives from ``data_dir`` so that a test can point the whole product at a temporary folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from data.rulings.schema import MAX_DESCRIPTION_CHARS, MAX_ELEMENT_KEY_CHARS, MAX_ELEMENT_VALUE_CHARS, MAX_ELEMENTS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class InputLimits:
    """The input limits of every route that takes product texts: the API's request schemas, the console form and the
    feedback path read these (``serving/limits.py``), so one item over a limit is that item's error everywhere.

    ``Settings.limits`` gives the configured values; the defaults here are the settings' defaults. Element limits are
    at most the ruling library's own caps, because a reviewed item is stored as a ruling.
    """

    text_chars: int = 2000
    elements: int = MAX_ELEMENTS
    element_key_chars: int = MAX_ELEMENT_KEY_CHARS
    element_value_chars: int = MAX_ELEMENT_VALUE_CHARS
    suggest_batch: int = 1000
    score_batch: int = 10000
    # Load shedding (serving/admission.py): model calls running at once and waiting, per kind of work; beyond them a
    # request is answered 503 with Retry-After at once instead of queueing without bound.
    batch_slots: int = 1
    interactive_queue: int = 64
    batch_queue: int = 4
    console_queue: int = 16
    per_key_concurrency: int = 16
    # Authentication failures (serving/ratelimit.py): failures within the window, per client address and per key
    # prefix, before further attempts are answered 429 for ``lockout_s``.
    auth_failures_per_client: int = 20
    auth_failures_per_key: int = 10
    auth_window_s: float = 60.0
    lockout_s: float = 300.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEARANCE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(PROJECT_ROOT / "var", description="Root of every local file the product writes.")
    database_url: str | None = Field(None, description="SQLAlchemy URL of the store; default: SQLite in data_dir.")
    mlflow_tracking_uri: str | None = Field(None, description="MLflow backend; default: SQLite in data_dir.")
    mlflow_artifact_root: Path | None = Field(None, description="Where MLflow keeps artifacts; default in data_dir.")
    model_cache_dir: Path | None = Field(None, description="Local copies of served model versions.")
    embedding_cache_dir: Path | None = Field(None, description=(
        "Sentence embeddings by (encoder fingerprint, normalised text hash), so rebuilds encode only new texts and "
        "the tariff once per nomenclature version; default in data_dir."))

    encoder: str = Field("use", description="Sentence encoder backend: 'use', 'minilm' or a local ST model path.")
    threads: int = Field(2, ge=1, le=64, description="Thread cap for BLAS, OpenMP, torch and faiss.")

    # Service
    host: str = "127.0.0.1"
    port: int = 8000
    auth_disabled: bool = Field(False, description="Local development only: accept requests without an API key.")
    reload_interval_s: float = Field(30.0, gt=0, description="How often the service polls the registry.")
    kpi_gauge_window_days: int = Field(30, ge=1, le=3660, description=(
        "The KPI Prometheus gauges (clearance_kpi) report the totals of this many days up to now."))
    kpi_refresh_s: float = Field(300.0, ge=0, description=(
        "How long the KPI gauges and the model-monitoring figures are reused before the store is read again."))
    drift_psi_threshold: float = Field(0.2, gt=0, description=(
        "Population stability index above which a feature of the live shipments counts as drifted from the "
        "training frame (0.1-0.2: moderate shift; above 0.2: act)."))
    monitoring_review_rate: float = Field(0.10, gt=0, le=1, description=(
        "Share of shipments the customs team reviews: model monitoring reports the risk model's precision among "
        "the top this share of each week's shipments by high-risk probability."))
    monitoring_weeks: int = Field(12, ge=1, le=260, description=(
        "Weeks of stored shipments with outcomes that model monitoring reads (and the live window for drift)."))
    max_request_bytes: int = Field(32 * 1024 * 1024, gt=0, description=(
        "Largest request body accepted (413 above it). Sized so that a batch of max_score_batch shipments fits: "
        "generated 9710 shipments are ~1.7 KB of JSON each (json.dumps defaults; 2.4 KB at the 99th percentile, "
        "2.1 KB on average pretty-printed), so 10,000 take 17-24 MB; 32 MiB leaves ~3.3 KB per shipment. Raise it "
        "with max_score_batch."))
    # Input limits (see InputLimits): a product text, its declaration elements, items per batch request.
    max_text_chars: int = Field(InputLimits.text_chars, gt=0, le=MAX_DESCRIPTION_CHARS, description=(
        "Longest product text a request may carry (API, console, feedback); at most the ruling description cap, since "
        "a reviewer decision keeps the text whole."))
    max_elements: int = Field(InputLimits.elements, gt=0, le=MAX_ELEMENTS,
                              description="Most declaration elements (申报要素) per item.")
    max_element_key_chars: int = Field(InputLimits.element_key_chars, gt=0, le=MAX_ELEMENT_KEY_CHARS,
                                       description="Longest declaration element name.")
    max_element_value_chars: int = Field(InputLimits.element_value_chars, gt=0, le=MAX_ELEMENT_VALUE_CHARS,
                                         description="Longest declaration element value.")
    max_suggest_batch: int = Field(InputLimits.suggest_batch, gt=0)
    max_score_batch: int = Field(InputLimits.score_batch, gt=0)
    max_outcome_batch: int = Field(10_000, gt=0, description="Most outcomes per POST /v1/shipments/outcomes.")
    record_shipments: bool = Field(True, description=(
        "Keep every shipment scored through the API (and `clearance risk score`) in the store: its document, feature "
        "row, findings and what each model version predicted; the outcomes posted later join it for the KPIs, "
        "monitoring and retraining."))
    congestion_refresh_s: float = Field(300.0, gt=0, description=(
        "How often the service recomputes the port congestion figures (last 7 days of outcomes) that the delay and "
        "risk models read."))
    batch_slots: int = Field(InputLimits.batch_slots, ge=1, description=(
        "Batch model calls (suggest/score batch routes) running at once; interactive calls have `threads` slots of "
        "their own, so batches cannot starve them."))
    interactive_queue: int = Field(InputLimits.interactive_queue, ge=0,
                                   description="Interactive model calls that may wait for a slot (503 beyond).")
    batch_queue: int = Field(InputLimits.batch_queue, ge=0, description="Batch calls that may wait (503 beyond).")
    console_queue: int = Field(InputLimits.console_queue, ge=0, description="Console model calls that may wait.")
    per_key_concurrency: int = Field(InputLimits.per_key_concurrency, ge=1,
                                     description="Requests one API key (or console session) may have in flight (429).")
    auth_failures_per_client: int = Field(InputLimits.auth_failures_per_client, ge=1,
                                          description="Failed authentications per client address per window (429).")
    auth_failures_per_key: int = Field(InputLimits.auth_failures_per_key, ge=1,
                                       description="Failed authentications per key prefix per window (429).")
    auth_window_s: float = Field(InputLimits.auth_window_s, gt=0, description="Window of the failure counts.")
    lockout_s: float = Field(InputLimits.lockout_s, gt=0, description="How long a locked-out caller gets 429.")
    shutdown_grace_s: float = Field(10.0, gt=0, description=(
        "On SIGTERM, seconds in-flight requests may finish; those still running then are answered 503."))
    secure_cookies: bool = Field(False, description=(
        "Mark console cookies Secure although the service sees plain HTTP: set it behind a TLS-terminating proxy."))
    hs2028_effective_date: date = Field(date(2028, 1, 1), description=(
        "When HS 2028 enters into force. From this day the suggester answers in the new edition (renumbered codes "
        "under their new code, split codes as evidence that needs review) and declared codes are validated against "
        "it. A setting so that tests and rehearsals can move the date."))
    score_workers: int = Field(1, ge=0, le=64, description=(
        "Extra processes that score large batches without explanations (the batch route, `clearance risk score "
        "--no-explain`) beside the main process; 0 scores in one process. Default 1: on 2 cores, the service "
        "process plus one worker."))

    # Scale-out (docs/dask.md): off unless set; the heavy jobs then run on a Dask cluster.
    dask_scheduler: str | None = Field(None, description=(
        "Dask for the heavy jobs (`clearance risk train`, `clearance risk score`, the suggester build): unset = off "
        "(one process), 'local' = a LocalCluster on this machine, or a scheduler address such as tcp://host:8786."))
    dask_local_workers: int = Field(2, ge=1, le=256, description="Worker processes of the 'local' LocalCluster.")
    dask_worker_memory: str = Field("auto", description=(
        "Memory limit of each LocalCluster worker ('auto' = the machine's memory shared out, or e.g. '2GiB'); Dask "
        "spills partitions to disk above 60 % of it."))
    dask_fit_sample_rows: int = Field(500_000, ge=1000, description=(
        "Rows the categorical levels (and target encodings) of a Dask-trained tabular model are fitted on: all the "
        "training rows when there are fewer, else a random sample; the boosters see every row."))

    @property
    def limits(self) -> InputLimits:
        """The input limits as one value, for request validation (a property, not a copy: ``model_copy`` updates
        of the fields show through)."""
        return InputLimits(text_chars=self.max_text_chars, elements=self.max_elements,
                           element_key_chars=self.max_element_key_chars,
                           element_value_chars=self.max_element_value_chars,
                           suggest_batch=self.max_suggest_batch, score_batch=self.max_score_batch,
                           batch_slots=self.batch_slots, interactive_queue=self.interactive_queue,
                           batch_queue=self.batch_queue, console_queue=self.console_queue,
                           per_key_concurrency=self.per_key_concurrency,
                           auth_failures_per_client=self.auth_failures_per_client,
                           auth_failures_per_key=self.auth_failures_per_key, auth_window_s=self.auth_window_s,
                           lockout_s=self.lockout_s)

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        self.data_dir = Path(self.data_dir)
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'clearance.db'}"
        if self.mlflow_tracking_uri is None:
            self.mlflow_tracking_uri = f"sqlite:///{self.data_dir / 'mlflow.db'}"
        if self.mlflow_artifact_root is None:
            self.mlflow_artifact_root = self.data_dir / "mlartifacts"
        if self.model_cache_dir is None:
            self.model_cache_dir = self.data_dir / "model-cache"
        if self.embedding_cache_dir is None:
            self.embedding_cache_dir = self.data_dir / "embedding-cache"
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
