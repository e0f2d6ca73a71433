"""Atomic writes, stable JSON, fingerprints, DVC pointers and the model card."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest

from datawheel.config.params import load_params
from datawheel.io.code import installed_code
from datawheel.io.dvc import pointer_md5
from datawheel.io.files import atomic_write, frame_fingerprint, read_json, to_json, write_json
from datawheel.model.card import library_versions, model_card

ROOT = Path(__file__).resolve().parents[3]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})

    def explode(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError):
        atomic_write(target, explode)
    assert read_json(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_written_files_are_ordinary_files(tmp_path):
    write_json(tmp_path / "x.json", {})
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_json_is_stable_and_refuses_nan():
    assert to_json({"b": 1, "a": [2]}) == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'
    with pytest.raises(ValueError):
        to_json({"x": math.nan})


def test_fingerprint_ignores_row_order():
    frame = pd.DataFrame({"row_id": ["b", "a", "c"]})
    assert frame_fingerprint(frame) == frame_fingerprint(frame.iloc[::-1])
    assert frame_fingerprint(frame) != frame_fingerprint(frame.iloc[:2])


def test_pointer_md5(tmp_path):
    pointer = tmp_path / "raw.dvc"
    pointer.write_text("outs:\n- md5: abc.dir\n  size: 3\n  nfiles: 1\n  path: raw\n")
    assert pointer_md5(pointer) == "abc.dir"
    assert pointer_md5(tmp_path / "missing.dvc") is None


def test_model_card_has_fingerprints_and_no_clock(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = load_params(ROOT / "params.yaml")
    curation = {
        "counts": {"holdout_rows": 5},
        "fingerprints": {"train": "t", "holdout": "h"},
        "window": {"start": "2026-01-01", "end": "2026-01-29"},
        "split": {"cutoff": "2026-01-22"},
        "per_batch": [{"batch": "data/raw/2026-01-01.csv", "md5": "m", "rows": 9}],
        "params": params.model_dump(
            mode="json", include={"window", "split", "leakage", "label_issues"}
        ),
    }
    card = model_card(params, "md5x", pd.DataFrame({"row_id": ["a", "b"]}), curation)
    assert card["model"]["md5"] == "md5x" and card["data"]["train_rows"] == 2
    assert card["data"]["train_fingerprint"] == "t" and card["data"]["batches"][0]["md5"] == "m"
    assert card["params"]["contract"]["target"] == "churned"
    assert list(card["params"]) == [
        "contract",
        "window",
        "split",
        "leakage",
        "label_issues",
        "model",
    ]
    assert card["code"] == installed_code().to_dict()  # the datawheel code that trained it
    assert library_versions()["scikit-learn"]
    again = model_card(params, "md5x", pd.DataFrame({"row_id": ["b", "a"]}), curation)
    assert json.dumps(again, sort_keys=True) == json.dumps(card, sort_keys=True)
