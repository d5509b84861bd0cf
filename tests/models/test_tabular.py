"""Spec-driven tabular estimator: spec validation, stored category levels, leak-free encodings, pyfunc round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.errors import InvalidInputError
from data.specs.schema import builtin_spec, parse_spec
from models.tabular import TabularModel, TabularPreprocessor

BASE = {"name": "toy", "task": "binary", "target": "y", "categorical": ["colour"], "numeric": ["x"]}


def toy_frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue", "black"], n)
    x = rng.normal(size=n)
    shop = rng.integers(0, 40, n).astype(str)
    shop_effect = (pd.Series(shop).map(lambda s: int(s) % 7 == 0).to_numpy()) * 2.0
    logit = -1.0 + 1.5 * (colour == "red") - 1.0 * (colour == "blue") + x + shop_effect
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"colour": colour, "x": x, "shop": shop, "row_id": np.arange(n), "y": y,
                         "price": rng.lognormal(3, 1, n), "mass": rng.lognormal(1, 1, n),
                         "hs": rng.choice([10121, 610910, 392310], n)})


def toy_spec(**extra):
    return parse_spec({**BASE, **extra})


# ---- spec ------------------------------------------------------------------------------------------------------
def test_builtin_specs_load():
    kcs = builtin_spec("kcs-declarations")
    assert kcs.target == "Fraud" and kcs.task == "binary"
    assert "Critical Fraud" in kcs.drop and "Critical Fraud" not in kcs.required_columns()
    assert {"Importer ID", "Declarant ID", "Seller ID"} <= set(kcs.encoded_ids)
    assert builtin_spec("shipments-delay").quantiles == [0.5, 0.9]
    assert builtin_spec("shipments-risk").classes == ["low", "medium", "high"]


@pytest.mark.parametrize("change, field", [
    ({"task": "ranking"}, "task"),
    ({"task": "quantile"}, "quantiles"),
    ({"quantiles": [0.5, 1.5], "task": "quantile"}, "quantiles"),
    ({"numeric": ["x", "colour"]}, "colour"),
    ({"derived": [{"kind": "hs_prefix", "name": "hs2", "source": "hs", "digits": 20}]}, "derived.0.hs_prefix.digits"),
    ({"encoding": {"folds": 1}}, "encoding.folds"),
    ({"unknown_key": 1}, "unknown_key"),
])
def test_bad_spec_names_the_field(change, field):
    with pytest.raises(InvalidInputError) as err:
        parse_spec({**BASE, **change}, source="toy.yaml")
    assert field in err.value.message
    assert "toy.yaml" in err.value.message


def test_missing_column_is_named():
    spec = toy_spec()
    with pytest.raises(InvalidInputError, match="colour"):
        TabularModel(spec).fit(toy_frame().drop(columns=["colour"]))


# ---- preprocessing -----------------------------------------------------------------------------------------------
def test_levels_are_stored_and_unseen_values_become_missing():
    spec = toy_spec()
    df = toy_frame()
    pre, x = TabularPreprocessor.fit(spec, df, df[["y"]].to_numpy(float))
    j = pre.feature_names.index("colour")
    assert set(pre.levels["colour"]) == {"red", "green", "blue", "black"}
    new = pd.DataFrame({"colour": ["purple", None, "red"], "x": [0.0, 0.0, 0.0]})
    xt = pre.transform(new)
    assert np.isnan(xt[0, j]) and np.isnan(xt[1, j])
    assert xt[2, j] == pre.levels["colour"]["red"]
    # dict rows (serving path) give the same matrix as the frame path
    np.testing.assert_array_equal(pre.transform_records(new.to_dict("records")), xt)


def test_numeric_codes_read_as_int_float_or_text_are_one_level():
    spec = parse_spec({**BASE, "categorical": ["office"], "numeric": []})
    df = pd.DataFrame({"office": [30, 40, 30, 40], "y": [0, 1, 0, 1]})
    pre, _ = TabularPreprocessor.fit(spec, df, df[["y"]].to_numpy(float))
    xt = pre.transform(pd.DataFrame({"office": ["30", 30.0, 40, "41"]}))
    assert xt[0, 0] == xt[1, 0] == pre.levels["office"]["30"]
    assert xt[2, 0] == pre.levels["office"]["40"] and np.isnan(xt[3, 0])


def test_target_encoding_is_out_of_fold_on_train():
    """A row-unique id carries no signal; in-sample encoding would copy each label, out-of-fold must not."""
    spec = toy_spec(id_columns=[{"name": "row_id", "role": "encode"}])
    df = toy_frame()
    pre, x = TabularPreprocessor.fit(spec, df, df[["y"]].to_numpy(float))
    te = x[:, pre.feature_names.index("row_id__te")]
    assert np.corrcoef(te, df["y"])[0, 1] < 0.05  # in-sample smoothing 20 would give ~0.2
    # a real key effect (shops) is still learned
    spec2 = toy_spec(id_columns=[{"name": "shop", "role": "encode"}])
    pre2, x2 = TabularPreprocessor.fit(spec2, df, df[["y"]].to_numpy(float))
    assert np.corrcoef(x2[:, pre2.feature_names.index("shop__te")], df["y"])[0, 1] > 0.15
    # unseen keys get the prior and frequency 0
    unseen = pre2.transform(pd.DataFrame({"colour": ["red"], "x": [0.0], "shop": ["no-such-shop"]}))
    assert unseen[0, pre2.feature_names.index("shop__freq")] == 0
    assert unseen[0, pre2.feature_names.index("shop__te")] == pytest.approx(df["y"].mean())


def test_derived_features():
    spec = toy_spec(derived=[
        {"kind": "hs_prefix", "name": "hs2", "source": "hs", "digits": 2},
        {"kind": "hs_prefix", "name": "hs4", "source": "hs", "digits": 4, "encode": True},
        {"kind": "ratio", "name": "unit_value", "numerator": "price", "denominator": "mass", "log": True},
        {"kind": "cross", "name": "colour_hs2", "sources": ["colour", "hs2"]},
    ])
    df = toy_frame(200)
    pre, x = TabularPreprocessor.fit(spec, df, df[["y"]].to_numpy(float))
    assert set(pre.levels["hs2"]) == {"01", "61", "39"}  # 10121 is HS 010121: the leading zero is restored
    uv = x[:, pre.feature_names.index("unit_value")]
    np.testing.assert_allclose(uv, np.log1p(df.price / df.mass))
    assert "colour_hs2__te" in pre.feature_names and "hs4__freq" in pre.feature_names
    assert pre.feature_sources[pre.feature_names.index("colour_hs2__te")] == "colour"


# ---- estimator ---------------------------------------------------------------------------------------------------
def test_binary_model_learns_and_calibrates():
    spec = toy_spec(model={"num_boost_round": 200, "early_stopping_rounds": 20, "calibration": "isotonic"})
    df = toy_frame(4000)
    train, valid = df.iloc[:3000], df.iloc[3000:]
    m = TabularModel(spec, num_threads=1).fit(train, valid_df=valid)
    p = m.predict_proba(valid)
    assert p.shape == (1000,) and (0 <= p).all() and (p <= 1).all()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(valid.y, p) > 0.7
    red = m.predict_proba(pd.DataFrame({"colour": ["red"], "x": [0.0]}))[0]
    blue = m.predict_proba(pd.DataFrame({"colour": ["blue"], "x": [0.0]}))[0]
    assert red > blue


def test_quantile_model_orders_quantiles():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"g": rng.choice(["a", "b"], 3000), "x": rng.normal(size=3000)})
    df["t"] = np.where(df.g == "a", 10, 30) + rng.exponential(5, 3000)
    spec = parse_spec({"name": "q", "task": "quantile", "target": "t", "quantiles": [0.9, 0.5],
                       "categorical": ["g"], "numeric": ["x"], "model": {"num_boost_round": 100}})
    m = TabularModel(spec, num_threads=1).fit(df.iloc[:2500], valid_df=df.iloc[2500:])
    q = m.predict_quantiles(df.iloc[2500:])
    assert (q[:, 0] >= q[:, 1]).all()  # spec order: P90 first
    cov = (df.iloc[2500:].t.to_numpy() <= q[:, 0]).mean()
    assert 0.8 < cov < 0.97


# ---- pyfunc round trip (the known categorical pitfall) --------------------------------------------------------------
def test_categories_survive_pyfunc_save_and_load(tmp_path):
    import mlflow

    from models.tabular_pyfunc import TabularPredictor, log_native

    spec = toy_spec(id_columns=[{"name": "shop", "role": "encode"}], model={"num_boost_round": 60})
    df = toy_frame(3000)
    model = TabularModel(spec, num_threads=1).fit(df.iloc[:2500], valid_df=df.iloc[2500:])
    native = TabularPredictor(model)

    score = df.iloc[2500:][["colour", "x", "shop"]].reset_index(drop=True).copy()
    score.loc[:9, "colour"] = "violet"  # unseen level
    score.loc[10:14, "shop"] = "never-seen-shop"
    expected = native.predict_frame(score)["probability"].to_numpy()

    # Same values, but as a pandas categorical whose categories are in another order (and include the unseen one):
    # the category *codes* differ from training, which is what breaks models that feed codes to LightGBM.
    reordered = score.copy()
    reordered["colour"] = pd.Categorical(score["colour"], categories=["violet", "black", "blue", "green", "red"])
    train_codes = pd.Categorical(df["colour"]).categories.get_indexer(["red"])[0]
    assert reordered["colour"].cat.categories.get_indexer(["red"])[0] != train_codes

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = mlflow.create_experiment("pyfunc-roundtrip", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=exp):
        info = log_native(native, "model", score)
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert isinstance(loaded.unwrap_python_model().native, TabularPredictor)  # contract 8

    np.testing.assert_allclose(loaded.unwrap_python_model().native.predict_frame(reordered)["probability"],
                               expected, rtol=0, atol=1e-12)
    via_pyfunc = loaded.predict(score)["probability"].to_numpy()
    np.testing.assert_allclose(via_pyfunc, expected, rtol=0, atol=1e-12)
    # unseen values changed the prediction only through "missing", never through a wrong level
    assert np.isfinite(via_pyfunc).all()


# ---- shipment categoricals: levels from the training history, not from a list in the code ---------------------------
def test_shipment_carrier_levels_come_from_the_training_history():
    """An exporter's own carriers get levels of their own when the model is fitted; one the model never saw is scored
    as missing (exactly like no carrier), not as whichever carrier happens to share its number."""
    from features.shipment_features import FEATURE_NAMES
    from models.risk import RiskModel
    from tests.models.shipment_models import small_history

    frame = small_history().copy()
    frame["carrier"] = pd.Categorical(frame["carrier"].astype(object).replace(
        {"COSCO": "Kerry Logistics", "Maersk": "Sinotrans"}))
    spec = builtin_spec("shipments-risk")
    spec = spec.model_copy(update={"model": spec.model.model_copy(update={"num_boost_round": 30})})
    model = RiskModel(spec, num_threads=1).fit(frame.iloc[:6000], frame.iloc[6000:])
    levels = model.model_.preprocessor_.levels["carrier"]
    assert {"Kerry Logistics", "Sinotrans"} <= set(levels) and "COSCO" not in levels

    row = frame.iloc[6500][FEATURE_NAMES].to_dict()
    j = model.feature_names.index("carrier")
    rows = {name: {**row, "carrier": carrier} for name, carrier in
            (("own", "Kerry Logistics"), ("unseen", "Never Seen Freight"), ("missing", None))}
    x = {name: model.matrix([r]) for name, r in rows.items()}
    assert x["own"][0, j] == levels["Kerry Logistics"]
    assert np.isnan(x["unseen"][0, j]) and np.isnan(x["missing"][0, j])
    np.testing.assert_array_equal(model.predict_rows([rows["unseen"]]), model.predict_rows([rows["missing"]]))
