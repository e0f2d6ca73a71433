"""Run a GitHub Actions job's steps locally, so the tests execute the workflow YAML itself.

`load_workflow` parses a workflow into jobs and steps; `run_steps` executes one job's
`run:` steps in order with bash, the way GitHub's runner does: the default shell is
`bash -e {0}` (`shell: bash` adds `--noprofile --norc -o pipefail`), `env:` is layered
workflow < job < step over the variables earlier steps wrote to `$GITHUB_ENV`, a step runs
when its `if:` holds (implicitly `success() && ...`), and a failure stops the later steps
except those under `always()`/`failure()` unless the step has `continue-on-error`.
`${{ ... }}` expressions are resolved from a context the caller provides; anything this
small evaluator does not support is refused with a `WorkflowError` rather than guessed.
`uses:` steps are handed to the caller's `emulate_uses(step, context)`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml

from datawheel.errors import DatawheelError
from datawheel.io.process import run as run_command

SHELLS = {
    None: ["bash", "-e"],
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
}
STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|&&|\|\||<=|>=|[!()\[\].,<>])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


class WorkflowError(DatawheelError):
    """A workflow file is malformed or uses something the local runner does not support."""


@dataclass(frozen=True)
class Step:
    """One step of a job, as written in the YAML (expressions unresolved, except in with_)."""

    index: int
    name: str
    id: str | None
    run: str | None
    uses: str | None
    with_: dict[str, Any]
    env: dict[str, Any]
    if_: str | None
    working_directory: str | None
    shell: str | None
    continue_on_error: bool | str


@dataclass(frozen=True)
class Job:
    """A job: its own `if:`, `env:`, default working directory and steps."""

    id: str
    name: str
    if_: str | None
    env: dict[str, Any]
    working_directory: str | None
    steps: list[Step]

    @property
    def commands(self) -> list[str]:
        """The `run:` scripts of the job in order, stripped: what a drift test compares."""
        return [step.run.strip() for step in self.steps if step.run is not None]


@dataclass(frozen=True)
class Workflow:
    """A parsed workflow file."""

    name: str
    path: Path
    on: dict[str, Any]
    env: dict[str, Any]
    working_directory: str | None
    jobs: dict[str, Job]


@dataclass(frozen=True)
class StepResult:
    """What running (or skipping) one step gave: exit code None means it did not run."""

    name: str
    exit_code: int | None
    output: str
    outcome: Literal["success", "failure", "skipped"]
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""


def load_workflow(path: str | Path) -> Workflow:
    """Parse a workflow file into its jobs and steps; raise WorkflowError if malformed."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WorkflowError(f"{path}: cannot read the workflow: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
        raise WorkflowError(f"{path}: not a workflow (no `jobs:` mapping)")
    # YAML 1.1 reads the key `on` as the boolean True
    on = data.get("on", data.get(True)) or {}
    if isinstance(on, str | list):
        on = {event: None for event in ([on] if isinstance(on, str) else on)}
    jobs = {job_id: _job(path, job_id, spec) for job_id, spec in data["jobs"].items()}
    return Workflow(
        name=str(data.get("name") or path.name),
        path=path,
        on=on,
        env=dict(data.get("env") or {}),
        working_directory=_default_directory(data),
        jobs=jobs,
    )


def _default_directory(spec: dict) -> str | None:
    return ((spec.get("defaults") or {}).get("run") or {}).get("working-directory")


def _job(path: Path, job_id: str, spec: Any) -> Job:
    if not isinstance(spec, dict) or not isinstance(spec.get("steps"), list):
        raise WorkflowError(f"{path}: job {job_id!r} has no `steps:` list")
    steps = [_step(path, job_id, index, item) for index, item in enumerate(spec["steps"])]
    return Job(
        id=job_id,
        name=str(spec.get("name") or job_id),
        if_=_condition(spec.get("if")),
        env=dict(spec.get("env") or {}),
        working_directory=_default_directory(spec),
        steps=steps,
    )


def _step(path: Path, job_id: str, index: int, spec: Any) -> Step:
    where = f"{path}: job {job_id!r} step {index + 1}"
    if not isinstance(spec, dict) or ("run" in spec) == ("uses" in spec):
        raise WorkflowError(f"{where}: a step needs exactly one of `run:` and `uses:`")
    run, uses = spec.get("run"), spec.get("uses")
    if run is not None:
        default_name = f"Run {str(run).strip().splitlines()[0] if str(run).strip() else ''}"
    else:
        default_name = f"Run {uses}"
    shell = spec.get("shell")
    if run is not None and shell not in SHELLS:
        raise WorkflowError(f"{where}: shell {shell!r} is not supported locally (bash only)")
    return Step(
        index=index,
        name=str(spec.get("name") or default_name),
        id=spec.get("id"),
        run=None if run is None else str(run),
        uses=None if uses is None else str(uses),
        with_=dict(spec.get("with") or {}),
        env=dict(spec.get("env") or {}),
        if_=_condition(spec.get("if")),
        working_directory=spec.get("working-directory"),
        shell=shell,
        continue_on_error=spec.get("continue-on-error", False),
    )


def _condition(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------- expressions


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one expression (without `${{ }}`) against the context; refuse what's unknown."""
    return _Parser(expression, context).parse()


def interpolate(text: str, context: Mapping[str, Any]) -> str:
    """Replace every `${{ expr }}` in text with the expression's value as a string."""
    return _EXPRESSION.sub(lambda m: _to_string(evaluate(m.group(1), context)), text)


def _to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and value == value  # NaN is falsy


def _loosely_equal(left: Any, right: Any) -> bool:
    """GitHub's `==`: strings compare ignoring case, other mixed types as numbers."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right):
        return left == right
    return _number(left) == _number(right)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return float("nan")
    return float("nan")


class _Parser:
    """Recursive descent over GitHub's expression syntax: literals, context paths,
    `!`, `==`, `!=`, `&&`, `||`, parentheses and the status functions."""

    def __init__(self, expression: str, context: Mapping[str, Any]):
        self.expression = expression
        self.context = context
        self.tokens = self._tokenize(expression)
        self.position = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, position = [], 0
        while text[position:].strip():
            match = _TOKEN.match(text, position)
            if not match:
                self._refuse(f"cannot read {text[position:].strip()!r}")
            kind = match.lastgroup
            assert kind is not None
            tokens.append((kind, match.group(kind)))
            position = match.end()
        return tokens

    def _refuse(self, reason: str) -> NoReturn:
        raise WorkflowError(f"expression `{self.expression.strip()}`: {reason}")

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None or (value is not None and token[1] != value):
            self._refuse(f"expected {value or 'more'}")
        self.position += 1
        return token

    def parse(self) -> Any:
        if not self.tokens:
            self._refuse("empty expression")
        value = self._or()
        if (token := self._peek()) is not None:
            self._refuse(f"unexpected {token[1]!r}")
        return value

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == ("op", "||"):
            self._take()
            right = self._and()
            value = value if _truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._not()
        while self._peek() == ("op", "&&"):
            self._take()
            right = self._not()
            value = right if _truthy(value) else value
        return value

    def _not(self) -> Any:
        if self._peek() == ("op", "!"):
            self._take()
            return not _truthy(self._not())
        return self._comparison()

    def _comparison(self) -> Any:
        left = self._primary()
        token = self._peek()
        if token and token[1] in ("==", "!="):
            self._take()
            equal = _loosely_equal(left, self._primary())
            return equal if token[1] == "==" else not equal
        if token and token[1] in ("<", "<=", ">", ">="):
            self._refuse(f"the operator {token[1]} is not supported locally")
        return left

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if "." in text else int(text)
        if text == "(":
            value = self._or()
            self._take(")")
            return value
        if kind != "name":
            self._refuse(f"unexpected {text!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self._peek() == ("op", "("):
            return self._call(text)
        return self._path(text)

    def _call(self, function: str) -> Any:
        if function not in STATUS_FUNCTIONS:
            self._refuse(
                f"the function {function}() is not supported locally "
                f"(supported: {', '.join(f + '()' for f in STATUS_FUNCTIONS)})"
            )
        self._take("(")
        self._take(")")
        status = self.context.get("job", {}).get("status", "success")
        return {
            "success": status == "success",
            "failure": status == "failure",
            "always": True,
            "cancelled": False,
        }[function]

    def _path(self, name: str) -> Any:
        if name not in self.context:
            self._refuse(
                f"unknown context {name!r} (known here: {', '.join(sorted(self.context))})"
            )
        value: Any = self.context[name]
        while self._peek() in (("op", "."), ("op", "[")):
            if self._take()[1] == ".":
                key = self._take()[1]
            else:
                key = self._primary()
                self._take("]")
            value = value.get(str(key)) if isinstance(value, Mapping) else None
        return value


# ---------------------------------------------------------------- running


def run_steps(
    workflow_path: str | Path,
    job: str,
    cwd: str | Path,
    env: Mapping[str, str] | None = None,
    emulate_uses: Callable[[Step, dict[str, Any]], int | None] | None = None,
    context: Mapping[str, Any] | None = None,
    runner_temp: str | Path | None = None,
    replace_run: Mapping[str, str] | None = None,
) -> list[StepResult]:
    """Execute a job's steps in cwd (the workspace) as GitHub's runner would.

    env is the base process environment (default: this process's); context supplies the
    expression contexts such as `github` (sha, ref, event_name, repository...) and
    `secrets`. runner_temp is `$RUNNER_TEMP` (default: a temporary folder removed at the
    end). `uses:` steps go to emulate_uses(step, context), which returns an exit code
    (None = 0); without one they are skipped. replace_run maps a step's exact `run:`
    script (stripped) to a stand-in script, e.g. the install step in a test where the
    package is installed already; a key matching no step is an error, so a stand-in
    cannot outlive the step it replaces. A job whose own `if:` is false returns [].
    """
    workflow = load_workflow(workflow_path)
    if job not in workflow.jobs:
        raise WorkflowError(f"{workflow.path}: no job {job!r} (jobs: {', '.join(workflow.jobs)})")
    selected = workflow.jobs[job]
    unknown = sorted(set(replace_run or {}) - set(selected.commands))
    if unknown:
        raise WorkflowError(f"{workflow.path}: job {job!r} has no step running {unknown}")
    scope: tempfile.TemporaryDirectory[str] | nullcontext[str | Path]
    if runner_temp is None:
        scope = tempfile.TemporaryDirectory(prefix="datawheel-runner-")
    else:
        scope = nullcontext(runner_temp)
    with scope as scoped:
        temp = Path(scoped).resolve()
        temp.mkdir(parents=True, exist_ok=True)
        runner = _Runner(workflow, selected, Path(cwd).resolve(), env, context, temp)
        return runner.run(emulate_uses, dict(replace_run or {}))


class _Runner:
    def __init__(self, workflow, job, workspace, env, context, temp):
        self.workflow: Workflow = workflow
        self.job: Job = job
        self.workspace: Path = workspace
        self.temp: Path = temp
        self.base_env = dict(os.environ if env is None else env)
        self.github = _github_context(dict((context or {}).get("github") or {}), workspace)
        self.context: dict[str, Any] = {
            "secrets": {},
            "vars": {},
            "inputs": {},
            **dict(context or {}),
            "github": self.github,
            "runner": {"temp": str(temp), "os": "Linux", "arch": "X64"},
            "job": {"status": "success"},
            "steps": {},
        }
        self.exported: dict[str, str] = {}  # written to $GITHUB_ENV by earlier steps

    def run(self, emulate_uses, replacements: dict[str, str]) -> list[StepResult]:
        workflow_env = self._resolve_env(self.workflow.env, {})
        if not self._condition(self.job.if_, {**self.exported, **workflow_env}):
            return []
        results = []
        for step in self.job.steps:
            job_env = self._resolve_env(self.job.env, {**self.exported, **workflow_env})
            layered = {**self.exported, **workflow_env, **job_env}
            if not self._condition(step.if_, layered):
                results.append(StepResult(step.name, None, "", "skipped"))
                self._record(step, "skipped", {})
                continue
            step_env = {**layered, **self._resolve_env(step.env, layered)}
            if step.run is not None and step.run.strip() in replacements:
                step = replace(step, run=replacements[step.run.strip()])
            result = self._execute(step, step_env, emulate_uses)
            results.append(result)
            self._record(step, result.outcome, result.outputs)
            if result.outcome == "failure" and not self._continues(step, step_env):
                self.context["job"]["status"] = "failure"
        return results

    def _context(self, env: Mapping[str, str]) -> dict[str, Any]:
        return {**self.context, "env": dict(env)}

    def _resolve_env(self, spec: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
        context = self._context(env)
        return {str(key): interpolate(_to_string(value), context) for key, value in spec.items()}

    def _condition(self, condition: str | None, env: Mapping[str, str]) -> bool:
        text = (condition or "success()").strip()
        match = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.DOTALL)
        if match:
            text = match.group(1).strip()
        elif "${{" in text:
            raise WorkflowError(f"condition `{text}`: mix of text and ${{{{ }}}} expressions")
        if not any(re.search(rf"\b{name}\s*\(", text) for name in STATUS_FUNCTIONS):
            text = f"success() && ({text})"
        return _truthy(evaluate(text, self._context(env)))

    def _continues(self, step: Step, env: Mapping[str, str]) -> bool:
        value = step.continue_on_error
        if isinstance(value, str):
            value = _truthy(evaluate(_EXPRESSION.sub(r"\1", value).strip(), self._context(env)))
        return bool(value)

    def _record(self, step: Step, outcome: str, outputs: dict[str, str]) -> None:
        if step.id:
            self.context["steps"][step.id] = {"outcome": outcome, "outputs": outputs}

    def _execute(self, step: Step, env: dict[str, str], emulate_uses) -> StepResult:
        context = self._context(env)
        if step.uses is not None:
            if emulate_uses is None:
                return StepResult(step.name, None, "", "skipped")
            resolved = {key: interpolate(_to_string(v), context) for key, v in step.with_.items()}
            code = emulate_uses(replace(step, with_=resolved), context) or 0
            return StepResult(step.name, code, "", "success" if code == 0 else "failure")
        directory = step.working_directory or self.job.working_directory
        directory = directory or self.workflow.working_directory
        cwd = self.workspace / interpolate(directory, context) if directory else self.workspace
        files = {
            name: self.temp / f"step-{step.index}-{name.lower()}"
            for name in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")
        }
        for file in files.values():
            file.write_text("")
        script = self.temp / f"step-{step.index}.sh"
        script.write_text(interpolate(step.run or "", context))
        process_env = {
            **self.base_env,
            **env,
            **self._github_variables(),
            **{name: str(file) for name, file in files.items()},
        }
        if not cwd.is_dir():
            output = f"working-directory {cwd} does not exist\n"
            return StepResult(step.name, 1, output, "failure")
        completed = run_command(
            [*SHELLS[step.shell], str(script)], cwd=cwd, env=process_env, check=False
        )
        self.exported.update(parse_key_values(files["GITHUB_ENV"].read_text()))
        return StepResult(
            step.name,
            completed.returncode,
            completed.stdout,
            "success" if completed.returncode == 0 else "failure",
            outputs=parse_key_values(files["GITHUB_OUTPUT"].read_text()),
            summary=files["GITHUB_STEP_SUMMARY"].read_text(),
        )

    def _github_variables(self) -> dict[str, str]:
        github = self.github
        return {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_SHA": github["sha"],
            "GITHUB_REF": github["ref"],
            "GITHUB_REF_NAME": github["ref_name"],
            "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_REPOSITORY": github["repository"],
            "GITHUB_WORKFLOW": self.workflow.name,
            "GITHUB_JOB": self.job.id,
            "RUNNER_TEMP": str(self.temp),
            "RUNNER_OS": "Linux",
        }


def _github_context(github: dict[str, Any], workspace: Path) -> dict[str, Any]:
    ref = str(github.get("ref") or "refs/heads/main")
    github.setdefault("ref", ref)
    github.setdefault("ref_name", ref.rsplit("/", 1)[-1] if ref.startswith("refs/") else ref)
    github.setdefault("sha", "")
    github.setdefault("event_name", "workflow_dispatch")
    github.setdefault("repository", f"local/{workspace.name}")
    github.setdefault("event", {})
    github["workspace"] = str(workspace)
    return github


def parse_key_values(text: str) -> dict[str, str]:
    """Parse a $GITHUB_ENV / $GITHUB_OUTPUT file: `NAME=value` and `NAME<<DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            if index == len(lines):
                raise WorkflowError(f"{name}: no closing delimiter {delimiter!r}")
            index += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise WorkflowError(f"cannot read the line {line!r} (expected NAME=value)")
    return values
