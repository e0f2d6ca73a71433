"""The pull-request review of a data change: data diff, data tests and model impact.

`build_report(repo, base, head)` gathers from the two revisions (`data_tests`,
`model_impact`, `merge_outcome`, each reading through a `Project`), `assess(report)` judges
it (pure); datawheel.render.report shows it as Markdown and datawheel.review.outputs writes
report.md, report.json and the PNGs.

Data tests, newly failing and newly passing: each side's verdict per batch comes from its
`reports/validation.json` when the pipeline ran on exactly that side's batches and suites
(same batch md5s, same suites fingerprint); otherwise the side's own suites are run here on
the batches this report read (the changed batches and BASE's reference batches), and HEAD's
unchanged batches keep BASE's verdicts when the suites did not change. The two sides are
compared on the batches known on both, plus the changed ones: a rule (`suite/type/column`)
is newly failing when some HEAD batch fails it and no BASE batch did, newly passing the
other way round.

Model impact: read from HEAD's reports/metrics.json, segments.json and gate.json when
HEAD's dvc.lock has an evaluate stage; marked stale when dvc.lock was made for other raw
data, params or stage code than HEAD has (then: run `dvc repro` and commit). When HEAD is
the commit checked out, dvc.lock and the reports are read from the working tree, so a CI
job that ran `dvc repro` on the pull request reviews results it did not commit.

When the data cannot be read at all (a fork's job without access to the DVC remote), the
report says so and shows what git alone holds: the pointers, params and suite changes, and
the model section.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from datawheel.config.catalog import DVC_LOCK, DVC_YAML, GATE, VALIDATION_MARKDOWN
from datawheel.config.params import Model, dvc_vars
from datawheel.data.revisions import LoadedBatch, Project, Revision, TrackedFile
from datawheel.io.files import json_safe
from datawheel.pipeline.validate import (
    INGEST_SUITE,
    BatchValidation,
    ExpectationOutcome,
    SuiteRunner,
    suites_fingerprint,
)
from datawheel.render.format import names
from datawheel.review.diff import DataDiff, compare_revisions

# --- data tests --------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleResult:
    """An expectation (`suite/type/column`) and where it fails."""

    rule: str
    suite: str
    expectation_type: str
    column: str | None
    severity: str
    batches: list[str]
    failing_rows: int | None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def failing_rules(batches: Iterable[BatchValidation]) -> dict[str, RuleResult]:
    """Every rule that fails on at least one batch, with the batches and failing rows; pure."""
    found: dict[str, dict[str, Any]] = {}
    for batch in batches:
        for outcome in batch.outcomes:
            if outcome.success:
                continue
            entry = found.setdefault(
                outcome.rule,
                {"outcome": outcome, "batches": [], "rows": None, "message": outcome.message},
            )
            entry["batches"].append(batch.batch)
            if outcome.unexpected_count is not None:
                entry["rows"] = (entry["rows"] or 0) + int(outcome.unexpected_count)
    return {
        rule: RuleResult(
            rule=rule,
            suite=e["outcome"].suite,
            expectation_type=e["outcome"].expectation_type,
            column=e["outcome"].column,
            severity=e["outcome"].severity,
            batches=sorted(e["batches"]),
            failing_rows=e["rows"],
            message=e["message"],
        )
        for rule, e in sorted(found.items())
    }


def compare_tests(
    base: Mapping[str, BatchValidation],
    head: Mapping[str, BatchValidation],
    changed: Iterable[str],
) -> tuple[list[RuleResult], list[RuleResult], list[RuleResult]]:
    """(newly failing, newly passing, still failing) rules between two sides' verdicts.

    Both sides are restricted to the batches known on both plus the changed ones, so a
    batch that only one side validated cannot make a rule look new or fixed; pure.
    """
    changed = set(changed)
    base_scope = [v for p, v in base.items() if p in changed or p in head]
    head_scope = [v for p, v in head.items() if p in changed or p in base]
    before, after = failing_rules(base_scope), failing_rules(head_scope)
    newly_failing = [after[r] for r in after if r not in before]
    newly_passing = [before[r] for r in before if r not in after]
    still = [after[r] for r in after if r in before]
    return newly_failing, newly_passing, still


@dataclass
class DataTests:
    """The data tests on the change: rules newly failing and passing, each changed batch."""

    base_source: str
    head_source: str
    newly_failing: list[RuleResult]
    newly_passing: list[RuleResult]
    still_failing: list[RuleResult]
    changed_batches: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_source": self.base_source,
            "head_source": self.head_source,
            "newly_failing": [r.to_dict() for r in self.newly_failing],
            "newly_passing": [r.to_dict() for r in self.newly_passing],
            "still_failing": [r.to_dict() for r in self.still_failing],
            "changed_batches": self.changed_batches,
            "notes": list(self.notes),
        }


def fresh_validation(
    revision: Revision, batches: list[TrackedFile]
) -> dict[str, BatchValidation] | None:
    """The verdicts in reports/validation.json at a revision, if made for its batches and
    suites; else None."""
    params = revision.params()
    stored = revision.read_json(params.artifacts.validation, worktree=True)
    if not isinstance(stored, dict) or "batches" not in stored:
        return None
    verdicts = [BatchValidation.from_dict(b) for b in stored["batches"]]
    if {(v.batch, v.md5) for v in verdicts} != {(f.path, f.md5) for f in batches}:
        return None
    if stored.get("suites_fingerprint") != suites_fingerprint(list(revision.suites().values())):
        return None
    return {v.batch: v for v in verdicts}


def _contract_failure(batch: LoadedBatch) -> BatchValidation:
    """A batch ingest would reject, as validate reports it: a failed `contract` rule."""
    outcome = ExpectationOutcome(
        suite=INGEST_SUITE,
        expectation_type=batch.rule or "contract",
        column=None,
        severity="critical",
        success=False,
        message=batch.error or "",
    )
    return BatchValidation(batch.path, batch.md5, "failed", 0, 0, [outcome])


def run_suites(
    suites: list[dict[str, Any]],
    batches: Iterable[LoadedBatch],
    min_rows_for_mostly: int = 0,
    batch_period: tuple[str, str] | None = None,
) -> dict[str, BatchValidation]:
    """Validate loaded batches with the suites (Great Expectations, imported on first use),
    judging `mostly` on small batches and periods of batches named by none as the validate
    stage does (validate.min_rows_for_mostly, validate.batch_period)."""
    runner = SuiteRunner(suites, min_rows_for_mostly, batch_period) if suites else None
    results = {}
    for batch in batches:
        if not batch.readable or batch.error:
            results[batch.path] = _contract_failure(batch)
        elif runner is not None:
            result = runner.validate(batch.frame, batch.path)
            result.md5 = batch.md5
            results[batch.path] = result
    return results


def _batch_summary(verdict: BatchValidation | None, path: str) -> dict[str, Any]:
    if verdict is None:
        return {"batch": path, "status": "unknown", "failures": []}
    return {
        "batch": path,
        "status": verdict.status,
        "rows": verdict.rows,
        "quarantined_rows": verdict.quarantined_rows,
        "failures": [
            {
                "rule": o.rule,
                "severity": o.severity,
                "unexpected_count": o.unexpected_count,
                "element_count": o.element_count,
                "message": o.message,
            }
            for o in verdict.failures
        ],
    }


def data_tests(project: Project, diff: DataDiff) -> DataTests:
    """Newly failing and passing data tests between the diff's two revisions."""
    if diff.data_error:
        unknown = "not available (the data could not be read)"
        return DataTests(unknown, unknown, [], [], [], [], ["Only suite changes are shown."])
    old, new = project.at(diff.base_commit), project.at(diff.head_commit)
    base_files = old.raw_batches() if old.raw_params() else []
    head_files = new.raw_batches()
    changed = {b.path for b in diff.batches}
    notes: list[str] = []
    base = fresh_validation(old, base_files) if base_files else {}
    if base is not None:
        base_source = (
            f"`{old.params().artifacts.validation}` at BASE ({len(base)} batches)"
            if base_files
            else "BASE has no batches"
        )
    else:
        read = [*diff.loaded_reference, *diff.loaded_base.values()]
        unique = {(b.path, b.md5): b for b in read}
        base = run_suites(
            list(old.suites().values()),
            unique.values(),
            old.params().validate_.min_rows_for_mostly,
            old.params().batch_period_from_data,
        )
        base_source = (
            f"BASE's suites run on the {len(base)} batches read (the pipeline has not run on "
            "BASE's data, or its report is stale)"
        )
    head = fresh_validation(new, head_files)
    if head is not None:
        head_source = f"`{new.params().artifacts.validation}` at HEAD ({len(head)} batches)"
        if new.from_worktree(new.params().artifacts.validation):
            head_source += " in the working tree, not committed yet"
    else:
        suites = list(new.suites().values())
        head = run_suites(
            suites,
            diff.loaded_head.values(),
            new.params().validate_.min_rows_for_mostly,
            new.params().batch_period_from_data,
        )
        head_source = f"HEAD's suites run on its {len(head)} added or modified batches"
        same_suites = suites_fingerprint(suites) == suites_fingerprint(
            list(old.suites().values()) if old.raw_params() else []
        )
        if same_suites:
            kept = {p: v for p, v in base.items() if p not in changed}
            head = {**kept, **head}
            if kept:
                head_source += f", and BASE's verdicts on {len(kept)} unchanged batches"
        else:
            notes.append(
                "The suites changed and the pipeline has not run at HEAD: unchanged batches "
                "were not re-validated. Run `dvc repro` to validate every batch."
            )
    newly_failing, newly_passing, still = compare_tests(base, head, changed)
    changed_head = [b.path for b in diff.batches if b.change != "removed"]
    return DataTests(
        base_source=base_source,
        head_source=head_source,
        newly_failing=newly_failing,
        newly_passing=newly_passing,
        still_failing=still,
        changed_batches=[_batch_summary(head.get(p), p) for p in changed_head],
        notes=notes,
    )


# --- model impact ------------------------------------------------------------------------


@dataclass
class PipelineState:
    """Whether dvc.lock at a revision was made from that revision's data, params and code."""

    ran: bool
    fresh: bool
    problems: list[str] = field(default_factory=list)


def _dig(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return None
        data = data[part]
    return data


def pipeline_state(revision: Revision, stage: str = "evaluate") -> PipelineState:
    """Check dvc.lock against the revision: raw data md5, params and file deps of each stage.

    Directory dependencies other than the raw data are outputs of earlier stages or folders
    (expectations/); they are covered by the stages that read them and are not re-hashed.
    """
    lock = revision.read_yaml(DVC_LOCK, default={}, worktree=True) or {}
    stages = lock.get("stages") or {}
    if stage not in stages:
        return PipelineState(False, False, [f"dvc.lock has no `{stage}` stage"])
    params = revision.raw_params()
    variables = {**params, **dvc_vars(revision.read_yaml(DVC_YAML, default={}))}
    raw = (variables.get("paths") or {}).get("raw", "data/raw")
    raw_md5 = revision.output_md5(raw)
    problems = []
    for name, entry in stages.items():
        for dep in entry.get("deps") or []:
            path, md5 = dep.get("path"), dep.get("md5")
            if path == raw:
                if md5 != raw_md5:
                    problems.append(f"stage {name} ran on other raw data than `{raw}` holds")
            elif md5 and not str(md5).endswith(".dir"):
                data = revision.read_bytes(path, worktree=True)
                if data is not None and hashlib.md5(data).hexdigest() != md5:
                    problems.append(f"stage {name}: `{path}` changed since it ran")
        for values in (entry.get("params") or {}).values():
            for key, value in (values or {}).items():
                if _dig(params, key) != value:
                    problems.append(f"stage {name}: params `{key}` changed since it ran")
    return PipelineState(True, not problems, sorted(set(problems)))


@dataclass
class ModelImpact:
    """Candidate vs champion on the same hold-out at HEAD, as the evaluate stage left it."""

    available: bool
    note: str = ""
    fresh: bool = False
    problems: list[str] = field(default_factory=list)
    primary_metric: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    base_candidate: dict[str, Any] | None = None
    bootstrap: dict[str, Any] | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)
    gate: dict[str, Any] | None = None
    champion_version: str | None = None  # from HEAD's champion pointer, which evaluate read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def segment_deltas(segments: Mapping[str, Any], metric: str) -> list[dict[str, Any]]:
    """Per segment: rows, the metric for candidate and champion and their difference,
    worst first (segments the champion lacks last); pure."""
    champion = {str(s["segment"]): s for s in segments.get("champion") or []}
    rows = []
    for seg in segments.get("candidate") or []:
        name = str(seg["segment"])
        new = _finite(seg.get(metric))
        old = _finite((champion.get(name) or {}).get(metric))
        delta = None if new is None or old is None else new - old
        rows.append(
            {
                "segment": name,
                "rows": seg.get("rows"),
                "candidate": new,
                "champion": old,
                "delta": delta,
            }
        )
    return sorted(rows, key=lambda r: (r["delta"] is None, r["delta"] or 0.0, r["segment"]))


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def model_impact(project: Project, diff: DataDiff) -> ModelImpact:
    """The evaluate stage's results at HEAD, if it ran there (and whether they are stale)."""
    new, old = project.at(diff.head_commit), project.at(diff.base_commit)
    state = pipeline_state(new)
    if not state.ran:
        return ModelImpact(
            False,
            "The pipeline has not run at HEAD (no evaluate stage in dvc.lock): run "
            "`dvc repro` and commit dvc.lock and reports/ to see the model impact.",
        )
    artifacts = new.params().artifacts
    metrics = new.read_json(artifacts.metrics, worktree=True)
    pointer = new.read_json(new.params().paths.champion, default={}, worktree=True)
    gate = new.read_json(artifacts.gate, worktree=True)
    segments = new.read_json(artifacts.segments, default={}, worktree=True) or {}
    if not isinstance(metrics, dict) or not isinstance(gate, dict):
        return ModelImpact(False, f"HEAD has no {artifacts.metrics} or {artifacts.gate}.")
    metric = str(gate.get("primary_metric") or new.params().gate.primary_metric)
    base_metrics = None
    if old.raw_params() and pipeline_state(old).ran:
        stored = old.read_json(old.params().artifacts.metrics, worktree=True)
        base_metrics = stored.get("candidate") if isinstance(stored, dict) else None
    note = (
        ""
        if state.fresh
        else "Stale: " + "; ".join(state.problems) + ". Run `dvc repro` and commit the results."
    )
    if new.from_worktree(DVC_LOCK):
        note = (note + " " if note else "") + (
            "Read from the working tree: the pipeline ran on HEAD here and its results are "
            "not committed yet."
        )
    return ModelImpact(
        available=True,
        note=note,
        fresh=state.fresh,
        problems=state.problems,
        primary_metric=metric,
        metrics=metrics,
        base_candidate=base_metrics,
        bootstrap=gate.get("bootstrap"),
        segments=segment_deltas(segments, metric),
        gate=gate,
        champion_version=pointer.get("version") if isinstance(pointer, dict) else None,
    )


# --- what merging would do --------------------------------------------------------------


@dataclass
class Merge:
    """What merging would do to prod: `datawheel promote`'s decision on HEAD's results."""

    decision: str  # promote, hold, or unknown: no gate decision at HEAD to go by
    model_name: str
    version: str | None = None  # the version promote would create
    bump: str | None = None  # major or minor, by promote's own rule
    champion: str | None = None  # the version in prod now, from HEAD's champion.json
    reasons: list[str] = field(default_factory=list)
    estimator: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None

    @property
    def headline(self) -> str:
        """The sentence's lead, what a reviewer reads first: the decision, and the version."""
        if self.decision == "promote":
            bump = (self.bump or "?").upper()
            return f"Merging promotes {self.model_name} {self.version} ({bump}) to prod"
        return "Merging holds:" if self.decision == "hold" else "Merging cannot be judged:"

    @property
    def detail(self) -> str:
        """The rest of the sentence: what it replaces, or why not; whole sentences."""
        from datawheel.registry.promote import reasons_text

        if self.decision == "promote":
            return f", replacing {self.champion}." if self.champion else ", its first version."
        if self.decision == "hold":
            stays = (
                f"The champion {self.champion} stays in prod."
                if self.champion
                else "There is no champion yet."
            )
            return f" {reasons_text(self.reasons)} {stays}"
        return " " + " ".join(self.reasons)

    @property
    def sentence(self) -> str:
        return self.headline + self.detail

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sentence": self.sentence}


def judge_merge(
    model: ModelImpact,
    model_name: str,
    champion: str | None,
    release: tuple[str, str] | None,
    shipped: Model,
    failed_batches: list[str] | None = None,
) -> Merge:
    """What merging would do, from HEAD's gate decision if it is HEAD's own; pure.

    `release` is (version, bump) as promote would make them, `shipped` HEAD's model params,
    `failed_batches` the batches that fail validation at HEAD (None: not known).
    """
    gate = model.gate if model.available and model.fresh else None
    if gate is None or gate.get("decision") not in ("promote", "hold"):
        reasons = [_unjudged_reason(model, failed_batches)]
        return Merge(
            "unknown",
            model_name,
            champion=champion,
            reasons=reasons,
            estimator=shipped.estimator,
            params=shipped.estimator_params,
            seed=shipped.seed,
        )
    if gate["decision"] == "hold":
        reasons = [str(r) for r in gate.get("reasons") or []] or ["The gate gave no reason."]
        return Merge(
            "hold",
            model_name,
            champion=champion,
            reasons=reasons,
            estimator=shipped.estimator,
            params=shipped.estimator_params,
            seed=shipped.seed,
        )
    if release is None:
        raise ValueError("a gate that promotes needs the version promote would create")
    version, bump = release
    reasons = [str(r) for r in gate.get("reasons") or []]
    return Merge(
        "promote",
        model_name,
        version,
        bump,
        champion,
        reasons,
        estimator=shipped.estimator,
        params=shipped.estimator_params,
        seed=shipped.seed,
    )


def _unjudged_reason(model: ModelImpact, failed_batches: list[str] | None) -> str:
    if failed_batches:
        return (
            f"data validation fails at HEAD ({names(failed_batches, 3)}), so the pipeline "
            "stops before training and there is no gate decision; see "
            f"`reports/{VALIDATION_MARKDOWN}`."
        )
    if not model.available:
        return f"there is no gate decision at HEAD. {model.note}"
    if model.gate is not None and not model.fresh:
        problems = "; ".join(model.problems) or "the results were made for another commit"
        return (
            f"the gate decision at HEAD is stale ({problems}); run `dvc repro` and commit the "
            "results."
        )
    return f"reports/{GATE} at HEAD holds no promote or hold decision."


def _failed_batches(revision: Revision, readable: bool) -> list[str] | None:
    """Batches failing validation in HEAD's own validation.json (made for its batches)."""
    if not readable or fresh_validation(revision, revision.raw_batches()) is None:
        return None
    stored = revision.read_json(revision.params().artifacts.validation, worktree=True)
    if stored.get("passed", True):
        return []
    return [str(b) for b in stored.get("failed_batches") or []] or ["a batch"]


def merge_outcome(project: Project, diff: DataDiff, model: ModelImpact) -> Merge:
    """What merging HEAD would do: the gate at HEAD, the version promote would create."""
    from datawheel.registry.promote import bump_kind
    from datawheel.registry.tags import next_version, read_registry

    head = project.at(diff.head_commit)
    params = head.params()
    name = params.registry.model_name
    pointer = head.read_json(params.paths.champion, default={}, worktree=True)
    pointer = pointer if isinstance(pointer, dict) else {}
    champion = pointer.get("version") or None
    release = None
    if model.available and model.fresh and (model.gate or {}).get("decision") == "promote":
        commit = pointer.get("commit") if champion else None
        bump = bump_kind(project.root, params, commit, head.commit)
        release = (next_version(read_registry(project.root).latest(name), bump), bump)
    failed = None if model.fresh else _failed_batches(head, not diff.data_error)
    return judge_merge(model, name, champion, release, params.model, failed)


# --- the report --------------------------------------------------------------------------


@dataclass
class Report:
    """A data change reviewed: what changed, what the tests say, what it does to the model."""

    diff: DataDiff
    tests: DataTests | None = None
    model: ModelImpact | None = None
    merge: Merge | None = None
    plots: list[str] = field(default_factory=list)

    def verdict(self) -> tuple[str, str, list[str]]:
        """(level, headline, findings), as `assess` judges this report."""
        return assess(self)

    @property
    def level(self) -> str:
        return assess(self)[0]

    @property
    def headline(self) -> str:
        return assess(self)[1]

    def to_dict(self) -> dict[str, Any]:
        level, headline, findings = assess(self)
        return json_safe(
            {
                "verdict": level,
                "headline": headline,
                "findings": findings,
                "diff": self.diff.to_dict(),
                "tests": None if self.tests is None else self.tests.to_dict(),
                "model": None if self.model is None else self.model.to_dict(),
                "merge": None if self.merge is None else self.merge.to_dict(),
                "plots": list(self.plots),
            }
        )


def build_report(
    repo: str | Path, base: str, head: str = "HEAD", tests: bool = True, model: bool = True
) -> Report:
    """Diff the data of two revisions, run or read the data tests, read the model impact
    and what merging would do to prod."""
    with Project(repo) as project:
        diff = compare_revisions(project, base, head)
        impact = model_impact(project, diff) if model else None
        return Report(
            diff=diff,
            tests=data_tests(project, diff) if tests else None,
            model=impact,
            merge=None if impact is None else merge_outcome(project, diff, impact),
        )


def assess(report: Report) -> tuple[str, str, list[str]]:
    """(level, headline, findings): `blocking`, `attention` or `ok`, and why; pure."""
    diff = report.diff
    blocking: list[str] = []
    attention: list[str] = []
    if diff.data_error:
        attention.append(
            "The data could not be read, so only git-tracked changes are shown: " + diff.data_error
        )
    breaks = diff.schema.contract_breaks
    if breaks:
        first = breaks[0]["message"]
        blocking.append(
            f"{len(breaks)} batch(es) break the data contract and would be quarantined "
            f"whole: {first}"
        )
    rewritten = diff.of_change("modified") + diff.of_change("removed")
    if rewritten:
        blocking.append(
            f"Raw data is append-only, but {len(diff.of_change('modified'))} batch(es) are "
            f"modified and {len(diff.of_change('removed'))} removed "
            f"({names([b.path for b in rewritten], 3)}): add a corrected batch instead and "
            "list the bad one under `validate.acknowledged_batches`"
        )
    if report.tests is not None:
        critical = [r for r in report.tests.newly_failing if r.severity == "critical"]
        other = [r for r in report.tests.newly_failing if r.severity != "critical"]
        if critical:
            blocking.append(
                f"{len(critical)} critical data test(s) newly failing: "
                + names([r.rule for r in critical], 3)
            )
        if other:
            attention.append(
                f"{len(other)} warning/info data test(s) newly failing: "
                + names([r.rule for r in other], 3)
            )
    shifted = diff.drift.shifted
    if shifted:
        attention.append(f"{len(shifted)} column(s) shifted: {names(shifted)}")
    if diff.schema.columns:
        attention.append(
            "Columns changed in the batches: "
            + ", ".join(f"`{c.column}` {c.change}" for c in diff.schema.columns[:5])
        )
    if diff.schema.contract:
        attention.append(
            f"The data contract changed ({len(diff.schema.contract)} key(s) in params.yaml)"
        )
    if diff.schema.suites:
        attention.append(
            "Expectation suites changed: "
            + ", ".join(f"`{s.name}` {s.change}" for s in diff.schema.suites[:5])
        )
    findings = blocking + attention
    added = diff.of_change("added")
    rows = diff.rows
    size = f"{len(added)} batch(es) added, {rows.added:,} row(s) added, {rows.removed:,} removed"
    if blocking:
        return "blocking", f"Blocking: {blocking[0].split(':')[0]} ({size}).", findings
    if attention:
        return "attention", f"Needs a look: {attention[0].split(':')[0]} ({size}).", findings
    tested = len(diff.drift.tested)
    headline = f"No surprises: {size}; " + (
        f"all {tested} tested columns stable" if tested else "no columns could be tested"
    )
    if report.tests is not None:
        headline += "; no data test newly failing"
    return "ok", headline + ".", findings
