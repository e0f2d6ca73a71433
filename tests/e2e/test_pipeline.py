"""The flywheel's foundation, end to end: real git, real DVC, a local DVC remote."""

from __future__ import annotations

import shutil
from pathlib import Path

import git
import pytest

from datawheel.io.files import file_md5, read_json
from datawheel.io.process import CommandFailed, dvc

from .conftest import Project, set_params

pytestmark = pytest.mark.e2e

MODEL = "models/model.skops"
STAGES = ("ingest", "validate", "curate", "train", "evaluate")


def _ran(output: str) -> set[str]:
    return {stage for stage in STAGES if f"Running stage '{stage}'" in output}


def _rebuild_from_scratch(origin: Path, commit: str, where: Path) -> str:
    """Clone at commit, pull from the DVC remote, drop persisted outputs, repro --force."""
    clone = git.Repo.clone_from(origin, where)
    clone.git.checkout(commit)
    dvc("pull", "--quiet", cwd=where)
    for persisted in ("data/ingested", "data/quarantine"):
        shutil.rmtree(where / persisted, ignore_errors=True)
    dvc("repro", "--force", cwd=where)
    return file_md5(where / MODEL)


def test_flywheel_rebuilds_the_same_model_from_any_commit(project: Project, tmp_path: Path):
    project.add_days(0, 30)
    project.commit_data("data: 30 days")
    output = project.repro()
    assert _ran(output) == set(STAGES)
    first_model = project.md5(MODEL)
    first = project.commit("pipeline: first month")
    dvc("push", "--quiet", cwd=project.root)

    metrics = read_json(project.root / "reports/metrics.json")
    assert metrics["candidate"]["roc_auc"] > metrics["baseline"]["roc_auc"]
    gate = read_json(project.root / "reports/gate.json")
    assert gate["decision"] == "promote"  # no champion yet: beats the baseline and the floor
    card = read_json(project.root / "models/card.json")
    assert card["model"]["md5"] == first_model
    ingested = sorted((project.root / "data/ingested").glob("*.parquet"))
    assert len(ingested) == 30
    before = {p.name: p.stat().st_mtime_ns for p in ingested}

    # One new day: ingest reads only that batch; every dependent stage re-runs.
    (new_batch,) = project.add_days(30, 1)
    project.commit_data("data: day 31")
    output = project.repro()
    assert _ran(output) == set(STAGES)
    assert "ingest: 31 batches, read 1 new, reused 30" in output
    assert f"ingest: read data/raw/{new_batch.name}" in output
    after = {
        p.name: p.stat().st_mtime_ns for p in (project.root / "data/ingested").glob("*.parquet")
    }
    assert len(after) == 31
    assert all(after[name] == mtime for name, mtime in before.items())
    second_model = project.md5(MODEL)
    assert second_model != first_model
    second = project.commit("pipeline: day 31")
    dvc("push", "--quiet", cwd=project.root)

    # Nothing changed: nothing runs.
    assert _ran(project.repro()) == set()

    # A fresh clone rebuilds byte-identical models at both commits, the second one from
    # scratch although the original was built incrementally.
    assert _rebuild_from_scratch(project.root, first, tmp_path / "clone1") == first_model
    assert _rebuild_from_scratch(project.root, second, tmp_path / "clone2") == second_model

    # Going back in history restores the first model.
    project.git.git.checkout(first)
    dvc("checkout", "--quiet", cwd=project.root)
    assert project.md5(MODEL) == first_model
    assert len(list((project.root / "data/raw").glob("*.csv"))) == 30


def test_bad_batches_are_quarantined_stop_validate_and_train_nothing_until_acknowledged(
    project: Project,
):
    raw = project.root / "data/raw"
    project.add_days(0, 20)
    good = sorted(raw.glob("*.csv"))
    truncated = raw / "2026-02-01.csv"
    rows = good[0].read_bytes().split(b"\n")
    half = len(rows) // 2
    cut_row = b",".join(rows[half].split(b",")[:3])  # the write stopped inside a row
    truncated.write_bytes(b"\n".join([*rows[:half], cut_row]))
    latin1 = raw / "2026-02-02.csv"
    text = good[1].read_text(encoding="utf-8").replace("R01", "Ré1")
    latin1.write_bytes(text.encode("latin-1"))
    missing = raw / "2026-02-03.csv"
    lines = good[2].read_text(encoding="utf-8").splitlines()
    missing.write_text("\n".join(",".join(line.split(",")[:-1]) for line in lines) + "\n")
    empty = raw / "2026-02-04.csv"
    empty.write_bytes(b"")
    bad = (truncated, latin1, missing, empty)
    hashes = {p.name: file_md5(p) for p in raw.iterdir()}

    project.commit_data("data: 20 good days and 4 bad files")
    # A batch ingest rejects is a failed batch like one a critical expectation fails: the
    # validate stage stops the pipeline (exit code 4) naming it, until it is acknowledged.
    with pytest.raises(CommandFailed) as stopped:
        project.repro()
    assert "4 batch(es) failed critical data tests: " in stopped.value.output
    assert "validate.acknowledged_batches" in stopped.value.output
    assert "Traceback" not in stopped.value.output
    assert not (project.root / MODEL).exists()

    quarantined = {
        read_json(p)["path"]: read_json(p)["reason"]
        for p in (project.root / "data/quarantine/batches").glob("*.json")
    }
    assert set(quarantined) == {f"data/raw/{f.name}" for f in bad}
    assert quarantined[f"data/raw/{truncated.name}"]["rule"] == "csv_rectangular"
    assert quarantined[f"data/raw/{latin1.name}"]["rule"] == "encoding_utf8"
    assert quarantined[f"data/raw/{missing.name}"]["rule"] == "contract_columns"
    assert "churned" in quarantined[f"data/raw/{missing.name}"]["message"]
    assert quarantined[f"data/raw/{empty.name}"]["rule"] == "batch_not_empty"

    set_params(project.root, {("validate", "acknowledged_batches"): [f.name for f in bad]})
    # `git add -A`, as a user commits: init ignored every cached output in advance, so the
    # stopped run's data/quarantine/rows, which DVC has not tracked yet, stays out of git
    project.commit("validate: acknowledge the four bad files")
    assert project.git.git.ls_files("data/quarantine").split() == ["data/quarantine/.gitignore"]
    output = project.repro()
    assert _ran(output) == set(STAGES) - {"ingest"}
    card = read_json(project.root / "models/card.json")
    trained_on = {b["batch"] for b in card["data"]["batches"]}
    assert trained_on == {f"data/raw/{p.name}" for p in good}
    assert read_json(project.root / "reports/validation.json")["passed"]
    gate = read_json(project.root / "reports/gate.json")
    assert next(c for c in gate["checks"] if c["name"] == "validation")["passed"]
    assert {p.name: file_md5(p) for p in raw.iterdir()} == hashes
