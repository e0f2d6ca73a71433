"""Fail-safe staging's pure rules: which rows are new, the verdict, and promote's action."""

from __future__ import annotations

import pandas as pd
import pytest

from datawheel.model.metrics import BootstrapResult
from datawheel.registry.staging import CONFIRMED, FAILED, PENDING, action, prospective_rows, verdict


def boot(low: float, high: float, delta: float | None = None) -> BootstrapResult:
    delta = (low + high) / 2 if delta is None else delta
    return BootstrapResult("roc_auc", 0.8, 0.8 - delta, delta, low, high, 1000, 0.95, 1000, 0)


def test_only_rows_after_the_staged_models_holdout_are_prospective():
    times = pd.Series(
        pd.to_datetime(
            ["2026-01-03", "2026-01-04T00:00:01", "2026-01-05"], utc=True, format="ISO8601"
        )
    )
    assert prospective_rows(times, "2026-01-04T00:00:00+00:00").tolist() == [False, True, True]
    assert prospective_rows(times, "2026-01-05").tolist() == [False, False, False]


@pytest.mark.parametrize(
    ("rows", "bootstrap", "guards", "status", "says"),
    [
        (40, boot(0.01, 0.05), True, PENDING, "40 row(s) arrived"),
        (400, boot(0.01, 0.05), True, CONFIRMED, "beats the champion again"),
        (400, boot(-0.05, -0.01), True, FAILED, "the champion beats v1.1.0"),
        (400, boot(-0.01, 0.03), True, PENDING, "not yet established"),
        (400, boot(float("nan"), float("nan"), 0.0), True, PENDING, "undefined"),
        (400, boot(0.01, 0.05), False, FAILED, "sanity guard"),
    ],
)
def test_the_verdict_on_new_data(rows, bootstrap, guards, status, says):
    result = verdict("v1.1.0", rows, bootstrap, 100, 0.0, guards)
    assert result.status == status and says in result.reason


def test_a_margin_is_demanded_as_at_the_gate():
    assert verdict("v2.0.0", 500, boot(0.01, 0.05), 100, 0.02).status == PENDING


@pytest.mark.parametrize(
    ("staged", "so_far", "status", "passes", "beats", "pinned", "expected"),
    [
        (None, 0, None, True, False, False, "stage"),
        (None, 0, None, False, False, False, "none"),
        ("v1.1.0", 0, CONFIRMED, True, True, False, "promote_staged"),  # judged first
        ("v1.1.0", 0, PENDING, True, False, False, "none"),  # a similar candidate waits
        ("v1.1.0", 0, PENDING, True, True, False, "replace"),
        ("v1.1.0", 0, FAILED, False, False, False, "drop"),
        ("v1.1.0", 0, FAILED, True, False, False, "replace"),
        ("v1.1.0", 0, CONFIRMED, False, False, True, "none"),  # a pin holds everything
    ],
)
def test_the_action_promote_takes(staged, so_far, status, passes, beats, pinned, expected):
    check = None if status is None else verdict("v1.1.0", 500, _boot_for(status), 100, 0.0)
    assert check is None or check.status == status
    assert action(staged, so_far, 1, check, passes, beats, pinned) == expected


def test_several_confirmations_are_counted_before_prod():
    check = verdict("v1.1.0", 500, boot(0.01, 0.05), 100, 0.0)
    assert action("v1.1.0", 0, 2, check, False, False, False) == "confirm"
    assert action("v1.1.0", 1, 2, check, False, False, False) == "promote_staged"


def _boot_for(status: str) -> BootstrapResult:
    return {CONFIRMED: boot(0.01, 0.05), FAILED: boot(-0.05, -0.01), PENDING: boot(-0.01, 0.03)}[
        status
    ]


def test_the_staging_record_renders_the_verdict_and_the_candidate_against_it():
    from datawheel.render.gate import render_staging

    assert render_staging(None) == ""
    versus = {
        "metric": "roc_auc",
        "delta": 0.012,
        "confidence": 0.95,
        "ci_low": 0.004,
        "ci_high": 0.02,
    }
    text = render_staging(
        {
            "verdict": {"status": PENDING, "reason": "v1.1.0 waits in staging: 3 row(s) | x"},
            "candidate_beats_staged": True,
            "candidate_vs_staged": versus,
        }
    )
    assert text.startswith("**Staging: PENDING** — v1.1.0 waits in staging: 3 row(s) \\| x")
    assert "candidate beats the staged model: roc_auc +0.0120, 95% CI [+0.0040, +0.0200]" in text


def test_status_reports_the_staged_model_and_only_its_own_verdict():
    from datawheel.registry.status import _staged

    pointer = {
        "staging": {
            "version": "v1.1.0",
            "model_md5": "ab",
            "selected_through": "t",
            "confirmations": [{"commit": "c"}],
        }
    }
    about_it = {"staging": {"verdict": {"version": "v1.1.0", "status": CONFIRMED, "reason": "r"}}}
    about_another = {"staging": {"verdict": {"version": "v1.0.9", "status": FAILED}}}
    assert _staged({}, about_it, 2) is None
    seen = _staged(pointer, about_it, 2)
    assert (seen["confirmations"], seen["confirmations_needed"]) == (1, 2)
    assert (seen["last_verdict"], seen["last_reason"]) == (CONFIRMED, "r")
    assert _staged(pointer, about_another, 2)["last_verdict"] is None
