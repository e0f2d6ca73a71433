"""The README's main job: `datawheel demo` on the built-in stream, in a fresh workspace."""

import subprocess
import sys

import pytest

from datawheel.fileio import read_json
from datawheel.workspace import command_env

pytestmark = pytest.mark.e2e


def test_demo_runs_the_pipeline_and_prints_the_gate(tmp_path):
    workspace = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "datawheel",
            "demo",
            "--workspace",
            str(workspace),
            "--days",
            "14",
            "--rows-per-day",
            "200",
        ],
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "hold-out metrics" in result.stdout and "gate decision" in result.stdout
    repo = workspace / "repo"
    gate = read_json(repo / "reports/gate.json")
    assert gate["decision"] in {"promote", "hold"}
    assert f"gate decision: {gate['decision']}" in result.stdout
    assert len(list((repo / "data/raw").glob("*.csv"))) == 14
    # the pipeline's outputs were committed and pushed to the demo's DVC remote
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--cloud"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=command_env(),
        check=True,
    )
    assert "new:" not in status.stdout
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert dirty.stdout == ""
