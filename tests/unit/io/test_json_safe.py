"""io.files.json_safe: the one conversion to plain JSON values."""

import datetime as dt
import math

import numpy as np
import pandas as pd

from datawheel.io.files import json_safe, to_json


def test_numpy_values_become_python_values():
    data = {"n": np.int64(3), "x": np.float32(0.5), "flag": np.bool_(True), "a": np.arange(3)}
    assert json_safe(data) == {"n": 3, "x": 0.5, "flag": True, "a": [0, 1, 2]}
    assert type(json_safe(np.int64(3))) is int


def test_missing_values_become_null():
    values = [math.nan, math.inf, -math.inf, np.float64("nan"), None, pd.NA, pd.NaT]
    assert json_safe(values) == [None] * len(values)


def test_times_become_iso_text_and_other_objects_text():
    when = dt.datetime(2026, 1, 5, 12, 30, tzinfo=dt.UTC)
    assert json_safe(pd.Timestamp(when)) == "2026-01-05T12:30:00+00:00"
    assert json_safe(dt.date(2026, 1, 5)) == "2026-01-05"
    assert json_safe({1: dt.timedelta(seconds=1)}) == {"1": "0:00:01"}


def test_containers_keep_their_order_and_sets_are_sorted():
    assert json_safe({"b": (1, 2), "a": {3, 1, 2}}) == {"b": [1, 2], "a": [1, 2, 3]}
    assert to_json(json_safe({"x": [math.nan]})) == '{\n  "x": [\n    null\n  ]\n}\n'
