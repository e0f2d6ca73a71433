"""The review report's pure parts: data-test comparison, verdict, Markdown within the limit."""

from __future__ import annotations

import re

import cmarkgfm
import numpy as np
import pandas as pd

from datawheel.diff import (
    ColumnChange,
    DataDiff,
    KeyChange,
    SchemaDiff,
    SuiteChange,
    batch_changes,
    row_diff,
)
from datawheel.drift import compare
from datawheel.params import Drift
from datawheel.report import (
    LIMIT,
    ModelImpact,
    Report,
    assess,
    compare_tests,
    failing_rules,
    render_markdown,
    segment_deltas,
    truncate,
)
from datawheel.revisions import TrackedFile
from datawheel.validate import BatchValidation, ExpectationOutcome

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
