"""params.yaml parses into typed objects; mistakes are named by their key."""

from pathlib import Path

import pytest
import yaml

from datawheel.errors import ParamsError
from datawheel.params import load_params, parse_params

ROOT = Path(__file__).resolve().parents[2]
RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_shipped_params_parse():
    params = load_params(ROOT / "params.yaml")
    assert params.contract.is_binary
    assert "customer_id" not in params.contract.feature_columns
    assert "churned" not in params.contract.feature_columns
    assert params.validate_.acknowledged_batches == ()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("window", "days"), -1, "window.days"),
        (("model", "estimator"), "svm", "model.estimator"),
        (("contract", "target"), "nope", "contract.target 'nope' is not one of"),
        (("label_issues", "action"), "delete", "label_issues.action"),
        (("split", "holdout_dayz"), 3, "split.holdout_dayz"),
    ],
)
def test_wrong_values_name_the_key(path, value, message):
    data = yaml.safe_load(yaml.safe_dump(RAW))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ParamsError, match=message):
        parse_params(data)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")


def test_multiclass_contract_needs_no_positive_class():
    data = yaml.safe_load(yaml.safe_dump(RAW))
    data["contract"]["classes"] = ["low", "mid", "high"]
    data["contract"]["positive_class"] = None
    data["contract"]["columns"]["churned"]["type"] = "category"
    assert not parse_params(data).contract.is_binary
