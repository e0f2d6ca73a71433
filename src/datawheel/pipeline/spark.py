"""The Spark engine: one session per process, built from params.yaml `engine.spark`, and the
translations between pandas and Spark (type names, and frames through Arrow).

pyspark is imported only inside these functions: `import datawheel` and the pandas engine
never load it, and the base install does not need it (`pip install "datawheel[spark]"`).
"""

from __future__ import annotations

import atexit
import os
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from datawheel.errors import DatawheelError, ParamsError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from datawheel.config.params import SparkEngine

FIXED_CONF = {
    # Event times are compared as UTC days, as pandas does; Arrow carries them as UTC.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
"""Settings the outputs depend on: engine.spark.conf may repeat them, not change them."""

DEFAULT_CONF = {"spark.ui.showConsoleProgress": "false"}
"""Settings engine.spark.conf may change: no progress bars in a stage's log."""

SPARK_TYPE_NAMES = {
    "str": "StringType",
    "string": "StringType",
    "object": "StringType",
    "category": "StringType",
    "int64": "LongType",
    "Int64": "LongType",
    "int32": "IntegerType",
    "Int32": "IntegerType",
    "float64": "DoubleType",
    "Float64": "DoubleType",
    "float32": "FloatType",
    "bool": "BooleanType",
    "boolean": "BooleanType",
    "Timestamp": "TimestampType",
    "datetime64[us, UTC]": "TimestampType",
    "datetime64[ns, UTC]": "TimestampType",
}
"""The pandas type names the suites use (expect_column_values_to_be_of_type's `type_`), as
Spark names the types ingest's columns have there. The suites keep the pandas names: the
Spark runner translates them, and translates Spark's observed type back (pandas_type_name)."""


PANDAS_TYPE_NAMES = {
    "StringType": "str",
    "LongType": "int64",
    "IntegerType": "int32",
    "DoubleType": "float64",
    "FloatType": "float32",
    "BooleanType": "bool",
    "TimestampType": "Timestamp",
}
"""The name pandas' GX reports as a column's observed type, for each Spark type ingest's
columns can have."""


def spark_type_name(pandas_name: str) -> str:
    """The Spark type of a pandas type name; a name with no entry is passed on unchanged."""
    return SPARK_TYPE_NAMES.get(pandas_name, pandas_name)


def pandas_type_name(spark_name: str, expected: str | Sequence[str]) -> str:
    """The pandas name of a Spark type name: as the suite spelt it where one of `expected`
    maps to it (several pandas names map to StringType), else as pandas names that type."""
    for name in [expected] if isinstance(expected, str) else expected:
        if spark_type_name(name) == spark_name:
            return name
    return PANDAS_TYPE_NAMES.get(spark_name, spark_name)


def session_conf(settings: SparkEngine) -> dict[str, str]:
    """engine.spark.conf as Spark strings, with FIXED_CONF; a conflicting value is an error."""
    conf = {**DEFAULT_CONF, **{key: _conf_text(v) for key, v in settings.conf.items()}}
    for key, value in FIXED_CONF.items():
        if conf.get(key, value) != value:
            raise ParamsError(
                f"params.yaml: engine.spark.conf.{key} must be {value!r} (got {conf[key]!r}): "
                "both engines must give the same bytes; remove it"
            )
        conf[key] = value
    return conf


def _conf_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def spark_session(settings: SparkEngine) -> SparkSession:
    """The process's one Spark session, built on first use from `settings` and stopped at exit.

    A session that already runs (a test's, a notebook's) is reused as it is."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ParamsError(
            "params.yaml: engine.name is spark, but pyspark is not installed; pip install "
            '"datawheel[spark]", or set engine.name: pandas'
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise ParamsError(
            "params.yaml: engine.name is spark, but Java is not found (no JAVA_HOME, no `java` "
            "on PATH); install a JDK 17 or 21, or set engine.name: pandas"
        )
    builder = SparkSession.builder.master(settings.run_master).appName("datawheel")
    for key, value in session_conf(settings).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and PySpark raise many kinds; the message says which
        detail = " ".join(str(exc).split())[:300]
        raise DatawheelError(
            f"engine.spark: no Spark session on master {settings.run_master!r} ({detail}); "
            "check engine.spark.master or DATAWHEEL_SPARK_MASTER, and JAVA_HOME"
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    atexit.register(session.stop)
    return session


def to_spark(session: SparkSession, frame: pd.DataFrame) -> DataFrame:
    """A pandas frame as a Spark DataFrame, through Arrow (same column names and order)."""
    return session.createDataFrame(frame)


def to_pandas(frame: DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """A Spark DataFrame collected through Arrow and cast to `schema` (with its pandas
    metadata, as in the Parquet files ingest writes), so pandas gets the same dtypes
    (nullable Int64, UTC timestamps in microseconds) as from pd.read_parquet."""
    table = frame.toArrow()
    return table.select(schema.names).cast(schema).to_pandas()


def read_parquet(session: SparkSession, paths: Sequence[str]) -> DataFrame:
    """Spark's frame of Parquet files written by ingest (microsecond timestamps)."""
    return session.read.parquet(*paths)
