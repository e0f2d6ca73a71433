"""The code that ran, as part of the lineage: which datawheel modules each stage runs, and
a version and digest of the installed datawheel that a project records and checks.

Two layouts, one idea: DVC re-runs a stage when the code it runs changes.
- This repository lists each stage's import closure (files under `src/datawheel/`) in deps;
  `stage_closure` computes that closure and a unit test keeps dvc.yaml equal to it.
- A project made by `datawheel init` has no src/: each stage depends on the committed code
  record `.datawheel/code.json` ({"version", "digest"} of the installed datawheel), and the
  stage runner refuses to run when the installed code no longer matches it.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from datawheel.config.catalog import CODE_RECORD, DVC_YAML
from datawheel.errors import CodeRecordMismatch, ParamsError
from datawheel.io.files import write_json

UPDATE_COMMAND = "datawheel code --update"
PACKAGE = "datawheel"


@dataclass(frozen=True)
class CodeId:
    """The installed datawheel: its version string and the digest of its .py files."""

    version: str
    digest: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def package_dir() -> Path:
    """The folder of the datawheel package that is running."""
    return Path(__file__).resolve().parents[1]


def code_digest(root: Path) -> str:
    """sha256 over every .py file under root, in sorted order of its relative POSIX path:
    for each, the path, a NUL, the byte length, a NUL and the bytes. Independent of the
    machine, the file times and the bytecode caches (__pycache__ is skipped). The project
    template a wheel carries (template/) is skipped too: a project keeps its own copy, and
    so an editable install and a wheel of the same source give the same digest."""
    digest = hashlib.sha256()
    files = sorted(
        (path.relative_to(root).as_posix(), path)
        for path in root.rglob("*.py")
        if not _skipped(path.relative_to(root).parts)
    )
    for relative, path in files:
        data = path.read_bytes()
        digest.update(f"{relative}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _skipped(parts: tuple[str, ...]) -> bool:
    return "__pycache__" in parts or parts[0] == "template"


def installed_code() -> CodeId:
    """Version and digest of the datawheel code this process runs."""
    from datawheel import __version__

    return CodeId(__version__, code_digest(package_dir()))


def read_code_record(project: Path) -> CodeId | None:
    """The project's recorded code, or None when it keeps no record (this repository)."""
    path = project / CODE_RECORD
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return CodeId(str(data["version"]), str(data["digest"]))
    except (ValueError, KeyError, TypeError):
        raise ParamsError(
            f"{CODE_RECORD}: not a code record {{version, digest}}; run `{UPDATE_COMMAND}`"
        ) from None


def write_code_record(project: Path) -> CodeId:
    """Record the installed code in the project; the stages that list it re-run."""
    code = installed_code()
    write_json(project / CODE_RECORD, code.to_dict())
    return code


def update_code_record(project: Path) -> tuple[CodeId | None, CodeId]:
    """Record the installed code in a project whose stages depend on the record; returns
    (what was recorded before, what is recorded now)."""
    dvc_yaml = project / DVC_YAML
    if not dvc_yaml.exists():
        raise ParamsError(f"{dvc_yaml}: not found; run in a datawheel project (or pass -C)")
    if CODE_RECORD not in code_deps(dvc_yaml.read_text(encoding="utf-8")):
        raise ParamsError(
            f"{dvc_yaml}: no stage depends on {CODE_RECORD}, so a record would change nothing "
            "(a project made by `datawheel init` lists it in every stage's deps)"
        )
    before = read_code_record(project)
    return before, write_code_record(project)


def check_code_record(project: Path) -> None:
    """Raise CodeRecordMismatch when the project records code other than the installed one."""
    recorded = read_code_record(project)
    if recorded is None:
        return
    installed = installed_code()
    if recorded != installed:
        raise CodeRecordMismatch(
            f"{CODE_RECORD} records datawheel {recorded.version} (digest "
            f"{recorded.digest[:12]}), but datawheel {installed.version} (digest "
            f"{installed.digest[:12]}) is installed: run `{UPDATE_COMMAND}` and commit "
            f"{CODE_RECORD} to run the pipeline with this code (its stages re-run), or "
            "install the recorded version"
        )


# --- which modules a stage runs ----------------------------------------------------------


def stage_closure(stage_file: Path, package_root: Path, package: str = PACKAGE) -> list[Path]:
    """The files of `package` (its source folder is package_root) that stage_file imports,
    directly or through each other, sorted. Static, over the syntax tree: imports inside
    functions count (this code base imports lazily), `if TYPE_CHECKING:` blocks do not, and
    each module brings its packages' __init__.py. A name imported from a module that
    loads its names lazily from an `EXPORTS` table (datawheel.api) brings the module the
    table names for it, not every module of the table. Other names built at run time
    (importlib.import_module with a computed string) are not seen."""
    seen: set[str] = set()
    pending = _imported_modules(stage_file, None, package, package_root)
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        path = _module_file(module, package_root, package)
        if path is None:
            continue
        seen.add(module)
        is_package = path.name == "__init__.py"
        current = module if is_package else _parent(module)
        pending |= _imported_modules(path, current, package, package_root)
        pending |= _parents(module)
    files = {_module_file(module, package_root, package) for module in seen}
    return sorted(path for path in files if path is not None)


def _imported_modules(
    source: Path, current_package: str | None, package: str, package_root: Path
) -> set[str]:
    """Modules of `package` one file imports; current_package resolves relative imports."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, current_package)
            if base is None:
                continue
            found.add(base)
            names = [alias.name for alias in node.names if alias.name != "*"]
            # `from datawheel import train` imports the module datawheel.train
            found |= {f"{base}.{name}" for name in names}
            exports = _exports(base, package_root, package)
            found |= {exports[name] for name in names if name in exports}
    return {name for name in found if name == package or name.startswith(f"{package}.")}


def _exports(module: str, package_root: Path, package: str) -> dict[str, str]:
    """A module's `EXPORTS` table (name -> implementing module), {} when it has none."""
    path = _module_file(module, package_root, package)
    if path is None or path.name == "__init__.py":
        return {}
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "EXPORTS" and value is not None:
            table = ast.literal_eval(value)
            return {str(name): str(where) for name, where in table.items()}
    return {}


def _runtime_nodes(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:` (typing only, never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(node: ast.ImportFrom, current_package: str | None) -> str | None:
    if node.level == 0:
        return node.module
    if current_package is None:
        return None
    parts = current_package.split(".")
    if node.level - 1 > len(parts) - 1:
        return None
    base = ".".join(parts[: len(parts) - (node.level - 1)])
    return f"{base}.{node.module}" if node.module else base


def _parent(module: str) -> str:
    return module.rpartition(".")[0]


def _parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts))}


def _module_file(module: str, package_root: Path, package: str) -> Path | None:
    relative = module.split(".")[1:]
    if module != package and not module.startswith(f"{package}."):
        return None
    folder = package_root.joinpath(*relative)
    if (folder / "__init__.py").exists():
        return folder / "__init__.py"
    if relative and folder.with_suffix(".py").exists():
        return folder.with_suffix(".py")
    return None  # a name imported from a module, not a module


def repository_stage_deps(repo: Path) -> dict[str, list[str]]:
    """For each stages/<name>.py of this repository: the src/datawheel files it runs, as the
    relative POSIX paths dvc.yaml lists under that stage's deps."""
    package_root = repo / "src" / PACKAGE
    return {
        stage.stem: [
            path.relative_to(repo).as_posix() for path in stage_closure(stage, package_root)
        ]
        for stage in sorted((repo / "stages").glob("*.py"))
        if stage.name != "__init__.py"
    }


def code_deps(dvc_yaml: str) -> set[str]:
    """The deps in a dvc.yaml text that are code, not data: .py files and the code record."""
    try:
        stages = (yaml.safe_load(dvc_yaml) or {}).get("stages") or {}
    except (yaml.YAMLError, AttributeError):
        return set()
    found = set()
    for stage in stages.values():
        deps = stage.get("deps") or [] if isinstance(stage, dict) else []
        found |= {d for d in deps if isinstance(d, str) and _is_code(d)}
    return found


def _is_code(dep: str) -> bool:
    return "${" not in dep and (dep.endswith(".py") or dep == CODE_RECORD)


def template_dvc_yaml(text: str) -> str:
    """This repository's dvc.yaml as `datawheel init` writes it: a project has no src/, so
    in each `deps:` list the first `src/` item becomes the code record and the others go.
    Line-based, so comments and layout stay as written."""
    lines, recorded = [], False
    for line in text.splitlines(keepends=True):
        item = line.strip()
        if item == "deps:":
            recorded = False
        elif item.startswith("- src/"):
            if not recorded:
                indent = line[: len(line) - len(line.lstrip())]
                lines.append(f"{indent}- {CODE_RECORD}\n")
                recorded = True
            continue
        lines.append(line)
    return "".join(lines)
