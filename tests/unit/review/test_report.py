"""The review report's pure parts: data-test comparison, verdict, Markdown within the limit."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import cmarkgfm
import numpy as np
import pandas as pd

from datawheel.config.params import Drift, Model
from datawheel.data.revisions import Project, TrackedFile
from datawheel.pipeline.validate import BatchValidation, ExpectationOutcome
from datawheel.render.report import LIMIT, render_markdown, truncate
from datawheel.review.diff import (
    ColumnChange,
    DataDiff,
    ExpectationChange,
    KeyChange,
    SchemaDiff,
    SuiteChange,
    batch_changes,
    row_diff,
)
from datawheel.review.drift import compare
from datawheel.review.report import (
    Merge,
    ModelImpact,
    Report,
    assess,
    compare_tests,
    failing_rules,
    judge_merge,
    merge_outcome,
    segment_deltas,
)

KINDS = {"x": "numeric", "colour": "categorical"}


def outcome(rule: str, success: bool, severity: str = "critical", failing: int = 3):
    suite, kind, column = rule.split("/")
    return ExpectationOutcome(
        suite, kind, column, severity, success, element_count=100, unexpected_count=failing
    )


def verdict(batch: str, *outcomes: ExpectationOutcome) -> BatchValidation:
    failed = any(not o.success for o in outcomes)
    return BatchValidation(batch, "m", "failed" if failed else "passed", 100, 0, list(outcomes))


def rows(count: int, seed: int, shift: float = 0.0, prefix: str = "r") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "row_id": [f"{prefix}{i:06d}" for i in range(count)],
            "batch": "data/raw/new.csv",
            "line": np.arange(2, count + 2),
            "id": [f"{prefix}E{i}" for i in range(count)],
            "x": rng.normal(shift, 1.0, count),
            "colour": rng.choice(["red", "blue"], count),
        }
    )


def make_diff(batches: int = 1, shift: float = 0.0, schema: SchemaDiff | None = None) -> DataDiff:
    head = [TrackedFile(f"data/raw/day-{i:05d}.csv", f"{i:032x}") for i in range(batches)]
    changes, unchanged = batch_changes([], head)
    before, after = rows(2000, 1, prefix="b"), rows(1500, 2, shift, prefix="a")
    return DataDiff(
        base="main",
        head="feature",
        base_commit="a" * 40,
        head_commit="b" * 40,
        raw_dir="data/raw",
        base_batches=0,
        head_batches=batches,
        unchanged_batches=unchanged,
        batches=changes,
        rows=row_diff(before.iloc[0:0], after, "id", ["x", "colour"]),
        schema=schema or SchemaDiff(),
        drift=compare(before, after, KINDS, Drift()),
        populations={},
    )


def test_failing_rules_are_aggregated_over_batches():
    found = failing_rules(
        [
            verdict("b1", outcome("ranges/between/age", False), outcome("nulls/not_null/x", True)),
            verdict("b2", outcome("ranges/between/age", False, failing=4)),
        ]
    )
    assert list(found) == ["ranges/between/age"]
    assert found["ranges/between/age"].batches == ["b1", "b2"]
    assert found["ranges/between/age"].failing_rows == 7


def test_newly_failing_and_passing_compare_like_with_like():
    base = {
        "old": verdict("old", outcome("s/a/x", False)),
        "fixed": verdict("fixed", outcome("s/b/x", False)),
        "only_base": verdict("only_base", outcome("s/c/x", False)),
    }
    head = {
        "old": verdict("old", outcome("s/a/x", False)),
        "fixed": verdict("fixed", outcome("s/b/x", True)),
        "new": verdict("new", outcome("s/d/x", False, severity="warning")),
    }
    newly_failing, newly_passing, still = compare_tests(base, head, {"fixed", "new"})
    assert [r.rule for r in newly_failing] == ["s/d/x"]
    assert newly_failing[0].severity == "warning"
    assert [r.rule for r in newly_passing] == ["s/b/x"]  # not s/c/x: HEAD never looked there
    assert [r.rule for r in still] == ["s/a/x"]


def test_segment_deltas_list_the_worst_first():
    segments = {
        "candidate": [
            {"segment": "R01", "rows": 50, "roc_auc": 0.8},
            {"segment": "R02", "rows": 40, "roc_auc": 0.7},
            {"segment": "R03", "rows": 30, "roc_auc": 0.9},
        ],
        "champion": [
            {"segment": "R01", "rows": 50, "roc_auc": 0.75},
            {"segment": "R02", "rows": 40, "roc_auc": 0.8},
        ],
    }
    deltas = segment_deltas(segments, "roc_auc")
    assert [d["segment"] for d in deltas] == ["R02", "R01", "R03"]
    assert round(deltas[0]["delta"], 9) == -0.1
    assert deltas[2]["champion"] is None and deltas[2]["delta"] is None


def test_the_verdict_levels():
    assert assess(Report(make_diff()))[0] == "ok"
    level, headline, findings = assess(Report(make_diff(shift=1.5)))
    assert level == "attention" and "shifted" in headline and "`x`" in findings[0]
    breaking = SchemaDiff(
        contract_breaks=[{"batch": "b", "rule": "contract_columns", "message": "missing x"}]
    )
    assert assess(Report(make_diff(schema=breaking)))[0] == "blocking"


def test_markdown_renders_as_github_does():
    schema = SchemaDiff(
        columns=[ColumnChange("age", "retyped", "int", "string", ["data/raw/day-00000.csv"])],
        contract=[KeyChange("contract.columns.age.type", "changed", "int", "float")],
        suites=[SuiteChange("ranges", "changed", "expectations/ranges.json", [])],
    )
    model = ModelImpact(
        available=True,
        fresh=True,
        primary_metric="roc_auc",
        metrics={"candidate": {"roc_auc": 0.81}, "champion": {"roc_auc": 0.8}, "baseline": {}},
        bootstrap={"metric": "roc_auc", "delta": 0.01, "ci_low": -0.01, "ci_high": 0.03},
        segments=[{"segment": "R01", "rows": 9, "candidate": 0.8, "champion": 0.7, "delta": 0.1}],
        gate={"decision": "hold", "primary_metric": "roc_auc", "checks": [], "reasons": ["why"]},
    )
    markdown = render_markdown(Report(make_diff(shift=1.5, schema=schema), model=model))
    html = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=cmarkgfm.cmark.Options.CMARK_OPT_UNSAFE
    )
    assert markdown.startswith("## ⚠️ Data review: `aaaaaaaa` → `bbbbbbbb`")
    assert html.count("<table>") >= 5
    assert "<details><summary>All 2 columns: tests and statistics</summary>" in html
    assert html.count("<details>") == html.count("</details>")
    assert "<td><code>x</code></td>" in html and "<strong>shifted</strong>" in html
    assert "<code>contract.columns.age.type</code>" in html
    assert "Gate: HOLD" in markdown or "HOLD" in markdown


def test_expectation_changes_render_in_a_folded_table():
    change = ExpectationChange(
        "changed",
        "expect_column_values_to_be_between",
        "age",
        ["kwargs.max_value"],
        {"kwargs": {"max_value": 90}},
        {"kwargs": {"max_value": 120}},
    )
    suite = SuiteChange("ranges", "changed", "expectations/ranges.json", [change])
    markdown = render_markdown(Report(make_diff(schema=SchemaDiff(suites=[suite]))))
    html = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=cmarkgfm.cmark.Options.CMARK_OPT_UNSAFE
    )
    assert "<details><summary>1 expectation change(s)</summary>" in html
    assert "<td><code>expect_column_values_to_be_between</code></td>" in html
    assert "kwargs.max_value" in html


def test_a_huge_change_stays_under_the_comment_limit():
    long = "a very long contract message naming a column " * 20
    schema = SchemaDiff(
        contract_breaks=[
            {"batch": f"data/raw/day-{i:05d}.csv", "rule": "r", "message": long}
            for i in range(5000)
        ],
        columns=[ColumnChange(f"col{i}", "added", None, "string", ["b"]) for i in range(3000)],
    )
    markdown = render_markdown(Report(make_diff(batches=20_000, schema=schema)))
    assert len(markdown.encode("utf-16-le")) // 2 <= LIMIT
    assert "more batches: see `report.json`" in markdown
    html = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=cmarkgfm.cmark.Options.CMARK_OPT_UNSAFE
    )
    assert html.count("<details>") == html.count("</details>")
    assert "<table>" in html
    small = render_markdown(Report(make_diff(batches=20_000, schema=schema)), limit=3000)
    assert len(small) <= 3000 and small.startswith("## ❌ Data review")


def test_truncate_closes_open_details_and_says_so():
    text = "# title\n\n<details><summary>s</summary>\n\n" + "\n".join(
        f"| row {i} |" for i in range(2000)
    )
    cut = truncate(text, 1500)
    assert len(cut) <= 1500
    assert cut.count("<details>") == cut.count("</details>") == 1
    assert "Truncated" in cut
    assert re.search(r"\| row \d+ \|\n\n?</details>", cut)
    assert truncate("short", 100) == "short"


# --- what merging would do ---------------------------------------------------------------

SHIPPED = Model(
    estimator="hist_gradient_boosting",
    seed=42,
    hist_gradient_boosting={"learning_rate": 0.1, "max_iter": 200},
)
HOLD_REASONS = [
    "roc_auc improvement +0.0010, 95% CI [-0.0100, +0.0120] over 1000 paired resamples "
    "(candidate 0.8211 vs champion 0.8201): the lower bound is not above the margin 0, "
    "so the improvement over the champion is not established.",
    "Guardrail log_loss regressed by 0.0300 (candidate 0.4500 vs champion 0.4200), "
    "more than the tolerated 0.02.",
]


def impact(decision: str | None, fresh: bool = True, reasons=()) -> ModelImpact:
    if decision is None:
        return ModelImpact(
            False,
            "The pipeline has not run at HEAD (no evaluate stage in dvc.lock): run "
            "`dvc repro` and commit dvc.lock and reports/ to see the model impact.",
        )
    gate = {"decision": decision, "primary_metric": "roc_auc", "checks": [], "reasons": reasons}
    problems = [] if fresh else ["stage ingest ran on other raw data than `data/raw` holds"]
    return ModelImpact(True, fresh=fresh, problems=problems, primary_metric="roc_auc", gate=gate)


def first_lines(merge: Merge, count: int = 3) -> list[str]:
    markdown = render_markdown(Report(make_diff(), merge=merge))
    return markdown.splitlines()[:count]


def test_merging_promotes_a_minor_version_over_the_champion():
    merge = judge_merge(impact("promote"), "churn-model", "v1.2.0", ("v1.3.0", "minor"), SHIPPED)
    assert (
        merge.sentence == "Merging promotes churn-model v1.3.0 (MINOR) to prod, replacing v1.2.0."
    )
    assert (merge.decision, merge.version, merge.bump) == ("promote", "v1.3.0", "minor")
    assert merge.estimator == "hist_gradient_boosting"
    assert merge.params == {"learning_rate": 0.1, "max_iter": 200} and merge.seed == 42
    assert first_lines(merge)[2] == (
        "**Merging promotes churn-model v1.3.0 (MINOR) to prod**, replacing v1.2.0. It ships "
        "`hist_gradient_boosting` (`learning_rate=0.1`, `max_iter=200`, seed 42)."
    )


def test_merging_promotes_a_major_version_and_a_first_version():
    major = judge_merge(impact("promote"), "churn-model", "v1.2.0", ("v2.0.0", "major"), SHIPPED)
    assert (
        major.sentence == "Merging promotes churn-model v2.0.0 (MAJOR) to prod, replacing v1.2.0."
    )
    first = judge_merge(impact("promote"), "churn-model", None, ("v1.0.0", "major"), SHIPPED)
    assert (
        first.sentence == "Merging promotes churn-model v1.0.0 (MAJOR) to prod, its first version."
    )
    assert first_lines(first)[2].startswith(
        "**Merging promotes churn-model v1.0.0 (MAJOR) to prod**, its first version. It ships "
    )


def test_merging_holds_with_the_gates_reasons():
    merge = judge_merge(
        impact("hold", reasons=HOLD_REASONS), "churn-model", "v1.2.0", None, SHIPPED
    )
    assert merge.decision == "hold" and merge.version is None and merge.bump is None
    assert merge.reasons == HOLD_REASONS
    assert merge.sentence == (
        f"Merging holds: (1) {HOLD_REASONS[0]} (2) {HOLD_REASONS[1]} "
        "The champion v1.2.0 stays in prod."
    )
    line = first_lines(merge)[2]
    assert line.startswith("**Merging holds:** (1) roc_auc improvement +0.0010")
    assert "The champion v1.2.0 stays in prod. The candidate held back is" in line
    one = judge_merge(impact("hold", reasons=HOLD_REASONS[:1]), "churn-model", None, None, SHIPPED)
    assert one.sentence == f"Merging holds: {HOLD_REASONS[0]} There is no champion yet."


def test_merging_cannot_be_judged_without_a_gate_decision_of_heads_own():
    not_run = judge_merge(impact(None), "churn-model", "v1.2.0", None, SHIPPED)
    assert not_run.decision == "unknown" and not_run.version is None
    assert not_run.sentence == (
        "Merging cannot be judged: there is no gate decision at HEAD. The pipeline has not run "
        "at HEAD (no evaluate stage in dvc.lock): run `dvc repro` and commit dvc.lock and "
        "reports/ to see the model impact."
    )
    assert first_lines(not_run)[2].startswith(
        "**Merging cannot be judged:** there is no gate decision at HEAD."
    )
    stale = judge_merge(impact("promote", fresh=False), "churn-model", "v1.2.0", None, SHIPPED)
    assert stale.sentence == (
        "Merging cannot be judged: the gate decision at HEAD is stale (stage ingest ran on "
        "other raw data than `data/raw` holds); run `dvc repro` and commit the results."
    )
    failed = judge_merge(
        impact("hold", fresh=False), "churn-model", "v1.2.0", None, SHIPPED, ["data/raw/d.csv"]
    )
    assert failed.sentence.startswith(
        "Merging cannot be judged: data validation fails at HEAD (`data/raw/d.csv`), so the "
        "pipeline stops before training and there is no gate decision"
    )


def test_the_merge_sentence_is_in_the_json_and_renders_bold_first():
    merge = judge_merge(impact("promote"), "churn-model", "v1.2.0", ("v1.3.0", "minor"), SHIPPED)
    report = Report(make_diff(shift=1.5), merge=merge)
    data = report.to_dict()["merge"]
    assert {k: data[k] for k in ("decision", "version", "bump", "estimator", "params")} == {
        "decision": "promote",
        "version": "v1.3.0",
        "bump": "minor",
        "estimator": "hist_gradient_boosting",
        "params": {"learning_rate": 0.1, "max_iter": 200},
    }
    assert data["sentence"].startswith("Merging promotes churn-model v1.3.0 (MINOR) to prod")
    html = cmarkgfm.github_flavored_markdown_to_html(render_markdown(report))
    first = html.split("</p>")[0]
    assert "<strong>Merging promotes churn-model v1.3.0 (MINOR) to prod</strong>" in first
    assert "<code>learning_rate=0.1</code>" in first
    assert Report(make_diff()).to_dict()["merge"] is None  # `datawheel diff`: no model, no line
    assert "Merging" not in render_markdown(Report(make_diff()))


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_version_is_the_one_promote_would_create(tmp_path):
    """The registry's latest version, bumped by promote's own rule since the champion."""
    root = Path(__file__).resolve().parents[3]
    params = (root / "params.yaml").read_text(encoding="utf-8")
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "params.yaml").write_text(params, encoding="utf-8")
    (tmp_path / "dvc.yaml").write_text((root / "dvc.yaml").read_text(), encoding="utf-8")
    git(tmp_path, "add", "params.yaml", "dvc.yaml")
    git(tmp_path, "commit", "--quiet", "-m", "champion's commit")
    champion_commit = git(tmp_path, "rev-parse", "HEAD")
    git(tmp_path, "tag", "--annotate", "churn-model@v1.2.0", "-m", "v1.2.0")
    (tmp_path / "models").mkdir()
    pointer = {"version": "v1.2.0", "commit": champion_commit, "model_md5": "0" * 32}
    (tmp_path / "models" / "champion.json").write_text(json.dumps(pointer), encoding="utf-8")
    git(tmp_path, "add", "models")
    git(tmp_path, "commit", "--quiet", "-m", "new data only")

    def merge_at_head(model: ModelImpact) -> Merge:
        head = git(tmp_path, "rev-parse", "HEAD")
        with Project(tmp_path) as project:
            return merge_outcome(project, replace(make_diff(), head_commit=head), model)

    minor = merge_at_head(impact("promote"))
    assert (
        minor.sentence == "Merging promotes churn-model v1.3.0 (MINOR) to prod, replacing v1.2.0."
    )
    assert minor.estimator == "hist_gradient_boosting" and minor.params["max_iter"] == 200

    (tmp_path / "params.yaml").write_text(
        params.replace("learning_rate: 0.1", "learning_rate: 0.05"), encoding="utf-8"
    )
    git(tmp_path, "commit", "--quiet", "-am", "params: a slower learner")
    major = merge_at_head(impact("promote"))
    assert (major.version, major.bump, major.params["learning_rate"]) == ("v2.0.0", "major", 0.05)
    assert merge_at_head(impact("hold", reasons=HOLD_REASONS)).version is None
