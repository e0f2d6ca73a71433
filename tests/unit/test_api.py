"""datawheel.api: what stage scripts import, stable across internal moves."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import datawheel.api as api

ROOT = Path(__file__).resolve().parents[2]


def test_every_exported_name_is_implemented_where_the_table_says():
    for name, module in api.EXPORTS.items():
        value = getattr(importlib.import_module(module), name)
        assert getattr(api, name) is value, name
    assert sorted(dir(api)) == sorted(api.EXPORTS)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no_such_name"):
        api.no_such_name  # noqa: B018


def test_the_stage_scripts_import_datawheel_only_through_the_api():
    """A project made by `datawheel init` copies stages/: what they import must not move."""
    for stage in sorted((ROOT / "stages").glob("*.py")):
        tree = ast.parse(stage.read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("datawheel")
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
            if alias.name.startswith("datawheel")
        }
        assert imported <= {"datawheel.api"}, f"{stage.name} imports {sorted(imported)}"
