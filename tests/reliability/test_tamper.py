"""Tampering with what a built project keeps: the DVC cache, the DVC remote, the model file.

The project is made by `datawheel init`, built with `dvc repro`, pushed to its local DVC
remote and committed; each test alters a private copy. What is asserted is that altered
bytes are refused before anything uses them: DVC's own hash checks on cache and remote,
datawheel's md5 check before a model is loaded, skops instead of pickle.
"""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from datawheel.io.files import file_md5
from tests.reliability.conftest import dvc, git, make_project, run

MODEL = "models/model.skops"
MARKER = Path("/nonexistent-datawheel-unpickled")  # unwritable: a load attempt would raise


@pytest.fixture(scope="module")
def template_project(tmp_path_factory) -> Path:
    """Built, pushed and committed: main as CI leaves it."""
    root = make_project(tmp_path_factory.mktemp("tamper"), days=14)
    for command in (("repro",), ("push", "--quiet")):
        result = dvc(root, *command)
        assert result.returncode == 0, result.stdout + result.stderr
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "reproduce")
    return root


def locked_md5(root: Path, path: str) -> str:
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    return next(o["md5"] for s in lock.values() for o in s.get("outs", []) if o["path"] == path)


def object_path(store: Path, md5: str) -> Path:
    return store / "files/md5" / md5[:2] / md5[2:]


def flip_last_byte(path: Path) -> None:
    path.chmod(0o644)  # DVC keeps objects read-only
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))


class Payload:
    """Unpickling this calls print(), which a test can see; pickle would run it."""

    def __reduce__(self):
        return (print, ("UNPICKLED: the payload ran",))


def test_an_altered_cache_object_never_reaches_a_stage_and_repro_rebuilds_it(project: Path):
    """DVC trusts its cache on checkout: the altered bytes land in the workspace (exit 0).
    What stops them is the md5 check before any load (exit 6); DVC's status re-hashes the
    object, drops it, and `dvc repro` rebuilds the same bytes."""
    md5 = locked_md5(project, MODEL)
    flip_last_byte(object_path(project / ".dvc/cache", md5))
    (project / MODEL).unlink()

    checkout = dvc(project, "checkout", MODEL)
    loaded = evaluate(project)

    assert checkout.returncode == 0 and file_md5(project / MODEL) != md5  # DVC's behaviour
    assert loaded.returncode == 6, loaded.stderr
    assert "failed its integrity check" in loaded.stderr and md5 in loaded.stderr
    assert "not in cache" in dvc(project, "status").stdout  # DVC dropped the bad object
    rebuilt = dvc(project, "repro")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "Running stage 'train'" in rebuilt.stdout
    assert file_md5(project / MODEL) == md5  # the same bytes, rebuilt deterministically
    assert file_md5(object_path(project / ".dvc/cache", md5)) == md5


def test_an_altered_remote_object_is_refused_by_dvc_pull(project: Path, tmp_path: Path):
    md5 = locked_md5(project, MODEL)
    remote = project.parent / "dvc-remote"  # the copy's own remote (conftest)
    flip_last_byte(object_path(remote, md5))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(project), str(clone))
    dvc(clone, "remote", "modify", "--local", "storage", "url", str(remote))

    pulled = dvc(clone, "pull")

    assert pulled.returncode != 0
    assert md5 in pulled.stderr and MODEL in pulled.stderr
    assert not (clone / MODEL).exists()
    assert not object_path(clone / ".dvc/cache", md5).exists()
    assert (clone / "data/raw").is_dir()  # the intact objects did arrive


def evaluate(root: Path) -> subprocess.CompletedProcess:
    return run(root, sys.executable, "-m", "stages.evaluate")


def test_a_pickle_disguised_as_the_model_is_refused_unread(project: Path):
    (project / MODEL).write_bytes(pickle.dumps(Payload()))

    result = evaluate(project)

    assert result.returncode == 6, result.stderr
    assert "failed its integrity check" in result.stderr and MODEL in result.stderr
    assert "UNPICKLED" not in result.stdout + result.stderr


def test_a_pickle_with_a_forged_card_md5_is_still_never_unpickled(project: Path):
    """The attacker also rewrites the card's md5: skops refuses a non-archive on its first
    bytes (exit 6), so the pickle is still not loaded."""
    forged = pickle.dumps(Payload())
    (project / MODEL).write_bytes(forged)
    card = project / "models/card.json"
    text = card.read_text().replace(locked_md5(project, MODEL), hashlib.md5(forged).hexdigest())
    card.write_text(text)

    result = evaluate(project)

    assert result.returncode == 6, result.stderr
    assert "not a skops archive" in result.stderr
    assert "UNPICKLED" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
