"""Reviewing data changes end to end: real git, real DVC, a local DVC remote.

One history is built once per module (no pipeline run): ten ordinary days, an ordinary
eleventh day, a drifted day, a day with a renamed column, then a commit that edits an old
batch, adds a day and changes the suites. The model-impact test runs the pipeline.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cmarkgfm
import git
import pandas as pd
import pytest

from datawheel.data.revisions import Project as Revisions
from datawheel.data.revisions import RevisionError
from datawheel.data.simulate import COLUMNS, Injection, csv_text, simulate, simulate_day
from datawheel.io.files import read_json, write_json
from datawheel.io.process import command_env, dvc
from datawheel.project.scaffold import init_repo
from datawheel.render.report import LIMIT, render_markdown
from datawheel.review.diff import diff_data
from datawheel.review.report import Report, build_report

from .conftest import FAST_PARAMS, SEED, START, Project, set_params

pytestmark = pytest.mark.e2e

FEATURES = COLUMNS[2:]  # every column but the entity id and the event time
DRIFT_ROWS = 1000
EDITED = "data/raw/2026-01-03.csv"


def day(offset: int) -> dt.date:
    return START + dt.timedelta(days=offset)


def add_drift_day(project: Project, offset: int) -> None:
    """A day of the stream twelve days into a gradual drift: charges and usage ×1.36."""
    drift = [Injection("gradual_drift", START)]
    simulate(project.root / "data/raw", day(offset), 1, DRIFT_ROWS, SEED, "csv", drift)


def data_rows(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) - 1


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datawheel", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )


def render_html(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=cmarkgfm.cmark.Options.CMARK_OPT_UNSAFE
    )


@dataclass
class History:
    project: Project
    commits: dict[str, str]
    expected: dict[str, int]


def edit_old_batch(root: Path) -> dict[str, int]:
    """Drop 3 rows, edit 2 records' charges, append 4 rows of new entities; known counts."""
    path = root / EDITED
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = frame.drop(index=[0, 1, 2])
    frame.loc[[10, 11], "monthly_charges"] = ["199.99", "188.88"]
    newcomers = simulate_day(day(2), 4, SEED + 1).head(4)
    newcomers = pd.read_csv(io.StringIO(csv_text(newcomers)), dtype=str, keep_default_na=False)
    frame = pd.concat([frame, newcomers], ignore_index=True)
    path.write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    return {"dropped": 3, "edited": 2, "appended": len(newcomers)}


def change_suites(root: Path) -> None:
    ranges = read_json(root / "expectations/ranges.json")
    for expectation in ranges["expectations"]:
        if expectation["kwargs"].get("column") == "age":
            expectation["kwargs"]["max_value"] = 90.0
    write_json(root / "expectations/ranges.json", ranges)
    write_json(
        root / "expectations/extra.json",
        {
            "name": "extra",
            "expectations": [
                {
                    "type": "expect_column_values_to_not_be_null",
                    "kwargs": {"column": "plan"},
                    "severity": "warning",
                    "meta": {},
                }
            ],
            "meta": {},
        },
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> History:
    tmp = tmp_path_factory.mktemp("review")
    root, remote = tmp / "repo", tmp / "dvc-remote"
    init_repo(root, remote=remote)
    set_params(root, FAST_PARAMS)
    project = Project(root, remote)
    commits = {"template": project.commit("test: faster params")}

    def commit_and_push(name: str, message: str) -> None:
        commits[name] = project.commit_data(message)
        dvc("push", "--quiet", "data/raw.dvc", cwd=root)  # as CI does on every data commit

    project.add_days(0, 10)
    commit_and_push("ten_days", "data: ten days")
    (ordinary,) = project.add_days(10, 1)
    commit_and_push("ordinary", "data: day 11")
    add_drift_day(project, 11)
    commit_and_push("drift", "data: day 12, drifted")
    project.add_days(12, 1, inject=("schema_break@12",))
    commit_and_push("schema_break", "data: day 13, a renamed column")
    counts = edit_old_batch(root)
    (added,) = project.add_days(13, 1)
    change_suites(root)
    commit_and_push("edit", "data: edit an old day, add day 14; suites")
    expected = {
        **counts,
        "ordinary_rows": data_rows(ordinary),
        "added_day_rows": data_rows(added),
    }
    return History(project, commits, expected)


def test_an_ordinary_day_is_reported_stable(history: History):
    c = history.commits
    report = build_report(history.project.root, c["ten_days"], c["ordinary"], model=False)
    diff = report.diff
    assert [(b.path, b.change) for b in diff.batches] == [("data/raw/2026-01-11.csv", "added")]
    assert diff.unchanged_batches == 10
    assert diff.rows.added == history.expected["ordinary_rows"]
    assert (diff.rows.removed, diff.rows.changed) == (0, 0)
    assert {c.column: c.verdict for c in diff.drift.columns} == dict.fromkeys(FEATURES, "stable")
    assert diff.populations["before"]["batches"] == [
        f"data/raw/2026-01-{d:02d}.csv" for d in range(4, 11)
    ]
    assert diff.schema.empty
    assert report.level == "ok"
    assert report.tests.newly_failing == []


def test_a_drifted_day_flags_the_drifted_columns_and_only_those(history: History, tmp_path):
    c = history.commits
    result = run_cli(
        "diff", c["ordinary"], c["drift"], "--out", str(tmp_path), cwd=history.project.root
    )
    assert result.returncode == 0, result.stderr
    data = read_json(tmp_path / "report.json")
    drift = data["diff"]["drift"]
    assert drift["shifted"] == ["monthly_charges", "data_usage_gb"]
    verdicts = {col["column"]: col["verdict"] for col in drift["columns"]}
    assert {k for k, v in verdicts.items() if v != "stable"} == {"monthly_charges", "data_usage_gb"}
    charges = next(col for col in drift["columns"] if col["column"] == "monthly_charges")
    assert charges["q_value"] < 1e-6 and charges["wasserstein"] >= 0.1
    assert charges["after"]["mean"] > 1.2 * charges["before"]["mean"]
    assert data["verdict"] == "attention"
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["drift-data_usage_gb.png", "drift-monthly_charges.png"]
    assert "monthly_charges" in result.stdout and "shifted" in result.stdout


def test_a_schema_break_names_the_column(history: History):
    c = history.commits
    diff = diff_data(history.project.root, c["drift"], c["schema_break"])
    (change,) = diff.batches
    assert change.rule == "contract_columns" and "monthly_charges" in change.error
    assert [(col.column, col.change) for col in diff.schema.columns] == [
        ("monthly_charges", "removed"),
        ("monthly_charge", "added"),
    ]
    assert diff.schema.contract_breaks[0]["batch"] == "data/raw/2026-01-13.csv"
    assert diff.drift.rows_after == 0  # a batch ingest would quarantine is not tested
    markdown = render_markdown(build_report(history.project.root, c["drift"], c["schema_break"]))
    assert markdown.startswith("## ❌")
    assert "`monthly_charges`" in markdown and "missing column(s) ['monthly_charges']" in markdown


def check_edit(diff: dict, expected: dict[str, int]) -> None:
    """The diff (as JSON) of the commit that edited an old batch and added a day."""
    rows = diff["rows"]
    new_rows = expected["appended"] + expected["added_day_rows"]
    assert [(b["path"], b["change"]) for b in diff["batches"]] == [
        (EDITED, "modified"),
        ("data/raw/2026-01-14.csv", "added"),
    ]
    assert rows["added"] == expected["edited"] + new_rows
    assert rows["removed"] == expected["dropped"] + expected["edited"]
    assert (rows["new"], rows["deleted"], rows["changed"]) == (new_rows, 3, 2)
    assert (rows["entities_new"], rows["entities_deleted"], rows["entities_changed"]) == (
        new_rows,
        3,
        2,
    )
    assert rows["changed_columns"] == {"monthly_charges": 2}
    changed = rows["samples"]["changed"]
    assert sorted(c["changes"]["monthly_charges"][1] for c in changed) == [188.88, 199.99]


def test_row_counts_are_exact_and_suite_changes_are_listed(history: History, tmp_path):
    c = history.commits
    result = run_cli(
        "report",
        "--base",
        c["schema_break"],
        "--head",
        c["edit"],
        "--json",
        "--out",
        str(tmp_path),
        cwd=history.project.root,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == read_json(tmp_path / "report.json")
    check_edit(report["diff"], history.expected)
    suites = {s["name"]: s for s in report["diff"]["schema"]["suites"]}
    assert set(suites) == {"extra", "ranges"}
    assert suites["extra"]["change"] == "added"
    (age,) = suites["ranges"]["expectations"]
    assert (age["change"], age["column"], age["fields"]) == ("changed", "age", ["kwargs.max_value"])
    assert age["before"]["kwargs"]["max_value"] == 95.0
    assert age["after"]["kwargs"]["max_value"] == 90.0
    # the appended rows are older than the rows before them: the data tests notice
    (late,) = report["tests"]["newly_failing"]
    assert late["rule"] == "freshness/expect_column_values_to_be_increasing/event_time"
    assert (late["severity"], late["batches"]) == ("warning", [EDITED])
    assert report["tests"]["head_source"].startswith("HEAD's suites run on its 2")
    assert report["verdict"] == "blocking"  # an old batch was rewritten: raw data is append-only
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "append-only" in markdown and "`ranges`" in markdown and "kwargs.max_value" in markdown


def test_revisions_not_checked_out_are_read_through_dvc(history: History):
    c = history.commits
    repo = history.project.git
    repo.git.checkout(c["ten_days"])
    try:
        dvc("checkout", "--quiet", "data/raw.dvc", cwd=history.project.root)
        assert len(list((history.project.root / "data/raw").glob("*.csv"))) == 10
        diff = diff_data(history.project.root, c["schema_break"], c["edit"])
        check_edit(diff.to_dict(), history.expected)
        result = run_cli("diff", c["schema_break"], c["edit"], "--json", cwd=history.project.root)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["diff"]["rows"]["changed"] == 2
    finally:
        repo.git.checkout("main")
        dvc("checkout", "--quiet", "data/raw.dvc", cwd=history.project.root)


def test_a_ci_checkout_reads_the_base_commit_from_the_dvc_remote(history: History, tmp_path):
    c = history.commits
    clone = tmp_path / "ci"
    git.Repo.clone_from(f"file://{history.project.root}", clone, depth=1)
    ci = git.Repo(clone)
    with pytest.raises(RevisionError, match="not found"):
        Revisions(clone).commit_of(c["schema_break"])
    ci.git.fetch("--depth", "1", "origin", c["schema_break"])
    dvc("pull", "--quiet", "data/raw.dvc", cwd=clone)
    with Revisions(clone) as revisions:
        base = revisions.at(c["schema_break"])
        (old_version,) = [b for b in base.raw_batches() if b.path == EDITED]
        assert revisions.cached_path(old_version.md5) is None  # only on the DVC remote
    diff = diff_data(clone, c["schema_break"], "HEAD")
    check_edit(diff.to_dict(), history.expected)
    result = run_cli("diff", c["schema_break"], "--out", "out", cwd=clone)
    assert result.returncode == 0, result.stderr
    markdown = (clone / "out/report.md").read_text(encoding="utf-8")
    html = render_html(markdown)
    assert html.count("<table>") >= 4 and html.count("<details>") == html.count("</details>") >= 3


def test_without_access_to_the_data_the_report_shows_what_git_shows(history: History):
    c = history.commits
    clone = history.project.root.parent / "no-access"
    git.Repo.clone_from(history.project.root, clone)
    dvc("remote", "modify", "--local", "storage", "url", str(clone / "missing"), cwd=clone)
    result = run_cli("report", "--base", c["schema_break"], "--out", "out", cwd=clone)
    assert result.returncode == 0, result.stderr
    report = read_json(clone / "out/report.json")
    assert "neither in the local DVC cache nor on the DVC remote" in report["diff"]["data_error"]
    assert report["diff"]["pointers"]["base"] != report["diff"]["pointers"]["head"]
    assert {s["name"] for s in report["diff"]["schema"]["suites"]} == {"extra", "ranges"}
    assert report["verdict"] == "attention"
    markdown = (clone / "out/report.md").read_text(encoding="utf-8")
    assert "The data could not be read" in markdown and "### Distribution shift" not in markdown


def test_the_markdown_of_a_large_change_stays_under_the_limit(history: History):
    c = history.commits
    report = Report(diff_data(history.project.root, c["template"], c["edit"]))
    assert len(report.diff.batches) == 14 and report.diff.rows.added > 2000
    full = render_markdown(report)
    assert len(full) <= LIMIT
    small = render_markdown(report, limit=2500)
    assert len(small.encode("utf-16-le")) // 2 <= 2500
    html = render_html(small)
    assert html.count("<details>") == html.count("</details>")
    assert "<table>" in html
    assert "report.json" in small


def days(first: int, last: int) -> list[str]:
    return [f"data/raw/2026-01-{d:02d}.csv" for d in range(first, last + 1)]


def test_drift_against_recent_batches_and_a_season_that_falls_back(history: History, tmp_path):
    c, root = history.commits, history.project.root
    drifted = run_cli("drift", "--rev", c["drift"], "--reference", "recent", "--json", cwd=root)
    assert drifted.returncode == 7, drifted.stderr
    result = json.loads(drifted.stdout)
    assert result["reference"]["kind"] == result["reference"]["requested"] == "recent"
    assert result["reference"]["batches"] == days(5, 11)  # drift.reference_batches: 7
    assert result["reference"]["rows"] == sum(data_rows(root / name) for name in days(5, 11))
    assert "monthly_charges" in result["shifted"] and result["settings"]["reference"] == "recent"

    # daily files of one January: no batch a year earlier, so `season` says it used `recent`
    out = tmp_path / "season"
    ordinary = run_cli(
        "drift", "--rev", c["ordinary"], "--reference", "season", "--json", "--out", str(out),
        cwd=root,
    )  # fmt: skip
    assert ordinary.returncode == 0, ordinary.stderr
    result = json.loads(ordinary.stdout)
    assert (result["reference"]["kind"], result["reference"]["requested"]) == ("recent", "season")
    assert result["reference"]["batches"] == days(4, 10) and result["shifted"] == []
    (note,) = result["notes"]
    assert "no batch of the same period 1 year earlier than data/raw/2026-01-11.csv" in note
    markdown = (out / "drift.md").read_text(encoding="utf-8")
    assert "Reference (`recent`): the 7 accepted batch(es) before the newest" in markdown
    assert "`data/raw/2026-01-10.csv`" in markdown and "reference recent" in markdown

    # a batch that breaks the contract is not accepted: the 7 before day 14 skip day 13
    terminal = run_cli("drift", "--rev", c["edit"], "--reference", "recent", cwd=root)
    assert terminal.returncode in (0, 7), terminal.stderr
    assert "reference (recent): the 7 accepted batch(es)" in terminal.stdout
    assert "data/raw/2026-01-13.csv is left out of the reference: breaks the" in terminal.stdout
    assert "data/raw/2026-01-06.csv, data/raw/2026-01-07.csv" in terminal.stdout


def test_a_wrong_reference_is_a_usage_error(history: History):
    wrong = run_cli("drift", "--reference", "yearly", cwd=history.project.root)
    assert wrong.returncode == 2 and "--reference" in wrong.stderr


def write_champion(project: Project, version: str) -> None:
    card = read_json(project.root / "models/card.json")
    write_json(
        project.root / "models/champion.json",
        {
            "version": version,
            "model_md5": card["model"]["md5"],
            "commit": project.git.head.commit.hexsha,
            "model_path": "models/model.skops",
            "tags": [],
            "metrics": {},
            "data": {},
        },
    )


def test_model_impact_and_drift_as_a_retraining_trigger(project: Project, tmp_path):
    set_params(project.root, {("label_issues", "enabled"): False})
    project.add_days(0, 10)
    project.commit_data("data: ten days")
    project.repro()
    project.commit("pipeline: ten days")
    dvc("push", "--quiet", cwd=project.root)
    write_champion(project, "v1.0.0")
    base = project.commit("champion: v1.0.0")
    project.git.git.tag("--annotate", "churn-model@v1.0.0", base, "--message", "v1.0.0")

    project.add_days(10, 1)
    project.commit_data("data: day 11")
    stable = run_cli("drift", "--last", "1", "--json", cwd=project.root)
    assert stable.returncode == 0, stable.stderr
    result = json.loads(stable.stdout)
    assert result["shifted"] == [] and result["current_batches"] == ["data/raw/2026-01-11.csv"]
    assert result["reference"]["description"].startswith("champion v1.0.0's training rows")

    add_drift_day(project, 11)
    project.commit_data("data: day 12, drifted")
    out = tmp_path / "drift"
    drifted = run_cli("drift", "--last", "2", "--json", "--out", str(out), cwd=project.root)
    assert drifted.returncode == 7, drifted.stderr
    assert "monthly_charges" in drifted.stderr and "Traceback" not in drifted.stderr
    printed = json.loads(drifted.stdout)
    assert printed == read_json(out / "drift.json")
    assert printed["current_batches"] == ["data/raw/2026-01-11.csv", "data/raw/2026-01-12.csv"]
    shifted = printed["shifted"]
    assert "monthly_charges" in shifted and set(shifted) <= {"monthly_charges", "data_usage_gb"}
    verdicts = {c["column"]: c["verdict"] for c in printed["columns"]}
    assert {c for c, v in verdicts.items() if v == "shifted"} == set(shifted)
    assert (out / "drift-monthly_charges.png").exists()
    assert "monthly_charges" in (out / "drift.md").read_text(encoding="utf-8")

    # as pr-report.yml does: run the pipeline on the checked-out commit, do not commit
    project.repro()
    report = build_report(project.root, base, "HEAD")
    model = report.model
    assert model.available and model.fresh
    assert "working tree" in model.note
    assert model.champion_version == "v1.0.0" and "champion_version" not in model.metrics
    assert model.bootstrap["ci_low"] <= model.bootstrap["delta"] <= model.bootstrap["ci_high"]
    assert model.gate["decision"] in ("promote", "hold")
    assert {s["segment"] for s in model.segments} == {f"R{i:02d}" for i in range(1, 25)}
    assert report.tests.head_source.endswith("in the working tree, not committed yet")
    assert "validation.json` at BASE" in report.tests.base_source
    markdown = render_markdown(report)
    assert "### Model impact" in markdown and "Champion v1.0.0" in markdown
    if model.gate["decision"] == "promote":  # new data only since the champion: MINOR
        assert report.merge.sentence == (
            "Merging promotes churn-model v1.1.0 (MINOR) to prod, replacing v1.0.0."
        )
    else:
        assert report.merge.sentence.startswith("Merging holds: ")
        assert report.merge.sentence.endswith("The champion v1.0.0 stays in prod.")
    assert markdown.splitlines()[2].startswith(f"**{report.merge.headline}**")
    assert "per segment" in markdown
    html = render_html(markdown)
    assert "<td><strong>roc_auc</strong></td>" in html
