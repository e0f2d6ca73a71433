"""metrics.json: numbers only, with which hold-out was scored and the gate's paired delta."""

from __future__ import annotations

import json
import numbers

import numpy as np
import pandas as pd
import pytest

from datawheel.model.metrics import classification_metrics, holdout_identity, paired_bootstrap
from datawheel.pipeline.evaluate import metrics_record

IDENTITY_KEYS = {"start", "end", "fingerprint"}  # the only values that are not numbers


def _holdout(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "row_id": [f"r{i:04d}" for i in range(rows)],
            "churned": rng.integers(0, 2, rows),
            "event_time": pd.Timestamp("2026-01-25") + pd.to_timedelta(np.arange(rows) % 7, "D"),
        }
    )


def _identity(frame: pd.DataFrame) -> dict:
    return holdout_identity(frame["row_id"], frame["churned"], frame["event_time"])


def _proba(y: np.ndarray, separation: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    score = 1 / (1 + np.exp(-(separation * (y - 0.5) * 2 + rng.normal(0, 1, len(y)))))
    return np.column_stack([1 - score, score])


def _record(frame: pd.DataFrame, with_champion: bool) -> dict:
    y = frame["churned"].to_numpy()
    labels = [0, 1]
    candidate, champion = _proba(y, 1.2, 1), _proba(y, 0.8, 2)
    groups = {
        "candidate": classification_metrics(y, candidate, labels),
        "baseline": classification_metrics(y, np.full((len(y), 2), 0.5), labels),
    }
    bootstrap = None
    if with_champion:
        groups["champion"] = classification_metrics(y, champion, labels)
        bootstrap = paired_bootstrap(
            y, candidate, champion, "roc_auc", labels, samples=200, seed=0, confidence=0.95
        )
    return metrics_record(groups, _identity(frame), bootstrap), bootstrap


def _leaves(data: dict, prefix: str = ""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_identity_names_rows_dates_and_a_short_fingerprint():
    identity = _identity(_holdout())
    assert identity["rows"] == 300
    assert (identity["start"], identity["end"]) == ("2026-01-25", "2026-01-31")
    assert len(identity["fingerprint"]) == 12 and int(identity["fingerprint"], 16) >= 0


def test_fingerprint_is_deterministic_and_follows_the_rows_and_labels():
    frame = _holdout()
    first = _identity(frame)["fingerprint"]
    assert _identity(frame.sample(frac=1, random_state=3))["fingerprint"] == first  # any order
    assert _identity(frame.iloc[1:])["fingerprint"] != first  # a row fewer
    relabelled = frame.copy()
    relabelled.loc[0, "churned"] = 1 - relabelled.loc[0, "churned"]
    assert _identity(relabelled)["fingerprint"] != first
    assert _identity(_holdout(seed=9))["fingerprint"] != first  # other labels


def test_every_value_is_a_number_except_the_holdout_identity():
    record, _ = _record(_holdout(), with_champion=True)
    json.dumps(record, allow_nan=False)
    for key, value in _leaves(record):
        if key.startswith("holdout.") and key.split(".")[1] in IDENTITY_KEYS:
            assert isinstance(value, str), key
        else:
            assert isinstance(value, numbers.Real) and not isinstance(value, bool), key
    assert "champion_version" not in record


def test_gate_delta_is_the_gate_s_own_numbers_and_only_with_a_champion():
    record, bootstrap = _record(_holdout(), with_champion=True)
    assert record["gate"] == pytest.approx(
        {"delta": bootstrap.delta, "ci_low": bootstrap.ci_low, "ci_high": bootstrap.ci_high}
    )
    assert record["gate"]["ci_low"] <= record["gate"]["delta"] <= record["gate"]["ci_high"]
    alone, _ = _record(_holdout(), with_champion=False)
    assert "gate" not in alone and "champion" not in alone
    assert set(alone) == {"candidate", "baseline", "holdout"}


def test_an_empty_holdout_cannot_be_identified():
    with pytest.raises(ValueError, match="empty hold-out"):
        _identity(_holdout().iloc[:0])
