"""fetch_by_md5: a tracked file's bytes by hash alone, from the cache or the remote, verified."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from datawheel.errors import IntegrityError, MissingObjectError
from datawheel.io.dvc import cached_object, fetch_by_md5

DATA = b"the champion's bytes"
MD5 = hashlib.md5(DATA).hexdigest()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A DVC project without git and a default local remote, both empty."""
    from dvc.repo import Repo

    root = tmp_path / "project"
    root.mkdir()
    with Repo.init(str(root), no_scm=True) as repo, repo.config.edit() as config:
        config["remote"]["storage"] = {"url": str(tmp_path / "remote")}
        config["core"]["remote"] = "storage"
    return root


def _put(root: Path, where: str, data: bytes = DATA) -> None:
    """Store bytes under MD5 in the local cache or the remote, through DVC's object stores."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        odb = repo.cache.local if where == "cache" else repo.cloud.get_remote_odb()
        odb.add_bytes(MD5, data)


def test_reads_the_local_cache_first(root: Path):
    _put(root, "cache")
    _put(root, "remote", b"something else")
    assert fetch_by_md5(MD5, "models/model.skops", root) == DATA


def test_what_the_cache_lacks_comes_from_the_remote_by_hash(root: Path):
    _put(root, "remote")
    assert fetch_by_md5(MD5, "models/model.skops", root) == DATA
    assert cached_object(MD5, root) is None  # read into memory, the cache untouched


def test_an_altered_cache_object_is_refused(root: Path):
    _put(root, "cache", b"tampered")
    with pytest.raises(IntegrityError, match="cache_integrity") as refused:
        fetch_by_md5(MD5, "models/model.skops", root)
    assert "models/model.skops" in str(refused.value) and MD5 in str(refused.value)
    assert "corrupted" in str(refused.value)
    assert refused.value.exit_code == 6


def test_an_altered_remote_object_is_refused(root: Path):
    _put(root, "remote", b"tampered")
    with pytest.raises(IntegrityError, match="remote_integrity") as refused:
        fetch_by_md5(MD5, "models/model.skops", root)
    assert "models/model.skops" in str(refused.value) and MD5 in str(refused.value)


def test_an_object_on_neither_side_names_the_md5_and_what_to_do(root: Path):
    with pytest.raises(MissingObjectError) as missing:
        fetch_by_md5(MD5, "models/model.skops", root)
    message = str(missing.value)
    assert MD5 in message and "models/model.skops" in message
    assert "`dvc pull`" in message and "`dvc push`" in message and "'storage'" in message


def test_without_a_remote_the_error_says_so(tmp_path: Path):
    from dvc.repo import Repo

    Repo.init(str(tmp_path), no_scm=True).close()
    with pytest.raises(MissingObjectError, match="no default DVC remote"):
        fetch_by_md5(MD5, "models/model.skops", tmp_path)
