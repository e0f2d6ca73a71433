"""One Spark session for the in-process tests of tests/spark/, skipped without pyspark or Java."""

from __future__ import annotations

import os
import shutil

import pytest

from datawheel.config.params import Engine

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

SPARK_TEST_CONF = {
    "spark.ui.enabled": False,
    "spark.sql.shuffle.partitions": 2,
}
"""What tests add to engine.spark.conf: no web UI, few shuffle partitions on 2 cores."""

SPARK_ENGINE = Engine(name="spark", spark={"master": "local[2]", "conf": SPARK_TEST_CONF})

needs_java = pytest.mark.skipif(
    not os.environ.get("JAVA_HOME") and shutil.which("java") is None,
    reason="the Spark engine needs Java 17+ (no JAVA_HOME, no `java` on PATH)",
)


@pytest.fixture(scope="session")
def spark():
    """The process's one session (spark_session reuses it), stopped at the end."""
    pytest.importorskip("pyspark", reason='the Spark engine needs pip install "datawheel[spark]"')
    from datawheel.pipeline.spark import spark_session

    session = spark_session(SPARK_ENGINE.spark)
    yield session
    session.stop()
