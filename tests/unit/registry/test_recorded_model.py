"""A registered model loaded by its md5 through the one verified DVC fetch, and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datawheel.errors import IntegrityError, MissingObjectError
from datawheel.io.models import UntrustedModelError, save_model
from datawheel.registry.champion import load_recorded_model

LABEL = "models/model.skops (champion v1.0.0)"


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


def _model_bytes(tmp_path: Path) -> tuple[bytes, str]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    md5 = save_model(model, tmp_path / "model.skops")
    return (tmp_path / "model.skops").read_bytes(), md5


def _put_remote(root: Path, md5: str, data: bytes) -> None:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        repo.cloud.get_remote_odb().add_bytes(md5, data)


def test_a_model_on_the_remote_loads_by_its_md5(root: Path, tmp_path: Path) -> None:
    data, md5 = _model_bytes(tmp_path)
    _put_remote(root, md5, data)
    model = load_recorded_model(md5, LABEL, root)
    assert list(model.predict(np.array([[0.0], [3.0]]))) == [0, 1]


def test_an_altered_model_names_label_md5_and_what_to_run(root: Path, tmp_path: Path) -> None:
    data, md5 = _model_bytes(tmp_path)
    _put_remote(root, md5, data[:-1] + b"x")
    with pytest.raises(IntegrityError, match="remote_integrity") as refused:
        load_recorded_model(md5, LABEL, root)
    message = str(refused.value)
    assert LABEL in message and md5 in message and "`dvc push`" in message


def test_a_missing_model_names_label_md5_and_what_to_run(root: Path) -> None:
    md5 = "0" * 32
    with pytest.raises(MissingObjectError) as missing:
        load_recorded_model(md5, LABEL, root)
    message = str(missing.value)
    assert LABEL in message and md5 in message and "`dvc pull`" in message


def test_bytes_that_are_no_skops_archive_are_refused_unread(root: Path) -> None:
    import hashlib

    data = b"not a zip"
    md5 = hashlib.md5(data).hexdigest()
    _put_remote(root, md5, data)
    with pytest.raises(UntrustedModelError, match="not a skops archive") as refused:
        load_recorded_model(md5, LABEL, root)
    assert LABEL in str(refused.value)
