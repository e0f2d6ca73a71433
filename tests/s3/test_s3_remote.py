"""A datawheel project whose DVC remote is `s3://` on a real S3-compatible store.

One producer (CI's retrain job, with write access) runs the pipeline, promotes and pushes;
then consumers with read-only keys, each from a fresh clone of `origin` with an empty DVC
cache, pull, fetch the prod model as a deployment would, and rebuild it as an auditor would.
Last, an object altered inside the bucket must be caught, never loaded.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from datawheel.io.files import file_md5, read_json
from datawheel.io.process import CommandFailed, command_env, dvc
from datawheel.project.scaffold import init_repo
from datawheel.sandbox.flywheel import set_params

from ..e2e.conftest import FAST_PARAMS, Project
from ..e2e.test_trace import PERMISSIVE_GATE
from .conftest import Credentials, ObjectStore

pytestmark = [pytest.mark.e2e, pytest.mark.s3]

NAME = "churn-model"
PREFIX = "churn/dvc"  # the project's folder in the bucket: one bucket can hold many projects
DAYS = 14  # one raw batch a day


@dataclass
class Published:
    """The producer's project after one promotion, and what it published."""

    project: Project
    origin: Path
    store: ObjectStore
    url: str
    version: str


def set_endpoint(root: Path, endpoint: str) -> None:
    """What a team commits beside the URL: the endpoint, never a key (.dvc/config).
    On AWS S3 itself there is no endpoint to set."""
    dvc("remote", "modify", "storage", "endpointurl", endpoint, cwd=root)


def give_keys(root: Path, who: Credentials) -> None:
    """Keys for this clone only: .dvc/config.local is git-ignored, so they stay here."""
    dvc("remote", "modify", "--local", "storage", "access_key_id", who.access_key, cwd=root)
    dvc("remote", "modify", "--local", "storage", "secret_access_key", who.secret_key, cwd=root)


def datawheel(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datawheel", *args],
        cwd=root,
        env=command_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def fresh_clone(published: Published, where: Path, who: Credentials) -> Path:
    """A colleague's or a job's clone of origin: nothing in its DVC cache, `who`'s keys."""
    git.Repo.clone_from(published.origin, where)
    give_keys(where, who)
    assert not (where / ".dvc/cache").exists()
    return where


def registry_model_md5(origin: Path, version: str) -> str:
    """The model md5 the registry's version tag records in its message."""
    message = git.Repo(origin).git.tag("-l", "--format=%(contents)", f"{NAME}@{version}")
    found = re.search(r"model md5: ([0-9a-f]{32})", message)
    assert found, message
    return found.group(1)


@pytest.fixture(scope="module")
def published(object_store: ObjectStore, tmp_path_factory) -> Published:
    base = tmp_path_factory.mktemp("s3-project")
    root, origin = base / "repo", base / "origin.git"
    url = f"s3://{object_store.bucket}/{PREFIX}"
    init_repo(root, remote=url)
    set_endpoint(root, object_store.endpoint)
    give_keys(root, object_store.writer)
    set_params(root, {**FAST_PARAMS, **PERMISSIVE_GATE})
    project = Project(root, remote=Path())
    project.commit("test: an s3 remote, faster params")
    git.Repo.init(origin, bare=True, initial_branch="main")
    project.git.create_remote("origin", str(origin))
    project.git.git.push("origin", "main")

    project.add_days(0, DAYS)
    project.commit_data("data: two weeks")
    project.git.git.push("origin", "main")
    project.repro()
    # `dvc push` of every output, then the champion commit and the registry tags to origin:
    # the fresh clones below see only what promotion itself put in the bucket.
    result = datawheel(root, "promote")
    assert result.returncode == 0, result.stdout + result.stderr
    champion = read_json(root / "models/champion.json")
    return Published(project, origin, object_store, url, champion["version"])


def test_keys_stay_out_of_git_and_objects_land_under_the_prefix(published: Published):
    committed = (published.project.root / ".dvc/config").read_text()
    assert published.url in committed and published.store.endpoint in committed
    assert published.store.writer.secret_key not in committed
    tracked = published.project.git.git.ls_files()
    assert ".dvc/config.local" not in tracked.splitlines()
    fs = published.store.filesystem(published.store.reader)
    md5 = read_json(published.project.root / "models/champion.json")["model_md5"]
    assert fs.exists(f"{published.url}/files/md5/{md5[:2]}/{md5[2:]}")


def test_a_fresh_clone_pulls_everything_and_is_in_sync(published: Published, tmp_path: Path):
    clone = fresh_clone(published, tmp_path / "clone", published.store.reader)
    dvc("pull", cwd=clone)
    status = dvc("status", "--cloud", "--json", cwd=clone).stdout
    assert json.loads(status) == {}, status  # every cached output is on the remote, and same
    champion = read_json(clone / "models/champion.json")
    assert file_md5(clone / "models/model.skops") == champion["model_md5"]


def test_read_only_keys_cannot_push(published: Published, tmp_path: Path):
    clone = fresh_clone(published, tmp_path / "clone", published.store.reader)
    (clone / "notes.txt").write_text("a reviewer's file\n")
    dvc("add", "--quiet", "notes.txt", cwd=clone)
    refused = dvc("push", cwd=clone, check=False)
    assert refused.returncode != 0, refused.stdout
    fs = published.store.filesystem(published.store.admin)
    md5 = file_md5(clone / "notes.txt")
    assert not fs.exists(f"{published.url}/files/md5/{md5[:2]}/{md5[2:]}")


def test_artifacts_get_fetches_the_prod_model_without_datawheel(
    published: Published, tmp_path: Path
):
    # A deployment: no clone, no config file, keys from the environment as on AWS.
    out = tmp_path / "deploy" / "model.skops"
    out.parent.mkdir()
    subprocess.run(
        [sys.executable, "-m", "dvc", "artifacts", "get", str(published.origin), NAME]
        + ["--stage", "prod", "-o", str(out)],
        cwd=out.parent,
        env={**command_env(), **published.store.reader.env()},
        check=True,
        capture_output=True,
    )
    assert file_md5(out) == registry_model_md5(published.origin, published.version)


def test_trace_verify_rebuilds_the_model_from_the_s3_remote(published: Published, tmp_path):
    clone = fresh_clone(published, tmp_path / "auditor", published.store.reader)
    result = datawheel(clone, "trace", published.version, "--verify", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)["verification"]
    assert record["verdict"] == "REPRODUCED", record
    assert record["rebuilt_model_md5"] == registry_model_md5(published.origin, published.version)
    assert record["raw_files_checked"] == DAYS


def test_an_object_altered_in_the_bucket_is_caught(published: Published, tmp_path: Path):
    """The store's operator (or an attacker) rewrites one raw batch inside the bucket."""
    clone = fresh_clone(published, tmp_path / "clone", published.store.reader)
    batch, key = raw_batch_key(published, clone)
    admin = published.store.filesystem(published.store.admin)
    original = admin.cat(key)
    admin.pipe(key, original[:-2] + bytes([original[-2] ^ 1]) + original[-1:])
    try:
        verify = datawheel(clone, "trace", published.version, "--verify")
        assert verify.returncode == 6, verify.stdout + verify.stderr
        assert batch in verify.stderr and "remote_integrity" in verify.stderr
        assert "Traceback" not in verify.stderr
        # DVC itself refuses it too, because datawheel's remote is set to `verify`.
        with pytest.raises(CommandFailed) as pulled:
            dvc("pull", "data/raw.dvc", cwd=clone)
        assert "failed to pull" in pulled.value.output, pulled.value.output
        assert not (clone / batch).exists()
    finally:
        admin.pipe(key, original)


def raw_batch_key(published: Published, clone: Path) -> tuple[str, str]:
    """The first raw batch's path in the project and its object's key in the bucket."""
    pointer = (clone / "data/raw.dvc").read_text()
    dir_md5 = re.search(r"md5: ([0-9a-f]{32}\.dir)", pointer).group(1)
    fs = published.store.filesystem(published.store.reader)
    manifest = json.loads(fs.cat(f"{published.url}/files/md5/{dir_md5[:2]}/{dir_md5[2:]}"))
    entry = sorted(manifest, key=lambda e: e["relpath"])[0]
    md5 = entry["md5"]
    return f"data/raw/{entry['relpath']}", f"{published.url}/files/md5/{md5[:2]}/{md5[2:]}"
