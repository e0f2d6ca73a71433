"""A whole `dvc repro` with engine spark gives the pandas run's dvc.lock, and switching the
engine in params.yaml invalidates no stage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from datawheel.data.batches import read_manifest
from datawheel.io.process import dvc
from datawheel.project.scaffold import init_repo
from datawheel.sandbox.flywheel import set_params
from tests.e2e.conftest import FAST_PARAMS, Project

from .conftest import SPARK_TEST_CONF, needs_java

pytest.importorskip("pyspark", reason='the Spark engine needs pip install "datawheel[spark]"')
pytestmark = [pytest.mark.spark, pytest.mark.e2e, needs_java]

DAYS = 5
# A two-day hold-out, so that five days make a train and a hold-out set.
SMALL = {
    **FAST_PARAMS,
    ("split", "holdout_days"): 2,
    ("validate", "acknowledged_batches"): ["2026-01-04.csv"],  # the null burst: excluded
} | {("engine", "spark", "conf", key): value for key, value in SPARK_TEST_CONF.items()}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    """Five days of the built-in stream, one of them a failed (null burst) but acknowledged
    batch, reproduced with pandas."""
    root = tmp_path_factory.mktemp("pipeline")
    proj = Project(root / "repo", root / "dvc-remote")
    init_repo(proj.root, remote=proj.remote)
    set_params(proj.root, SMALL)
    proj.add_days(0, DAYS, inject=("null_burst@3",))
    proj.commit_data("five days")
    proj.repro()
    return proj


def switch_engine(project: Project, name: str) -> None:
    set_params(project.root, {("engine", "name"): name})


def test_switching_the_engine_invalidates_no_stage(project):
    for name in ("spark", "pandas"):
        switch_engine(project, name)
        status = dvc("status", cwd=project.root).stdout
        assert "up to date" in status, status


def test_a_spark_run_gives_the_pandas_run_s_outputs(project):
    pandas_lock = (project.root / "dvc.lock").read_text()
    pandas_outs = lock_outs(project.root)
    switch_engine(project, "spark")
    # validate's verdicts persist per batch: Spark validates again the two whose verdicts
    # are removed, the failed null-burst day and the newest (tests/spark/test_parity.py
    # compares the engines' verdicts batch by batch; each costs Spark seconds)
    rows = project.root / "data/quarantine/rows"
    for record in read_manifest(project.root / "data/ingested"):
        if record.path.endswith(("2026-01-04.csv", "2026-01-05.csv")):
            for suffix in (".json", ".parquet"):
                (rows / f"{record.md5}{suffix}").unlink()
    shutil.rmtree(project.root / "data/ingested")
    output = project.repro("--force")
    assert "2 batch(es) validated on spark (master local[2])" in output
    assert "curate: on spark (master local[2])" in output
    assert lock_outs(project.root) == pandas_outs
    assert (project.root / "dvc.lock").read_text() == pandas_lock
    assert "up to date" in dvc("status", cwd=project.root).stdout


def lock_outs(root: Path) -> dict[str, str]:
    """md5 of every output of every stage in dvc.lock."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage["outs"]}
