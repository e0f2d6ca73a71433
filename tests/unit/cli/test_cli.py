"""The command line: one readable line and a documented exit code for every user error."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from datawheel.config.params import dvc_vars
from datawheel.errors import ParamsError
from datawheel.io.files import file_md5
from datawheel.io.process import command_env

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datawheel", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )


def test_simulate_is_byte_deterministic(tmp_path):
    for name in ("a", "b"):
        result = _run(
            "simulate",
            "--out",
            name,
            "--days",
            "3",
            "--rows-per-day",
            "50",
            "--inject",
            "null_burst@1",
            "--format",
            "parquet",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
    a = sorted((tmp_path / "a").iterdir())
    assert [p.name for p in a] == ["2026-01-01.parquet", "2026-01-02.parquet", "2026-01-03.parquet"]
    assert [file_md5(p) for p in a] == [file_md5(tmp_path / "b" / p.name) for p in a]


def test_bad_arguments_are_one_line_with_exit_code_2(tmp_path):
    result = _run("simulate", "--out", "x", "--inject", "meteor@3", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown injection kind 'meteor'" in result.stderr
    assert "Traceback" not in result.stderr
    result = _run("simulate", "--out", "x", "--start", "yesterday", cwd=tmp_path)
    assert result.returncode == 2 and "--start" in result.stderr


def test_exit_codes_are_listed(tmp_path):
    result = _run("exit-codes", cwd=tmp_path)
    assert result.returncode == 0
    for code in ("2", "3", "4", "5", "6"):
        assert code in result.stdout


def test_stage_outside_a_project_names_the_missing_params(tmp_path):
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "ingest.py").write_text((ROOT / "stages" / "ingest.py").read_text())
    result = subprocess.run(
        [sys.executable, "-m", "stages.ingest"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )
    assert result.returncode == 2
    assert "params.yaml: not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_refuses_an_existing_project(tmp_path):
    assert _run("init", "proj", cwd=tmp_path).returncode == 0
    assert (tmp_path / "proj" / ".dvc").is_dir()
    assert (tmp_path / "proj" / "models" / "champion.json").exists()
    raw = tmp_path / "proj" / "data" / "raw"
    assert raw.is_dir() and not any(raw.iterdir())  # the README's `cp ... data/raw/` works
    again = _run("init", "proj", cwd=tmp_path)
    assert again.returncode == 2 and "already" in again.stderr


def test_init_names_the_model_after_the_folder_and_describes_it_from_params(tmp_path):
    from dvc.repo import Repo

    assert _run("init", "Fraud_Scores", cwd=tmp_path).returncode == 0
    project = tmp_path / "Fraud_Scores"
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text())
    assert dvc_vars(pipeline)["registry"] == {"model_name": "fraud-scores"}
    artifacts = Repo(str(project)).artifacts.read()["dvc.yaml"]
    assert list(artifacts) == ["fraud-scores"]
    model = artifacts["fraud-scores"]
    assert model.desc == "churned classifier"  # `${contract.target}`: params.yaml's target
    assert model.labels == ["tabular", "classification", "churned"]
    assert model.path == "models/model.skops"
    # The repository's own dvc.yaml, for the built-in churn stream, keeps its own words.
    assert "Churn classifier" in (ROOT / "dvc.yaml").read_text()


def test_init_takes_a_model_name_and_description_and_refuses_a_bad_name(tmp_path):
    from dvc.repo import Repo

    result = _run(
        "init", "proj", "--model-name", "churn-v2", "--description", "Churn: v2", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    model = Repo(str(tmp_path / "proj")).artifacts.read()["dvc.yaml"]["churn-v2"]
    assert model.desc == "Churn: v2"
    for bad in ("Churn", "churn@v1", "-churn", "churn_model"):
        refused = _run("init", "bad", "--model-name", bad, cwd=tmp_path)
        assert refused.returncode == 2, bad
        assert "model name" in refused.stderr and "Traceback" not in refused.stderr
        assert not (tmp_path / "bad").exists()


def test_name_artifact_changes_only_the_name_desc_and_labels_lines():
    from datawheel.project.scaffold import name_artifact

    text = (ROOT / "dvc.yaml").read_text()
    named = name_artifact(text, "classification", "fraud")
    changed = [
        (old.split(":")[0].strip(), new.strip())
        for old, new in zip(text.splitlines(), named.splitlines(), strict=True)
        if old != new
    ]
    assert [key for key, _ in changed] == ["model_name", "desc", "labels"]
    name_line = changed[0][1]
    assert name_line.startswith("model_name: fraud  ") and "# the artifact name" in name_line
    assert name_artifact(text).count("churn-model") == text.count("churn-model")


def test_init_task_regression_writes_its_params_plots_and_artifact(tmp_path):
    from datawheel.config.params import load_params
    from datawheel.model.plots import check_declared_plots
    from datawheel.project.scaffold import copy_template

    copy_template(tmp_path, "price", task="regression")
    params = load_params(tmp_path / "params.yaml", check_estimators=False)
    assert params.contract.task == "regression" and params.contract.classes is None
    assert params.gate.primary_metric == "rmse" and params.gate.absolute_floor is None
    assert "# the entity" in (tmp_path / "params.yaml").read_text()  # comments kept
    dvc_yaml = (tmp_path / "dvc.yaml").read_text()
    check_declared_plots(dvc_yaml, "regression")
    with pytest.raises(ParamsError, match="plots_match_task"):
        check_declared_plots(dvc_yaml, "classification")
    with pytest.raises(ParamsError, match=r"predicted_vs_actual.*init --task regression"):
        check_declared_plots((ROOT / "dvc.yaml").read_text(), "regression")
    artifact = yaml.safe_load(dvc_yaml)["artifacts"]["${registry.model_name}"]
    assert artifact["desc"] == "${contract.target} regressor"
    assert artifact["labels"] == ["tabular", "regression", "${contract.target}"]
    stages = yaml.safe_load(dvc_yaml)["stages"]
    assert yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].keys() == stages.keys()


def test_code_shows_the_difference_and_update_records_the_installed_code(tmp_path):
    from datawheel.io.code import CODE_RECORD, installed_code, template_dvc_yaml

    (tmp_path / "dvc.yaml").write_text(template_dvc_yaml((ROOT / "dvc.yaml").read_text()))
    (tmp_path / ".datawheel").mkdir()
    (tmp_path / CODE_RECORD).write_text('{"version": "0.0.1", "digest": "00"}')
    differs = _run("code", cwd=tmp_path)
    assert differs.returncode == 2
    assert "differs" in differs.stdout and "datawheel code --update" in differs.stderr
    updated = _run("code", "--update", "--json", cwd=tmp_path)
    assert updated.returncode == 0, updated.stderr
    shown = json.loads(updated.stdout)
    assert shown["matches"] is True and shown["recorded"] == installed_code().to_dict()
    assert _run("code", cwd=tmp_path).returncode == 0


def test_init_writes_what_the_shipped_workflows_install(tmp_path):
    """The workflows run `pip install -r requirements.txt`: an init project has that file,
    pinning the installed datawheel (the code its .datawheel/code.json records)."""
    from importlib.metadata import version

    assert _run("init", "proj", cwd=tmp_path).returncode == 0
    project = tmp_path / "proj"
    installs = set()
    for workflow in (project / ".github/workflows").glob("*.yml"):
        installs |= set(re.findall(r"pip install -r (\S+)", workflow.read_text()))
    assert installs == {"requirements.txt"}
    wanted = [
        line
        for line in (project / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert wanted == [f"datawheel=={version('datawheel')}"]
    assert "pip install -e" not in "".join(
        p.read_text() for p in (project / ".github/workflows").glob("*.yml")
    )


def test_init_keeps_an_object_store_remote_url_as_given(tmp_path):
    # A Path would fold `s3://bucket/prefix` into `s3:/bucket/prefix`, a local folder.
    result = _run("init", "proj", "--remote", "s3://datawheel-data/churn", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    config = (tmp_path / "proj/.dvc/config").read_text()
    assert "url = s3://datawheel-data/churn" in config
    assert "verify = true" in config  # DVC checks each pulled object's md5
    assert not (tmp_path / "s3:").exists()


def test_init_with_a_folder_remote_records_its_absolute_path(tmp_path):
    result = _run("init", "proj", "--remote", "store", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    config = (tmp_path / "proj/.dvc/config").read_text()
    assert f"url = {(tmp_path / 'store').resolve()}" in config
    assert (tmp_path / "store").is_dir()


def test_init_engine_spark_sets_the_engine_and_installs_the_spark_extra(tmp_path):
    from importlib.metadata import version

    from datawheel.config.params import load_params
    from datawheel.project.scaffold import copy_template

    copy_template(tmp_path / "spark", "orders", engine="spark")
    params = load_params(tmp_path / "spark/params.yaml", check_estimators=False)
    assert params.engine.name == "spark"
    pins = [
        line
        for line in (tmp_path / "spark/requirements.txt").read_text().splitlines()
        if not line.startswith("#")
    ]
    assert pins == [f"datawheel[spark]=={version('datawheel')}"]
    copy_template(tmp_path / "pandas", "orders")
    assert (tmp_path / "pandas/requirements.txt").read_text().splitlines()[-1] == (
        f"datawheel=={version('datawheel')}"
    )
    assert load_params(tmp_path / "pandas/params.yaml", check_estimators=False).engine.name == (
        "pandas"
    )
