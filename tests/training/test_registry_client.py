"""The registry client: aliases resolve to versions, artifacts come to local disk, every failure is a 503."""

from __future__ import annotations

import mlflow
import pytest

from training import registry
from training.registry_client import (
    ChampionRef,
    MlflowRegistrySource,
    RegistryUnavailable,
    load_native,
    resolve_all,
)

NAME = "clearance-client-test"


class _Tagged(mlflow.pyfunc.PythonModel):
    """A clearance-style pyfunc: the domain object is ``.native`` once loaded."""

    def __init__(self, tag: str):
        self.tag = tag

    def load_context(self, context):
        self.native = {"tag": self.tag}

    def predict(self, context, model_input, params=None):
        return [self.tag] * len(model_input)


def _register(settings, tag: str, auc: float) -> int:
    registry.configure_mlflow(settings)
    with mlflow.start_run(experiment_id=registry.experiment_id("registry-client-test", settings)) as run:
        mlflow.pyfunc.log_model(name="model", python_model=_Tagged(tag))
    return registry.register_challenger(run.info.run_id, "model", NAME, {"auc": auc}, "auc", True, settings)


@pytest.fixture(scope="module")
def two_versions(mlflow_settings):
    """v1 champion, v2 challenger."""
    v1 = _register(mlflow_settings, "v1", 0.8)
    registry.promote(NAME, mlflow_settings)
    v2 = _register(mlflow_settings, "v2", 0.7)
    return mlflow_settings, v1, v2


def test_each_alias_resolves_to_its_version_with_run_and_metrics(two_versions):
    settings, v1, v2 = two_versions
    champion = MlflowRegistrySource(settings).resolve(NAME)
    assert (champion.version, champion.metrics, champion.uri) == (v1, {"auc": 0.8}, f"models:/{NAME}/{v1}")
    assert champion.run_id == registry.get_version(NAME, settings, version=v1).run_id
    assert MlflowRegistrySource(settings, "challenger").resolve(NAME).version == v2


def test_fetch_copies_the_version_and_load_native_unwraps_it(two_versions, tmp_path):
    settings, v1, v2 = two_versions
    source = MlflowRegistrySource(settings)
    model_dir = source.fetch(ChampionRef(NAME, v2), tmp_path / "copy")
    assert (model_dir / "MLmodel").is_file() and model_dir.is_relative_to(tmp_path / "copy")
    assert load_native(model_dir) == {"tag": "v2"}


def test_a_missing_alias_or_model_is_registry_unavailable(two_versions):
    settings, _, _ = two_versions
    with pytest.raises(RegistryUnavailable) as info:
        MlflowRegistrySource(settings, "staging").resolve(NAME)
    assert info.value.status == 503 and f"no staging for '{NAME}'" in info.value.message
    with pytest.raises(RegistryUnavailable):
        resolve_all(MlflowRegistrySource(settings), [NAME, "clearance-never-registered"])


def test_a_missing_sqlite_registry_is_unavailable_and_is_not_created(mlflow_settings, tmp_path):
    gone = tmp_path / "gone" / "mlflow.db"
    settings = mlflow_settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{gone}"})
    with pytest.raises(RegistryUnavailable, match="database not found"):
        MlflowRegistrySource(settings).resolve(NAME)
    assert not gone.parent.exists()


def test_resolve_all_turns_any_failure_of_a_source_into_registry_unavailable():
    class Surprising:
        def resolve(self, name):
            raise RuntimeError("/internal/path exploded")

        def fetch(self, ref, dst):
            raise AssertionError

    with pytest.raises(RegistryUnavailable) as info:
        resolve_all(Surprising(), [NAME])
    assert info.value.message == "model registry unreachable (RuntimeError)"  # no internals in the message
