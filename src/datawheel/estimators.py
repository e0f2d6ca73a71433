"""params.yaml's estimator names and the one builder from their settings to scikit-learn.

Kept apart from train.py: params checking imports it in every stage that fits, and a stage
depends on each module it may import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

if TYPE_CHECKING:
    from datawheel.params import Model

ESTIMATORS = {
    "logistic_regression": LogisticRegression,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
}
"""params.yaml's estimator names and the scikit-learn classes their settings are passed to."""


def build_estimator(model: Model):
    """The unfitted estimator `model.estimator` names, with its settings and seed."""
    return ESTIMATORS[model.estimator](random_state=model.seed, **model.estimator_params)
