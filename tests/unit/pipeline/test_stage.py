"""run_stage's opt-in profile hook: one JSON line per stage run, only when asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datawheel.errors import DataContractError
from datawheel.pipeline import stage as stagerun
from datawheel.pipeline.stage import run_stage

ROOT = Path(__file__).resolve().parents[3]  # run_stage reads params.yaml from the cwd


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


def test_process_age_reads_the_start_tick_after_the_process_name():
    after_name = ["S"] + [str(n) for n in range(4, 22)] + ["5000"] + ["0"] * 30
    stat = "4242 (a (tricky) name) " + " ".join(after_name) + "\n"
    assert stagerun.age_from_stat(stat, boot_clock=62.5, ticks_per_second=100) == 12.5
    with pytest.raises(IndexError):
        stagerun.age_from_stat("4242 (short) S 1 2", boot_clock=1.0, ticks_per_second=100)


def test_process_age_of_this_process_is_positive():
    assert stagerun._process_age() > 0


def test_stage_refuses_to_run_other_code_than_the_project_records(monkeypatch, tmp_path, capsys):
    from datawheel.io.code import CODE_RECORD, installed_code

    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    (tmp_path / ".datawheel").mkdir()
    recorded = {"version": "0.0.1", "digest": "0" * 64}  # as an older datawheel wrote it
    (tmp_path / CODE_RECORD).write_text(json.dumps(recorded))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATAWHEEL_DEBUG", raising=False)
    ran = []
    with pytest.raises(SystemExit) as exited:
        run_stage("train", ran.append)
    assert exited.value.code == 2 and ran == []
    message = " ".join(capsys.readouterr().err.split())
    assert CODE_RECORD in message and "datawheel code --update" in message

    (tmp_path / CODE_RECORD).write_text(json.dumps(installed_code().to_dict()))
    run_stage("train", ran.append)
    assert len(ran) == 1
