"""The scikit-learn pipeline built from the data contract and params, fitted deterministically."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from datawheel.config.estimators import LINEAR, build_estimator
from datawheel.config.params import Contract, Model
from datawheel.errors import DataContractError

# The contract types fed to the model as numbers (imputed and scaled); bool counts as 0/1.
NUMERIC_FEATURE_TYPES = ("int", "float", "bool")
CATEGORICAL_TYPES = ("string", "category")


def ordered_classes(contract: Contract) -> list:
    """The classes in model order; for a binary target the positive class comes last."""
    if contract.classes is None:
        raise ValueError(f"contract.task {contract.task}: the target has no classes")
    classes = list(contract.classes)
    if contract.is_binary:
        # Contract validation: a binary target's positive_class is one of its classes.
        assert contract.positive_class is not None
        classes.remove(contract.positive_class)
        classes.append(contract.positive_class)
    return classes


def feature_frame(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The model's inputs: numeric as float64 with NaN, categorical as object with NaN."""
    columns = {}
    for name in contract.features_of_type(*NUMERIC_FEATURE_TYPES):
        columns[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in contract.features_of_type(*CATEGORICAL_TYPES):
        values = frame[name].astype("object")
        columns[name] = values.where(frame[name].notna(), np.nan)
    return pd.DataFrame(columns, index=frame.index)


def encode_target(values: pd.Series, classes: Sequence, source: str = "target") -> np.ndarray:
    """Map labels to 0..k-1 in `classes` order; a label outside the classes is an error."""
    lookup = {str(c): i for i, c in enumerate(classes)}
    encoded = values.astype("str").map(lookup)
    if encoded.isna().any():
        bad = sorted(values[encoded.isna()].astype("str").unique())[:5]
        raise DataContractError(
            f"{source}: label value(s) {bad} are not in params.yaml contract.classes "
            f"{list(classes)} (rule: label_domain)"
        )
    return encoded.to_numpy(dtype="int64")


def build_pipeline(contract: Contract, model: Model) -> Pipeline:
    """Preprocessing from the contract's column types, then the estimator from params."""
    numeric = contract.features_of_type(*NUMERIC_FEATURE_TYPES)
    categorical = contract.features_of_type(*CATEGORICAL_TYPES)
    linear = model.estimator in LINEAR
    numeric_steps = [("impute", SimpleImputer(strategy="median"))]
    if linear:
        numeric_steps.append(("scale", StandardScaler()))
    categorical_steps = [
        ("impute", SimpleImputer(strategy="most_frequent")),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ]
    preprocess = ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), numeric),
            ("categorical", Pipeline(categorical_steps), categorical),
        ],
        remainder="drop",
    )
    return Pipeline([("preprocess", preprocess), ("model", build_estimator(model, contract.task))])


def regression_target(values: pd.Series, source: str = "target") -> np.ndarray:
    """A regression target as float64; a missing or non-numeric value is an error."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = numbers.isna() | ~np.isfinite(numbers)
    if bad.any():
        shown = sorted(values[bad].astype("str").unique())[:5]
        raise DataContractError(
            f"{source}: target value(s) {shown} are not finite numbers; a regression target "
            "needs one for every row (rule: numeric_target)"
        )
    return numbers.to_numpy()


def fit_model(train: pd.DataFrame, contract: Contract, model: Model) -> Pipeline:
    """Fit the pipeline on rows sorted by row id, so row order never changes the model."""
    ordered = train.sort_values("row_id", kind="stable")
    if contract.is_regression:
        y = regression_target(ordered[contract.target], "training data")
    else:
        y = encode_target(ordered[contract.target], ordered_classes(contract))
    if not contract.is_regression and len(np.unique(y)) < 2:
        raise DataContractError(
            f"training data: only one class of {contract.target!r} present "
            "(rule: train_has_all_classes); widen window.days or check the labels"
        )
    pipeline = build_pipeline(contract, model)
    pipeline.fit(feature_frame(ordered, contract), y)
    _forget_thread_count(pipeline[-1])
    return pipeline


def _forget_thread_count(estimator) -> None:
    """HistGradientBoosting keeps the core count it was fitted on in its bin mapper, which
    would make the saved bytes differ between machines. None (the constructor default) means
    "decide at predict time" and gives the same predictions."""
    bin_mapper = getattr(estimator, "_bin_mapper", None)
    if bin_mapper is not None:
        bin_mapper.n_threads = None


def predict_values(model: Pipeline, frame: pd.DataFrame, contract: Contract) -> np.ndarray:
    """A regression model's predictions, one float per row."""
    return np.asarray(model.predict(feature_frame(frame, contract)), dtype=np.float64)


def predict_proba(model: Pipeline, frame: pd.DataFrame, contract: Contract) -> np.ndarray:
    """Probabilities with one column per class in ordered_classes(contract) order."""
    proba = model.predict_proba(feature_frame(frame, contract))
    assert contract.classes is not None, "predict_proba needs a classification contract"
    full = np.zeros((len(frame), len(contract.classes)))
    full[:, model.classes_.astype(int)] = proba
    return full
