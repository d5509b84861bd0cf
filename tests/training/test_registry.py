"""Registry workflow: challenger registration, guarded promotion, forced promotion and the alias history."""

from __future__ import annotations

import mlflow
import pytest

from data.errors import ConflictError, NotFoundError
from training import registry


class _Constant(mlflow.pyfunc.PythonModel):
    def __init__(self, value: float):
        self.value = value

    def predict(self, context, model_input, params=None):
        return [self.value] * len(model_input)


def _log(settings, value: float) -> str:
    registry.configure_mlflow(settings)
    with mlflow.start_run(experiment_id=registry.experiment_id("registry-test", settings)) as run:
        mlflow.pyfunc.log_model(name="model", python_model=_Constant(value))
    return run.info.run_id


def test_register_promote_and_history(registry_backend):
    settings = registry_backend
    name = "clearance-test"
    v1 = registry.register_challenger(_log(settings, 1.0), "model", name, {"auc": 0.80, "f1": 0.5}, "auc", True,
                                      settings, actor="alice")
    assert registry.get_version(name, settings, alias="challenger").version == v1

    first = registry.promote(name, settings, actor="alice")
    assert first.promoted and first.to_version == v1 and first.from_version is None
    assert registry.get_version(name, settings, alias="champion").version == v1
    with pytest.raises(NotFoundError):
        registry.get_version(name, settings, alias="challenger")

    v2 = registry.register_challenger(_log(settings, 2.0), "model", name, {"auc": 0.70}, "auc", True, settings)
    refused = registry.promote(name, settings, actor="bob")
    assert not refused.promoted and "worse" in refused.reason
    assert registry.get_version(name, settings, alias="champion").version == v1

    forced = registry.promote(name, settings, actor="bob", force=True)
    assert forced.promoted and forced.forced and forced.from_version == v1 and forced.to_version == v2

    changes = registry.history(name, settings)
    champion_moves = [(c.action, c.from_version, c.to_version, c.actor) for c in changes if c.alias == "champion"]
    assert champion_moves == [("initial", None, v1, "alice"), ("force_promote", v1, v2, "bob")]
    assert changes[-2].metrics["challenger"]["auc"] == pytest.approx(0.70)

    loaded = mlflow.pyfunc.load_model(registry.champion_uri(name))
    assert list(loaded.predict([[0]])) == [2.0]

    # `clearance models list` shows each version's aliases (search_model_versions alone leaves them empty).
    listed = {v.version: v.aliases for v in registry.list_versions(settings, (name,))}
    assert listed == {v1: [], v2: ["champion"]}


def test_lower_is_better_and_equal_metric_promotes(mlflow_settings):
    settings, name = mlflow_settings, "clearance-delay-test"
    registry.register_challenger(_log(settings, 1.0), "model", name, {"mae": 10.0}, "mae", False, settings)
    registry.promote(name, settings)
    v2 = registry.register_challenger(_log(settings, 1.0), "model", name, {"mae": 10.0}, "mae", False, settings)
    assert registry.promote(name, settings).to_version == v2  # equal is "no worse"
    v3 = registry.register_challenger(_log(settings, 1.0), "model", name, {"mae": 12.0}, "mae", False, settings)
    refused = registry.promote(name, settings)
    assert not refused.promoted and refused.to_version == v3
    with pytest.raises(ConflictError):  # promoting the champion onto itself is refused, not silently recorded
        from mlflow import MlflowClient

        MlflowClient().set_registered_model_alias(name, "challenger", str(v2))
        registry.promote(name, settings)


def test_missing_primary_metric_is_refused(mlflow_settings):
    with pytest.raises(Exception, match="primary metric 'auc' is missing"):
        registry.register_challenger(_log(mlflow_settings, 1.0), "model", "clearance-x", {"f1": 0.3}, "auc", True,
                                     mlflow_settings)


def test_concurrent_promotions_apply_once(registry_backend):
    """Four replicas promote the same challenger at the same moment: one moves the alias, the rest are told why not,
    and the history has one champion move, not four."""
    from concurrent.futures import ThreadPoolExecutor

    settings, name = registry_backend, "clearance-race-test"
    run_id = _log(settings, 1.0)  # one logged model registered twice: two versions, one artifact upload
    registry.register_challenger(run_id, "model", name, {"auc": 0.8}, "auc", True, settings)
    registry.promote(name, settings, actor="setup")
    v2 = registry.register_challenger(run_id, "model", name, {"auc": 0.9}, "auc", True, settings)

    def attempt(i: int):
        try:
            return registry.promote(name, settings, actor=f"replica-{i}")
        except (ConflictError, NotFoundError) as exc:
            return exc

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    promoted = [o for o in outcomes if isinstance(o, registry.PromotionResult) and o.promoted]
    assert len(promoted) == 1 and promoted[0].to_version == v2
    assert all(isinstance(o, (ConflictError, NotFoundError)) for o in outcomes if o is not promoted[0])
    moves = [c for c in registry.history(name, settings) if c.alias == "champion"]
    assert [(c.from_version, c.to_version) for c in moves] == [(None, 1), (1, v2)]
    assert registry.get_version(name, settings, alias="champion").version == v2
