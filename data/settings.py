"""The one settings object (pydantic-settings, prefix ``CLEARANCE_``).

It lives at the bottom of the stack, not in ``serving/``, because training and the CLI read the same paths as the
service. Every path derives from ``data_dir`` so that a test can point the whole product at a temporary folder.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    score_workers: int = Field(1, ge=0, le=64, description=(
        "Extra processes that score large batches without explanations (the batch route, `clearance risk score "
        "--no-explain`) beside the main process; 0 scores in one process. Default 1: on 2 cores, the service "
        "process plus one worker."))

    @property
    def limits(self) -> InputLimits:
        """The input limits as one value, for request validation (a property, not a copy: ``model_copy`` updates
        of the fields show through)."""
        return InputLimits(text_chars=self.max_text_chars, elements=self.max_elements,
                           element_key_chars=self.max_element_key_chars,
                           element_value_chars=self.max_element_value_chars,
                           suggest_batch=self.max_suggest_batch, score_batch=self.max_score_batch)

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
