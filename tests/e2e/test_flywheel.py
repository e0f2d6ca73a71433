"""The demo's scenario, each data commit retrained by executing retrain.yml's own steps."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from datawheel.io.files import file_md5
from datawheel.io.process import dvc
from datawheel.registry.tags import read_registry
from datawheel.render.terminal import flywheel_table
from datawheel.sandbox.demo import run_demo
from datawheel.sandbox.flywheel import Flywheel, demo_scenes
from datawheel.sandbox.workflow import load_workflow

from .conftest import FAST_PARAMS

pytestmark = pytest.mark.e2e

RETRAIN_COMMANDS = [
    "python -m pip install -r requirements.txt",
    "dvc pull --allow-missing",
    "dvc repro",
    'datawheel record --outcome "$RUNNER_TEMP/record.json"',
    'datawheel promote --allow-hold --outcome "$RUNNER_TEMP/promotion.json"',
    'datawheel summary --promotion "$RUNNER_TEMP/promotion.json" >> "$GITHUB_STEP_SUMMARY"',
]


def _origin_state(wheel: Flywheel) -> tuple[dict, set[str], str | None]:
    """champion.json on origin's main, origin's GTO tags, and the version prod points at."""
    pointer = __import__("json").loads(
        subprocess.run(
            ["git", "--git-dir", str(wheel.origin), "show", "main:models/champion.json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    registry = read_registry(wheel.origin)
    return pointer, {t.tag for t in registry.tags}, registry.current(wheel.model_name)


def _in_remote(wheel: Flywheel, md5: str) -> bool:
    return (wheel.remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def _assert_origin_is_reproduced(wheel: Flywheel, clone: Path, label: str, force: bool) -> None:
    """What an experienced DVC user sees on a fresh clone of origin's main, no datawheel
    command run: `dvc pull`, then a clean `dvc status` and a no-op `dvc repro`; with `force`,
    `dvc repro --force` writes the same dvc.lock and the same `dvc metrics show`."""
    subprocess.run(["git", "clone", "--quiet", str(wheel.origin), str(clone)], check=True)
    dvc("pull", "--quiet", cwd=clone)
    status = json.loads(dvc("status", "--json", cwd=clone).stdout or "{}")
    assert status == {}, (label, status)
    repro = dvc("repro", cwd=clone).stdout
    assert "Running stage" not in repro and "up to date" in repro, (label, repro)
    if force:
        shown = dvc("metrics", "show", "--json", cwd=clone).stdout
        lock = (clone / "dvc.lock").read_text()
        dvc("repro", "--force", cwd=clone)
        assert dvc("metrics", "show", "--json", cwd=clone).stdout == shown, label
        assert (clone / "dvc.lock").read_text() == lock, label
    shutil.rmtree(clone)


def test_retrain_workflow_runs_exactly_these_commands():
    workflow = load_workflow(Path(__file__).parents[2] / ".github/workflows/retrain.yml")
    commands = [c for c in workflow.jobs["retrain"].commands if "git config" not in c]
    assert commands == RETRAIN_COMMANDS


def test_demo_scenario_through_the_retrain_workflow(tmp_path: Path):
    versions_seen: list[str] = []
    tags_before: set[str] = set()
    # `dvc repro --force` costs a full build: after a held run with a champion, a held
    # params change and the rollback (each once); the cheap checks after every step.
    force_after = {"ordinary day", "weaker model params", "rollback"}

    def check(label: str, record, wheel: Flywheel) -> None:
        nonlocal tags_before
        scene = SimpleNamespace(label=label)
        stopped = record.validation.startswith("failed (pipeline stopped)")
        if not stopped:  # a stopped run records nothing: origin's main is the data commit
            _assert_origin_is_reproduced(
                wheel, tmp_path / "fresh-clone", label, force=label in force_after
            )
        force_after.discard(label)
        pointer, tags, prod = _origin_state(wheel)
        assert pointer["version"] == prod == record.prod, scene.label
        if prod is not None:
            assert _in_remote(wheel, pointer["model_md5"]), scene.label
        if record.result == "promoted":
            if label == "staged candidate confirmed":
                # prod moves on the staged model's verdict, whatever this candidate scores
                assert record.gate["staging"]["verdict"]["status"] == "confirmed"
            else:
                assert record.decision == "promote"
            new = tags - tags_before
            # a staged version was registered when it was staged: confirming it adds only
            # the stage tags
            registered = set() if label == "staged candidate confirmed" else {prod}
            assert {t for t in new if "@" in t} == {f"{wheel.model_name}@{v}" for v in registered}
            assert any("#prod#" in t for t in new)
            versions_seen.append(prod)
        elif record.result == "held":
            assert record.decision == "hold" and tags == tags_before, scene.label
        tags_before = tags

        if scene.label == "first month":
            assert record.result == "promoted" and prod == "v1.0.0"
            ran = [s["name"] for s in record.steps if s["exit_code"] is not None]
            assert len(ran) == 9  # every step of the job ran, the uses: steps emulated
            assert all(s["exit_code"] == 0 for s in record.steps)
        if scene.label == "contract break":
            # ingest rejects the batch whole; like any failed batch it stops the pipeline at
            # validate (exit code 4) until it is acknowledged, and nothing is promoted
            assert record.validation == "failed (pipeline stopped): 2026-01-31.csv"
            assert record.result == "not run" and tags == tags_before
            ran = {s["name"]: s["exit_code"] for s in record.steps}
            assert ran["Reproduce the pipeline"] != 0  # DVC's own code for a failed stage
            assert ran["Record the reproduced state on main"] is None  # skipped
        if scene.label == "bad batch acknowledged":
            assert record.validation == "passed"
        if scene.label.startswith("concept drift") and record.result == "promoted":
            assert record.candidate > record.champion  # re-scored on the drifted hold-out
        if scene.label == "concept drift, weeks 2-3":
            drift = [r for r in wheel.records if r.step.startswith("concept drift")]
            assert any(r.result == "promoted" for r in drift), [r.gate["reasons"] for r in drift]
            assert all(v.endswith(".0") and v.startswith("v1.") for v in versions_seen)  # MINOR
        if scene.label == "weaker model params":
            # C=0.0001 ranks rows but predicts no churner: the sanity guard holds it,
            # whatever the champion comparison says (issue 14)
            assert record.result == "held"
            failed = {c["name"] for c in record.gate["checks"] if not c["passed"]}
            assert "prediction_collapse" in failed, record.gate["reasons"]
            assert any("collapsed onto one class" in r for r in record.gate["reasons"])
        if scene.label == "rollback":
            assert record.result == "rolled_back"
            assert prod == versions_seen[-2]
            assert pointer["pin"]["reason"] == "complaints about the new model"
        if scene.label == "scheduled run, pinned":
            assert record.result == "held" and prod == versions_seen[-2]
            assert record.gate["reasons"][0].startswith("prod pinned by "), record.gate
        if scene.label == "release":
            assert record.result == "released" and pointer["pin"] is None
        if scene.label == "volume spike":
            assert record.validation == "passed"  # 50x only warns; the gate holds
            assert record.result == "held" and prod == versions_seen[-1]
            share = next(c for c in record.gate["checks"] if c["name"] == "holdout_batch_share")
            assert not share["passed"]
            assert share["values"]["largest_batch"] == "data/raw/2026-02-26.csv"
            assert share["values"]["largest_share"] > 0.8
            assert any(
                r.startswith("Batch data/raw/2026-02-26.csv makes up ")
                for r in record.gate["reasons"]
            )

        if scene.label == "staging on, model params restored":
            assert record.result == "staged" and prod == versions_seen[-2], record.gate["reasons"]
            assert pointer["staging"]["version"] not in versions_seen
            assert any(t.startswith(f"{wheel.model_name}#staging#") for t in tags)
        if scene.label == "staged candidate confirmed":
            assert record.result == "promoted", (record.outcome or {}).get("message")
            assert pointer["staging"] is None and prod not in versions_seen[:-1]

    console = Console(record=True, width=160, file=io.StringIO())
    result = run_demo(
        tmp_path / "ws",
        rows_per_day=150,
        seed=11,
        console=console,
        params=FAST_PARAMS,
        on_scene=check,
    )
    wheel = SimpleNamespace(
        origin=result.origin, model_name=result.model_name, remote=result.workspace / "dvc-remote"
    )
    assert [r.step for r in result.records] == [s.label for s in demo_scenes()]
    assert result.champion["version"] == versions_seen[-1]  # the staged and confirmed one
    assert "train rows:" in result.lineage
    console.print(flywheel_table(result.records))
    table = console.export_text()
    assert "contract break" in table and "rolled_back" in table

    # Outside datawheel: the DVC ecosystem's own tools see the same registry.
    viewer = tmp_path / "viewer"
    subprocess.run(["git", "clone", "--quiet", str(wheel.origin), str(viewer)], check=True)
    shown = subprocess.run(
        [str(Path(sys.executable).parent / "gto"), "show", wheel.model_name],
        cwd=viewer,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for version in versions_seen:
        assert version in shown
    dvc(
        "artifacts",
        "get",
        str(wheel.origin),
        wheel.model_name,
        "--stage",
        "prod",
        "-o",
        str(tmp_path / "prod.skops"),
        cwd=tmp_path,
    )
    pointer, _, _ = _origin_state(wheel)
    assert file_md5(tmp_path / "prod.skops") == pointer["model_md5"]
