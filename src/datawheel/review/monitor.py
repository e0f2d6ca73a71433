"""`datawheel drift`: the newest batches of a revision against a reference, read from git
and DVC; the statistics are datawheel.review.drift's `compare`.

The reference is what `drift.reference` names: the champion's training rows (as of its
commit), the recent accepted batches, or the same season in earlier years
(`datawheel.review.drift_reference` chooses the batches). `monitor` returns a `Monitor`
result; writing drift.md, drift.json and the PNGs is datawheel.review.outputs'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from datawheel.config.catalog import DVC_LOCK
from datawheel.config.params import Drift, Params, ReferenceKind
from datawheel.review.drift import DriftReport, column_kinds, compare

if TYPE_CHECKING:
    from datawheel.data.revisions import LoadedBatch, Project, Revision, TrackedFile


@dataclass
class Monitor:
    """`datawheel drift`: what was compared with what, and the result.

    `reference` names its `kind` (the one used), the `requested` one (differs when a season
    fell back to recent batches), a description, the commit, its rows and its `batches`.
    """

    rev: str
    commit: str
    current_batches: list[str]
    reference: dict[str, Any]
    report: DriftReport
    notes: list[str] = field(default_factory=list)

    @property
    def shifted(self) -> list[str]:
        return self.report.shifted

    def to_dict(self) -> dict[str, Any]:
        """The DriftReport's keys (columns, shifted, settings...) plus what was compared."""
        report = self.report.to_dict()
        return {
            **report,
            "rev": self.rev,
            "commit": self.commit,
            "current_batches": list(self.current_batches),
            "reference": self.reference,
            "notes": [*self.notes, *report["notes"]],
        }


def monitor(
    repo: str | Path = ".",
    rev: str = "HEAD",
    last: int = 1,
    settings: Drift | None = None,
    reference: ReferenceKind | None = None,
) -> Monitor:
    """Compare the newest `last` batches at `rev` with the reference `drift.reference` names
    (`reference` overrides it for one run).

    `champion`: `data/curated/train.parquet` (paths.curated) as of the champion's commit
    (models/champion.json), read through DVC, i.e. exactly the rows it was trained on; with
    no champion yet the curated train set of `rev` itself. Rows of the compared batches are
    removed from it, should it hold any. `recent` and `season`: raw batches at `rev` chosen
    by `choose_reference_batches` among the accepted ones (see `_batch_reference`). Batches
    are ordered by path (period-named files by date); those that break the contract are
    skipped.
    """
    from datawheel.data.revisions import Project, RevisionError, load_batch

    if last < 1:
        raise RevisionError(f"--last must be at least 1, got {last}")
    with Project(repo) as project:
        at = project.at(rev)
        params = at.params()
        settings = settings or params.drift
        if reference is not None:
            settings = settings.model_copy(update={"reference": reference})
        contract = params.contract
        batches = at.raw_batches()
        if not batches:
            raise RevisionError(f"{params.paths.raw}@{at.short}: no batches to check")
        newest = batches[-last:]
        loaded = [load_batch(at.read_tracked(f), f.path, f.md5, contract) for f in newest]
        notes = [
            f"{b.path} breaks the contract and is left out: {b.error}"
            for b in loaded
            if not b.readable or b.error
        ]
        usable = [b for b in loaded if b.readable and not b.error]
        if settings.reference == "champion":
            before, described = _champion_reference(project, at, params, {b.md5 for b in loaded})
        else:
            before, described, more = _batch_reference(at, params, batches, last, settings)
            notes += more
        frames = [b.frame for b in usable]
        current = pd.concat(frames, ignore_index=True) if frames else before.iloc[0:0]
        report = compare(
            before,
            current,
            column_kinds(contract),
            settings,
            label=contract.target,
            before_label=described["description"],
            after_label=f"newest {len(newest)} batch(es)",
        )
        return Monitor(
            rev=rev,
            commit=at.commit,
            current_batches=[f.path for f in newest],
            reference={**described, "rows": len(before)},
            report=report,
            notes=notes,
        )


def _champion_reference(
    project: Project, at: Revision, params: Params, current_md5s: set[str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The champion's training rows (or `at`'s own without a champion) and their record."""
    from datawheel.data.revisions import RevisionError

    train_path = params.artifacts.train
    champion = at.read_json(params.paths.champion, default={}, worktree=True) or {}
    if champion.get("version") and champion.get("commit"):
        source = project.at(str(champion["commit"]))
        description = (
            f"champion {champion['version']}'s training rows ({train_path} at {source.short})"
        )
    else:
        source = at
        description = f"{train_path} at {at.short} (no champion yet)"
    rows = source.read_parquet(train_path)
    if rows is None:
        raise RevisionError(
            f"{train_path}@{source.short}: no curated training rows to compare with; "
            f"run `dvc repro` (through the curate stage) and commit {DVC_LOCK}"
        )
    if "batch_md5" in rows.columns:
        rows = rows[~rows["batch_md5"].astype("str").isin(current_md5s)]
    batches = sorted(rows["batch"].astype("str").unique()) if "batch" in rows.columns else []
    described = {
        "kind": "champion",
        "requested": "champion",
        "description": description,
        "commit": source.commit,
        "batches": batches,
    }
    return rows, described


def _batch_reference(
    at: Revision, params: Params, batches: list[TrackedFile], last: int, settings: Drift
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """Raw batches at `at` as the reference: `choose_reference_batches` over the accepted ones.

    Accepted, as validate's history counts them: not a copy (same md5) of an earlier batch
    or of a judged one, not `failed` in reports/validation.json for that very file, and
    meeting the contract. Contract breakers are found by reading, so the rule is asked again
    until every batch it chooses is readable; a batch it would have chosen but that is not
    accepted is named in a note.
    """
    from datawheel.data.revisions import RevisionError, load_batch
    from datawheel.review.drift_reference import choose_reference_batches, season_batches

    judged = [f.path for f in batches[-last:]]
    judged_md5s = {f.md5 for f in batches[-last:]}
    by_path = {f.path: f for f in batches}
    validation = at.read_json(params.artifacts.validation, worktree=True)
    failed = {
        (b.get("batch"), b.get("md5"))
        for b in (validation or {}).get("batches", [])
        if isinstance(b, dict) and b.get("status") == "failed"
    }
    left_out: dict[str, str] = {}
    first_of_md5: dict[str, str] = {}
    for f in batches:
        if f.path in judged:
            continue
        if f.md5 in judged_md5s:
            left_out[f.path] = "the same file as a judged batch"
        elif f.md5 in first_of_md5:
            left_out[f.path] = f"a copy of {first_of_md5[f.md5]}"
        elif (f.path, f.md5) in failed:
            left_out[f.path] = f"failed validation ({params.artifacts.validation})"
        first_of_md5.setdefault(f.md5, f.path)
    kind = settings.reference
    paths = [f.path for f in batches]
    loaded: dict[str, LoadedBatch] = {}
    while True:
        candidates = [p for p in paths if p not in left_out]
        chosen, note = choose_reference_batches(candidates, judged, kind, settings)
        fresh = [p for p in chosen if p not in loaded]
        if not fresh:
            break
        for path in fresh:
            item = by_path[path]
            batch = load_batch(at.read_tracked(item), path, item.md5, params.contract)
            loaded[path] = batch
            if not batch.readable or batch.error:
                left_out[path] = f"breaks the contract: {batch.error}"
    if not chosen:
        raise RevisionError(
            f"{params.paths.raw}@{at.short}: no accepted batch before {', '.join(judged)} to "
            f"compare with (drift.reference {kind}); wait for more batches or use "
            "--reference champion"
        )
    would_choose, _ = choose_reference_batches(paths, judged, kind, settings)
    notes = [note] if note else []
    notes += [
        f"{path} is left out of the reference: {left_out[path]}"
        for path in would_choose
        if path in left_out
    ]
    used: ReferenceKind = kind
    if kind == "season" and not season_batches(candidates, judged, settings.season_years)[0]:
        used = "recent"
    rows = pd.concat([loaded[p].frame for p in chosen], ignore_index=True)
    described = {
        "kind": used,
        "requested": kind,
        "description": _describe_batches(used, chosen, at.short, settings),
        "commit": at.commit,
        "batches": chosen,
    }
    return rows, described, notes


def _describe_batches(used: ReferenceKind, chosen: list[str], short: str, settings: Drift) -> str:
    if used == "season":
        years = "1 year" if settings.season_years == 1 else f"1 to {settings.season_years} years"
        return f"the same period {years} earlier ({len(chosen)} batch(es) at {short})"
    return f"the {len(chosen)} accepted batch(es) before the newest (at {short})"
