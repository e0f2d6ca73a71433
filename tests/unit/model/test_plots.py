"""Curve data for DVC plots, the CSVs dvc.yaml reads, and PNGs with reproducible bytes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import auc as area_under

from datawheel.io.process import command_env
from datawheel.model.metrics import classification_metrics, segment_metrics
from datawheel.model.plots import CURVE_POINTS, curve_data, segment_bar_png, write_plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def binary_case(rows: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    score = 1 / (1 + np.exp(-(1.5 * y - 0.75 + rng.normal(0, 1, rows))))
    return y, np.column_stack([1 - score, score])


def multiclass_case(rows: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, rows)
    logits = rng.normal(0, 1, (rows, 3))
    logits[np.arange(rows), y] += 1.0
    return y, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_binary_curves_are_thinned_and_keep_their_shape():
    y, proba = binary_case()
    curves = curve_data(y, proba, [0, 1])
    assert set(curves) == {"roc", "precision_recall", "calibration", "confusion"}
    roc = curves["roc"]
    assert 2 < len(roc) <= CURVE_POINTS
    assert (roc[0]["fpr"], roc[0]["tpr"]) == (0.0, 0.0)
    assert (roc[-1]["fpr"], roc[-1]["tpr"]) == (1.0, 1.0)
    assert roc[0]["threshold"] is None  # sklearn's +inf, which JSON and CSV cannot hold
    thinned_auc = area_under([r["fpr"] for r in roc], [r["tpr"] for r in roc])
    assert thinned_auc == pytest.approx(
        classification_metrics(y, proba, [0, 1])["roc_auc"], abs=0.01
    )
    pr = curves["precision_recall"]
    assert len(pr) <= CURVE_POINTS
    assert set(pr[0]) == {"recall", "precision", "threshold"}
    assert pr[-1]["threshold"] is None and pr[-1]["recall"] == 0.0
    calibration = curves["calibration"]
    assert len(calibration) <= 10
    assert sum(r["count"] for r in calibration) == len(y)
    assert all(0 <= r["fraction_positive"] <= 1 for r in calibration)
    assert len(curves["confusion"]) == len(y)
    assert curves["confusion"][0] == {"actual": int(y[0]), "predicted": int(proba[0].argmax())}


def test_curves_are_deterministic():
    y, proba = binary_case()
    assert curve_data(y, proba, [0, 1]) == curve_data(y, proba, [0, 1])


def test_multiclass_curves_carry_the_class():
    y, proba = multiclass_case()
    curves = curve_data(y, proba, [0, 1, 2])
    assert {r["class"] for r in curves["roc"]} == {0, 1, 2}
    assert {r["class"] for r in curves["calibration"]} == {0, 1, 2}
    assert sum(r["count"] for r in curves["calibration"] if r["class"] == 1) == len(y)
    assert {r["predicted"] for r in curves["confusion"]} <= {0, 1, 2}


def test_one_class_hold_out_gives_empty_curves_not_a_crash(tmp_path):
    proba = np.column_stack([np.full(5, 0.7), np.full(5, 0.3)])
    curves = curve_data([0] * 5, proba, [0, 1])
    assert curves["roc"] == [] and curves["precision_recall"] == []
    assert curves["calibration"][0]["count"] == 5
    write_plots(curves, tmp_path)
    columns, rows = read_csv(tmp_path / "roc.csv")
    assert columns == ["fpr", "tpr", "threshold"] and rows == []


def test_write_plots_writes_the_csvs_dvc_reads_and_pngs(tmp_path):
    y, proba = binary_case(500)
    written = write_plots(curve_data(y, proba, [0, 1]), tmp_path / "plots")
    names = sorted(path.name for path in written)
    assert names == sorted(
        f"{name}.{ext}"
        for name in ("roc", "precision_recall", "calibration", "confusion")
        for ext in ("csv", "png")
    )
    expected_columns = {
        "roc": ["fpr", "tpr", "threshold"],
        "precision_recall": ["recall", "precision", "threshold"],
        "calibration": ["mean_predicted", "fraction_positive", "count"],
        "confusion": ["actual", "predicted"],
    }
    for name, columns in expected_columns.items():
        found, rows = read_csv(tmp_path / "plots" / f"{name}.csv")
        assert found == columns
        assert rows
    _, confusion = read_csv(tmp_path / "plots" / "confusion.csv")
    assert len(confusion) == 500
    for path in written:
        if path.suffix == ".png":
            assert path.read_bytes().startswith(PNG_MAGIC)
    assert not list((tmp_path / "plots").glob(".*.tmp"))  # atomic writes leave no temp files


def test_pngs_can_go_to_their_own_folder(tmp_path):
    y, proba = binary_case(200)
    written = write_plots(curve_data(y, proba, [0, 1]), tmp_path, png_dir=tmp_path / "png")
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "calibration.png",
        "confusion.png",
        "precision_recall.png",
        "roc.png",
    ]
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == [
        "calibration.csv",
        "confusion.csv",
        "precision_recall.csv",
        "roc.csv",
    ]
    assert len(written) == 8


def test_multiclass_csv_has_a_class_column(tmp_path):
    y, proba = multiclass_case()
    write_plots(curve_data(y, proba, [0, 1, 2]), tmp_path)
    columns, rows = read_csv(tmp_path / "roc.csv")
    assert columns == ["class", "fpr", "tpr", "threshold"]
    assert {row["class"] for row in rows} == {"0", "1", "2"}


def test_png_bytes_are_identical_across_writes(tmp_path):
    y, proba = multiclass_case()
    curves = curve_data(y, proba, [0, 1, 2])
    first = write_plots(curves, tmp_path / "a")
    second = write_plots(curves, tmp_path / "b")
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.name
    png = (tmp_path / "a" / "roc.png").read_bytes()
    assert b"matplotlib" not in png.lower()  # no Software/version text chunk


def test_segment_bar_png_is_written_deterministically(tmp_path):
    y, proba = binary_case(800)
    regions = np.array(["east", "west", "north", "south"] * 200)
    candidate = segment_metrics(y, proba, regions, [0, 1])
    champion = segment_metrics(y, proba[:, ::-1], regions, [0, 1])
    champion[0]["roc_auc"] = float("nan")
    one = segment_bar_png(candidate, "roc_auc", tmp_path / "a.png", champion)
    two = segment_bar_png(candidate, "roc_auc", tmp_path / "b.png", champion)
    assert one.read_bytes().startswith(PNG_MAGIC)
    assert one.read_bytes() == two.read_bytes()
    alone = segment_bar_png(candidate, "roc_auc", tmp_path / "alone.png")
    assert alone.read_bytes() != one.read_bytes()


def test_importing_plots_does_not_import_matplotlib():
    code = "import sys, datawheel.model.plots; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def _dvc_plot_series(project: Path) -> dict[str, set]:
    """`dvc plots show --json` on project: for each curve, the lines Vega-Lite draws, i.e.
    the distinct (colour, dash) values of its data once the template's transform ran."""
    shown = subprocess.run(
        [sys.executable, "-m", "dvc", "plots", "show", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        env=command_env(),
        check=True,
    )
    series = {}
    for name in ("roc", "precision_recall", "calibration"):
        (plot,) = json.loads(shown.stdout)["data"][f"reports/plots/{name}.csv"]
        spec = plot["content"]
        (transform,) = spec["transform"]
        assert spec["encoding"]["color"]["field"] == transform["as"]
        assert spec["encoding"]["strokeDash"]["field"] == "rev"
        # The template's own expression: "class <c>" when the datum has a class, else rev.
        assert transform["calculate"].startswith("isValid(datum['class'])")
        series[name] = {
            (f"class {d['class']}" if d.get("class") not in (None, "") else d["rev"], d["rev"])
            for d in spec["data"]["values"]
        }
    return series


@pytest.fixture
def dvc_project(tmp_path: Path) -> Path:
    from datawheel.project.scaffold import init_repo

    init_repo(tmp_path / "proj")
    return tmp_path / "proj"


def test_dvc_plots_show_draws_one_line_per_class_of_a_multiclass_hold_out(dvc_project):
    y, proba = multiclass_case()
    write_plots(curve_data(y, proba, [0, 1, 2]), dvc_project / "reports/plots")
    expected = {("class 0", "workspace"), ("class 1", "workspace"), ("class 2", "workspace")}
    assert _dvc_plot_series(dvc_project) == dict.fromkeys(
        ("roc", "precision_recall", "calibration"), expected
    )


def test_dvc_plots_show_keeps_one_binary_curve(dvc_project):
    y, proba = binary_case(rows=400)
    write_plots(curve_data(y, proba, [0, 1]), dvc_project / "reports/plots")
    assert _dvc_plot_series(dvc_project) == dict.fromkeys(
        ("roc", "precision_recall", "calibration"), {("workspace", "workspace")}
    )
