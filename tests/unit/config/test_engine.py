"""params.yaml `engine`: parsed with clear errors, never a stage param, Spark imported lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from datawheel.config.params import Engine, load_params, merge_dvc_vars, parse_params
from datawheel.errors import ParamsError
from datawheel.pipeline.spark import pandas_type_name, session_conf, spark_session, spark_type_name

ROOT = Path(__file__).resolve().parents[3]


def params_with(engine) -> dict:
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data = merge_dvc_vars(data, yaml.safe_load((ROOT / "dvc.yaml").read_text()))
    data["engine"] = engine
    return data


def test_the_default_engine_is_pandas_and_spark_defaults_to_two_local_cores():
    data = params_with({})
    assert parse_params(data, check_estimators=False).engine == Engine()
    del data["engine"]
    engine = parse_params(data, check_estimators=False).engine
    assert engine.name == "pandas" and engine.spark.master == "local[2]"
    assert load_params(ROOT / "params.yaml", check_estimators=False).engine.name == "pandas"


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        ({"name": "dask"}, "engine.name: Input should be 'pandas' or 'spark'"),
        ({"spark": {"mastr": "local[1]"}}, "engine.spark.mastr: Extra inputs are not permitted"),
        ({"spark": {"master": ""}}, "engine.spark.master: String should have at least 1"),
        ({"spark": {"conf": {"spark.jars": [1]}}}, "engine.spark.conf.spark.jars: a Spark setting"),
    ],
)
def test_a_wrong_engine_setting_is_a_params_error_naming_the_key(engine, message):
    with pytest.raises(ParamsError, match="params.yaml") as caught:
        parse_params(params_with(engine), check_estimators=False)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_the_environment_overrides_the_master(monkeypatch):
    engine = Engine(name="spark", spark={"master": "local[1]"})
    monkeypatch.delenv("DATAWHEEL_SPARK_MASTER", raising=False)
    assert engine.spark.run_master == "local[1]"
    assert engine.label == "spark (master local[1])"
    monkeypatch.setenv("DATAWHEEL_SPARK_MASTER", "spark://head:7077")
    assert engine.label == "spark (master spark://head:7077)"
    assert Engine().label == "pandas"


def test_session_settings_keep_utc_and_arrow_whatever_conf_says():
    conf = session_conf(Engine(spark={"conf": {"spark.ui.enabled": False, "a.b": 2}}).spark)
    assert conf["spark.ui.enabled"] == "false" and conf["a.b"] == "2"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    paris = Engine(spark={"conf": {"spark.sql.session.timeZone": "Europe/Paris"}})
    with pytest.raises(ParamsError, match="spark.sql.session.timeZone must be 'UTC'"):
        session_conf(paris.spark)


def test_type_names_are_translated_both_ways():
    assert [spark_type_name(t) for t in ("str", "int64", "float64", "Timestamp", "bool")] == [
        "StringType",
        "LongType",
        "DoubleType",
        "TimestampType",
        "BooleanType",
    ]
    assert pandas_type_name("StringType", "str") == "str"
    assert pandas_type_name("StringType", ["object"]) == "object"
    assert pandas_type_name("DoubleType", "int64") == "float64"


def test_no_stage_lists_the_engine_so_switching_it_reruns_nothing():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        listed = [p if isinstance(p, str) else next(iter(p)) for p in stage.get("params", [])]
        assert not any(p == "engine" or p.startswith("engine.") for p in listed), name
        assert "params.yaml" not in listed, f"stage {name} lists the whole params file"


def test_datawheel_and_the_pandas_engine_never_import_pyspark():
    code = (
        "import sys, datawheel, datawheel.pipeline.spark, datawheel.pipeline.validate\n"
        "import datawheel.pipeline.curate, datawheel.pipeline.curation\n"
        "import stages.validate, stages.curate\n"
        "assert not [m for m in sys.modules if m.startswith('pyspark')], 'pyspark imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_spark_without_pyspark_is_a_params_error_saying_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ParamsError, match=r'pip install "datawheel\[spark\]"') as caught:
        spark_session(Engine(name="spark").spark)
    assert caught.value.exit_code == 2


def test_spark_without_java_is_a_params_error(monkeypatch):
    sql = pytest.importorskip("pyspark.sql", reason="pyspark is not installed")
    monkeypatch.setattr(sql.SparkSession, "getActiveSession", staticmethod(lambda: None))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr("datawheel.pipeline.spark.shutil.which", lambda name: None)
    with pytest.raises(ParamsError, match="Java is not found"):
        spark_session(Engine(name="spark").spark)
