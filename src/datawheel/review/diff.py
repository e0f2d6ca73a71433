"""What a change to the data does, between any two commits: batches, rows, schema, shift.

`diff_data(repo, base, head)` compares two revisions without checking either out
(see `datawheel.data.revisions`). Its cost follows the change, not the history:

- batches: the two `.dir` manifests of `paths.raw` are compared by md5; no data is read.
- rows: only the batches that differ are read and typed (BASE's version of removed and
  modified batches, HEAD's version of added and modified ones). Unchanged batches are
  byte-identical on both sides, so they cannot add, remove or change a row. Counts are exact
  and count rows (a row id delivered twice counts twice):
  - by row id (ingest's content hash): `added` rows have an id BASE's changed batches lack,
    `removed` rows an id HEAD's changed batches lack;
  - by entity (`contract.id_column`): an entity with both removed and added rows is
    `changed` (same entity, different row id: its record was edited); the other added rows
    are `new`, the other removed rows `deleted`. For an entity with one row on each side
    the changed columns are named and counted.
  Samples are the first rows in (batch, line) order, or entity order for changes.
- schema: each changed HEAD batch's columns and what their values look like (int, float,
  datetime, bool, string) against BASE's reference batches, plus the contract error ingest
  would quarantine the batch for; params.yaml `contract` and other keys, and the suites in
  `paths.expectations`, compared key by key and expectation by expectation.
- statistics and distribution shift (`datawheel.review.drift`), between two populations:
  before = BASE's reference: the rows of BASE's newest `drift.reference_batches` batches
  (by path, which for daily files is by date; 0 = every batch), the data the change lands on;
  after = the rows HEAD adds: rows of its added and modified batches whose row id BASE's
  version of those batches lacks. A reviewer asks "is the new data like the data we have?",
  and a one-day change then costs one day plus a fixed reference, however long the
  history. Batches that break the contract are left out of both (ingest quarantines them
  whole) and named in the schema section instead. Huge sides are sampled only for the KS
  and Wasserstein estimates, seeded (see `datawheel.review.drift`); counts use every row.

Both sides are typed with HEAD's contract, so the same raw row has the same id on both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datawheel.config.params import Drift
from datawheel.data.contract import empty_typed_frame
from datawheel.data.revisions import (
    LoadedBatch,
    Project,
    Revision,
    RevisionError,
    TrackedFile,
    contract_kind,
    load_batch,
)
from datawheel.io.files import json_safe
from datawheel.render.format import flatten
from datawheel.review.drift import DriftReport, column_kinds, compare

SAMPLE = 10


# --- batches -----------------------------------------------------------------------------


@dataclass
class BatchChange:
    """A batch HEAD adds, removes or modifies (its md5 differs), with rows and errors."""

    path: str
    change: str  # added, removed, modified
    base_md5: str | None
    head_md5: str | None
    base_rows: int | None = None
    head_rows: int | None = None
    error: str | None = None  # HEAD's version breaks the contract: ingest would quarantine it
    rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def batch_changes(
    base: Iterable[TrackedFile], head: Iterable[TrackedFile]
) -> tuple[list[BatchChange], int]:
    """Changed batches (sorted by path) and the number of unchanged ones, by manifest md5."""
    before = {f.path: f.md5 for f in base}
    after = {f.path: f.md5 for f in head}
    changes = []
    unchanged = 0
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old == new:
            unchanged += 1
        elif old is None:
            changes.append(BatchChange(path, "added", None, new))
        elif new is None:
            changes.append(BatchChange(path, "removed", old, None))
        else:
            changes.append(BatchChange(path, "modified", old, new))
    return changes, unchanged


# --- rows --------------------------------------------------------------------------------


@dataclass
class RowDiff:
    """Rows added, removed and changed between the changed batches' two versions."""

    rows_before: int  # rows of BASE's removed and modified batches
    rows_after: int  # rows of HEAD's added and modified batches
    added: int  # by row id: rows whose id BASE lacked
    removed: int  # by row id: rows whose id HEAD lacks
    unchanged: int  # rows of HEAD's changed batches whose id BASE had
    new: int  # added rows of entities with no removed row
    deleted: int  # removed rows of entities with no added row
    changed: int  # added rows of entities that also lost a row (edited records)
    entities_new: int
    entities_deleted: int
    entities_changed: int
    changed_columns: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    id_column: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row_refs(frame: pd.DataFrame, id_column: str, limit: int) -> list[dict[str, Any]]:
    ordered = frame.sort_values(["batch", "line"], kind="stable").head(limit)
    return [
        {
            "row_id": str(row.row_id),
            "entity": json_safe(row.entity),
            "batch": str(row.batch),
            # pandas-stubs types every itertuples field as any scalar (even None).
            "line": int(row.line),  # type: ignore[arg-type]
        }
        for row in ordered.assign(entity=ordered[id_column]).itertuples(index=False)
    ]


def _same(old: pd.Series, new: pd.Series) -> np.ndarray:
    """Element-wise equality where two nulls are equal (values compared as text if types differ)."""
    both_null = old.isna().to_numpy() & new.isna().to_numpy()
    try:
        equal = (old.to_numpy() == new.to_numpy()) & ~(old.isna() | new.isna()).to_numpy()
    except (TypeError, ValueError):
        equal = (old.astype("str") == new.astype("str")).to_numpy()
    return np.asarray(both_null | equal, dtype=bool)


def row_diff(
    before: pd.DataFrame,
    after: pd.DataFrame,
    id_column: str,
    columns: Iterable[str],
    sample: int = SAMPLE,
) -> RowDiff:
    """Compare BASE's and HEAD's rows of the changed batches; pure.

    Frames need `row_id`, `batch`, `line` and the id column; `columns` are the data columns
    compared for entities with one row on each side.
    """
    before_ids = pd.Index(before["row_id"].unique())
    after_ids = pd.Index(after["row_id"].unique())
    added = after[~after["row_id"].isin(before_ids)]
    removed = before[~before["row_id"].isin(after_ids)]
    added_entities = set(added[id_column].dropna())
    removed_entities = set(removed[id_column].dropna())
    changed_entities = added_entities & removed_entities
    is_changed_new = added[id_column].isin(changed_entities)
    is_changed_old = removed[id_column].isin(changed_entities)

    pairs_old = removed[is_changed_old]
    pairs_new = added[is_changed_new]
    single_old = pairs_old[~pairs_old[id_column].duplicated(keep=False)]
    single_new = pairs_new[~pairs_new[id_column].duplicated(keep=False)]
    paired = single_old.merge(single_new, on=id_column, suffixes=("__old", "__new"))
    paired = paired.sort_values(id_column, kind="stable")
    compared = [c for c in columns if c != id_column and c in before and c in after]
    differs = {c: ~_same(paired[f"{c}__old"], paired[f"{c}__new"]) for c in compared}
    changed_columns = {c: int(mask.sum()) for c, mask in differs.items() if mask.any()}

    changed_sample = []
    for position in range(min(sample, len(paired))):
        row = paired.iloc[position]
        changes = {
            c: [json_safe(row[f"{c}__old"]), json_safe(row[f"{c}__new"])]
            for c in compared
            if differs[c][position]
        }
        changed_sample.append(
            {
                "entity": json_safe(row[id_column]),
                "before": {
                    "row_id": str(row["row_id__old"]),
                    "batch": str(row["batch__old"]),
                    "line": int(row["line__old"]),
                },
                "after": {
                    "row_id": str(row["row_id__new"]),
                    "batch": str(row["batch__new"]),
                    "line": int(row["line__new"]),
                },
                "changes": changes,
            }
        )
    if len(changed_sample) < sample:  # entities with several rows on a side: no pairing
        multi = sorted(changed_entities - set(paired[id_column]), key=str)
        for entity in multi[: sample - len(changed_sample)]:
            changed_sample.append({"entity": json_safe(entity), "changes": None})

    return RowDiff(
        rows_before=len(before),
        rows_after=len(after),
        added=len(added),
        removed=len(removed),
        unchanged=len(after) - len(added),
        new=int((~is_changed_new).sum()),
        deleted=int((~is_changed_old).sum()),
        changed=int(is_changed_new.sum()),
        entities_new=len(added_entities - removed_entities),
        entities_deleted=len(removed_entities - added_entities),
        entities_changed=len(changed_entities),
        changed_columns=changed_columns,
        samples={
            "added": _row_refs(added[~is_changed_new], id_column, sample),
            "removed": _row_refs(removed[~is_changed_old], id_column, sample),
            "changed": changed_sample,
        },
        id_column=id_column,
    )


# --- schema ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnChange:
    """A column added, removed or retyped in changed batches, compared with BASE's data."""

    column: str
    change: str  # added, removed, retyped
    before: str | None  # what the values looked like at BASE (int, float, string...)
    after: str | None
    batches: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class KeyChange:
    """One params.yaml key added, removed or changed (dotted path)."""

    key: str
    change: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExpectationChange:
    """One expectation of a suite added, removed or changed."""

    change: str
    type: str
    column: str | None
    fields: list[str]  # what changed: kwargs.<name>, severity, meta
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SuiteChange:
    """A suite added, removed or changed, with the expectations that changed."""

    name: str
    change: str
    path: str
    expectations: list[ExpectationChange]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "change": self.change,
            "path": self.path,
            "expectations": [e.to_dict() for e in self.expectations],
        }


@dataclass
class SchemaDiff:
    columns: list[ColumnChange] = field(default_factory=list)
    contract_breaks: list[dict[str, str]] = field(default_factory=list)
    contract: list[KeyChange] = field(default_factory=list)
    params: list[KeyChange] = field(default_factory=list)
    suites: list[SuiteChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.columns or self.contract_breaks or self.contract or self.params or self.suites
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "contract_breaks": self.contract_breaks,
            "contract": [c.to_dict() for c in self.contract],
            "params": [c.to_dict() for c in self.params],
            "suites": [s.to_dict() for s in self.suites],
        }


def reference_kinds(batches: Iterable[LoadedBatch]) -> dict[str, str]:
    """Each column's usual look across batches: the most common non-empty kind."""
    seen: dict[str, Counter] = {}
    for batch in batches:
        for column, kind in batch.kinds.items():
            counter = seen.setdefault(column, Counter())
            if kind != "empty":
                counter[kind] += 1
    return {c: (k.most_common(1)[0][0] if k else "empty") for c, k in seen.items()}


def contract_kinds(contract_columns: Mapping[str, Any]) -> dict[str, str]:
    """The look of each contract column by its declared type (when BASE has no data)."""
    return {c: contract_kind(spec.type) for c, spec in contract_columns.items()}


def column_changes(
    reference: Mapping[str, str], batches: Iterable[LoadedBatch]
) -> list[ColumnChange]:
    """Columns each batch adds, lacks or retypes compared with the reference; pure."""
    found: dict[tuple[str, str, str | None, str | None], list[str]] = {}
    for batch in batches:
        if not batch.readable:
            continue
        for column in reference:
            if column not in batch.kinds:
                found.setdefault((column, "removed", reference[column], None), []).append(
                    batch.path
                )
        for column, kind in batch.kinds.items():
            if column not in reference:
                found.setdefault((column, "added", None, kind), []).append(batch.path)
            elif "empty" not in (kind, reference[column]) and kind != reference[column]:
                key = (column, "retyped", reference[column], kind)
                found.setdefault(key, []).append(batch.path)
    order = {"removed": 0, "added": 1, "retyped": 2}
    return [
        ColumnChange(column, change, before, after, sorted(paths))
        for (column, change, before, after), paths in sorted(
            found.items(), key=lambda item: (order[item[0][1]], item[0][0])
        )
    ]


def key_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[KeyChange]:
    """Every dotted key that differs between two params mappings, sorted."""
    old, new = flatten(before), flatten(after)
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changes.append(KeyChange(key, "removed", old[key], None))
        elif key not in old:
            changes.append(KeyChange(key, "added", None, new[key]))
        elif old[key] != new[key]:
            changes.append(KeyChange(key, "changed", old[key], new[key]))
    return changes


def _expectation_key(expectation: Mapping[str, Any]) -> tuple[str, str]:
    kwargs = expectation.get("kwargs") or {}
    target = kwargs.get("column") or kwargs.get("column_list") or kwargs.get("column_A")
    return str(expectation.get("type")), "" if target is None else str(target)


def _keyed(expectations: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, int], dict]:
    counts: Counter = Counter()
    keyed = {}
    for expectation in expectations:
        key = _expectation_key(expectation)
        keyed[(*key, counts[key])] = dict(expectation)
        counts[key] += 1
    return keyed


def _shown(expectation: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if expectation is None:
        return None
    return {
        "kwargs": expectation.get("kwargs") or {},
        "severity": expectation.get("severity", "critical"),
    }


def expectation_changes(
    before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]
) -> list[ExpectationChange]:
    """Expectations added, removed or changed, matched by type and column; pure."""
    old, new = _keyed(before), _keyed(after)
    changes = []
    for key in sorted(old.keys() | new.keys()):
        kind, column = key[0], key[1] or None
        if key not in new:
            changes.append(ExpectationChange("removed", kind, column, [], _shown(old[key]), None))
        elif key not in old:
            changes.append(ExpectationChange("added", kind, column, [], None, _shown(new[key])))
        elif old[key] != new[key]:
            a, b = old[key], new[key]
            kwargs = key_changes(a.get("kwargs") or {}, b.get("kwargs") or {})
            fields = [f"kwargs.{c.key}" for c in kwargs]
            if a.get("severity", "critical") != b.get("severity", "critical"):
                fields.append("severity")
            others = sorted(
                k for k in (a.keys() | b.keys()) - {"kwargs", "severity"} if a.get(k) != b.get(k)
            )
            fields += others
            changes.append(ExpectationChange("changed", kind, column, fields, _shown(a), _shown(b)))
    return changes


def suite_changes(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> list[SuiteChange]:
    """Suites added, removed or changed between two {path: suite JSON} mappings; pure."""

    def by_name(suites: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, Mapping]]:
        return {str(s.get("name") or Path(p).stem): (p, s) for p, s in suites.items()}

    old, new = by_name(before), by_name(after)
    changes = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            path, suite = old[name]
            lost = expectation_changes(suite.get("expectations") or [], [])
            changes.append(SuiteChange(name, "removed", path, lost))
        elif name not in old:
            path, suite = new[name]
            gained = expectation_changes([], suite.get("expectations") or [])
            changes.append(SuiteChange(name, "added", path, gained))
        elif old[name][1] != new[name][1]:
            path = new[name][0]
            inner = expectation_changes(
                old[name][1].get("expectations") or [], new[name][1].get("expectations") or []
            )
            changes.append(SuiteChange(name, "changed", path, inner))
    return changes


# --- the diff ----------------------------------------------------------------------------


@dataclass
class DataDiff:
    """Everything a reviewer needs to know about a data change; `to_dict()` for JSON."""

    base: str
    head: str
    base_commit: str
    head_commit: str
    raw_dir: str
    base_batches: int
    head_batches: int
    unchanged_batches: int
    batches: list[BatchChange]
    rows: RowDiff
    schema: SchemaDiff
    drift: DriftReport
    populations: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    data_error: str | None = None  # the data could not be read: only git-tracked changes
    pointers: dict[str, str | None] = field(default_factory=dict)  # raw dir md5 per side
    # what was read, for the report's data tests; not serialised
    loaded_base: dict[str, LoadedBatch] = field(default_factory=dict, repr=False, compare=False)
    loaded_head: dict[str, LoadedBatch] = field(default_factory=dict, repr=False, compare=False)
    loaded_reference: list[LoadedBatch] = field(default_factory=list, repr=False, compare=False)

    def of_change(self, change: str) -> list[BatchChange]:
        return [b for b in self.batches if b.change == change]

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "base_commit": self.base_commit,
            "head_commit": self.head_commit,
            "raw_dir": self.raw_dir,
            "base_batches": self.base_batches,
            "head_batches": self.head_batches,
            "unchanged_batches": self.unchanged_batches,
            "batches": [b.to_dict() for b in self.batches],
            "rows": self.rows.to_dict(),
            "schema": self.schema.to_dict(),
            "drift": self.drift.to_dict(),
            "populations": self.populations,
            "notes": list(self.notes),
            "data_error": self.data_error,
            "pointers": self.pointers,
        }


def _concat(frames: list[pd.DataFrame], contract) -> pd.DataFrame:
    """The batches' rows as one frame; with none, an empty frame typed as ingest types rows,
    so that it merges and compares with a side that has rows, whatever the id's type."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_typed_frame(contract)
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


class _Reader:
    """Loads batches of a revision once each, typed with one contract."""

    def __init__(self, revision: Revision, contract):
        self.revision = revision
        self.contract = contract
        self.loaded: dict[tuple[str, str], LoadedBatch] = {}

    def load(self, item: TrackedFile) -> LoadedBatch:
        key = (item.path, item.md5)
        if key not in self.loaded:
            data = self.revision.read_tracked(item)
            self.loaded[key] = load_batch(data, item.path, item.md5, self.contract)
        return self.loaded[key]


def _shift(
    reference: list[LoadedBatch],
    loaded_base: dict[str, LoadedBatch],
    changed_head: list[LoadedBatch],
    contract,
    settings: Drift,
    id_column: str,
) -> tuple[DriftReport, dict[str, Any], list[str]]:
    """The shift tests between BASE's reference and the rows HEAD adds (module docstring)."""
    conforming_ref = [b for b in reference if b.readable and not b.error]
    before = _concat([b.frame for b in conforming_ref], contract)
    base_changed_ids = pd.Index(
        _concat([b.frame for b in loaded_base.values()], contract)["row_id"].unique()
    )
    conforming_new = [b for b in changed_head if b.readable and not b.error]
    after_all = _concat([b.frame for b in conforming_new], contract)
    after = after_all[~after_all["row_id"].isin(base_changed_ids)]
    drift = compare(
        before,
        after,
        column_kinds(contract),
        settings,
        label=contract.target,
        before_label=f"BASE reference ({len(conforming_ref)} batches)",
        after_label="rows HEAD adds",
    )
    notes = []
    excluded = [b for b in changed_head if not b.readable or b.error]
    if excluded:
        notes.append(
            f"{len(excluded)} changed batch(es) break the data contract; ingest quarantines "
            "them whole, so their rows are not in the shift tests (see Schema)."
        )
    if not conforming_ref:
        notes.append("BASE has no data to compare with: distributions are not tested.")
    count = settings.reference_batches
    populations = {
        "before": {
            "description": (
                "BASE's reference: the rows of its newest "
                + ("batches (all)" if count == 0 else f"{count} batches")
                + " that meet the contract"
            ),
            "batches": [b.path for b in conforming_ref],
            "rows": len(before),
        },
        "after": {
            "description": "the rows HEAD adds: rows of added and modified batches whose "
            "row id BASE's version of those batches lacks",
            "batches": [b.path for b in conforming_new],
            "rows": len(after),
        },
    }
    return drift, populations, notes


def _read_changed(
    old: Revision,
    new: Revision,
    changes: list[BatchChange],
    base_files: list[TrackedFile],
    head_files: list[TrackedFile],
    contract,
    settings: Drift,
) -> tuple[dict[str, LoadedBatch], dict[str, LoadedBatch], list[LoadedBatch]]:
    """Read and type the changed batches on both sides and BASE's reference batches."""
    base_by_path = {f.path: f for f in base_files}
    head_by_path = {f.path: f for f in head_files}
    base_reader, head_reader = _Reader(old, contract), _Reader(new, contract)
    loaded_base: dict[str, LoadedBatch] = {}
    loaded_head: dict[str, LoadedBatch] = {}
    for change in changes:
        if change.change in ("removed", "modified"):
            batch = base_reader.load(base_by_path[change.path])
            loaded_base[change.path] = batch
            change.base_rows = batch.rows if batch.readable else None
        if change.change in ("added", "modified"):
            batch = head_reader.load(head_by_path[change.path])
            loaded_head[change.path] = batch
            change.head_rows = batch.rows if batch.readable else None
            change.error, change.rule = batch.error, batch.rule
    count = settings.reference_batches
    reference_files = base_files if count == 0 else base_files[-count:]
    reference = [base_reader.load(f) for f in reference_files]
    return loaded_base, loaded_head, reference


def compare_revisions(
    project: Project, base: str, head: str, settings: Drift | None = None, sample: int = SAMPLE
) -> DataDiff:
    """`diff_data` on an open Project (the report reuses the project and what was read)."""
    old, new = project.at(base), project.at(head)
    head_params = new.params()
    contract = head_params.contract
    settings = settings or head_params.drift
    id_column = contract.id_column
    base_files: list[TrackedFile] = []
    head_files: list[TrackedFile] = []
    changes: list[BatchChange] = []
    unchanged = 0
    loaded_base: dict[str, LoadedBatch] = {}
    loaded_head: dict[str, LoadedBatch] = {}
    reference: list[LoadedBatch] = []
    data_error = None
    try:
        base_files = old.raw_batches() if old.raw_params() else []
        head_files = new.raw_batches()
        changes, unchanged = batch_changes(base_files, head_files)
        loaded_base, loaded_head, reference = _read_changed(
            old, new, changes, base_files, head_files, contract, settings
        )
    except RevisionError as exc:
        # e.g. a fork's CI job without read access to the DVC remote: report what git shows
        data_error = str(exc)
        loaded_base, loaded_head, reference = {}, {}, []
        for change in changes:
            change.base_rows = change.head_rows = None

    columns = list(contract.columns)
    rows = row_diff(
        _concat([b.frame for b in loaded_base.values()], contract),
        _concat([b.frame for b in loaded_head.values()], contract),
        id_column,
        columns,
        sample,
    )

    old_params = old.raw_params()
    new_params = new.raw_params()
    ref_kinds = reference_kinds(reference) or (
        contract_kinds(old.params().contract.columns) if old_params else {}
    )
    changed_head = [loaded_head[c.path] for c in changes if c.path in loaded_head]
    all_keys = key_changes(old_params, new_params)
    schema = SchemaDiff(
        columns=column_changes(ref_kinds, changed_head) if ref_kinds else [],
        contract_breaks=[
            {"batch": b.path, "rule": b.rule or "contract", "message": b.error or ""}
            for b in changed_head
            if b.error
        ],
        contract=[k for k in all_keys if k.key.startswith("contract.")],
        params=[k for k in all_keys if not k.key.startswith("contract.")],
        suites=suite_changes(old.suites() if old_params else {}, new.suites()),
    )

    drift, populations, notes = _shift(
        reference, loaded_base, changed_head, contract, settings, id_column
    )
    if data_error:
        notes = [f"The data could not be read, so rows and distributions are unknown: {data_error}"]
    return DataDiff(
        base=base,
        head=head,
        base_commit=old.commit,
        head_commit=new.commit,
        raw_dir=head_params.paths.raw,
        base_batches=len(base_files),
        head_batches=len(head_files),
        unchanged_batches=unchanged,
        batches=changes,
        rows=rows,
        schema=schema,
        drift=drift,
        populations=populations,
        notes=notes,
        loaded_base=loaded_base,
        loaded_head=loaded_head,
        loaded_reference=reference,
        data_error=data_error,
        pointers={
            "base": old.output_md5(old.params().paths.raw) if old.raw_params() else None,
            "head": new.output_md5(head_params.paths.raw),
        },
    )


def diff_data(
    repo: str | Path, base: str, head: str = "HEAD", settings: Drift | None = None
) -> DataDiff:
    """Compare the data of two revisions of the project at `repo` (see the module docstring)."""
    with Project(repo) as project:
        return compare_revisions(project, base, head, settings)
