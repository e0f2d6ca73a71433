"""params.yaml's estimator names and the one builder from their settings to scikit-learn.

Kept apart from train.py: params checking imports it in every stage that fits, and a stage
depends on each module it may import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge

if TYPE_CHECKING:
    from datawheel.config.params import Model, Task

ESTIMATORS = {
    "classification": {
        "logistic_regression": LogisticRegression,
        "hist_gradient_boosting": HistGradientBoostingClassifier,
    },
    "regression": {
        "ridge": Ridge,
        "hist_gradient_boosting": HistGradientBoostingRegressor,
    },
}
"""Per contract.task, params.yaml's estimator names and the scikit-learn classes their
settings are passed to: `hist_gradient_boosting` is the classifier or the regressor."""

LINEAR = ("logistic_regression", "ridge")
"""Estimators whose numeric inputs are standardised first."""


def build_estimator(model: Model, task: Task = "classification"):
    """The unfitted estimator `model.estimator` names for `task`, with its settings and seed."""
    return ESTIMATORS[task][model.estimator](random_state=model.seed, **model.estimator_params)
