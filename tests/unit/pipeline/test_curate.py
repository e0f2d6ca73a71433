"""Curation: window, de-duplication, quarantine, split, leakage, label issues."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from datawheel.config.params import load_params
from datawheel.data.contract import read_batch, with_provenance
from datawheel.data.simulate import parse_injection, simulate_day
from datawheel.errors import LeakageError
from datawheel.pipeline.curate import apply_window, check_leakage, curate, split_by_time

ROOT = Path(__file__).resolve().parents[3]
PARAMS = load_params(ROOT / "params.yaml")
START = dt.date(2026, 2, 1)


def _days(n: int, rows: int = 120, inject: tuple[str, ...] = ()) -> pd.DataFrame:
    frames = []
    injections = [parse_injection(text, START) for text in inject]
    for i in range(n):
        day = START + dt.timedelta(days=i)
        raw = simulate_day(day, rows, 4, injections)
        csv = raw.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ").encode()
        typed, lines = read_batch(csv, f"{day}.csv", PARAMS.contract)
        frames.append(with_provenance(typed, f"data/raw/{day}.csv", f"md5-{i}", lines))
    return pd.concat(frames, ignore_index=True)


def _params(**sections):
    return PARAMS.model_copy(
        update={k: getattr(PARAMS, k).model_copy(update=v) for k, v in sections.items()}
    )


def test_window_keeps_the_last_days():
    frame = _days(10, rows=20)
    inside, bounds = apply_window(frame, "event_time", 3)
    assert sorted(inside["event_time"].dt.day.unique()) == [8, 9, 10]
    assert bounds["start"].startswith("2026-02-08") and bounds["end"].startswith("2026-02-11")
    everything, _ = apply_window(frame, "event_time", 0)
    assert len(everything) == len(frame)


def test_split_puts_the_last_days_in_holdout():
    frame = _days(10, rows=20)
    train, holdout, split = split_by_time(frame, "event_time", 2)
    assert sorted(holdout["event_time"].dt.day.unique()) == [9, 10]
    assert train["event_time"].max() < holdout["event_time"].min()
    assert split["cutoff"].startswith("2026-02-09")


def test_curate_removes_quarantined_and_duplicates_and_accounts_for_every_row():
    frame = _days(12, inject=("duplicates@3",))
    quarantined = set(frame["row_id"].iloc[:5])
    params = _params(window={"days": 10}, split={"holdout_days": 3})
    train, holdout, report = curate(frame, quarantined, params)
    counts = report.counts
    assert counts["quarantined"] == 0  # those rows are outside the 10-day window
    assert counts["outside_window"] == int((frame["event_time"] < "2026-02-03").sum())
    assert counts["duplicates"] == int(frame["row_id"].duplicated().sum())
    assert counts["train_rows"] + counts["holdout_rows"] + counts["outside_window"] + counts[
        "duplicates"
    ] + counts["label_issues_dropped"] == len(frame)
    assert not set(train["row_id"]) & set(holdout["row_id"])
    assert train["row_id"].is_unique and holdout["row_id"].is_unique
    removed = {r["reason"] for r in report.removed}
    assert removed == {"duplicate_row_id"}
    per_batch_rows = sum(b["rows"] for b in report.per_batch)
    assert per_batch_rows == len(frame)


def test_curate_drops_quarantined_rows_inside_the_window():
    frame = _days(8)
    quarantined = set(frame["row_id"].iloc[-10:])
    _, holdout, report = curate(frame, quarantined, _params(window={"days": 0}))
    assert report.counts["quarantined"] == 10
    assert not quarantined & set(holdout["row_id"])
    assert {r["row_id"] for r in report.removed if r["reason"] == "quarantined"} == quarantined


def test_leakage_of_copied_rows_is_a_clear_failure():
    frame = _days(12, inject=("leakage@11",))
    with pytest.raises(LeakageError, match=r"customer_id.*both train and hold-out.*2026-02-12"):
        curate(frame, set(), _params(split={"holdout_days": 2}, label_issues={"enabled": False}))


def test_check_leakage_rows():
    frame = _days(2, rows=10)
    with pytest.raises(LeakageError, match="row id"):
        check_leakage(frame, frame.iloc[:1], "customer_id", check_entities=False)


def test_label_issues_flag_or_drop():
    frame = _days(10, inject=("label_noise@2",))
    flag = _params(label_issues={"action": "flag", "folds": 3})
    train_f, _, report_f = curate(frame, set(), flag)
    assert report_f.counts["label_issues_flagged"] > 0
    noisy = frame[frame["batch"].str.contains("2026-02-03")]
    flagged_batches = pd.Series([r["batch"] for r in report_f.flagged]).value_counts()
    # the day with 20% flipped labels has more issues than an average day
    assert flagged_batches.get(noisy["batch"].iloc[0], 0) > flagged_batches.mean()
    drop = _params(label_issues={"action": "drop", "folds": 3})
    train_d, _, report_d = curate(frame, set(), drop)
    assert report_d.counts["label_issues_dropped"] == report_f.counts["label_issues_flagged"]
    assert len(train_d) == len(train_f) - report_f.counts["label_issues_flagged"]


def test_label_issues_do_not_depend_on_the_model_params():
    """Retuning the trained model must not move which training labels are flagged."""
    frame = _days(10, inject=("label_noise@2",))
    settings = {"folds": 3}
    before = curate(frame, set(), _params(label_issues=settings))[2]
    retuned = _params(
        label_issues=settings,
        model={"estimator": "logistic_regression", "logistic_regression": {"C": 0.01}},
    )
    after = curate(frame, set(), retuned)[2]
    assert before.flagged and after.flagged == before.flagged
    assert after.to_dict()["params"] == before.to_dict()["params"]
    assert "model" not in after.to_dict()["params"]
    own = _params(label_issues={**settings, "logistic_regression": {"C": 0.01, "max_iter": 1000}})
    assert curate(frame, set(), own)[2].flagged != before.flagged  # its own settings do count


def test_label_issues_scorer_is_built_from_its_own_section():
    settings = PARAMS.label_issues.model_copy(update={"seed": 3})
    scorer = settings.scorer
    assert (scorer.estimator, scorer.seed) == ("logistic_regression", 3)
    assert scorer.estimator_params == {"C": 1.0, "max_iter": 1000}


def test_curate_params_list_the_whole_contract_and_no_model_key():
    """dvc.yaml: curate depends on no `model` key (retuning the model never re-curates), and
    on the whole contract rather than its keys: a key left to its default (task, classes,
    positive_class) is absent from a user's params.yaml, and DVC refuses a missing key."""
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["curate"]
    assert not [key for key in stage["params"] if key.split(".")[0] == "model"]
    assert "contract" in stage["params"]
    assert not [key for key in stage["params"] if key.startswith("contract.")]
    assert {"window", "split", "leakage", "label_issues"} <= set(stage["params"])


def test_batches_before_the_window_are_not_read_and_the_result_is_the_same(tmp_path):
    from datawheel.data.batches import BatchRecord, load_ingested
    from datawheel.io.files import write_parquet
    from datawheel.pipeline.curate import batches_in_window

    frame = _days(12, inject=("duplicates@9",))
    records = []
    for i, (batch, rows) in enumerate(frame.groupby("batch", sort=True)):
        write_parquet(tmp_path / f"md5-{i}.parquet", rows)
        times = rows["event_time"]
        records.append(
            BatchRecord(
                batch,
                f"md5-{i}",
                "ingested",
                len(rows),
                {},
                *(t.isoformat() for t in (times.min(), times.max())),
            )
        )
    records.append(BatchRecord("data/raw/bad.csv", "md5-bad", "quarantined"))
    params = _params(window={"days": 5}, split={"holdout_days": 2})

    read, before = batches_in_window(records, params.window.days)
    assert [r.path for r in read] == [r.path for r in records[7:12]]
    assert [r.path for r in before] == [r.path for r in records[:7]]

    everything = curate(frame, set(), params)
    windowed = curate(load_ingested(tmp_path, read), set(), params, before)
    pd.testing.assert_frame_equal(everything[0], windowed[0])
    pd.testing.assert_frame_equal(everything[1], windowed[1])
    assert everything[2].to_dict() == windowed[2].to_dict()

    # without recorded ranges (an older manifest) every batch is read
    unranged = [BatchRecord(r.path, r.md5, r.status, r.rows) for r in records]
    assert batches_in_window(unranged, 5) == (unranged[:12], [])
    assert batches_in_window(records, 0) == (records[:12], [])


def test_shared_values_are_the_sorted_intersection_as_text():
    from datawheel.pipeline.curate import shared_values

    left = pd.Series(["b", "a", "c", "a"], dtype="str")
    right = pd.Series(["c", "x", "a", "c"], dtype="str")
    assert shared_values(left, right) == ["a", "c"]
    assert shared_values(pd.Series([1, 2]), pd.Series([2, 3])) == ["2"]
    assert shared_values(left, pd.Series([], dtype="str")) == []


def test_label_issues_search_only_the_classes_the_training_window_can_cover():
    """Five listed classes, one absent and one with 3 rows: cleanlab used to fail with
    'pred_probs must have at least 5 columns'; the search now covers the two it can."""
    frame = _days(12, rows=80)
    frame["churned"] = frame["churned"].astype("Int64")
    frame.loc[frame.index[[3, 50, 90]], "churned"] = 2  # rare, early days: in train
    contract = PARAMS.contract.model_copy(update={"classes": (0, 1, 2, 3, 4)})
    params = PARAMS.model_copy(update={"contract": contract})
    params = params.model_copy(
        update={"label_issues": params.label_issues.model_copy(update={"folds": 5})}
    )
    train, _, report = curate(frame, set(), params)
    search = report.to_dict()["label_search"]
    assert search["classes"] == ["0", "1"]
    assert search["not_searched"] == {
        "2": "3 training row(s), fewer than label_issues.folds 5",
        "3": "absent from the training window",
        "4": "absent from the training window",
    }
    assert "skipped" not in search
    flagged = {r["row_id"] for r in report.flagged}
    rare = set(train.loc[train["churned"] == 2, "row_id"])
    assert len(rare) == 3 and not flagged & rare  # rows of an unsearched class are kept


def test_label_issues_are_skipped_with_the_reason_when_one_class_is_left():
    frame = _days(12, rows=40).assign(churned=0)
    train, _, report = curate(frame, set(), PARAMS)
    search = report.to_dict()["label_search"]
    assert search["classes"] == ["0"] and "confident learning needs two" in search["skipped"]
    assert report.flagged == [] and len(train) > 0
