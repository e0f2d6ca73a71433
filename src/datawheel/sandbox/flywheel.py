"""The flywheel played day by day: data commits by a team, retraining by CI's own workflow.

A workspace holds a developer's repository, a bare `origin`, a local DVC remote and, for
each retraining run, a fresh CI checkout in which the `run:` steps of
.github/workflows/retrain.yml are executed in order (datawheel.sandbox.workflow), the `uses:`
steps emulated. `datawheel demo` and the end-to-end tests drive the same class.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from datawheel.config import catalog
from datawheel.config.params import load_params
from datawheel.io.files import read_json
from datawheel.io.git import git
from datawheel.io.process import capture, command_env, dvc
from datawheel.project.scaffold import edit_yaml, init_repo

WORKFLOW = ".github/workflows/retrain.yml"
JOB = "retrain"
INSTALL_STEP = (
    "python -m pip install -r requirements.txt"  # the runner's venv already has datawheel
)
START = dt.date(2026, 1, 1)


@dataclass
class RunRecord:
    """One row of the flywheel's table: what a commit was and what CI made of it."""

    step: str
    days: str
    rows: int
    validation: str
    drift: str
    candidate: float | None
    champion: float | None
    ci: str
    decision: str
    result: str
    prod: str | None
    steps: list[dict] = field(default_factory=list)
    outcome: dict | None = None
    gate: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class Flywheel:
    def __init__(
        self,
        workspace: Path,
        rows_per_day: int,
        seed: int,
        params: dict[tuple[str, ...], Any] | None = None,
        on_event: Callable[[str], None] = lambda message: None,
    ):
        self.workspace = workspace
        self.dev = workspace / "repo"
        self.origin = workspace / "origin.git"
        self.remote = workspace / "dvc-remote"
        self.rows_per_day = rows_per_day
        self.seed = seed
        self.params = params or {}
        self.on_event = on_event
        self.runs = 0
        self.records: list[RunRecord] = []
        self.model_name = ""
        self.champion_path = catalog.DEFAULT_CHAMPION  # both from params.yaml in setup()
        self.artifacts: catalog.Artifacts

    # -- the team's side ------------------------------------------------------------------

    def setup(self) -> None:
        """The developer's project, a bare origin and a DVC remote, main pushed."""
        init_repo(self.dev, remote=self.remote)
        if self.params:
            set_params(self.dev, self.params)
            self._commit("params: settings for this workspace")
        params = load_params(self.dev / catalog.PARAMS, check_estimators=False)
        self.model_name = params.registry.model_name
        self.artifacts = params.artifacts
        self.champion_path = params.paths.champion
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.origin), cwd=self.dev)
        self._git("remote", "add", "origin", str(self.origin))
        self._git("push", "--quiet", "origin", "main")

    def deliver(self, first: int, days: int, inject: tuple[str, ...] = ()) -> list[Path]:
        """New daily batches as a data commit: dvc add, commit, dvc push, git push."""
        from datawheel.data.simulate import parse_injection, simulate

        self.sync()
        day = START + dt.timedelta(days=first)
        injections = [parse_injection(text, START) for text in inject]
        written = simulate(
            self.dev / "data/raw", day, days, self.rows_per_day, self.seed, "csv", injections
        )
        dvc("add", "--quiet", "data/raw", cwd=self.dev)
        last = day + dt.timedelta(days=days - 1)
        self._commit(f"data: {day}" + (f" to {last}" if days > 1 else ""))
        dvc("push", "--quiet", cwd=self.dev)
        self._git("push", "--quiet", "origin", "main")
        return written

    def change_params(self, changes: dict[tuple[str, ...], Any], message: str) -> None:
        self.sync()
        set_params(self.dev, changes)
        self._commit(message)
        self._git("push", "--quiet", "origin", "main")

    def acknowledge(self, batch: str) -> None:
        """The reviewed fix for a bad batch: list it in params.yaml; raw data stays as is."""
        current = yaml.safe_load((self.dev / catalog.PARAMS).read_text())["validate"]
        listed = [*current.get("acknowledged_batches", []), batch]
        self.change_params(
            {("validate", "acknowledged_batches"): listed},
            f"validate: acknowledge quarantined batch {batch}",
        )

    def rollback(self, version: str | None = None) -> dict:
        """An operator's `datawheel rollback` from an up-to-date clone."""
        return self.operate("rollback", *([version] if version else []))

    def operate(self, command: str, *args: str) -> dict:
        """An operator's registry command (rollback, pin, release) from an up-to-date clone."""
        self.sync()
        outcome_file = self.dev / f"{command}.json"
        result = capture(
            [sys.executable, "-m", "datawheel", command, "--outcome", outcome_file.name, *args],
            cwd=self.dev,
            check=False,
        )
        outcome = read_json(outcome_file) or {"result": "error", "message": result.stdout}
        outcome_file.unlink(missing_ok=True)
        outcome["exit_code"] = result.returncode
        self.sync()
        return outcome

    def sync(self) -> None:
        """Fast-forward the developer's main to origin (CI may have promoted)."""
        self._git("fetch", "--quiet", "--tags", "origin", "main")
        self._git("merge", "--quiet", "--ff-only", "FETCH_HEAD")
        dvc("checkout", "--quiet", cwd=self.dev, check=False)

    # -- CI's side --------------------------------------------------------------------------

    def retrain(self, step: str, days: str = "", rows: int = 0) -> RunRecord:
        """Run retrain.yml's steps in a fresh CI checkout of origin's main."""
        from datawheel.sandbox.workflow import run_steps

        self.runs += 1
        run_dir = self.workspace / "ci" / f"run-{self.runs:03d}"
        workspace, temp = run_dir / "workspace", run_dir / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        head = git("--git-dir", str(self.origin), "rev-parse", "main", cwd=self.origin)
        results = run_steps(
            self.dev / WORKFLOW,
            JOB,
            cwd=workspace,
            env={
                **command_env(),
                "GITHUB_RUN_ID": str(self.runs),
                "GITHUB_REPOSITORY": "demo/flywheel",
            },
            emulate_uses=self._emulate_uses,
            context={
                "github": {"sha": head, "ref": "refs/heads/main", "event_name": "push"},
                "secrets": {},
            },
            runner_temp=temp,
            replace_run={INSTALL_STEP: "true"},
        )
        record = self._record(step, days, rows, workspace, temp, results)
        self.records.append(record)
        shutil.rmtree(workspace / "data", ignore_errors=True)  # keep the disk small
        return record

    def _emulate_uses(self, step, context) -> int:
        """actions/checkout: a full clone of origin with tags; setup-python: nothing to do."""
        if "actions/checkout" in step.uses:
            workspace = context["github"]["workspace"]
            git(
                "clone", "--quiet", "--branch", "main", str(self.origin), workspace, cwd=self.origin
            )
        return 0

    def _record(self, step, days, rows, workspace, temp, results) -> RunRecord:
        outcome = read_json(temp / catalog.PROMOTION)
        # the gate that decided: a promotion re-evaluates against the new champion after it
        gate = (outcome or {}).get("gate") or read_json(workspace / self.artifacts.gate)
        validation = read_json(workspace / self.artifacts.validation) or {}
        repro_failed = any(r.name.startswith("Reproduce") and r.exit_code for r in results)
        if repro_failed:  # validate wrote its report before it stopped the pipeline
            names = ", ".join(Path(b).name for b in validation.get("failed_batches", []))
            status = "failed (pipeline stopped)" + (f": {names}" if names else "")
        elif validation.get("passed"):
            status = "passed"
        else:
            status = "failed: " + ", ".join(
                Path(b).name for b in validation.get("failed_batches", [])
            )
        boot = (gate or {}).get("bootstrap") or {}
        metric = (gate or {}).get("primary_metric", "roc_auc")
        candidate = ((gate or {}).get("candidate") or {}).get(metric)
        champion = ((gate or {}).get("champion") or {}).get(metric)
        ci = (
            f"{boot['delta']:+.3f} [{boot['ci_low']:+.3f}, {boot['ci_high']:+.3f}]"
            if boot.get("delta") is not None
            else "—"
        )
        pointer = read_json(self._origin_champion()) or {}
        return RunRecord(
            step=step,
            days=days,
            rows=rows,
            validation=status,
            drift=self._drift(workspace),
            candidate=candidate,
            champion=champion,
            ci=ci,
            decision=(gate or {}).get("decision", "—") if not repro_failed else "—",
            result=(outcome or {}).get("result", "not run"),
            prod=pointer.get("version"),
            steps=[{"name": r.name, "exit_code": r.exit_code} for r in results],
            outcome=outcome,
            gate=gate if not repro_failed else None,
        )

    def _origin_champion(self) -> Path:
        path = self.workspace / "ci" / Path(self.champion_path).name
        text = git(
            "--git-dir", str(self.origin), "show", f"main:{self.champion_path}", cwd=self.origin
        )
        path.write_text(text)
        return path

    def _drift(self, workspace: Path) -> str:
        """Columns `datawheel drift` finds shifted in the newest batch, if it can tell."""
        result = capture(
            [sys.executable, "-m", "datawheel", "drift", "--json"], cwd=workspace, check=False
        )
        try:
            report = json.loads(result.stdout)
        except json.JSONDecodeError:
            return "—"
        shifted = sorted(
            c["column"] for c in report.get("columns", []) if c.get("verdict") == "shifted"
        )
        return ", ".join(shifted) if shifted else "stable"

    # -- helpers ----------------------------------------------------------------------------

    def _git(self, *args: str) -> str:
        return git(*args, cwd=self.dev)

    def _commit(self, message: str) -> None:
        self._git("add", "--all")
        self._git("commit", "--quiet", "--allow-empty", "-m", message)


def set_params(root: Path, changes: dict[tuple[str, ...], Any]) -> None:
    """Edit params.yaml in place, one dotted key at a time, keeping its comments."""
    edit_yaml(root / catalog.PARAMS, changes)


@dataclass(frozen=True)
class Scene:
    """One beat of the demo's story: what the team commits, then what CI makes of it."""

    label: str
    play: Callable[[Flywheel], RunRecord]


def _delivery(label: str, first: int, days: int, inject: tuple[str, ...] = ()) -> Scene:
    def play(wheel: Flywheel) -> RunRecord:
        written = wheel.deliver(first, days, inject)
        rows = sum(max(0, len(p.read_bytes().splitlines()) - 1) for p in written)
        span = written[0].stem if days == 1 else f"{written[0].stem} .. {written[-1].stem}"
        return wheel.retrain(label, span, rows)

    return Scene(label, play)


def _acknowledged_delivery(label: str, batch: str, first: int) -> Scene:
    def play(wheel: Flywheel) -> RunRecord:
        wheel.acknowledge(batch)
        return _delivery(label, first, 1).play(wheel)

    return Scene(label, play)


def _params_change(label: str, changes: dict[tuple[str, ...], Any]) -> Scene:
    def play(wheel: Flywheel) -> RunRecord:
        wheel.change_params(changes, f"params: {label}")
        return wheel.retrain(label, "(no new data)", 0)

    return Scene(label, play)


def _scheduled_run(label: str) -> Scene:
    def play(wheel: Flywheel) -> RunRecord:
        return wheel.retrain(label, "(schedule)", 0)

    return Scene(label, play)


def _rollback(label: str, *args: str) -> Scene:
    return _operator(label, "rollback", *args)


def _operator(label: str, command: str, *args: str) -> Scene:
    def play(wheel: Flywheel) -> RunRecord:
        outcome = wheel.operate(command, *args)
        pointer = read_json(wheel._origin_champion()) or {}
        record = RunRecord(
            step=label,
            days="(operator)",
            rows=0,
            validation="—",
            drift="—",
            candidate=None,
            champion=None,
            ci="—",
            decision="—",
            result=outcome.get("result", "error"),
            prod=pointer.get("version"),
            outcome=outcome,
        )
        wheel.records.append(record)
        return record

    return Scene(label, play)


def demo_scenes() -> list[Scene]:
    """First month → prod; ordinary days; a contract break; concept drift; worse params
    (a model whose predictions collapse, held by the gate's sanity guard); a rollback that
    pins prod, a scheduled run held by the pin, the release; staging switched on, a candidate
    staged, then confirmed to prod by the days after it; a day of 50 times the usual rows
    (held: one batch would be most of the hold-out). Days count from 2026-01-01 (day 0)."""
    bad_batch = f"data/raw/{START + dt.timedelta(days=30)}.csv"
    return [
        _delivery("first month", 0, 28),
        _delivery("ordinary day", 28, 1),
        _delivery("ordinary day", 29, 1),
        _delivery("contract break", 30, 1, ("schema_break@30",)),
        _acknowledged_delivery("bad batch acknowledged", bad_batch, 31),
        _delivery("concept drift, week 1", 32, 7, ("concept_drift@32",)),
        _delivery("concept drift, weeks 2-3", 39, 14, ("concept_drift@32",)),
        _params_change(
            "weaker model params",
            {
                ("model", "estimator"): "logistic_regression",
                ("model", "logistic_regression", "C"): 1e-4,
            },
        ),
        _rollback("rollback", "--reason", "complaints about the new model"),
        _scheduled_run("scheduled run, pinned"),
        _operator("release", "release", "--reason", "complaints resolved"),
        # Fail-safe staging: the restored params' candidate passes the gate and waits in
        # GTO stage `staging`; the next days, which it never saw, confirm it to prod.
        _params_change(
            "staging on, model params restored",
            {
                ("model", "estimator"): "hist_gradient_boosting",
                ("gate", "staging", "enabled"): True,
            },
        ),
        _delivery("staged candidate confirmed", 53, 3, ("concept_drift@32",)),
        # 50x warns in validation (1000x would stop it: expectations/volume_limit.json)
        _delivery("volume spike", 56, 1, ("concept_drift@32", "volume_spike:50@56")),
    ]
