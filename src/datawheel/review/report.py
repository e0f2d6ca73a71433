"""The pull-request review of a data change: data diff, data tests and model impact.

`build_report(repo, base, head)` gathers, `render_markdown(report)` writes a GitHub comment,
`write_outputs(report, out_dir)` writes report.md, report.json and the PNGs.

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

The Markdown always fits GitHub's 65,536-character comment limit: long lists are cut to
fewer and fewer rows (each cut says how many more are in report.json) until it fits, and as
a last resort the text is truncated at a line boundary with a visible note and every open
`<details>` closed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from datawheel.config.params import Model, dvc_vars
from datawheel.data.revisions import LoadedBatch, Project, Revision, TrackedFile
from datawheel.io.files import json_safe, to_json, write_text
from datawheel.pipeline.validate import (
    INGEST_SUITE,
    BatchValidation,
    ExpectationOutcome,
    SuiteRunner,
    suites_fingerprint,
)
from datawheel.render.terminal import task_metrics
from datawheel.review.diff import DataDiff, compare_revisions
from datawheel.review.drift import ColumnDrift, ColumnSummary, DriftReport, plot_shifted

LIMIT = 65_536
"""GitHub's limit on the body of an issue or pull-request comment, in characters."""

_CAPS = (1000, 200, 50, 15, 5, 0)
_ICONS = {"blocking": "❌", "attention": "⚠️", "ok": "✅"}


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
    stored = revision.read_json(f"{params.paths.reports}/validation.json", worktree=True)
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
            f"`reports/validation.json` at BASE ({len(base)} batches)"
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
        head_source = f"`reports/validation.json` at HEAD ({len(head)} batches)"
        if new.from_worktree(f"{new.params().paths.reports}/validation.json"):
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
    lock = revision.read_yaml("dvc.lock", default={}, worktree=True) or {}
    stages = lock.get("stages") or {}
    if stage not in stages:
        return PipelineState(False, False, [f"dvc.lock has no `{stage}` stage"])
    params = revision.raw_params()
    variables = {**params, **dvc_vars(revision.read_yaml("dvc.yaml", default={}))}
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
    reports = new.params().paths.reports
    metrics = new.read_json(f"{reports}/metrics.json", worktree=True)
    pointer = new.read_json(new.params().paths.champion, default={}, worktree=True)
    gate = new.read_json(f"{reports}/gate.json", worktree=True)
    segments = new.read_json(f"{reports}/segments.json", default={}, worktree=True) or {}
    if not isinstance(metrics, dict) or not isinstance(gate, dict):
        return ModelImpact(False, "HEAD has no reports/metrics.json or reports/gate.json.")
    metric = str(gate.get("primary_metric") or new.params().gate.primary_metric)
    base_metrics = None
    if old.raw_params() and pipeline_state(old).ran:
        base_reports = old.params().paths.reports
        stored = old.read_json(f"{base_reports}/metrics.json", worktree=True)
        base_metrics = stored.get("candidate") if isinstance(stored, dict) else None
    note = (
        ""
        if state.fresh
        else "Stale: " + "; ".join(state.problems) + ". Run `dvc repro` and commit the results."
    )
    if new.from_worktree("dvc.lock"):
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
    model_params = {
        "estimator": shipped.estimator,
        "params": shipped.estimator_params,
        "seed": shipped.seed,
    }
    gate = model.gate if model.available and model.fresh else None
    if gate is None or gate.get("decision") not in ("promote", "hold"):
        reasons = [_unjudged_reason(model, failed_batches)]
        return Merge("unknown", model_name, champion=champion, reasons=reasons, **model_params)
    if gate["decision"] == "hold":
        reasons = [str(r) for r in gate.get("reasons") or []] or ["The gate gave no reason."]
        return Merge("hold", model_name, champion=champion, reasons=reasons, **model_params)
    if release is None:
        raise ValueError("a gate that promotes needs the version promote would create")
    version, bump = release
    reasons = [str(r) for r in gate.get("reasons") or []]
    return Merge("promote", model_name, version, bump, champion, reasons, **model_params)


def _unjudged_reason(model: ModelImpact, failed_batches: list[str] | None) -> str:
    if failed_batches:
        return (
            f"data validation fails at HEAD ({_names(failed_batches, 3)}), so the pipeline "
            "stops before training and there is no gate decision; see `reports/validation.md`."
        )
    if not model.available:
        return f"there is no gate decision at HEAD. {model.note}"
    if model.gate is not None and not model.fresh:
        problems = "; ".join(model.problems) or "the results were made for another commit"
        return (
            f"the gate decision at HEAD is stale ({problems}); run `dvc repro` and commit the "
            "results."
        )
    return "reports/gate.json at HEAD holds no promote or hold decision."


def _failed_batches(revision: Revision, readable: bool) -> list[str] | None:
    """Batches failing validation in HEAD's own validation.json (made for its batches)."""
    if not readable or fresh_validation(revision, revision.raw_batches()) is None:
        return None
    stored = revision.read_json(f"{revision.params().paths.reports}/validation.json", worktree=True)
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


def _names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(f"`{i}`" for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


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
            f"({_names([b.path for b in rewritten], 3)}): add a corrected batch instead and "
            "list the bad one under `validate.acknowledged_batches`"
        )
    if report.tests is not None:
        critical = [r for r in report.tests.newly_failing if r.severity == "critical"]
        other = [r for r in report.tests.newly_failing if r.severity != "critical"]
        if critical:
            blocking.append(
                f"{len(critical)} critical data test(s) newly failing: "
                + _names([r.rule for r in critical], 3)
            )
        if other:
            attention.append(
                f"{len(other)} warning/info data test(s) newly failing: "
                + _names([r.rule for r in other], 3)
            )
    shifted = diff.drift.shifted
    if shifted:
        attention.append(f"{len(shifted)} column(s) shifted: {_names(shifted)}")
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


# --- Markdown ----------------------------------------------------------------------------


def _length(text: str) -> int:
    """Characters as GitHub may count them (UTF-16 units: an emoji can count twice)."""
    return len(text.encode("utf-16-le")) // 2


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("\n", " ")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def _code(value: Any) -> str:
    text = _cell(value).replace("`", "'")
    return f"`{text}`" if text else ""


def _table(headers: list[str], rows: list[list[Any]], align: str = "") -> list[str]:
    marks = [("---:" if a == "r" else "---") for a in (align or "l" * len(headers))]
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks) + " |"]
    out += ["| " + " | ".join(_cell(v) if not _is_md(v) else v.md for v in r) + " |" for r in rows]
    return out


class _Md(str):
    """Cell text that is already Markdown (not escaped)."""

    @property
    def md(self) -> str:
        return str(self)


def _is_md(value: Any) -> bool:
    return isinstance(value, _Md)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _signed(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<1e-300" if value == 0 else f"{value:.2g}"


def _more(total: int, shown: int, what: str) -> list[str]:
    if total <= shown:
        return []
    return ["", f"_… and {total - shown:,} more {what}: see `report.json`._"]


def _details(summary: str, body: list[str]) -> list[str]:
    return ["", f"<details><summary>{summary}</summary>", "", *body, "", "</details>"]


def _summary_text(summary: ColumnSummary, kind: str) -> str:
    if summary.rows == 0:
        return "no rows"
    nulls = f" · nulls {summary.null_rate:.1%}" if summary.nulls else ""
    if kind == "numeric":
        if summary.mean is None:
            return f"all null{nulls}"
        return (
            f"mean {summary.mean:.4g} · median {summary.p50:.4g} · "
            f"[{summary.min:.4g}, {summary.max:.4g}]{nulls}"
        )
    top = ", ".join(f"{v} {s:.0%}" for v, s in summary.top[:3])
    return f"{summary.distinct} values: {top}{nulls}"


def effect_sizes(column: ColumnDrift) -> str:
    """The effect sizes of a column's test, formatted for a table cell."""
    parts = []
    if column.psi is not None:
        parts.append(f"PSI {column.psi:.3f}")
    if column.wasserstein is not None:
        parts.append(f"W {column.wasserstein:.3f} IQR")
    if column.js_distance is not None:
        parts.append(f"JS {column.js_distance:.3f}")
    if column.role == "label" and column.max_share_delta is not None:
        parts.append(f"share Δ {column.max_share_delta:.3f}")
    return " · ".join(parts) or "—"


def _null_text(column: ColumnDrift) -> str:
    b, a = column.before.null_rate, column.after.null_rate
    if b is None or a is None:
        return "—"
    return f"{b:.1%} → {a:.1%}"


_VERDICT = {"shifted": "**shifted**", "stable": "stable", "not_tested": "not tested"}


def _drift_lines(drift: DriftReport, cap: int, title: str = "### Distribution shift") -> list[str]:
    s = drift.settings
    lines = [
        "",
        title,
        "",
        f"Before: {drift.before_label}, {drift.rows_before:,} rows · after: "
        f"{drift.after_label}, {drift.rows_after:,} rows. A column is shifted when its "
        f"Benjamini-Hochberg corrected p-value (q) is below {s['alpha']:g} and an effect size "
        f"reaches its threshold (PSI {s['psi_threshold']:g}, Wasserstein "
        f"{s['wasserstein_threshold']:g} IQR, Jensen-Shannon {s['js_threshold']:g}, null rate "
        f"{s['null_rate_threshold']:g}, label share {s['label_threshold']:g}).",
    ]
    shifted = [c for c in drift.columns if c.shifted]
    if shifted:
        rows = [
            [
                _Md(_code(c.column)),
                c.kind + (" (label)" if c.role == "label" else ""),
                _p(c.q_value),
                effect_sizes(c),
                _null_text(c),
                "; ".join(c.reasons),
            ]
            for c in shifted[: max(cap, 5)]
        ]
        lines += ["", *_table(["Column", "Kind", "q", "Effect sizes", "Nulls", "Why"], rows)]
        lines += _more(len(shifted), max(cap, 5), "shifted columns")
    elif drift.tested:
        lines += ["", f"Every tested column is stable ({len(drift.tested)} tested)."]
    else:
        lines += ["", "No column could be tested: too few rows on a side."]
    shown = drift.columns[:cap] if cap else []
    if shown:
        rows = [
            [
                _Md(_code(c.column)),
                _VERDICT[c.verdict],
                c.test or "—",
                _p(c.q_value),
                effect_sizes(c),
                _null_text(c),
                _summary_text(c.before, c.kind),
                _summary_text(c.after, c.kind),
            ]
            for c in shown
        ]
        for row in rows:
            row[1] = _Md(row[1])
        body = _table(
            ["Column", "Verdict", "Test", "q", "Effect sizes", "Nulls", "Before", "After"], rows
        )
        body += _more(len(drift.columns), len(shown), "columns")
        lines += _details(f"All {len(drift.columns)} columns: tests and statistics", body)
    return lines


def _schema_lines(diff: DataDiff, cap: int) -> list[str]:
    schema = diff.schema
    if schema.empty:
        return []
    lines = ["", "### Schema and contract"]
    if schema.columns:
        rows = [
            [
                _Md(_code(c.column)),
                c.change,
                c.before or "—",
                c.after or "—",
                _batches_text(c.batches),
            ]
            for c in schema.columns[: max(cap, 3)]
        ]
        lines += ["", *_table(["Column", "Change", "BASE", "HEAD", "Batches"], rows)]
        lines += _more(len(schema.columns), max(cap, 3), "column changes")
    if schema.contract_breaks:
        lines += ["", "Batches that break the data contract (ingest quarantines them whole):", ""]
        for item in schema.contract_breaks[: max(cap, 3)]:
            lines.append(f"- {_code(item['batch'])}: {_cell(_short(item['message'], 300))}")
        lines += _more(len(schema.contract_breaks), max(cap, 3), "batches")
    for title, changes in (
        ("Data contract (params.yaml `contract`)", schema.contract),
        ("Other params.yaml keys", schema.params),
    ):
        if changes:
            rows = [
                [_Md(_code(k.key)), k.change, _short(k.before), _short(k.after)]
                for k in changes[: max(cap, 3)]
            ]
            lines += ["", f"{title}:", "", *_table(["Key", "Change", "BASE", "HEAD"], rows)]
            lines += _more(len(changes), max(cap, 3), "keys")
    if schema.suites:
        rows = []
        for suite in schema.suites[: max(cap, 3)]:
            counts: dict[str, int] = {}
            for e in suite.expectations:
                counts[e.change] = counts.get(e.change, 0) + 1
            summary = ", ".join(f"{n} {change}" for change, n in sorted(counts.items()))
            rows.append(
                [_Md(_code(suite.name)), suite.change, _Md(_code(suite.path)), summary or "—"]
            )
        lines += [
            "",
            "Expectation suites:",
            "",
            *_table(["Suite", "Change", "File", "Expectations"], rows),
        ]
        lines += _more(len(schema.suites), max(cap, 3), "suites")
        details = []
        for suite in schema.suites:
            for e in suite.expectations:
                what = ", ".join(e.fields) if e.fields else e.change
                details.append(
                    [
                        _Md(_code(suite.name)),
                        _Md(_code(e.type)),
                        e.column or "—",
                        e.change,
                        what,
                        _short(e.before),
                        _short(e.after),
                    ]
                )
        if details and cap:
            body = _table(
                ["Suite", "Expectation", "Column", "Change", "What", "BASE", "HEAD"], details[:cap]
            )
            body += _more(len(details), cap, "expectation changes")
            lines += _details(f"{len(details)} expectation change(s)", body)
    return lines


def _short(value: Any, limit: int = 120) -> str:
    if value is None:
        return "—"
    import json

    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _batches_text(batches: list[str]) -> str:
    names = [b.rsplit("/", 1)[-1] for b in batches]
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _row_lines(diff: DataDiff, cap: int) -> list[str]:
    rows = diff.rows
    if not (rows.added or rows.removed):
        return []
    lines = ["", "### Rows"]
    if rows.changed_columns:
        changed = ", ".join(f"`{c}` {n:,}" for c, n in sorted(rows.changed_columns.items()))
        lines += [
            "",
            f"Values changed in edited records (one row per entity on each side): {changed}.",
        ]
    if not cap:
        return lines
    body: list[str] = []
    entity = rows.id_column or "entity"
    for name, what in (("added", "Added (new entities)"), ("removed", "Removed (entities gone)")):
        sample = rows.samples.get(name) or []
        if sample:
            table = [
                [_Md(_code(r["row_id"])), r["entity"], _Md(_code(r["batch"])), r["line"]]
                for r in sample[:cap]
            ]
            body += [
                f"**{what}**",
                "",
                *_table(["row_id", entity, "batch", "line"], table, "lllr"),
                "",
            ]
    changed = rows.samples.get("changed") or []
    if changed:
        table = []
        for r in changed[:cap]:
            if r.get("changes") is None:
                table.append([r["entity"], "—", "—", "several rows per side"])
                continue
            values = "; ".join(
                f"{c}: {_short(v[0], 30)} → {_short(v[1], 30)}" for c, v in r["changes"].items()
            )
            table.append(
                [
                    r["entity"],
                    _Md(_code(r["before"]["row_id"])),
                    _Md(_code(r["after"]["row_id"])),
                    values or "(provenance only)",
                ]
            )
        body += [
            "**Changed (same entity, new row id)**",
            "",
            *_table([entity, "row_id before", "row_id after", "values"], table),
        ]
    if body:
        lines += _details("Samples of added, removed and changed rows (first in batch order)", body)
    return lines


def _test_lines(tests: DataTests, cap: int) -> list[str]:
    lines = [
        "",
        "### Data tests",
        "",
        f"BASE: {tests.base_source}. HEAD: {tests.head_source}.",
    ]
    for title, rules in (
        ("Newly failing", tests.newly_failing),
        ("Newly passing", tests.newly_passing),
    ):
        if not rules:
            lines += ["", f"{title}: none."]
            continue
        n = max(cap, 5)
        rows = [
            [
                _Md(_code(r.rule)),
                r.severity,
                _fmt(r.failing_rows) if r.failing_rows is not None else _short(r.message, 80),
                _batches_text(r.batches),
            ]
            for r in rules[:n]
        ]
        lines += [
            "",
            f"{title}:",
            "",
            *_table(["Rule", "Severity", "Failing rows", "Batches"], rows, "llrl"),
        ]
        lines += _more(len(rules), n, "rules")
    if tests.still_failing:
        lines += [
            "",
            "Still failing (as at BASE): "
            + _names([r.rule for r in tests.still_failing], max(cap, 3))
            + ".",
        ]
    if tests.changed_batches and cap:
        rows = []
        for b in tests.changed_batches[:cap]:
            failures = "; ".join(
                f"{f['rule']} ({f['severity']}"
                + (f", {f['unexpected_count']:,} rows" if f.get("unexpected_count") else "")
                + ")"
                for f in b["failures"][:5]
            )
            rows.append([_Md(_code(b["batch"])), b["status"], failures or "—"])
        body = _table(["Batch", "Status", "Failures"], rows)
        body += _more(len(tests.changed_batches), cap, "batches")
        lines += _details(
            f"Data tests on the {len(tests.changed_batches)} added or modified batch(es)", body
        )
    for note in tests.notes:
        lines += ["", f"> {note}"]
    return lines


def _gate_markdown(gate: dict[str, Any]) -> list[str]:
    from datawheel.registry.gate import GateDecision, render_gate_json

    try:
        GateDecision.from_dict(gate)
        return render_gate_json(gate).rstrip("\n").splitlines()
    except (KeyError, TypeError):
        return [f"**Gate: {str(gate.get('decision', '?')).upper()}**", ""] + [
            f"- {_cell(r)}" for r in gate.get("reasons") or []
        ]


def _model_lines(model: ModelImpact, cap: int) -> list[str]:
    lines = ["", "### Model impact", ""]
    if not model.available:
        return [*lines, model.note]
    if model.note:
        lines += [f"> ⚠️ {model.note}", ""]
    metrics = model.metrics
    version = model.champion_version
    columns = [("candidate", "Candidate (HEAD)")]
    if metrics.get("champion"):
        columns.append(("champion", f"Champion {version}" if version else "Champion"))
    columns.append(("baseline", "Naive baseline"))
    headers = ["Metric", *(label for _, label in columns)]
    if model.base_candidate:
        headers.append("Candidate at BASE")
    rows = []
    groups = [metrics.get(key) or {} for key, _ in columns] + [model.base_candidate or {}]
    for metric in task_metrics(groups):
        row: list[Any] = [_Md(f"**{metric}**" if metric == model.primary_metric else metric)]
        row += [_fmt(_finite((metrics.get(key) or {}).get(metric)), 4) for key, _ in columns]
        if model.base_candidate:
            row.append(_fmt(_finite(model.base_candidate.get(metric)), 4))
        rows.append(row)
    lines += _table(headers, rows, "l" + "r" * (len(headers) - 1))
    boot = model.bootstrap
    if boot:
        lines += [
            "",
            f"{boot.get('metric')} improvement over the champion: "
            f"{_signed(_finite(boot.get('delta')))}, {float(boot.get('confidence', 0.95)):.0%} CI "
            f"[{_signed(_finite(boot.get('ci_low')))}, {_signed(_finite(boot.get('ci_high')))}] "
            f"(paired bootstrap, {boot.get('samples')} resamples of the same hold-out).",
        ]
    if model.gate:
        lines += ["", *_gate_markdown(model.gate)]
    if model.segments and cap:
        n = cap
        rows = [
            [
                s["segment"],
                _fmt(s["rows"]),
                _fmt(s["candidate"]),
                _fmt(s["champion"]),
                _signed(s["delta"]),
            ]
            for s in model.segments[:n]
        ]
        body = _table(["Segment", "Rows", "Candidate", "Champion", "Δ"], rows, "lrrrr")
        body += _more(len(model.segments), n, "segments")
        lines += _details(
            f"{model.primary_metric} per segment ({len(model.segments)} segments, worst first)",
            body,
        )
    return lines


def merge_markdown(merge: Merge) -> str:
    """What merging would do, as one Markdown paragraph: the decision in bold, then the model."""
    text = f"**{_cell(merge.headline)}**{_cell(merge.detail)}"
    if merge.estimator is None:
        return text
    settings = [_code(f"{key}={value}") for key, value in merge.params.items()]
    if merge.seed is not None:
        settings.append(f"seed {merge.seed}")
    model = _code(merge.estimator) + (f" ({', '.join(settings)})" if settings else "")
    what = {
        "promote": "It ships",
        "hold": "The candidate held back is",
    }.get(merge.decision, "HEAD's params.yaml trains")
    return f"{text} {what} {model}."


def _batch_lines(diff: DataDiff, cap: int) -> list[str]:
    if not diff.batches or not cap:
        return []
    rows = [
        [
            _Md(_code(b.path)),
            b.change,
            _fmt(b.base_rows),
            _fmt(b.head_rows),
            (b.base_md5 or "—")[:8],
            (b.head_md5 or "—")[:8],
            b.rule or "ok",
        ]
        for b in diff.batches[:cap]
    ]
    body = _table(
        ["Batch", "Change", "Rows BASE", "Rows HEAD", "md5 BASE", "md5 HEAD", "Contract"],
        rows,
        "llrrlll",
    )
    body += _more(len(diff.batches), cap, "batches")
    return ["", "### Batches", *_details(f"{len(diff.batches)} changed batch(es)", body)]


def _summary_lines(report: Report) -> list[str]:
    diff = report.diff
    rows = diff.rows
    added, removed, modified = (len(diff.of_change(c)) for c in ("added", "removed", "modified"))
    table = [
        [
            "Batches",
            f"{added} added · {removed} removed · {modified} modified · "
            f"{diff.unchanged_batches:,} unchanged",
        ],
        [
            "Rows by row id",
            f"+{rows.added:,} added · −{rows.removed:,} removed · "
            f"{rows.unchanged:,} unchanged in modified batches",
        ],
        [
            "Rows by entity",
            f"{rows.new:,} new · {rows.deleted:,} deleted · {rows.changed:,} changed "
            f"({rows.entities_changed:,} entities edited)",
        ],
        [
            "Distribution",
            f"{len(diff.drift.shifted)} of {len(diff.drift.tested)} tested columns shifted",
        ],
    ]
    if diff.data_error:
        base, head = (str(diff.pointers.get(k) or "—")[:8] for k in ("base", "head"))
        table[0][1] = f"not readable · `{diff.raw_dir}` md5 {base} → {head}"
        table[1][1] = table[2][1] = table[3][1] = "unknown"
    schema = diff.schema
    parts = []
    if schema.columns:
        parts.append(f"{len(schema.columns)} column change(s)")
    if schema.contract_breaks:
        parts.append(f"{len(schema.contract_breaks)} batch(es) break the contract")
    if schema.contract:
        parts.append(f"{len(schema.contract)} contract key(s)")
    if schema.suites:
        parts.append(f"{len(schema.suites)} suite(s)")
    if schema.params:
        parts.append(f"{len(schema.params)} other params key(s)")
    table.append(["Schema and contract", " · ".join(parts) or "no change"])
    if report.tests is not None:
        t = report.tests
        table.append(
            [
                "Data tests",
                f"{len(t.newly_failing)} newly failing · {len(t.newly_passing)} newly passing",
            ]
        )
    if report.model is not None:
        m = report.model
        if not m.available:
            text = "pipeline not run at HEAD"
        else:
            decision = str((m.gate or {}).get("decision", "?")).upper()
            text = f"gate **{decision}**"
            candidate = _finite((m.metrics.get("candidate") or {}).get(m.primary_metric))
            if candidate is not None:
                text += f" · {m.primary_metric} {candidate:.4f}"
                if not m.metrics.get("champion"):
                    text += " (no champion yet)"
            boot = m.bootstrap
            if boot:
                low, high = _finite(boot.get("ci_low")), _finite(boot.get("ci_high"))
                text += (
                    f" · {boot.get('metric')} Δ {_signed(_finite(boot.get('delta')))} "
                    f"[{_signed(low)}, {_signed(high)}]"
                )
            if not m.fresh:
                text += " · stale"
        table.append(["Model", _Md(text)])
    return ["", *_table(["", ""], table)]


def _render(report: Report, cap: int) -> str:
    level, headline, findings = assess(report)
    diff = report.diff
    lines = [
        f"## {_ICONS[level]} Data review: `{diff.base_commit[:8]}` → `{diff.head_commit[:8]}`",
        "",
    ]
    if report.merge is not None:
        lines += [merge_markdown(report.merge), ""]
    lines.append(f"**{_cell(headline)}**")
    if findings:
        lines.append("")
        n = max(cap, 3)
        lines += [f"- {_cell(_short(f, 300))}" for f in findings[:n]]
        if len(findings) > n:
            lines.append(f"- _… and {len(findings) - n} more findings: see `report.json`._")
    lines += _summary_lines(report)
    lines += _schema_lines(diff, cap)
    if not diff.data_error:
        lines += _drift_lines(diff.drift, cap)
        lines += _row_lines(diff, cap)
    if report.tests is not None:
        lines += _test_lines(report.tests, cap)
    if report.model is not None:
        lines += _model_lines(report.model, cap)
    lines += _batch_lines(diff, cap)
    notes = [*diff.notes, *diff.drift.notes]
    if report.plots:
        notes.append("Plots of the shifted columns: " + ", ".join(f"`{p}`" for p in report.plots))
    lines += [""] + [f"> {_cell(n)}" for n in notes] + ([""] if notes else [])
    lines.append(
        f"<sub>datawheel review of `{_cell(diff.base)}` → `{_cell(diff.head)}`; "
        "every number, sample and list in full: `report.json`.</sub>"
    )
    return "\n".join(lines) + "\n"


def truncate(text: str, limit: int) -> str:
    """Cut Markdown at a line boundary to fit `limit`, close open <details>, say so."""
    if _length(text) <= limit:
        return text
    note = "\n\n> ✂️ **Truncated** to fit a GitHub comment: the full report is in `report.json`.\n"
    budget = limit - _length(note) - len("\n</details>") * 50
    kept = text[: max(budget, 0)]
    while _length(kept) > budget and kept:
        kept = kept[: max(0, len(kept) - (_length(kept) - budget))]
    kept = kept[: kept.rfind("\n") + 1] if "\n" in kept else ""
    opened = kept.count("<details>") - kept.count("</details>")
    closing = "\n</details>" * max(opened, 0)
    return (kept.rstrip("\n") + "\n" + closing + note)[:limit]


def render_markdown(report: Report, limit: int = LIMIT) -> str:
    """GitHub-flavoured Markdown for a PR comment, at most `limit` characters (see module)."""
    text = ""
    for cap in _CAPS:
        text = _render(report, cap)
        if _length(text) <= limit:
            return text
    return truncate(text, limit)


def write_outputs(report: Report, out_dir: str | Path, limit: int = LIMIT) -> list[Path]:
    """report.md, report.json and one PNG per shifted column, into out_dir."""
    out_dir = Path(out_dir)
    plots = plot_shifted(report.diff.drift, out_dir)
    report.plots = [p.name for p in plots]
    write_text(out_dir / "report.md", render_markdown(report, limit))
    write_text(out_dir / "report.json", to_json(report.to_dict()))
    return [out_dir / "report.md", out_dir / "report.json", *plots]


def render_drift_markdown(result: Any, limit: int = LIMIT) -> str:
    """Markdown for `datawheel drift`: the verdict and the per-column table."""
    shifted = result.shifted
    icon = _ICONS["attention" if shifted else "ok"]
    verdict = (
        f"{len(shifted)} column(s) shifted: {_names(shifted)}"
        if shifted
        else "every tested column is stable"
    )
    text = ""
    for cap in _CAPS:
        lines = [
            f"## {icon} Drift at `{result.commit[:8]}`: {verdict}",
            "",
            "Newest batches: " + _names(result.current_batches, max(cap, 3)) + ".",
            _reference_line(result.reference, max(cap, 3)),
        ]
        lines += _drift_lines(result.report, max(cap, 1), title="### Columns")
        lines += [""] + [f"> {_cell(n)}" for n in result.notes]
        text = "\n".join(lines) + "\n"
        if _length(text) <= limit:
            return text
    return truncate(text, limit)


def _reference_line(reference: dict[str, Any], cap: int) -> str:
    """Which reference the drift check used (`drift.reference`) and its batches."""
    line = f"Reference (`{reference.get('kind', 'champion')}`): {reference['description']}"
    if reference.get("batches"):
        line += "; batches " + _names(reference["batches"], cap)
    return line + "."


def write_drift_outputs(result: Any, out_dir: str | Path, limit: int = LIMIT) -> list[Path]:
    """drift.md, drift.json and one PNG per shifted column, into out_dir."""
    out_dir = Path(out_dir)
    plots = plot_shifted(result.report, out_dir)
    write_text(out_dir / "drift.md", render_drift_markdown(result, limit))
    write_text(out_dir / "drift.json", to_json(json_safe(result.to_dict())))
    return [out_dir / "drift.md", out_dir / "drift.json", *plots]
