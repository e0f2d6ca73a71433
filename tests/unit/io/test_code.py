"""The code in the lineage: each stage's deps name the modules it runs, and the code digest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from datawheel.errors import CodeRecordMismatch, ParamsError
from datawheel.io import code as codeid
from datawheel.io.code import (
    CODE_RECORD,
    CodeId,
    check_code_record,
    code_deps,
    code_digest,
    installed_code,
    repository_stage_deps,
    stage_closure,
    template_dvc_yaml,
    update_code_record,
)

ROOT = Path(__file__).resolve().parents[3]


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


# --- dvc.yaml names each stage's import closure ------------------------------------------


def test_every_stage_depends_on_exactly_the_modules_it_runs():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    closures = repository_stage_deps(ROOT)
    assert set(closures) == set(stages)
    for name, closure in closures.items():
        listed = sorted(d for d in stages[name]["deps"] if d.startswith("src/"))
        assert listed == closure, (
            f"dvc.yaml stage {name}: deps under src/ must be its import closure; list exactly "
            + "".join(f"\n      - {path}" for path in closure)
        )
        assert f"stages/{name}.py" in stages[name]["deps"]


def test_the_closure_holds_every_module_python_loads_for_the_stages():
    """A check of the static walk against the interpreter, for the imports at module level."""
    script = (
        "import sys, importlib\n"
        "for name in ('ingest', 'validate', 'curate', 'train', 'evaluate'):\n"
        "    importlib.import_module(f'stages.{name}')\n"
        "print('\\n'.join(m for m in sys.modules if m.split('.')[0] == 'datawheel'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    files = {f"src/{m.replace('.', '/')}" for m in loaded}
    listed = {path.removesuffix(".py").removesuffix("/__init__") for path in _all_listed()}
    assert files <= listed


def _all_listed() -> set[str]:
    return {path for paths in repository_stage_deps(ROOT).values() for path in paths}


def test_a_module_no_stage_runs_is_in_no_closure():
    listed = _all_listed()
    assert "src/datawheel/model/train.py" in listed
    assert "src/datawheel/review/report.py" not in listed
    assert "src/datawheel/cli/app.py" not in listed


def test_closure_follows_lazy_relative_and_from_package_imports(tmp_path):
    _write(
        tmp_path,
        {
            "stage.py": "from pkg import a\n",
            "pkg/__init__.py": "",
            "pkg/a.py": "def f():\n    from pkg.sub.b import g\n    return g()\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/b.py": "from . import c\nfrom ..d import NAME\n",
            "pkg/sub/c.py": "import os\n",
            "pkg/d.py": (
                "from typing import TYPE_CHECKING\nNAME = 1\n"
                "if TYPE_CHECKING:\n    from pkg import typing_only\n"
            ),
            "pkg/typing_only.py": "",
            "pkg/unused.py": "",
        },
    )
    closure = stage_closure(tmp_path / "stage.py", tmp_path / "pkg", package="pkg")
    assert [p.relative_to(tmp_path).as_posix() for p in closure] == [
        "pkg/__init__.py",
        "pkg/a.py",
        "pkg/d.py",
        "pkg/sub/__init__.py",
        "pkg/sub/b.py",
        "pkg/sub/c.py",
    ]


def test_a_name_from_a_lazy_api_table_brings_only_the_module_that_implements_it(tmp_path):
    _write(
        tmp_path,
        {
            "stage.py": "from pkg.api import fit\n",
            "pkg/__init__.py": "",
            "pkg/api.py": "EXPORTS: dict[str, str] = {'fit': 'pkg.model', 'read': 'pkg.io'}\n",
            "pkg/model.py": "import os\n",
            "pkg/io.py": "",
        },
    )
    closure = stage_closure(tmp_path / "stage.py", tmp_path / "pkg", package="pkg")
    assert [p.relative_to(tmp_path).as_posix() for p in closure] == [
        "pkg/__init__.py",
        "pkg/api.py",
        "pkg/model.py",
    ]


def test_code_deps_are_the_python_files_and_the_record():
    text = (ROOT / "dvc.yaml").read_text()
    found = code_deps(text)
    assert "src/datawheel/model/train.py" in found and "stages/train.py" in found
    assert not any(dep.startswith(("${", "reports", "data")) for dep in found)
    assert code_deps(template_dvc_yaml(text)) >= {CODE_RECORD, "stages/train.py"}
    assert code_deps("") == set()


def test_the_template_dvc_yaml_depends_on_the_code_record_not_on_src():
    template = template_dvc_yaml((ROOT / "dvc.yaml").read_text())
    stages = yaml.safe_load(template)["stages"]
    for name, stage in stages.items():
        assert stage["deps"].count(CODE_RECORD) == 1, name
        assert not [d for d in stage["deps"] if d.startswith("src/")], name
    assert "src/" not in "".join(
        line for line in template.splitlines() if not line.lstrip().startswith("#")
    )


# --- the digest of the installed code ------------------------------------------------------


def test_digest_is_deterministic_and_ignores_bytecode_and_the_template(tmp_path):
    _write(tmp_path / "a", {"pkg/__init__.py": "", "pkg/m.py": "X = 1\n"})
    _write(tmp_path / "b", {"pkg/m.py": "X = 1\n", "pkg/__init__.py": ""})  # other order
    _write(tmp_path / "b", {"pkg/__pycache__/m.cpython-311.py": "junk", "pkg/notes.txt": "x"})
    _write(tmp_path / "b", {"pkg/template/stages/train.py": "# what a wheel carries\n"})
    first = code_digest(tmp_path / "a" / "pkg")
    assert first == code_digest(tmp_path / "a" / "pkg")
    assert first == code_digest(tmp_path / "b" / "pkg")
    assert len(first) == 64


def test_digest_changes_when_a_file_changes_or_moves(tmp_path):
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/m.py": "X = 1\n"})
    before = code_digest(tmp_path / "pkg")
    (tmp_path / "pkg/m.py").write_text("X = 2\n")
    edited = code_digest(tmp_path / "pkg")
    (tmp_path / "pkg/m.py").rename(tmp_path / "pkg/n.py")
    moved = code_digest(tmp_path / "pkg")
    assert len({before, edited, moved}) == 3


def test_installed_code_is_this_package():
    from datawheel import __version__

    code = installed_code()
    assert code.version == __version__
    assert code.digest == code_digest(ROOT / "src" / "datawheel")


# --- the project's record and the check -----------------------------------------------------


@pytest.fixture
def init_project(tmp_path) -> Path:
    (tmp_path / "dvc.yaml").write_text(template_dvc_yaml((ROOT / "dvc.yaml").read_text()))
    return tmp_path


def test_update_writes_the_installed_code_and_the_check_passes(init_project):
    before, now = update_code_record(init_project)
    assert before is None and now == installed_code()
    assert json.loads((init_project / CODE_RECORD).read_text()) == now.to_dict()
    check_code_record(init_project)


def test_check_names_the_file_and_the_command_when_the_code_differs(init_project):
    (init_project / ".datawheel").mkdir()
    (init_project / CODE_RECORD).write_text(json.dumps(CodeId("0.0.1", "0" * 64).to_dict()))
    with pytest.raises(CodeRecordMismatch) as raised:
        check_code_record(init_project)
    assert raised.value.exit_code == 2
    assert CODE_RECORD in str(raised.value) and codeid.UPDATE_COMMAND in str(raised.value)
    assert "0.0.1" in str(raised.value)


def test_no_record_no_check(tmp_path):
    check_code_record(tmp_path)


def test_a_broken_record_is_a_params_error(init_project):
    (init_project / ".datawheel").mkdir()
    (init_project / CODE_RECORD).write_text("{}")
    with pytest.raises(ParamsError, match="datawheel code --update"):
        check_code_record(init_project)


def test_update_refuses_where_no_stage_depends_on_the_record(tmp_path):
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    with pytest.raises(ParamsError, match="no stage depends on"):
        update_code_record(tmp_path)
    assert not (tmp_path / CODE_RECORD).exists()


def test_verify_lists_a_code_digest_other_than_the_cards():
    from datawheel.audit.rebuild import environment_differences
    from datawheel.model.card import library_versions

    card = {"libraries": library_versions(), "code": installed_code().to_dict()}
    assert environment_differences(card) == []
    card["code"] = {"version": card["code"]["version"], "digest": "0" * 64}
    assert [d["library"] for d in environment_differences(card)] == ["datawheel code digest"]
