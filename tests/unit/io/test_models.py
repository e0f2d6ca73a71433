"""Tests for datawheel.io.models: deterministic skops files and safe loading."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from datawheel.io.models import (
    DEFAULT_TRUSTED,
    ModelIntegrityError,
    UntrustedModelError,
    canonical_skops_bytes,
    file_md5,
    load_model,
    save_model,
)

TREE_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
CASES = [
    ("logreg", "binary"),
    ("hgb", "binary"),
    ("logreg", "multiclass"),
    ("hgb", "multiclass"),
]
SET_OBJECT_SOURCE = '{"tags": {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"}}'


def make_frame(n: int = 120) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(10.0, 3.0, size=n),
            "count": rng.integers(0, 50, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n).astype(object),
            "size": pd.Categorical(rng.choice(["S", "M", "L"], size=n)),
        }
    )
    frame.loc[::7, "amount"] = np.nan
    frame.loc[::11, "colour"] = None
    score = frame["count"].to_numpy() + 5 * (frame["size"] == "L").to_numpy()
    score = score + rng.normal(0.0, 5.0, size=n)
    binary = pd.Series((score > np.median(score)).astype(int), name="target")
    multiclass = pd.Series(np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])), name="target")
    return frame, binary, multiclass


def build_pipeline(kind: str) -> Pipeline:
    numeric = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    preprocess = ColumnTransformer(
        [("num", numeric, ["amount", "count"]), ("cat", categorical, ["colour", "size"])]
    )
    if kind == "logreg":
        estimator = LogisticRegression(max_iter=1000, random_state=0)
    else:
        estimator = HistGradientBoostingClassifier(random_state=0)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def fit_model(kind: str, target: str) -> Pipeline:
    # One thread: fast on small data, and HistGradientBoosting records the
    # thread count it was fitted with (``_bin_mapper.n_threads``), so this and
    # the subprocess (OMP_NUM_THREADS=1) must agree for byte-identical files.
    frame, binary, multiclass = make_frame()
    with threadpool_limits(limits=1):
        return build_pipeline(kind).fit(frame, binary if target == "binary" else multiclass)


def save_all(folder: Path) -> None:
    """Fit every case and save it into ``folder``; also run in a subprocess."""
    for kind, target in CASES:
        save_model(fit_model(kind, target), folder / f"{kind}-{target}.skops")
    save_model(eval(SET_OBJECT_SOURCE), folder / "set.skops")


@pytest.fixture(autouse=True)
def _one_thread():
    # OpenMP oversubscription makes HistGradientBoosting very slow on busy machines.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def models() -> dict[tuple[str, str], Pipeline]:
    return {case: fit_model(*case) for case in CASES}


@pytest.fixture(scope="module")
def saved(models, tmp_path_factory) -> dict[tuple[str, str], tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("models")
    return {
        case: (path := folder / f"{case[0]}-{case[1]}.skops", save_model(model, path))
        for case, model in models.items()
    }


def run_python(code: str, hash_seeds: tuple[str, ...]) -> None:
    """Run ``code`` in fresh interpreters, one per hash seed (also ``sys.argv[1]``)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, seed],
            env=dict(os.environ, PYTHONHASHSEED=seed, OMP_NUM_THREADS="1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in hash_seeds
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr


def schema_of(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("schema.json"))


def nodes(obj):
    if isinstance(obj, dict):
        if isinstance(obj.get("__loader__"), str):
            yield obj
        for value in obj.values():
            yield from nodes(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from nodes(value)


# --- determinism -------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_saving_same_model_twice_gives_identical_bytes(case, models, tmp_path):
    first, second = tmp_path / "a.skops", tmp_path / "b.skops"
    md5_first = save_model(models[case], first)
    md5_second = save_model(models[case], second)
    assert first.read_bytes() == second.read_bytes()
    assert md5_first == md5_second


def test_raw_skops_dumps_differ_but_canonical_bytes_agree(models):
    model = models[("logreg", "binary")]
    first, second = sio.dumps(model), sio.dumps(model)
    assert canonical_skops_bytes(first) == canonical_skops_bytes(second)


@pytest.mark.parametrize("kind", ["logreg", "hgb"])
def test_two_separate_fits_give_identical_bytes(kind, tmp_path):
    first, second = tmp_path / "a.skops", tmp_path / "b.skops"
    save_model(fit_model(kind, "binary"), first)
    save_model(fit_model(kind, "binary"), second)
    assert first.read_bytes() == second.read_bytes()


def test_saving_in_another_process_gives_same_md5(saved, tmp_path):
    tests_dir = str(Path(__file__).resolve().parent)
    code = (
        "import sys; from pathlib import Path; "
        f"sys.path.insert(0, {tests_dir!r}); "
        "import test_models; "
        f"test_models.save_all(Path({str(tmp_path)!r}))"
    )
    run_python(code, hash_seeds=("12345",))
    for (kind, target), (path, md5) in saved.items():
        other = tmp_path / f"{kind}-{target}.skops"
        assert file_md5(other) == md5, (kind, target)
        assert other.read_bytes() == path.read_bytes()
    here = tmp_path / "set-here.skops"
    save_model(eval(SET_OBJECT_SOURCE), here)
    assert here.read_bytes() == (tmp_path / "set.skops").read_bytes()


def test_set_order_does_not_depend_on_hash_seed(tmp_path):
    run_python(
        "import sys; from pathlib import Path; from datawheel.io.models import save_model; "
        f"save_model({SET_OBJECT_SOURCE}, Path({str(tmp_path)!r}) / f'set-{{sys.argv[1]}}.skops')",
        hash_seeds=("1", "2"),
    )
    contents = {(tmp_path / f"set-{seed}.skops").read_bytes() for seed in ("1", "2")}
    assert len(contents) == 1
    loaded = load_model(tmp_path / "set-1.skops", None)
    assert loaded == eval(SET_OBJECT_SOURCE)


def test_canonicalisation_is_idempotent(saved):
    for path, _ in saved.values():
        data = path.read_bytes()
        assert canonical_skops_bytes(data) == data


# --- archive layout ------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_archive_is_canonical(case, saved):
    path, _ = saved[case]
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        schema_bytes = zf.read("schema.json")
    names = [info.filename for info in infos]
    assert names == sorted(names)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.compress_type == zipfile.ZIP_STORED
        assert info.external_attr == 0o100644 << 16
        assert info.extra == b""
    schema = json.loads(schema_bytes)
    assert json.dumps(schema, indent=2, separators=(",", ": ")).encode() == schema_bytes
    ids = [node["__id__"] for node in nodes(schema) if "__id__" in node]
    assert set(ids) == set(range(1, max(ids) + 1))
    files = {node["file"]: node["__id__"] for node in nodes(schema) if "file" in node}
    assert set(files) == set(names) - {"schema.json"}
    for name, node_id in files.items():
        assert name == f"{node_id}.npy"


def test_archive_is_pickle_free(saved):
    for path, _ in saved.values():
        assert zipfile.is_zipfile(path)
        with zipfile.ZipFile(path) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        assert "schema.json" in members
        for name, content in members.items():
            assert not content.startswith(b"\x80"), name  # pickle PROTO opcode
            if name == "schema.json":
                continue
            assert name.endswith(".npy"), name
            array = np.load(io.BytesIO(content), allow_pickle=False)
            assert array.dtype != object


def test_shared_objects_stay_shared(tmp_path):
    array = np.arange(5.0)
    path = tmp_path / "shared.skops"
    md5 = save_model({"a": array, "b": array, "c": np.arange(5.0)}, path)
    loaded = load_model(path, md5)
    assert loaded["a"] is loaded["b"]
    assert loaded["a"] is not loaded["c"]
    assert np.array_equal(loaded["a"], array)


def test_sparse_members_are_canonical(tmp_path):
    matrix = sp.csr_matrix(np.eye(4))
    first, second = tmp_path / "a.skops", tmp_path / "b.skops"
    md5 = save_model({"m": matrix}, first)
    save_model({"m": sp.csr_matrix(np.eye(4))}, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        npz_names = [name for name in zf.namelist() if name.endswith(".npz")]
        assert len(npz_names) == 1
        inner = zipfile.ZipFile(io.BytesIO(zf.read(npz_names[0])))
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in inner.infolist())
    trusted = sio.get_untrusted_types(file=first)
    loaded = load_model(first, md5, trusted=trusted)
    assert (loaded["m"] != matrix).nnz == 0


# --- writing ---------------------------------------------------------------------


def test_save_is_atomic_and_returns_file_md5(models, tmp_path):
    path = tmp_path / "nested" / "dir" / "model.skops"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"old content")
    md5 = save_model(models[("logreg", "binary")], path)
    assert md5 == file_md5(path) == hashlib.md5(path.read_bytes()).hexdigest()
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.skops"]


def test_save_creates_missing_parent(models, tmp_path):
    path = tmp_path / "missing" / "model.skops"
    md5 = save_model(models[("logreg", "binary")], path)
    assert file_md5(path) == md5


def test_file_md5_streams_large_files(tmp_path):
    data = np.random.default_rng(1).bytes(5 * (1 << 20) // 2)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_md5(path) == hashlib.md5(data).hexdigest()


# --- loading ---------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_round_trip_predict_proba_is_exact(case, models, saved):
    path, md5 = saved[case]
    loaded = load_model(path, md5)
    frame, _, _ = make_frame()
    assert type(loaded) is Pipeline
    assert np.array_equal(loaded.predict_proba(frame), models[case].predict_proba(frame))
    assert np.array_equal(loaded.predict(frame), models[case].predict(frame))


def test_load_without_expected_md5(saved):
    path, _ = saved[("hgb", "binary")]
    assert isinstance(load_model(path, None), Pipeline)


def test_expected_md5_is_case_insensitive(saved):
    path, md5 = saved[("logreg", "binary")]
    assert isinstance(load_model(path, md5.upper()), Pipeline)


def test_tampered_byte_raises_integrity_error(saved, tmp_path):
    source, md5 = saved[("logreg", "binary")]
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0x01
    path = tmp_path / "tampered.skops"
    path.write_bytes(bytes(data))
    actual = file_md5(path)
    with pytest.raises(ModelIntegrityError) as excinfo:
        load_model(path, md5)
    message = str(excinfo.value)
    assert str(path) in message
    assert md5 in message
    assert actual in message
    assert "dvc" in message
    assert isinstance(excinfo.value, ValueError)


def test_other_models_file_raises_integrity_error(saved, tmp_path):
    _, logreg_md5 = saved[("logreg", "binary")]
    hgb_path, _ = saved[("hgb", "binary")]
    path = tmp_path / "model.skops"
    path.write_bytes(hgb_path.read_bytes())
    with pytest.raises(ModelIntegrityError, match="model.skops"):
        load_model(path, logreg_md5)


def test_untrusted_types_raise(saved):
    path, md5 = saved[("hgb", "binary")]
    with pytest.raises(UntrustedModelError) as excinfo:
        load_model(path, md5, trusted=())
    assert TREE_PREDICTOR in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_default_trusted_is_exactly_what_the_models_need(saved):
    needed = set()
    for path, _ in saved.values():
        needed.update(sio.get_untrusted_types(file=path))
    assert needed == set(DEFAULT_TRUSTED)


def test_partial_trust_names_only_missing_types(saved):
    path, md5 = saved[("hgb", "multiclass")]
    with pytest.raises(UntrustedModelError) as excinfo:
        load_model(path, md5, trusted=("numpy.dtype",))
    assert TREE_PREDICTOR in str(excinfo.value)
    assert "numpy.dtype" not in str(excinfo.value)


def test_untrusted_types_raise_without_expected_md5(saved):
    path, _ = saved[("logreg", "binary")]
    with pytest.raises(UntrustedModelError, match="numpy.dtype"):
        load_model(path, None, trusted=())


def test_non_zip_file_is_refused(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="model.skops"):
        load_model(path, None)
