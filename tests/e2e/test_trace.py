"""Audit trace over a real history: 5 data commits, 3 promoted versions, a rollback.

The history (built once for the module, in a temporary folder with a bare `origin` and a
local DVC remote):

    D1 days 0-13        repro, promote   -> v1.0.0
    D2 days 14-15       repro, promote   -> v1.1.0 (ingest incremental on D1's batches)
    D3 day 16           (no run: CI held or did not run)
    D4 day 17, model params and stages/train.py changed
                        repro, promote   -> v2.0.0 (MAJOR; incremental on D1-D2's ingests)
    D5 day 18, stages/curate.py changed  (no run)
    rollback to v1.1.0

Expected answers are computed from each version's curated data read with `dvc.api`, not
with datawheel's own reader.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import git
import pandas as pd
import pytest
import yaml

from datawheel.io.process import command_env
from datawheel.io.process import dvc as run_dvc
from datawheel.project.scaffold import init_repo
from datawheel.registry.promote import promote, rollback

from .conftest import FAST_PARAMS, Project, set_params

PERMISSIVE_GATE = {  # every candidate beats the champion: this history is about lineage
    ("gate", "min_improvement"): -1.0,
    ("gate", "guardrails"): {"log_loss": 10.0, "brier": 10.0},
    ("gate", "segment_tolerance"): 1.0,
}


@dataclass
class History:
    project: Project
    commits: dict[str, str]  # D1..D5 -> data commit
    versions: dict[str, str]  # version -> promotion commit
    batches: dict[str, list[str]]  # D1..D5 -> raw batch paths added

    @property
    def root(self) -> Path:
        return self.project.root


def _promote(project: Project, versions: dict[str, str]) -> None:
    outcome = promote(project.root)
    assert outcome.result == "promoted", outcome.message
    versions[outcome.version or ""] = outcome.commit or ""


def _names(paths: list[Path], root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in paths)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> History:
    base = tmp_path_factory.mktemp("trace")
    root, remote = base / "repo", base / "dvc-remote"
    init_repo(root, remote=remote)
    set_params(root, {**FAST_PARAMS, **PERMISSIVE_GATE})
    project = Project(root, remote)
    project.commit("test: faster params, permissive gate")
    origin = base / "origin.git"
    git.Repo.init(origin, bare=True, initial_branch="main")
    project.git.create_remote("origin", str(origin))
    project.git.git.push("origin", "main")

    commits, versions, batches = {}, {}, {}

    batches["D1"] = _names(project.add_days(0, 14), root)
    commits["D1"] = project.commit_data("data: days 0-13")
    project.repro()
    _promote(project, versions)

    batches["D2"] = _names(project.add_days(14, 2), root)
    commits["D2"] = project.commit_data("data: days 14-15")
    project.repro()
    _promote(project, versions)

    batches["D3"] = _names(project.add_days(16, 1), root)
    commits["D3"] = project.commit_data("data: day 16")

    batches["D4"] = _names(project.add_days(17, 1), root)
    set_params(root, {("model", "hist_gradient_boosting", "max_iter"): 30})
    train_stage = root / "stages/train.py"
    train_stage.write_text(train_stage.read_text() + "\n# audited change: fewer boosting rounds\n")
    commits["D4"] = project.commit_data("data: day 17; model: 30 boosting rounds")
    project.repro()
    _promote(project, versions)

    batches["D5"] = _names(project.add_days(18, 1), root)
    curate_stage = root / "stages/curate.py"
    curate_stage.write_text(curate_stage.read_text() + "\n# a later code change\n")
    commits["D5"] = project.commit_data("data: day 18; curate edited")
    project.git.git.push("origin", "main")
    outcome = rollback(root, "v1.1.0")
    assert outcome.result == "rolled_back", outcome.message
    return History(project, commits, versions, batches)


def datawheel(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "datawheel", "trace", *args],
        cwd=root,
        env=command_env(),
        capture_output=True,
        text=True,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def trace_json(root: Path, *args: str) -> dict:
    return json.loads(datawheel(root, *args, "--json").stdout)


def cache_object(root: Path, md5: str) -> Path:
    return root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]


def curated(root: Path, commit: str) -> dict[str, pd.DataFrame]:
    """A version's curated frames from its dvc.lock and the DVC cache's files, read by hand:
    the independent answer to compare datawheel's with."""
    lock = yaml.safe_load(git.Repo(root).git.show(f"{commit}:dvc.lock"))
    out = next(o for o in lock["stages"]["curate"]["outs"] if o["path"] == "data/curated")
    manifest = json.loads(cache_object(root, out["md5"]).read_text())
    files = {e["relpath"]: e["md5"] for e in manifest}
    return {
        name: pd.read_parquet(cache_object(root, files[f"{name}.parquet"]))
        for name in ("train", "holdout")
    }


def test_history_has_three_versions_and_a_rollback(history):
    assert sorted(history.versions) == ["v1.0.0", "v1.1.0", "v2.0.0"]
    status = trace_json(history.root, "prod")
    assert status["model"]["version"] == "v1.1.0"
    assert status["ref_resolved_as"] == "stage prod"
    stages = [e["stage"] + ":" + e["action"] for e in status["promotion"]["stage_history"]]
    assert stages == ["prod:assign", "prod:assign"]  # v1.1.0 promoted, later rolled back to


@pytest.mark.parametrize("version", ["v1.0.0", "v1.1.0", "v2.0.0"])
def test_trace_lists_exactly_the_batches_and_rows_used(history, version, tmp_path):
    commit = history.versions[version]
    rows_file = tmp_path / "rows.parquet"
    record = trace_json(history.root, f"churn-model@{version}", "--rows", str(rows_file))
    expected = curated(history.root, commit)

    assert record["model"]["version"] == version
    assert record["commits"]["record"]["sha"] == commit
    assert all(check["ok"] for check in record["consistency"]), record["consistency"]
    lock = dict((s["stage"], s) for s in record["stages"])
    assert list(lock) == ["ingest", "validate", "curate", "train", "evaluate"]
    model_out = next(o for o in lock["train"]["outs"] if o["path"] == "models/model.skops")
    assert model_out["md5"] == record["model"]["md5"]

    used = {
        b["batch"]
        for b in record["batches"]
        if b.get("train", 0) + b.get("holdout", 0) + b.get("train_label_issue", 0)
    }
    expected_batches = set(expected["train"]["batch"]) | set(expected["holdout"]["batch"])
    assert used == expected_batches

    rows = pd.read_parquet(rows_file)
    for name in ("train", "holdout"):
        got = rows[rows["set"] == name]
        assert sorted(got["row_id"]) == sorted(expected[name]["row_id"])
        merged = got.merge(expected[name], on="row_id", suffixes=("", "_dvc"))
        assert len(merged) == len(expected[name])
        assert (merged["batch"] == merged["batch_dvc"]).all()
        assert (merged["batch_md5"] == merged["batch_md5_dvc"]).all()
        assert (merged["line"] == merged["line_dvc"]).all()
    # the per-batch survival counts agree with the rows themselves
    for entry in record["batches"]:
        in_train = int((rows["batch"] == entry["batch"]).where(rows["set"] == "train").sum())
        assert in_train == entry.get("train", 0) + entry.get("train_label_issue", 0)


def test_refs_resolve_to_the_same_version(history):
    commit = history.versions["v2.0.0"]
    by_version = trace_json(history.root, "v2.0.0")
    md5 = by_version["model"]["md5"]
    for ref in ("2.0.0", commit, commit[:10], history.commits["D4"], md5):
        assert trace_json(history.root, ref)["model"]["version"] == "v2.0.0", ref
    assert trace_json(history.root, "champion")["model"]["version"] == "v1.1.0"
    unknown = datawheel(history.root, "v9.9.9", check=False)
    assert unknown.returncode == 2
    assert "v9.9.9" in unknown.stderr and "Traceback" not in unknown.stderr


def test_reverse_trace_of_a_later_batch_skips_earlier_versions(history):
    batch = history.batches["D3"][0]
    uses = trace_json(history.root, "--batch", batch)["versions"]
    assert [u["version"] for u in uses] == ["v2.0.0"]
    assert uses[0]["ever_in_prod"] and not uses[0]["in_prod_now"]
    first = history.batches["D1"][-1]  # inside every version's window
    assert [u["version"] for u in trace_json(history.root, "--batch", first)["versions"]] == [
        "v1.0.0",
        "v1.1.0",
        "v2.0.0",
    ]


def test_reverse_trace_of_an_entity_and_a_row(history):
    frames = {v: curated(history.root, c) for v, c in history.versions.items()}
    entity = frames["v1.0.0"]["holdout"]["customer_id"].iloc[0]
    expected = {
        v: {n: int((f["customer_id"] == entity).sum()) for n, f in fs.items()}
        for v, fs in frames.items()
    }
    uses = trace_json(history.root, "--entity", str(entity))["versions"]
    got = {u["version"]: {"train": u["train_rows"], "holdout": u["holdout_rows"]} for u in uses}
    assert got == {v: c for v, c in expected.items() if c["train"] or c["holdout"]}
    assert "v1.0.0" in got

    row_id = frames["v2.0.0"]["train"]["row_id"].iloc[-1]
    holders = {
        v
        for v, fs in frames.items()
        if (fs["train"]["row_id"] == row_id).any() or (fs["holdout"]["row_id"] == row_id).any()
    }
    uses = trace_json(history.root, "--row-id", row_id)["versions"]
    assert {u["version"] for u in uses} == holders


def test_report_markdown_and_html(history, tmp_path):
    md, html = tmp_path / "audit.md", tmp_path / "audit.html"
    datawheel(history.root, "v1.1.0", "--report", str(md))
    datawheel(history.root, "v1.1.0", "--report", str(html))
    text = md.read_text()
    for heading in (
        "Commits",
        "Parameters",
        "Stages (dvc.lock)",
        "Raw batches",
        "Validation",
        "Metrics and gate",
        "Promotion",
        "Consistency",
    ):
        assert f"## {heading}" in text
    assert history.versions["v1.1.0"] in text
    assert "<table>" in html.read_text()


def test_verify_reproduces_every_version(history):
    for version in ("v1.0.0", "v1.1.0", "v2.0.0"):
        result = datawheel(history.root, version, "--verify", "--json")
        record = json.loads(result.stdout)["verification"]
        assert record["verdict"] == "REPRODUCED", record
        assert record["rebuilt_model_md5"] == record["recorded_model_md5"]
        assert all(s["same"] for s in record["stages"])


def _alter(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))


def test_altered_cache_object_is_reported(history, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(history.root, copy, symlinks=True)
    lock = next(
        o for o in trace_json(copy, "v1.0.0")["stages"][2]["outs"] if o["path"] == "data/curated"
    )
    assert lock["md5"].endswith(".dir")
    manifest = json.loads(cache_object(copy, lock["md5"]).read_text())
    train_md5 = next(e["md5"] for e in manifest if e["relpath"] == "train.parquet")
    _alter(cache_object(copy, train_md5))
    result = datawheel(copy, "v1.0.0", "--rows", str(tmp_path / "rows.parquet"), check=False)
    assert result.returncode == 6, result.stdout + result.stderr
    assert "data/curated/train.parquet" in result.stderr and "Traceback" not in result.stderr


def test_altered_remote_object_fails_verify(history, tmp_path):
    remote = tmp_path / "remote"
    shutil.copytree(history.project.remote, remote)
    copy = tmp_path / "copy"
    shutil.copytree(history.root, copy, symlinks=True)
    run_dvc("remote", "modify", "--local", "storage", "url", str(remote), cwd=copy)
    batch = history.batches["D1"][0]
    manifest_md5 = git.Repo(copy).git.show(f"{history.commits['D1']}:data/raw.dvc")
    dir_md5 = next(line.split()[-1] for line in manifest_md5.splitlines() if "md5:" in line)
    entries = json.loads((remote / "files/md5" / dir_md5[:2] / dir_md5[2:]).read_text())
    md5 = next(e["md5"] for e in entries if f"data/raw/{e['relpath']}" == batch)
    _alter(remote / "files/md5" / md5[:2] / md5[2:])
    result = datawheel(copy, "v1.0.0", "--verify", check=False)
    assert result.returncode == 6, result.stdout + result.stderr
    assert batch in result.stderr and "remote_integrity" in result.stderr
    assert os.path.exists(copy / "data/raw")  # the project itself untouched
