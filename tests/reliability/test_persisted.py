"""Tampering with what the stages persist and reuse: no altered row ever reaches train.

Ingest keeps one Parquet file per raw batch (data/ingested/), validate one verdict and one
quarantine-rows file per batch (data/quarantine/rows/); both are `persist: true` outputs that
a later run reuses. Each is recorded with its own md5 when written and checked before reuse
(through DVC's state database, so an unchanged file is not read again). Here each kind is
altered in a built project, `dvc repro` runs, and the model must be the very bytes the
untouched project built, with the stage saying which file it rebuilt.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from datawheel.io.files import file_md5
from tests.reliability.conftest import dvc, git, make_project

MODEL = "models/model.skops"


@pytest.fixture(scope="module")
def template_project(tmp_path_factory) -> Path:
    """Built and committed: main as CI leaves it."""
    root = make_project(tmp_path_factory.mktemp("persisted"), days=14)
    result = dvc(root, "repro")
    assert result.returncode == 0, result.stdout + result.stderr
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "reproduce")
    return root


def manifest(root: Path) -> list[dict]:
    return list(json.loads((root / "data/ingested/manifest.json").read_text())["batches"].values())


def repro(root: Path) -> str:
    result = dvc(root, "repro")
    assert result.returncode == 0, result.stdout + result.stderr
    assert dvc(root, "status", "--quiet").returncode == 0  # outputs match dvc.lock
    return result.stdout + result.stderr


def test_flipped_labels_in_an_ingested_batch_are_rebuilt_from_the_raw_batch(project: Path):
    model = file_md5(project / MODEL)
    batch = manifest(project)[-1]
    path = project / "data/ingested" / f"{batch['md5']}.parquet"
    recorded = file_md5(path)
    rows = pd.read_parquet(path)
    rows.assign(churned=1 - rows["churned"]).to_parquet(path, index=False)

    output = repro(project)
    assert f"data/ingested/{batch['md5']}.parquet does not match the md5" in output
    assert f"rebuilt from {batch['path']}" in output
    assert file_md5(path) == recorded
    assert file_md5(project / MODEL) == model  # trained on the raw batch's rows, not the edit


def test_an_edited_verdict_or_quarantine_file_is_validated_again(project: Path):
    model = file_md5(project / MODEL)
    batches = manifest(project)
    rows_dir = project / "data/quarantine/rows"
    # Quarantine one good row of one batch: trusted, curate would drop it from training.
    first = batches[0]
    ingested = pd.read_parquet(project / "data/ingested" / f"{first['md5']}.parquet")
    forged = pd.DataFrame(
        {
            "row_id": ingested["row_id"].iloc[:1].astype(str),
            "batch": first["path"],
            "line": ingested["line"].iloc[:1].astype("int64"),
            "rule": "forged",
        }
    )
    forged.to_parquet(rows_dir / f"{first['md5']}.parquet", index=False)
    # Fail a passed batch in its cached verdict: trusted, it would stop the pipeline.
    second = batches[1]
    verdict_path = rows_dir / f"{second['md5']}.json"
    verdict = json.loads(verdict_path.read_text())
    verdict["validation"]["status"] = "failed"
    verdict_path.write_text(json.dumps(verdict))

    output = repro(project)
    assert f"data/quarantine/rows/{first['md5']}.parquet does not match the md5" in output
    assert f"data/quarantine/rows/{second['md5']}.json does not match the md5" in output
    assert pd.read_parquet(rows_dir / f"{first['md5']}.parquet").empty
    assert json.loads(verdict_path.read_text())["validation"]["status"] == "passed"
    assert file_md5(project / MODEL) == model
