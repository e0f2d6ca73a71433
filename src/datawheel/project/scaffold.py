"""A datawheel project on disk: the template, git and DVC set up, commands run in it."""

from __future__ import annotations

import json
import re
import shutil
from importlib.resources import files
from pathlib import Path, PurePosixPath

from datawheel.config import catalog
from datawheel.errors import DatawheelError
from datawheel.io.files import write_json, write_text
from datawheel.io.git import git
from datawheel.io.process import dvc

TEMPLATE_ITEMS = (catalog.DVC_YAML, catalog.PARAMS, "stages", "expectations", ".github/workflows")


NO_CHAMPION = {"version": None, "note": "no champion yet: the first passing gate promotes one"}


def template_root() -> Path:
    """The template shipped in the wheel, or the source checkout's root in an editable install."""
    packaged = Path(str(files("datawheel"))) / "template"
    if (packaged / catalog.DVC_YAML).exists():
        return packaged
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / catalog.DVC_YAML).exists() and (checkout / "stages").is_dir():
        return checkout
    raise DatawheelError("datawheel's project template is missing from this installation")


def copy_template(
    target: Path,
    model_name: str | None = None,
    description: str | None = None,
    task: str = "classification",
    engine: str = "pandas",
) -> None:
    """Copy dvc.yaml, params.yaml, stages/, expectations/ and the GitHub workflows into
    target, plus a champion pointer that names no champion yet and the record of the
    installed datawheel code (.datawheel/code.json), which every stage depends on.

    dvc.yaml's artifact is named model_name (None keeps the template's, the built-in
    stream's `churn-model`) and described by description (None: from the contract). For
    task `regression`, params.yaml gets the regression contract and gate defaults and
    dvc.yaml the regression plots (TASK_TEMPLATE). For engine `spark`, params.yaml's
    `engine.name` is spark and requirements.txt installs datawheel's spark extra."""
    from datawheel.config.params import load_params
    from datawheel.io.code import template_dvc_yaml, write_code_record
    from datawheel.registry.tags import check_model_name

    if model_name is not None:
        check_model_name(model_name)
    if task not in TASK_NOUNS:
        raise DatawheelError(f"unknown task {task!r}: choose {' or '.join(TASK_NOUNS)}")
    if engine not in ENGINES:
        raise DatawheelError(f"unknown engine {engine!r}: choose {' or '.join(ENGINES)}")
    source = template_root()
    target.mkdir(parents=True, exist_ok=True)
    for item in TEMPLATE_ITEMS:
        src = source / item
        (target / item).parent.mkdir(parents=True, exist_ok=True)
        if item == catalog.DVC_YAML:
            continue  # written last, named from the params written for the task
        if src.is_dir():
            shutil.copytree(src, target / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, target / item)
    if task != "classification":
        edit_yaml(target / catalog.PARAMS, TASK_TEMPLATE[task]["params"])
    if engine != "pandas":
        edit_yaml(target / catalog.PARAMS, {("engine", "name"): engine})
    # the project has no src/: its stages depend on the code record
    text = template_dvc_yaml((source / catalog.DVC_YAML).read_text(encoding="utf-8"))
    text = task_plots(text, task)
    write_text(target / catalog.DVC_YAML, name_artifact(text, task, model_name, description))
    params = load_params(target / catalog.PARAMS, check_estimators=False)  # the template is valid
    ignore_cached_outputs(target)
    write_code_record(target)
    write_text(target / REQUIREMENTS, requirements_text(engine))
    ignore = target / ".gitignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    wanted = [line for line in ("/dvc_plots/", "__pycache__/", "*.pyc") if line not in lines]
    if wanted:
        ignore.write_text("\n".join([*lines, *wanted]) + "\n")
    champion = target / params.paths.champion
    if not champion.exists():
        write_json(champion, NO_CHAMPION)


TASK_NOUNS = {"classification": "classifier", "regression": "regressor"}


_REGRESSION_PLOTS = """\
    plots:
      # A regression hold-out: predictions against the truth, and residuals against the
      # predictions (`datawheel init --task regression`; a classification project declares
      # the ROC, precision-recall, calibration and confusion plots here).
      - ${paths.plots}/predicted_vs_actual.csv:
          cache: false
          template: scatter
          x: actual
          y: predicted
          title: Predicted vs actual (hold-out)
      - ${paths.plots}/residuals.csv:
          cache: false
          template: scatter
          x: predicted
          y: residual
          title: Residuals (hold-out)
"""


TASK_TEMPLATE: dict[str, dict] = {
    "regression": {
        "params": {
            ("contract", "task"): "regression",
            ("contract", "classes"): None,
            ("contract", "positive_class"): None,
            ("gate", "primary_metric"): "rmse",
            ("gate", "guardrails"): {},
            ("gate", "scoring_rule"): None,
            ("gate", "absolute_floor"): None,
        },
        "plots": _REGRESSION_PLOTS,
    },
}


"""What `datawheel init --task T` changes in the (classification) template."""


def task_plots(dvc_yaml: str, task: str) -> str:
    """dvc.yaml's text with the evaluate stage's `plots:` block declaring `task`'s plots:
    a stage that declares a file it does not write fails, so the set follows the task."""
    if task == "classification":
        return dvc_yaml
    lines = dvc_yaml.splitlines(keepends=True)
    start = next(
        i
        for i, line in enumerate(lines)
        if line.rstrip() == "    plots:"
        and any(lines[j].startswith("  evaluate:") for j in range(i))
    )
    end = start + 1
    while end < len(lines) and (lines[end].startswith("      ") or not lines[end].strip()):
        end += 1
    return "".join([*lines[:start], TASK_TEMPLATE[task]["plots"], *lines[end:]])


def cached_outputs(dvc_yaml: str) -> list[str]:
    """The paths of dvc.yaml's cached stage outputs, `${...}` filled in from its `vars:`."""
    import yaml

    data = yaml.safe_load(dvc_yaml) or {}
    variables: dict = {}
    for entry in data.get("vars") or []:
        if isinstance(entry, dict):
            variables.update(entry)

    def resolve(match: re.Match) -> str:
        value: object = variables
        for key in match[1].split("."):
            value = value[key]  # type: ignore[index]
        return str(value)

    found = []
    for stage in (data.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            name, options = next(iter(out.items())) if isinstance(out, dict) else (out, {})
            if (options or {}).get("cache", True):
                found.append(re.sub(r"\$\{([\w.]+)\}", resolve, str(name)))
    return sorted(found)


def ignore_cached_outputs(project: Path) -> list[Path]:
    """Write the `.gitignore` entries DVC writes for each cached output once its stage has
    run, before any stage runs: a stopped first `dvc repro` (a failed batch) otherwise leaves
    data/quarantine/rows untracked, `git add -A` hands it to git, and DVC then refuses it."""
    written = []
    for output in cached_outputs((project / catalog.DVC_YAML).read_text(encoding="utf-8")):
        path = PurePosixPath(output)
        ignore = project / path.parent / ".gitignore"
        lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
        entry = f"/{path.name}"
        if entry not in lines:
            write_text(ignore, "\n".join([*lines, entry]) + "\n")
            written.append(ignore)
    return written


def edit_yaml(path: Path, changes: dict[tuple[str, ...], object]) -> None:
    """Set keys of a YAML file in place, one key path at a time, keeping its comments."""
    from ruamel.yaml import YAML

    editor = YAML()
    editor.width = 100
    data = editor.load(path)
    for keys, value in changes.items():
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    editor.dump(data, path)


_ARTIFACT_KEYS = {"model_name": "vars", "desc": "artifacts", "labels": "artifacts"}


"""The dvc.yaml keys name_artifact sets, and the top-level section each lives in."""


def default_model_name(folder: Path) -> str:
    """A registry name from a project folder's name: lower case, other characters as `-`."""
    slug = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-")
    return slug or "model"


def name_artifact(
    dvc_yaml: str,
    task: str = "classification",
    model_name: str | None = None,
    description: str | None = None,
) -> str:
    """dvc.yaml's text with `registry.model_name` set (None: kept) and the artifact's `desc`
    and `labels` for the task: the target is DVC's own `${contract.target}` from
    params.yaml, so they stay true when the contract changes. Line-based, comments kept."""
    noun = TASK_NOUNS.get(task, f"{task} model")
    target = "${contract.target}"
    wanted = {
        "desc": json.dumps(description if description is not None else f"{target} {noun}"),
        "labels": f"[tabular, {task}, {json.dumps(target)}]",
    }
    if model_name is not None:
        wanted["model_name"] = model_name
    lines, section, done = [], "", set()
    for line in dvc_yaml.splitlines(keepends=True):
        if line[:1] not in (" ", "#", "\n"):
            section = line.split(":")[0].strip()
        match = re.match(r"^(\s+)(model_name|desc|labels):(\s*)(.*?)(\s+#.*)?$", line)
        key = match[2] if match else ""
        if match and key in wanted and section == _ARTIFACT_KEYS[key] and key not in done:
            line = f"{match[1]}{key}: {wanted[key]}{match[5] or ''}\n"
            done.add(key)
        lines.append(line)
    missing = sorted(set(wanted) - done)
    if missing:
        raise DatawheelError(f"the template dvc.yaml has no {', '.join(missing)} to set")
    return "".join(lines)


REQUIREMENTS = "requirements.txt"


"""What the shipped workflows install (`pip install -r requirements.txt`)."""


ENGINES = {"pandas": "datawheel", "spark": "datawheel[spark]"}


"""params.yaml `engine.name` values, and what a project on each installs."""


def requirements_text(engine: str = "pandas") -> str:
    """A project's requirements.txt: the datawheel release that made it, pinned, so CI
    installs the code .datawheel/code.json records (the stages refuse any other), with the
    spark extra for a Spark project (pyspark in Great Expectations' range)."""
    from importlib.metadata import version

    return (
        "# What the GitHub workflows install. datawheel is pinned to the release that made\n"
        "# this project (its stages check .datawheel/code.json against the installed code):\n"
        "# change both together with `pip install datawheel==X && datawheel code --update`.\n"
        f"{ENGINES[engine]}=={version('datawheel')}\n"
    )


def init_repo(
    repo: Path,
    remote: Path | str | None = None,
    model_name: str | None = None,
    description: str | None = None,
    task: str = "classification",
    engine: str = "pandas",
) -> None:
    """git init + dvc init in repo with the template, and optionally a default DVC remote:
    a folder, or an object-store URL such as `s3://bucket/prefix` kept exactly as given,
    whose downloads DVC checks against their md5. model_name and description name and
    describe the registry's artifact, task and engine set the template's (copy_template)."""
    copy_template(repo, model_name, description, task, engine)
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    if not _has_identity(repo):
        git("config", "user.name", "datawheel", cwd=repo)
        git("config", "user.email", "datawheel@localhost", cwd=repo)
    dvc("init", "--quiet", cwd=repo)
    install_plot_templates(repo)
    # Where batches go (`cp ... data/raw/`, then `datawheel add data/raw`). Empty, so git
    # does not keep it: a placeholder file in it would be ingested as a batch.
    (repo / "data" / "raw").mkdir(parents=True, exist_ok=True)
    if remote is not None:
        dvc("remote", "add", "--default", "storage", remote_url(remote), cwd=repo)
        # DVC trusts what a remote serves unless told to check it: without `verify`, an
        # object altered in the bucket is pulled, checked out and reported as up to date.
        dvc("remote", "modify", "storage", "verify", "true", cwd=repo)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "datawheel: project template", cwd=repo)


PLOT_TEMPLATES = "plot_templates"


"""datawheel's own Vega-Lite templates for `dvc plots`, installed into a project's .dvc/plots."""


def install_plot_templates(repo: Path) -> list[Path]:
    """Copy datawheel's plot templates into repo/.dvc/plots, where dvc.yaml's `template:`
    names find them (`one_vs_rest`: one line per class of a multiclass curve)."""
    source = Path(str(files("datawheel"))) / PLOT_TEMPLATES
    written = []
    for template in sorted(source.glob("*.json")):
        target = repo / ".dvc" / "plots" / template.name
        write_text(target, template.read_text(encoding="utf-8"))
        written.append(target)
    return written


def remote_url(remote: Path | str) -> str:
    """What `dvc remote add` should record: a URL with a scheme as it is (a Path would fold
    `s3://b/p` into `s3:/b/p`), a folder created and made absolute."""
    text = str(remote)
    if "://" in text:
        return text
    folder = Path(text)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder.resolve())


def _has_identity(repo: Path) -> bool:
    """Whether git's configuration (system, global or the repository's) names a committer."""
    return all(git("config", key, cwd=repo, check=False) for key in ("user.name", "user.email"))
