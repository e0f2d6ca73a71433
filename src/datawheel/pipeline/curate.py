"""Curation: the sliding window, de-duplication, quarantine, time split, leakage and label issues.

Each step is a pure function from frames to frames; `curate` chains them and returns the
train and hold-out frames with a `CurationReport` that says what happened to every row.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from datawheel.config.params import Contract, LabelIssues, Params
from datawheel.data.batches import BatchRecord
from datawheel.errors import DataContractError, LeakageError
from datawheel.io.files import frame_fingerprint
from datawheel.model.train import build_pipeline, encode_target, feature_frame, ordered_classes

SAMPLE = 10

_REGRESSION_SKIP = (
    "contract.task is regression: confident learning finds mislabelled classes from "
    "predicted class probabilities, and a numeric target has neither"
)


@dataclass
class CurationReport:
    counts: dict[str, int]
    window: dict[str, str | int | None]
    split: dict[str, str | int]
    per_batch: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)  # every dropped row id with its reason
    flagged: list[dict] = field(default_factory=list)  # label issues kept in train (action flag)
    fingerprints: dict[str, str] = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # the settings curate read, for the model card
    # Which classes the label-issue search covered, and why any class (or the search) was not.
    label_search: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "params": self.params,
            "counts": self.counts,
            "window": self.window,
            "split": self.split,
            "per_batch": self.per_batch,
            "removed": self.removed,
            "flagged": self.flagged,
            "fingerprints": self.fingerprints,
            "label_search": self.label_search,
        }


def apply_window(frame: pd.DataFrame, time_column: str, days: int) -> tuple[pd.DataFrame, dict]:
    """Keep the last `days` calendar days of event time, ending at the newest row's day."""
    if frame.empty:
        return frame, {"days": days, "start": None, "end": None}
    newest_day = frame[time_column].max().floor("D")
    end = newest_day + pd.Timedelta(days=1)
    start = frame[time_column].min().floor("D") if days == 0 else end - pd.Timedelta(days=days)
    inside = frame[(frame[time_column] >= start) & (frame[time_column] < end)]
    return inside, {"days": days, "start": start.isoformat(), "end": end.isoformat()}


def batches_in_window(
    records: Sequence[BatchRecord], days: int
) -> tuple[list[BatchRecord], list[BatchRecord]]:
    """The ingested batches to read, and those wholly before the window (not read).

    The window ends the day after the newest event ingest recorded; a batch whose last
    event is before its start cannot give curate a row, so a new day costs one day's read,
    not the history's. A batch without a recorded range is always read: the window is then
    computed from the rows as before, and it can only start later than assumed here, so
    nothing skipped could have been in it.
    """
    ingested = [r for r in records if r.status == "ingested"]
    ranged = [pd.Timestamp(r.last_event) for r in ingested if r.last_event]
    if days == 0 or not ranged:
        return ingested, []
    start = max(ranged).floor("D") + pd.Timedelta(days=1 - days)
    read: list[BatchRecord] = []
    before: list[BatchRecord] = []
    for record in ingested:
        old = record.last_event is not None and pd.Timestamp(record.last_event) < start
        (before if old else read).append(record)
    return read, before


def split_by_time(
    frame: pd.DataFrame, time_column: str, holdout_days: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The most recent `holdout_days` calendar days are the hold-out; the rest is train."""
    newest_day = frame[time_column].max().floor("D")
    cutoff = newest_day - pd.Timedelta(days=holdout_days - 1)
    is_holdout = frame[time_column] >= cutoff
    return (
        frame[~is_holdout],
        frame[is_holdout],
        {
            "holdout_days": holdout_days,
            "cutoff": cutoff.isoformat(),
        },
    )


def check_leakage(
    train: pd.DataFrame, holdout: pd.DataFrame, id_column: str, check_entities: bool
) -> None:
    """Raise LeakageError if a row id, or (optionally) an entity, is in both sets."""
    shared_rows = shared_values(train["row_id"], holdout["row_id"])
    if shared_rows:
        raise leakage_error(id_column, shared_rows)
    if not check_entities:
        return
    shared = shared_values(train[id_column], holdout[id_column])
    if shared:
        batches = sorted(set(holdout.loc[holdout[id_column].astype(str).isin(shared), "batch"]))
        raise leakage_error(id_column, [], shared, batches)


def leakage_error(
    id_column: str,
    shared_rows: Sequence[str],
    shared_entities: Sequence[str] = (),
    holdout_batches: Sequence[str] = (),
) -> LeakageError:
    """The error for row ids (first) or entities found in both train and hold-out, sorted."""
    if shared_rows:
        return LeakageError(
            f"{len(shared_rows)} row id(s) in both train and hold-out, e.g. "
            f"{list(shared_rows[:5])} (rule: no_shared_rows)"
        )
    return LeakageError(
        f"{len(shared_entities)} {id_column} value(s) in both train and hold-out, e.g. "
        f"{list(shared_entities[:5])}; hold-out rows from {list(holdout_batches[:5])} "
        "(rule: no_shared_entities). Find where these rows were copied from, or set "
        "leakage.check_entities: false if entities recur"
    )


def shared_values(left: pd.Series, right: pd.Series) -> list[str]:
    """The distinct values (as text) found in both series, sorted; hashed in Arrow, which
    is ten times faster here than pandas' isin or Python sets on a few 100k strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def arrow(values: pd.Series) -> pa.Array:
        return pa.array(values.astype(str).to_numpy(dtype=object), pa.string())

    found = arrow(right)
    found = pc.unique(pc.filter(found, pc.is_in(found, value_set=arrow(left))))
    return sorted(found.to_pylist())


def out_of_fold_proba(
    train: pd.DataFrame,
    contract: Contract,
    settings: LabelIssues,
    classes: Sequence | None = None,
) -> np.ndarray:
    """Cross-validated predicted probabilities: each row scored by a model that never saw it.

    The scorer is `label_issues`' own (estimator, its settings, seed), never `model:`: a
    change to the trained model must not move which training labels are flagged. `classes`:
    the classes the rows hold (see searchable_classes), one probability column each.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y = encode_target(train[contract.target], classes or ordered_classes(contract))
    folds = StratifiedKFold(n_splits=settings.folds, shuffle=True, random_state=settings.seed)
    return cross_val_predict(
        build_pipeline(contract, settings.scorer),
        feature_frame(train, contract),
        y,
        cv=folds,
        method="predict_proba",
    )


def searchable_classes(train: pd.DataFrame, contract: Contract, folds: int) -> dict:
    """The classes the label-issue search can cover in this training window, and why others
    are left out: cross-validated probabilities need every searched class in every fold, so
    a class absent from the window, or with fewer rows than folds, is not searched (its rows
    are kept as they are), and with fewer than two searchable classes there is no search."""
    counts = train[contract.target].astype("str").value_counts()
    searched, left_out = [], {}
    for label in ordered_classes(contract):
        rows = int(counts.get(str(label), 0))
        if rows == 0:
            left_out[str(label)] = "absent from the training window"
        elif rows < folds:
            left_out[str(label)] = f"{rows} training row(s), fewer than label_issues.folds {folds}"
        else:
            searched.append(label)
    record: dict = {"classes": [str(c) for c in searched], "not_searched": left_out}
    if len(searched) < 2:
        record["skipped"] = (
            f"{len(searched)} class(es) with at least {folds} training rows: confident "
            "learning needs two"
        )
    return record


def find_label_issues(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Confident learning (cleanlab): rows whose given label has low self-confidence."""
    from cleanlab.filter import find_label_issues as cleanlab_find

    return cleanlab_find(labels=labels, pred_probs=proba, filter_by="prune_by_noise_rate")


@dataclass
class SplitRows:
    """The rows after the window, quarantine, de-duplication, the time split and the leakage
    check, whichever engine computed them: what the label-issue search and the report need.

    `statuses`: rows of each (batch, batch_md5) by what became of them (outside_window,
    quarantined, duplicate_row_id, train, holdout); `removed`: the quarantined and duplicate
    rows, each with its reason."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    window: dict
    split: dict
    removed: list[dict]
    statuses: dict[tuple[str, str], dict[str, int]]
    rows: int


NO_ROWS_MESSAGE = (
    "curate: no rows left after window, quarantine and de-duplication "
    "(rule: rows_to_train); check data/raw and params.yaml window.days"
)


def split_nonempty_error(train_rows: int, holdout_rows: int) -> DataContractError:
    return DataContractError(
        f"curate: the split leaves {train_rows} train and {holdout_rows} hold-out rows "
        "(rule: split_nonempty); the window must cover more than split.holdout_days days"
    )


def curate(
    ingested: pd.DataFrame,
    quarantined_ids: Set[str],
    params: Params,
    before_window: Sequence[BatchRecord] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, CurationReport]:
    """From every ingested row to the train and hold-out frames, with the reason for each drop.

    `before_window`: batches not read because they end before the window (see
    batches_in_window); their rows are counted as outside the window."""
    return finish_curation(split_rows(ingested, quarantined_ids, params), params, before_window)


def split_rows(ingested: pd.DataFrame, quarantined_ids: Set[str], params: Params) -> SplitRows:
    """The window, quarantine, de-duplication (the first row of each row id in (batch, line)
    order is kept), the time split and the leakage check, in pandas."""
    contract = params.contract
    time_column = contract.time_column
    frame = ingested.sort_values(["batch", "line"], kind="stable")
    status = pd.Series("train", index=frame.index, dtype="object")
    removed: list[dict] = []

    def drop(mask: pd.Series | np.ndarray, reason: str) -> None:
        effective = mask & (status == "train")
        status[effective] = reason
        for row in frame.loc[effective, ["row_id", "batch", "line"]].itertuples(index=False):
            removed.append(
                {
                    "row_id": row.row_id,
                    "batch": row.batch,
                    # pandas-stubs types every itertuples field as any scalar (even None).
                    "line": int(row.line),  # type: ignore[arg-type]
                    "reason": reason,
                }
            )

    windowed, window = apply_window(frame, time_column, params.window.days)
    outside = ~frame.index.isin(windowed.index)
    status[outside] = "outside_window"
    live = status == "train"
    drop(live & frame["row_id"].isin(quarantined_ids), "quarantined")
    live = status == "train"
    duplicate = frame["row_id"].duplicated(keep="first") & live
    drop(duplicate, "duplicate_row_id")
    kept = frame[status == "train"]
    if kept.empty:
        raise DataContractError(NO_ROWS_MESSAGE)
    train, holdout, split = split_by_time(kept, time_column, params.split.holdout_days)
    if train.empty or holdout.empty:
        raise split_nonempty_error(len(train), len(holdout))
    check_leakage(train, holdout, contract.id_column, params.leakage.check_entities)
    status[holdout.index] = "holdout"
    table = pd.crosstab([frame["batch"], frame["batch_md5"]], status)
    statuses: dict[tuple[str, str], dict[str, int]] = {}
    for key, row in table.iterrows():
        assert isinstance(key, tuple)  # crosstab over two columns: a (batch, md5) MultiIndex
        batch, md5 = key
        statuses[(str(batch), str(md5))] = {str(k): int(v) for k, v in row.items() if v}
    return SplitRows(train, holdout, window, split, removed, statuses, len(frame))


def finish_curation(
    rows: SplitRows, params: Params, before_window: Sequence[BatchRecord] = ()
) -> tuple[pd.DataFrame, pd.DataFrame, CurationReport]:
    """The label-issue search on the training rows (pandas, on the driver, for either
    engine), the final (batch, line) order and the report."""
    contract = params.contract
    train, holdout = rows.train, rows.holdout
    removed = list(rows.removed)
    statuses = {key: dict(counts) for key, counts in rows.statuses.items()}

    def mark(issues: pd.DataFrame, new_status: str) -> None:
        for batch, md5 in issues[["batch", "batch_md5"]].itertuples(index=False):
            counts = statuses[(str(batch), str(md5))]
            counts["train"] -= 1
            counts[new_status] = counts.get(new_status, 0) + 1

    flagged: list[dict] = []
    label_search: dict = {"skipped": "label_issues.enabled is false"}
    if params.label_issues.enabled and contract.is_regression:
        label_search = {"skipped": _REGRESSION_SKIP}
    elif params.label_issues.enabled:
        train = train.sort_values("row_id", kind="stable")
        label_search = searchable_classes(train, contract, params.label_issues.folds)
    if "skipped" not in label_search:
        searched = train[contract.target].astype("str").isin(label_search["classes"])
        flags = pd.Series(False, index=train.index)
        scope = train[searched]
        classes = [c for c in ordered_classes(contract) if str(c) in label_search["classes"]]
        proba = out_of_fold_proba(scope, contract, params.label_issues, classes)
        flags[scope.index] = find_label_issues(
            encode_target(scope[contract.target], classes), proba
        )
        issues = flags.to_numpy()
        found = train.loc[issues, ["row_id", "batch", "batch_md5", "line"]]
        entries = [
            {
                "row_id": r.row_id,
                "batch": r.batch,
                # pandas-stubs types every itertuples field as any scalar (even None).
                "line": int(r.line),  # type: ignore[arg-type]
                "reason": "label_issue",
            }
            for r in found.itertuples(index=False)
        ]
        if params.label_issues.action == "drop":
            mark(found, "label_issue")
            removed += entries
            train = train.loc[~issues]
        else:
            mark(found, "train_label_issue")
            flagged = entries
    train = train.sort_values(["batch", "line"], kind="stable").reset_index(drop=True)
    holdout = holdout.sort_values(["batch", "line"], kind="stable").reset_index(drop=True)

    def total(name: str) -> int:
        return sum(counts.get(name, 0) for counts in statuses.values())

    unread = sum(r.rows for r in before_window)
    counts = {
        "ingested_rows": rows.rows + unread,
        "outside_window": total("outside_window") + unread,
        "quarantined": total("quarantined"),
        "duplicates": total("duplicate_row_id"),
        "label_issues_dropped": total("label_issue"),
        "label_issues_flagged": len(flagged),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
    }
    removed.sort(key=lambda r: (r["batch"], r["line"], r["reason"]))
    fingerprints = {"train": frame_fingerprint(train), "holdout": frame_fingerprint(holdout)}
    settings = params.model_dump(
        mode="json", include={"window", "split", "leakage", "label_issues"}
    )
    report = CurationReport(
        counts,
        rows.window,
        rows.split,
        _per_batch(statuses, before_window),
        removed,
        flagged,
        fingerprints,
        settings,
        label_search,
    )
    return train, holdout, report


def _per_batch(
    statuses: dict[tuple[str, str], dict[str, int]], before_window: Sequence[BatchRecord]
) -> list[dict]:
    """Rows of each batch by what became of them: the audit trail's per-batch survival."""
    out = []
    for (batch, md5), row in statuses.items():
        counts = {k: v for k, v in row.items() if v}
        out.append({"batch": batch, "md5": md5, "rows": sum(counts.values()), **counts})
    for record in before_window:
        entry = {"batch": record.path, "md5": record.md5, "rows": record.rows}
        out.append({**entry, "outside_window": record.rows} if record.rows else entry)
    return sorted(out, key=lambda entry: (entry["batch"], entry["md5"]))
