"""The local runner of workflow steps: parsing, env layering, expressions, conditions."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from datawheel.sandbox.workflow import (
    WorkflowError,
    evaluate,
    interpolate,
    load_workflow,
    parse_key_values,
    run_steps,
)

CONTEXT = {
    "github": {
        "sha": "a" * 40,
        "ref": "refs/heads/main",
        "event_name": "push",
        "repository": "acme/churn",
        "event": {"pull_request": {"number": 7, "title": "Add day 31"}},
    },
    "secrets": {"TOKEN": "s3cret"},
}


def _workflow(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wf.yml"
    path.write_text(textwrap.dedent(text))
    (tmp_path / "ws").mkdir(exist_ok=True)
    return path


def _run(tmp_path: Path, text: str, job: str = "build", **kwargs):
    path = _workflow(tmp_path, text)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    return run_steps(path, job, tmp_path / "ws", env, context=CONTEXT, **kwargs)


def test_parses_jobs_steps_and_triggers(tmp_path):
    path = _workflow(
        tmp_path,
        """
        name: demo
        on:
          push:
            branches: [main]
          workflow_dispatch:
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v7
                with: {fetch-depth: 0}
              - name: Say hello
                id: hello
                run: echo hello
              - run: |
                  dvc repro
                  echo done
                if: always()
        """,
    )
    workflow = load_workflow(path)
    assert workflow.name == "demo"
    assert set(workflow.on) == {"push", "workflow_dispatch"}
    steps = workflow.jobs["build"].steps
    assert [s.name for s in steps] == ["Run actions/checkout@v7", "Say hello", "Run dvc repro"]
    assert steps[0].with_ == {"fetch-depth": 0}
    assert steps[1].id == "hello" and steps[2].if_ == "always()"
    assert workflow.jobs["build"].commands == ["echo hello", "dvc repro\necho done"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: x\n", "no `jobs:`"),
        ("jobs:\n  build: {runs-on: x}\n", "no `steps:`"),
        ("jobs:\n  build:\n    steps:\n      - name: nothing\n", "exactly one of"),
        ("jobs:\n  build:\n    steps:\n      - run: dir\n        shell: cmd\n", "shell 'cmd'"),
    ],
)
def test_malformed_workflows_are_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "wf.yml"
    path.write_text(text)
    with pytest.raises(WorkflowError, match=message):
        load_workflow(path)


def test_env_layers_workflow_job_step_over_github_env(tmp_path):
    results = _run(
        tmp_path,
        """
        env: {LEVEL: workflow, FROM_WORKFLOW: "1", KEPT: workflow}
        jobs:
          build:
            env: {LEVEL: job, SHA: "${{ github.sha }}", TOKEN: "${{ secrets.TOKEN }}"}
            steps:
              - run: |
                  echo "KEPT=from-github-env" >> "$GITHUB_ENV"
                  echo "EXPORTED=yes" >> "$GITHUB_ENV"
              - env: {LEVEL: step, COPY: "${{ env.FROM_WORKFLOW }}-${{ env.LEVEL }}"}
                run: echo "$LEVEL $SHA $TOKEN $COPY $EXPORTED $KEPT"
              - run: echo "$LEVEL"
        """,
    )
    assert [r.outcome for r in results] == ["success"] * 3
    assert results[1].output == f"step {'a' * 40} s3cret 1-job yes workflow\n"
    assert results[2].output == "job\n"


def test_github_variables_and_files_are_set(tmp_path):
    results = _run(
        tmp_path,
        """
        jobs:
          build:
            steps:
              - run: |
                  echo "$CI $GITHUB_SHA $GITHUB_REF $GITHUB_REF_NAME $GITHUB_EVENT_NAME"
                  echo "$GITHUB_REPOSITORY $GITHUB_WORKSPACE $PWD"
                  test -d "$RUNNER_TEMP"
                  echo "## done" >> "$GITHUB_STEP_SUMMARY"
        """,
        runner_temp=tmp_path / "temp",
    )
    workspace = tmp_path / "ws"
    assert results[0].output.splitlines() == [
        f"true {'a' * 40} refs/heads/main main push",
        f"acme/churn {workspace} {workspace}",
    ]
    assert results[0].summary == "## done\n"


def test_outputs_feed_later_conditions_and_expressions(tmp_path):
    results = _run(
        tmp_path,
        """
        jobs:
          build:
            steps:
              - id: decide
                run: |
                  echo "decision=promote" >> "$GITHUB_OUTPUT"
                  {
                    echo "notes<<EOF"
                    echo "line one"
                    echo "line two"
                    echo "EOF"
                  } >> "$GITHUB_OUTPUT"
              - if: steps.decide.outputs.decision == 'PROMOTE'
                env: {NOTES: "${{ steps.decide.outputs.notes }}"}
                run: echo "$NOTES"
              - if: ${{ steps.decide.outputs.decision != 'promote' }}
                run: echo never
        """,
    )
    assert results[0].outputs == {"decision": "promote", "notes": "line one\nline two"}
    assert results[1].output == "line one\nline two\n"
    assert results[2].outcome == "skipped" and results[2].exit_code is None


def test_a_failing_step_stops_the_job_except_always_and_failure(tmp_path):
    results = _run(
        tmp_path,
        """
        jobs:
          build:
            steps:
              - run: echo first
              - run: |
                  false
                  echo not reached
              - run: echo skipped
              - if: success()
                run: echo skipped too
              - if: failure()
                run: echo on failure
              - if: always()
                run: echo always
        """,
    )
    assert [(r.outcome, r.exit_code) for r in results] == [
        ("success", 0),
        ("failure", 1),
        ("skipped", None),
        ("skipped", None),
        ("success", 0),
        ("success", 0),
    ]
    assert results[1].output == ""  # bash -e stopped at `false`
    assert results[4].output == "on failure\n"


def test_continue_on_error_keeps_the_job_going(tmp_path):
    results = _run(
        tmp_path,
        """
        jobs:
          build:
            steps:
              - continue-on-error: true
                id: flaky
                run: exit 3
              - run: echo "still running"
              - if: failure()
                run: echo never
        """,
    )
    assert [r.exit_code for r in results] == [3, 0, None]
    assert results[1].output == "still running\n"


def test_default_shell_has_no_pipefail_but_shell_bash_has(tmp_path):
    results = _run(
        tmp_path,
        """
        jobs:
          build:
            steps:
              - run: false | true
              - run: false | true
                shell: bash
        """,
    )
    assert [r.exit_code for r in results] == [0, 1]


def test_working_directory_from_step_and_defaults(tmp_path):
    (tmp_path / "ws" / "sub" / "deeper").mkdir(parents=True)
    results = _run(
        tmp_path,
        """
        defaults:
          run: {working-directory: sub}
        jobs:
          build:
            steps:
              - run: basename "$PWD"
              - run: basename "$PWD"
                working-directory: sub/deeper
              - run: echo unreachable
                working-directory: missing
        """,
    )
    assert [r.output for r in results[:2]] == ["sub\n", "deeper\n"]
    assert results[2].outcome == "failure" and "does not exist" in results[2].output


def test_uses_steps_go_to_the_emulator_with_resolved_inputs(tmp_path):
    calls = []

    def emulate(step, context):
        calls.append((step.uses, step.with_, context["github"]["workspace"]))
        return 0 if step.uses.startswith("actions/checkout") else 2

    results = _run(
        tmp_path,
        """
        jobs:
          build:
            steps:
              - uses: actions/checkout@v7
                with: {ref: "${{ github.ref }}", fetch-depth: 0}
              - uses: actions/upload-artifact@v7
              - run: echo skipped
        """,
        emulate_uses=emulate,
    )
    workspace = str(tmp_path / "ws")
    assert calls == [
        ("actions/checkout@v7", {"ref": "refs/heads/main", "fetch-depth": "0"}, workspace),
        ("actions/upload-artifact@v7", {}, workspace),
    ]
    assert [r.outcome for r in results] == ["success", "failure", "skipped"]


def test_uses_steps_are_skipped_without_an_emulator(tmp_path):
    results = _run(
        tmp_path,
        "jobs:\n  build:\n    steps:\n      - uses: actions/checkout@v7\n      - run: echo ok\n",
    )
    assert [r.outcome for r in results] == ["skipped", "success"]


def test_a_job_whose_if_is_false_runs_nothing(tmp_path):
    text = """
        jobs:
          build:
            if: github.ref == 'refs/heads/release'
            steps:
              - run: echo never
        """
    assert _run(tmp_path, text) == []


def test_unknown_expressions_are_refused_clearly(tmp_path):
    text = """
        jobs:
          build:
            steps:
              - env: {X: "${{ matrix.python }}"}
                run: echo "$X"
        """
    with pytest.raises(WorkflowError, match=r"`matrix.python`: unknown context 'matrix'"):
        _run(tmp_path, text)
    with pytest.raises(WorkflowError, match=r"function contains\(\) is not supported"):
        evaluate("contains(github.ref, 'main')", CONTEXT)
    with pytest.raises(WorkflowError, match="operator > is not supported"):
        evaluate("github.event.pull_request.number > 3", CONTEXT)
    with pytest.raises(WorkflowError, match="cannot read"):
        evaluate("github.ref == 'main", CONTEXT)


@pytest.mark.parametrize(
    "expression, value",
    [
        ("github.event.pull_request.number", 7),
        ("github.event['pull_request'].title", "Add day 31"),
        ("github.event.missing.deeper", None),
        ("github.event_name == 'PUSH'", True),
        ("!(github.event_name == 'push')", False),
        ("github.head_ref || github.ref", "refs/heads/main"),
        ("github.event_name == 'push' && 'yes'", "yes"),
        ("'it''s'", "it's"),
        ("github.event.pull_request.number == '7'", True),
        ("null == false", True),
    ],
)
def test_expression_values(expression, value):
    assert evaluate(expression, CONTEXT) == value


def test_interpolation_renders_values_as_github_does():
    text = "${{ github.event.pull_request.number }}|${{ true }}|${{ null }}|${{ secrets.NONE }}"
    assert interpolate(text, CONTEXT) == "7|true||"


def test_env_and_output_files_parse_both_forms():
    text = "A=1\nB=x=y\n\nC<<END\nmulti\nline\nEND\n"
    assert parse_key_values(text) == {"A": "1", "B": "x=y", "C": "multi\nline"}
    with pytest.raises(WorkflowError, match="no closing delimiter"):
        parse_key_values("C<<END\nnever closed\n")
    with pytest.raises(WorkflowError, match="expected NAME=value"):
        parse_key_values("just text\n")


def test_replace_run_stands_in_for_an_existing_step_only(tmp_path):
    text = """
        jobs:
          build:
            steps:
              - name: Install
                run: python -m pip install -e .
              - run: echo "$GITHUB_JOB"
        """
    stand_in = {"python -m pip install -e .": "echo installed already"}
    results = _run(tmp_path, text, replace_run=stand_in)
    assert [(r.name, r.output) for r in results] == [
        ("Install", "installed already\n"),
        ('Run echo "$GITHUB_JOB"', "build\n"),
    ]
    with pytest.raises(WorkflowError, match=r"has no step running \['pip install'\]"):
        _run(tmp_path, text, replace_run={"pip install": "true"})
