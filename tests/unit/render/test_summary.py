"""The retrain job summary: every outcome says what happened, missing files included."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import cmarkgfm
import pytest

from datawheel.io.process import command_env
from datawheel.registry.promote import hold_paragraph, promote
from datawheel.render.summary import SummaryInputs, load_inputs, render_summary

METRICS = {
    "candidate": {"roc_auc": 0.8412, "accuracy": 0.81, "log_loss": 0.40},
    "champion": {"roc_auc": 0.8201, "accuracy": 0.80, "log_loss": 0.42},
    "baseline": {"roc_auc": 0.5, "accuracy": 0.76, "log_loss": 0.55},
    "gate": {"delta": 0.0211, "ci_low": 0.0102, "ci_high": 0.0318},
    "holdout": {"rows": 7000, "start": "2026-01-25", "end": "2026-01-31", "fingerprint": "0a1b"},
}
BOOTSTRAP = {
    "metric": "roc_auc",
    "candidate": 0.8412,
    "champion": 0.8201,
    "delta": 0.0211,
    "ci_low": 0.0102,
    "ci_high": 0.0318,
    "samples": 1000,
    "confidence": 0.95,
    "samples_requested": 1000,
    "seed": 0,
}
GATE = {
    "decision": "promote",
    "primary_metric": "roc_auc",
    "candidate": METRICS["candidate"],
    "champion": METRICS["champion"],
    "baseline": METRICS["baseline"],
    "bootstrap": BOOTSTRAP,
    "checks": [
        {"name": "validation", "passed": True, "detail": "Data validation passed.", "values": {}},
        {
            "name": "primary_improvement",
            "passed": True,
            "detail": "roc_auc improvement +0.0211 | above the margin.",
            "values": {},
        },
    ],
    "reasons": ["Promote: roc_auc 0.8412 vs champion 0.8201."],
}
VALIDATION = {
    "passed": 30,
    "batches": 31,
    "warning": 1,
    "failed": 0,
    "acknowledged": 0,
    "rows": 31000,
    "quarantined_rows": 12,
}
PROMOTED = {
    "result": "promoted",
    "version": "v1.3.0",
    "previous": "v1.2.0",
    "message": "churn-model v1.3.0 is in prod.",
    "gate": GATE,
}


def _inputs(**overrides) -> SummaryInputs:
    fields = {
        "reports": "reports",
        "gate": GATE,
        "metrics": METRICS,
        "validation": VALIDATION,
        "promotion": PROMOTED,
        "champion_version": "v1.2.0",
    }
    return SummaryInputs(**{**fields, **overrides})


def test_promoted_run_has_headline_metrics_ci_checks_and_validation():
    text = render_summary(_inputs(), "churn-model")
    assert text.startswith("## Promoted churn-model v1.3.0\n\nchurn-model v1.3.0 is in prod.")
    assert "| metric | candidate | champion v1.2.0 | naive baseline |" in text
    assert "| **roc_auc** (primary) | 0.8412 | 0.8201 | 0.5000 |" in text
    assert "| log_loss | 0.4000 | 0.4200 | 0.5500 |" in text
    assert "**+0.0211**, 95% CI [+0.0102, +0.0318] over 1,000 paired" in text
    assert "**Gate: PROMOTE** — roc_auc against the champion." in text  # render_decision
    assert "| primary_improvement | pass | roc_auc improvement +0.0211 \\| above" in text
    assert "Validation passed: 31 batches, 0 failed (0 acknowledged), 1 with warnings" in text
    assert "12 of 31,000 rows quarantined" in text
    assert "did not produce" not in text


def test_summary_renders_as_github_markdown_tables():
    html = cmarkgfm.github_flavored_markdown_to_html(render_summary(_inputs(), "churn-model"))
    assert html.count("<table>") == 2  # metrics, gate checks
    assert "<h2>Promoted churn-model v1.3.0</h2>" in html
    assert "<td><strong>roc_auc</strong> (primary)</td>" in html


def test_held_without_a_champion_and_without_one_column():
    metrics = {key: value for key, value in METRICS.items() if key not in ("champion", "gate")}
    held = {**PROMOTED, "result": "held", "version": None, "previous": None, "message": "m"}
    text = render_summary(
        _inputs(metrics=metrics, promotion=held, champion_version=None), "churn-model"
    )
    assert text.startswith("## Held: no model was promoted, there is no champion yet\n\nm\n")
    assert "| metric | candidate | naive baseline |" in text
    held_with_champion = {**held, "previous": "v1.2.0"}
    text = render_summary(_inputs(promotion=held_with_champion), "churn-model")
    assert text.startswith("## Held: the champion v1.2.0 stays in prod")


def test_the_scored_champion_is_promote_s_previous_else_the_pointer(tmp_path):
    """metrics.json holds numbers only: the version comes from the outcome or the pointer."""
    pointer = tmp_path / "champion.json"
    pointer.write_text(json.dumps({"version": "v1.3.0", "model_md5": "0" * 32}))
    (tmp_path / "promotion.json").write_text(json.dumps(PROMOTED))  # previous: v1.2.0
    assert load_inputs(tmp_path, tmp_path / "promotion.json", pointer).champion_version == (
        "v1.2.0"
    )
    assert load_inputs(tmp_path, None, pointer).champion_version == "v1.3.0"
    assert load_inputs(tmp_path, None, tmp_path / "missing.json").champion_version is None
    first = {**PROMOTED, "previous": None}
    (tmp_path / "promotion.json").write_text(json.dumps(first))
    assert load_inputs(tmp_path, tmp_path / "promotion.json", pointer).champion_version is None


def test_rollback_refused_and_error_outcomes_have_their_headline():
    for result, headline in [
        ("rolled_back", "## Rolled churn-model back to v1.3.0"),
        ("refused", "## Refused: nothing was promoted"),
        ("error", "## Promotion failed with an error: nothing was promoted"),
    ]:
        promotion = {**PROMOTED, "result": result, "message": "origin moved"}
        text = render_summary(_inputs(promotion=promotion), "churn-model")
        assert text.startswith(f"{headline}\n\norigin moved")


def test_failed_validation_without_gate_points_to_validation_md(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    failing = {**VALIDATION, "failed": 2, "acknowledged": 1}
    (reports / "validation_summary.json").write_text(json.dumps(failing))
    inputs = load_inputs(reports, tmp_path / "promotion.json")
    text = render_summary(inputs, "churn-model")
    assert text.startswith("## Data validation failed: the pipeline stopped before training")
    assert f"`{reports}/validation.md`" in text
    assert "Validation **failed**: 31 batches, 2 failed (1 acknowledged)" in text
    assert f"- `{reports}/gate.json`: not found" in text
    assert f"- `{tmp_path}/promotion.json`: not found" in text


def test_nothing_at_all_still_gives_a_summary(tmp_path):
    inputs = load_inputs(tmp_path / "reports", None)
    assert inputs.gate is None and inputs.metrics is None and len(inputs.problems) == 3
    text = render_summary(inputs)
    assert text.startswith("## The pipeline did not finish: no gate decision")
    assert "`dvc repro`" in text


def test_unreadable_files_are_named_and_promotion_gate_is_a_fallback(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "metrics.json").write_text("{not json")
    (reports / "validation_summary.json").write_text("[1, 2]")
    outcome = tmp_path / "promotion.json"
    outcome.write_text(json.dumps({**PROMOTED, "result": "held", "message": "no gain"}))
    inputs = load_inputs(reports, outcome)
    assert inputs.gate == GATE and inputs.metrics is None and inputs.validation is None
    assert inputs.problems[str(reports / "metrics.json")].startswith("unreadable")
    assert inputs.problems[str(reports / "validation_summary.json")] == (
        "unreadable (not a JSON object)"
    )
    text = render_summary(inputs, "churn-model")
    assert "### Gate" in text and "### Hold-out metrics" not in text


def test_gate_without_promotion_outcome_says_promote_did_not_run():
    text = render_summary(_inputs(promotion=None), "churn-model")
    assert text.startswith("## Gate decision: promote; promotion did not run")


def test_malformed_gate_json_is_reported_not_raised():
    text = render_summary(_inputs(gate={"decision": "hold"}, promotion=None))
    assert "gate.json is not in the expected form" in text


def test_cli_summary_exits_zero_with_nothing_there(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "datawheel", "summary", "--promotion", "missing.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("## The pipeline did not finish: no gate decision")
    assert "- `missing.json`: not found" in result.stdout


def test_cli_summary_reads_the_reports_folder_from_dvc_yaml_vars(tmp_path):
    root = Path(__file__).resolve().parents[3]
    (tmp_path / "params.yaml").write_text((root / "params.yaml").read_text())
    (tmp_path / "dvc.yaml").write_text(
        (root / "dvc.yaml").read_text().replace("reports: reports", "reports: out/reports")
    )
    reports = tmp_path / "out" / "reports"
    reports.mkdir(parents=True)
    (reports / "gate.json").write_text(json.dumps(GATE))
    (reports / "metrics.json").write_text(json.dumps(METRICS))
    (tmp_path / "promotion.json").write_text(json.dumps(PROMOTED))
    result = subprocess.run(
        [sys.executable, "-m", "datawheel", "summary", "--promotion", "promotion.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("## Promoted churn-model v1.3.0")
    assert "validation_summary.json`: not found" in result.stdout


HOLD_REASONS = [
    "roc_auc improvement +0.0010, 95% CI [-0.0100, +0.0120] over 1000 paired resamples "
    "(candidate 0.8211 vs champion 0.8201): the lower bound is not above the margin 0, "
    "so the improvement over the champion is not established.",
    "Guardrail log_loss regressed by 0.0300 (candidate 0.4500 vs champion 0.4200), "
    "more than the tolerated 0.02.",
]
HOLD_GATE = {**GATE, "decision": "hold", "reasons": HOLD_REASONS}


def _headline(promotion, **overrides) -> str:
    text = render_summary(_inputs(promotion=promotion, **overrides), "churn-model")
    return text.splitlines()[0]


@pytest.mark.parametrize(
    ("result", "version", "previous", "headline"),
    [
        ("promoted", "v1.0.0", None, "Promoted churn-model v1.0.0, the first version in prod"),
        ("promoted", "v1.3.0", "v1.2.0", "Promoted churn-model v1.3.0"),
        ("held", None, "v1.2.0", "Held: the champion v1.2.0 stays in prod"),
        ("held", None, None, "Held: no model was promoted, there is no champion yet"),
        ("refused", None, None, "Refused: nothing was promoted"),
        ("rolled_back", "v1.2.0", "v1.3.0", "Rolled churn-model back to v1.2.0"),
        ("error", "v1.3.0", "v1.2.0", "Promotion failed with an error: nothing was promoted"),
    ],
)
def test_the_headline_of_each_outcome(result, version, previous, headline):
    promotion = {**PROMOTED, "result": result, "version": version, "previous": previous}
    assert _headline(promotion) == f"## {headline}"


def test_the_headline_without_any_outcome():
    assert _headline(None, gate=HOLD_GATE) == "## Gate decision: hold; promotion did not run"
    failed = {**VALIDATION, "failed": 1}
    assert _headline(None, gate=None, metrics=None, validation=failed) == (
        "## Data validation failed: the pipeline stopped before training"
    )
    assert _headline(None, gate=None, metrics=None, validation=None) == (
        "## The pipeline did not finish: no gate decision"
    )


def _sentence_starts(text: str) -> list[str]:
    """The first character of the text and of every sentence after a full stop."""
    return [text[0], *re.findall(r"[.!?] +(\S)", text)]


def _promote_held(tmp_path: Path, gate: dict, champion: str | None) -> dict:
    root = Path(__file__).resolve().parents[3]
    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "gate.json").write_text(json.dumps(gate))
    if champion:
        (tmp_path / "models").mkdir()
        pointer = {"version": champion, "model_md5": "0" * 32, "commit": "a" * 40}
        (tmp_path / "models" / "champion.json").write_text(
            json.dumps({**pointer, "model_path": "models/model.skops"})
        )
    outcome = promote(tmp_path)  # a hold returns before any git or DVC command
    assert outcome.result == "held" and outcome.exit_code == 10
    return outcome.to_dict()


def test_a_held_run_names_the_champion_and_the_reasons(tmp_path):
    outcome = _promote_held(tmp_path, HOLD_GATE, "v1.2.0")
    assert outcome["previous"] == "v1.2.0"
    text = render_summary(_inputs(gate=HOLD_GATE, promotion=outcome), "churn-model")
    headline, blank, paragraph = text.splitlines()[:3]
    assert headline == "## Held: the champion v1.2.0 stays in prod" and blank == ""
    assert paragraph.startswith(
        "Held: the candidate was not promoted and the champion v1.2.0 stays in prod. "
        "Reasons: (1) roc_auc improvement +0.0010"
    )
    assert f"(1) {HOLD_REASONS[0]} (2) {HOLD_REASONS[1]}" in paragraph
    assert paragraph.endswith("Nothing was committed, tagged or pushed.")
    starts = _sentence_starts(paragraph)
    assert all(c.isupper() or c == "(" for c in starts), starts
    html = cmarkgfm.github_flavored_markdown_to_html(text)
    assert "<h2>Held: the champion v1.2.0 stays in prod</h2>" in html
    assert "(1) roc_auc improvement" in html  # no emphasis made of the metric's underscore


def test_a_held_first_run_says_there_is_no_champion_yet(tmp_path):
    first = {**HOLD_GATE, "champion": None, "bootstrap": None}
    outcome = _promote_held(tmp_path, first, None)
    assert outcome["previous"] is None
    text = render_summary(_inputs(gate=first, promotion=outcome), "churn-model")
    headline, _, paragraph = text.splitlines()[:3]
    assert headline == "## Held: no model was promoted, there is no champion yet"
    assert paragraph.startswith(
        "Held: the candidate was not promoted and there is no champion yet. Reasons: (1) "
    )
    assert all(c.isupper() or c == "(" for c in _sentence_starts(paragraph))


def test_a_single_reason_follows_its_label_and_keeps_its_case():
    paragraph = hold_paragraph({"reasons": [HOLD_REASONS[0]], "champion": {}}, "v2.0.0")
    assert paragraph == (
        "Held: the candidate was not promoted and the champion v2.0.0 stays in prod. "
        f"Reason: {HOLD_REASONS[0]} Nothing was committed, tagged or pushed."
    )
    unnamed = hold_paragraph({"reasons": [], "champion": {"roc_auc": 0.8}})
    assert unnamed.startswith(
        "Held: the candidate was not promoted and the current champion stays in prod. "
        "The gate gave no reason."
    )


def test_a_promoted_run_shows_the_gate_that_promoted_not_the_re_evaluation(tmp_path):
    # After a promotion evaluate is re-run against the new champion (the candidate
    # itself): reports/ then hold a hold, and the numbers compare the model with itself.
    reports = tmp_path / "reports"
    reports.mkdir()
    again = {**METRICS["candidate"]}
    reevaluated = {
        **GATE,
        "decision": "hold",
        "champion": again,
        "reasons": ["The candidate is the champion v1.3.0: ..."],
    }
    (reports / "gate.json").write_text(json.dumps(reevaluated))
    (reports / "metrics.json").write_text(json.dumps({**METRICS, "champion": again}))
    (tmp_path / "promotion.json").write_text(json.dumps(PROMOTED))
    inputs = load_inputs(reports, tmp_path / "promotion.json")
    assert inputs.gate == GATE
    assert inputs.metrics["champion"] == METRICS["champion"]
    assert inputs.metrics["holdout"] == METRICS["holdout"]
    assert "The candidate is the champion" not in render_summary(inputs, "churn-model")
