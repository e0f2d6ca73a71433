"""params.yaml (+ dvc.yaml vars) parses into typed objects; mistakes are named by their key."""

from pathlib import Path

import pytest
import yaml

from datawheel.config.params import load_params, merge_dvc_vars, parse_params
from datawheel.errors import ParamsError

ROOT = Path(__file__).resolve().parents[3]
PIPELINE = yaml.safe_load((ROOT / "dvc.yaml").read_text())
RAW = merge_dvc_vars(yaml.safe_load((ROOT / "params.yaml").read_text()), PIPELINE)


def test_shipped_params_parse():
    params = load_params(ROOT / "params.yaml")
    assert params.contract.is_binary
    assert "customer_id" not in params.contract.feature_columns
    assert "churned" not in params.contract.feature_columns
    assert params.validate_.acknowledged_batches == ()
    assert params.validate_.min_rows_for_mostly == 100


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("window", "days"), -1, "window.days"),
        (("model", "estimator"), "svm", "model.estimator"),
        (("contract", "target"), "nope", "contract.target 'nope' is not one of"),
        (("label_issues", "action"), "delete", "label_issues.action"),
        (("split", "holdout_dayz"), 3, "split.holdout_dayz"),
        (("validate", "min_rows_for_mostly"), 0, "validate.min_rows_for_mostly"),
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


def test_paths_and_registry_are_dvc_yaml_vars_not_params():
    """DVC's `dvc exp show` lists every key of params.yaml: paths are template variables."""
    shipped = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert "paths" not in shipped and "registry" not in shipped
    params = load_params(ROOT / "params.yaml")
    assert params.paths.reports == "reports" and params.registry.model_name == "churn-model"


def _project(tmp_path: Path, params: dict, pipeline: dict) -> Path:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    return tmp_path / "params.yaml"


def test_paths_are_read_from_the_dvc_yaml_beside_params(tmp_path):
    pipeline = yaml.safe_load(yaml.safe_dump(PIPELINE))
    pipeline["vars"][1]["paths"]["reports"] = "out/reports"
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert load_params(_project(tmp_path, params, pipeline)).paths.reports == "out/reports"


def test_missing_vars_name_the_file_and_key(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    pipeline = {"vars": [PIPELINE["vars"][0]], "stages": {}}
    with pytest.raises(ParamsError, match=r"dvc.yaml: `vars:` has no `paths` mapping"):
        load_params(_project(tmp_path, params, pipeline))
    (tmp_path / "dvc.yaml").unlink()
    with pytest.raises(ParamsError, match=r"dvc.yaml: not found"):
        load_params(tmp_path / "params.yaml")


def test_a_path_in_both_files_is_refused(tmp_path):
    params = {**yaml.safe_load((ROOT / "params.yaml").read_text()), "paths": RAW["paths"]}
    with pytest.raises(ParamsError, match=r"params.yaml: `paths` is also defined in .*dvc.yaml"):
        load_params(_project(tmp_path, params, PIPELINE))


def test_a_commit_from_before_the_move_still_reads():
    """History keeps paths in params.yaml and no vars in dvc.yaml: diff and trace read it."""
    legacy = merge_dvc_vars(RAW, {"stages": {}})
    assert parse_params(legacy).paths.raw == "data/raw"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")


def test_multiclass_contract_needs_no_positive_class():
    data = yaml.safe_load(yaml.safe_dump(RAW))
    data["contract"]["classes"] = ["low", "mid", "high"]
    data["contract"]["positive_class"] = None
    data["contract"]["columns"]["churned"]["type"] = "category"
    assert not parse_params(data).contract.is_binary


# --- estimator settings: scikit-learn's own constraints, named by the params.yaml key -------


def _with(section: str, block: str | None, **settings) -> dict:
    data = yaml.safe_load(yaml.safe_dump(RAW))
    node = data[section] if block is None else data[section].setdefault(block, {})
    node.update(settings)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _with("model", "hist_gradient_boosting", max_iter=-3),
            "params.yaml: model.hist_gradient_boosting.max_iter: "
            "must be an int in the range [1, inf); got -3",
        ),
        (
            _with("model", "logistic_regression", C=0),
            "model.logistic_regression.C: must be a float in the range (0.0, inf]; got 0",
        ),
        (
            _with("label_issues", "logistic_regression", max_iter="many"),
            "label_issues.logistic_regression.max_iter: must be an int",
        ),
        (
            _with("label_issues", "hist_gradient_boosting", learning_rate=-1.0),
            "label_issues.hist_gradient_boosting.learning_rate: must be a float",
        ),
        (_with("label_issues", None, seed=-1), "label_issues.seed: must be an int"),
    ],
)
def test_estimator_settings_are_checked_by_scikit_learn(data, message):
    with pytest.raises(ParamsError) as caught:
        parse_params(data)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_unknown_estimator_setting_is_named_with_a_suggestion():
    data = _with("model", "hist_gradient_boosting", max_itr=200)
    with pytest.raises(ParamsError, match=r"model\.hist_gradient_boosting\.max_itr: not a setting"):
        parse_params(data)
    with pytest.raises(ParamsError, match="did you mean 'max_iter'"):
        parse_params(data)


def test_random_state_belongs_to_the_seed():
    data = _with("label_issues", "logistic_regression", random_state=1)
    with pytest.raises(
        ParamsError, match=r"label_issues\.logistic_regression\.random_state: set by"
    ):
        parse_params(data)


def test_estimator_check_can_be_skipped_by_callers_that_never_fit():
    params = parse_params(
        _with("model", "hist_gradient_boosting", max_iter=-3), check_estimators=False
    )
    assert params.model.hist_gradient_boosting["max_iter"] == -3


def test_shipped_estimator_settings_pass_and_build():
    from datawheel.config.estimators import build_estimator
    from datawheel.config.params import estimator_problems

    params = load_params(ROOT / "params.yaml")
    assert estimator_problems(params) == []
    assert build_estimator(params.model).get_params()["max_iter"] == 200
