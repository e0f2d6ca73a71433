"""The audit pieces that need no repository: lock comparison, lock parsing, rendering."""

from __future__ import annotations

from pathlib import Path

import cmarkgfm
import pandas as pd
import pytest

from datawheel.audit.rebuild import compare_locks
from datawheel.audit.trace import lock_stages, validation_summary
from datawheel.render.audit import render_rows_summary, render_uses, table, to_html
from datawheel.render.format import flatten

LOCK = {
    "schema": "2.0",
    "stages": {
        "train": {
            "cmd": "python -m stages.train",
            "deps": [{"path": "data/curated/train.parquet", "md5": "a" * 32, "size": 10}],
            "outs": [{"path": "models/model.skops", "md5": "m" * 32, "size": 5}],
        },
        "ingest": {
            "cmd": "python -m stages.ingest",
            "deps": [{"path": "data/raw", "md5": "r" * 32 + ".dir"}],
            "outs": [{"path": "data/ingested", "md5": "i" * 32 + ".dir"}],
        },
        "custom": {"cmd": "echo", "deps": [], "outs": []},
    },
}


def test_lock_stages_come_in_pipeline_order_then_the_rest():
    stages = lock_stages(LOCK)
    assert [s["stage"] for s in stages] == ["ingest", "train", "custom"]
    assert stages[0]["outs"] == [{"path": "data/ingested", "md5": "i" * 32 + ".dir", "size": None}]


def test_compare_locks_names_the_first_stage_that_differs():
    recorded = lock_stages(LOCK)
    rebuilt = lock_stages(
        {
            "stages": {
                **LOCK["stages"],
                "train": {
                    **LOCK["stages"]["train"],
                    "outs": [{"path": "models/model.skops", "md5": "x" * 32}],
                },
            }
        }
    )
    result = compare_locks(recorded, rebuilt)
    assert [(s.stage, s.same) for s in result] == [
        ("ingest", True),
        ("train", False),
        ("custom", True),
    ]
    assert result[1].outputs == [
        {"path": "models/model.skops", "recorded": "m" * 32, "rebuilt": "x" * 32}
    ]
    assert compare_locks(recorded, [])[0].outputs[0]["rebuilt"] is None


def test_validation_summary_keeps_only_batches_with_findings():
    validation = {
        "passed": False,
        "totals": {"batches": 2},
        "batches": [
            {"batch": "a.csv", "md5": "1", "status": "passed", "outcomes": [{"success": True}]},
            {
                "batch": "b.csv",
                "md5": "2",
                "status": "failed",
                "quarantined_rows": 3,
                "outcomes": [
                    {
                        "success": False,
                        "suite": "ranges",
                        "expectation_type": "expect_column_values_to_be_between",
                        "column": "age",
                        "severity": "critical",
                        "unexpected_count": 3,
                    }
                ],
            },
        ],
    }
    summary = validation_summary(validation)
    assert summary["passed"] is False
    assert [b["batch"] for b in summary["batches_with_findings"]] == ["b.csv"]
    assert summary["batches_with_findings"][0]["failed"][0]["rule"] == (
        "ranges/expect_column_values_to_be_between/age"
    )


def test_markdown_tables_escape_pipes_and_render_as_tables():
    markdown = table(["a", "b"], [["x|y", 1], [None, "two\nlines"]])
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)
    assert html.count("<tr>") == 3
    assert "x|y" in html and "two lines" in html
    assert "<table>" in to_html(markdown, "t")


def test_rows_summary_and_uses():
    rows = pd.DataFrame(
        {
            "set": ["train", "train", "holdout"],
            "batch": ["data/raw/a.csv", "data/raw/a.csv", "data/raw/b.csv"],
            "batch_md5": ["1", "1", "2"],
        }
    )
    text = render_rows_summary(rows)
    assert "2 train and 1 hold-out rows" in text
    assert "| data/raw/a.csv | `1` | 2 | 0 |" in text
    assert "No registered version used entity 7" in render_uses("entity 7", [])
    used = render_uses(
        "batch x",
        [
            {
                "version": "v1.0.0",
                "commit": "c" * 40,
                "train_rows": 5,
                "holdout_rows": 0,
                "ever_in_prod": True,
                "in_prod_now": False,
            }
        ],
    )
    assert "| v1.0.0 | `cccccccccccc` | 5 | 0 | yes | no |" in used


def test_flatten_sorts_dotted_keys():
    assert flatten({"b": {"y": 1, "x": [1, 2]}, "a": 0}) == {"a": 0, "b.x": [1, 2], "b.y": 1}


def test_a_clone_elsewhere_keeps_a_relative_local_remote(tmp_path):
    import subprocess

    from dvc.repo import Repo

    from datawheel.audit.rebuild import _clone
    from datawheel.io.process import dvc

    project, store = tmp_path / "deep" / "project", tmp_path / "deep" / "store"
    project.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    dvc("init", "-q", cwd=project)
    dvc("remote", "add", "-d", "storage", "../store", cwd=project)  # relative to the project
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "dvc"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()

    clone = tmp_path / "clone"
    _clone(project, clone, head)
    with Repo(str(clone)) as repo:
        assert repo.config["remote"]["storage"]["url"] == str(store)


@pytest.mark.parametrize(
    ("id_column", "typed", "stored"),
    [
        ("event_time", "2026-01-05", "2026-01-05T00:00:00+00:00"),
        ("event_time", "2026-01-05T00:00:00Z", "2026-01-05T00:00:00+00:00"),
        ("support_calls", "42", 42),
        ("customer_id", "C-00042", "C-00042"),
    ],
)
def test_an_entity_is_matched_as_the_contract_types_its_id(id_column, typed, stored):
    from datawheel.audit.trace import _typed_entity
    from datawheel.config.params import load_params
    from datawheel.data.contract import parse_column

    contract = load_params(Path(__file__).resolve().parents[3] / "params.yaml").contract
    contract = contract.model_copy(update={"id_column": id_column})
    kind = contract.columns[id_column].type
    column = parse_column(pd.Series([str(stored), "2030-01-01", "7"], dtype="object"), kind)
    matched = (column == _typed_entity(typed, contract)).fillna(False).astype(bool)
    assert matched.tolist() == [True, False, False]


def test_an_entity_that_is_not_of_the_id_type_is_a_usage_error():
    from datawheel.audit.trace import _typed_entity
    from datawheel.config.params import load_params
    from datawheel.errors import ParamsError

    contract = load_params(Path(__file__).resolve().parents[3] / "params.yaml").contract
    contract = contract.model_copy(update={"id_column": "support_calls"})
    with pytest.raises(ParamsError, match=r"'abc' is not a int.*support_calls"):
        _typed_entity("abc", contract)
