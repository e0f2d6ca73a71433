"""run_stage's opt-in profile hook: one JSON line per stage run, only when asked for."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datawheel import stagerun
from datawheel.errors import DataContractError
from datawheel.stagerun import run_stage

ROOT = Path(__file__).resolve().parents[2]  # run_stage reads params.yaml from the cwd


@pytest.fixture
def in_project(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("DATAWHEEL_DEBUG", raising=False)


def test_profile_line_written_when_asked(in_project, monkeypatch, tmp_path):
    profile = tmp_path / "profile.jsonl"
    monkeypatch.setenv("DATAWHEEL_PROFILE", str(profile))
    seen = []
    run_stage("trivial", lambda params: seen.append(params.window.days))
    assert seen == [28]
    lines = profile.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) == {"stage", "seconds", "body_seconds", "peak_rss_mb"}
    assert record["stage"] == "trivial"
    assert record["seconds"] >= record["body_seconds"] >= 0
    assert record["peak_rss_mb"] > 0


def test_profile_line_written_when_the_body_fails(in_project, monkeypatch, tmp_path):
    profile = tmp_path / "profile.jsonl"
    monkeypatch.setenv("DATAWHEEL_PROFILE", str(profile))

    def body(params):
        raise DataContractError("broken batch (rule: test)")

    with pytest.raises(SystemExit) as exited:
        run_stage("failing", body)
    assert exited.value.code == DataContractError.exit_code
    assert [json.loads(line)["stage"] for line in profile.read_text().splitlines()] == ["failing"]


def test_nothing_written_without_the_variable(in_project, monkeypatch):
    monkeypatch.delenv("DATAWHEEL_PROFILE", raising=False)
    opened = []
    monkeypatch.setattr(stagerun, "open", lambda *a, **k: opened.append(a), raising=False)
    run_stage("trivial", lambda params: None)
    assert opened == []


def test_process_age_counts_from_the_process_start_not_the_boot_second():
    """A child that sleeps, then reports its age: at least the sleep, and no more than the
    parent saw pass around the whole child (plus one clock tick of rounding)."""
    script = (
        "import time; time.sleep(0.3); "
        "from datawheel.stagerun import _process_age; print(_process_age())"
    )
    before = time.monotonic()
    age = float(
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
    )
    elapsed = time.monotonic() - before
    assert 0.3 <= age <= elapsed + 0.02
