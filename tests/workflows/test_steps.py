"""The workflows say exactly what the code and the tests expect: steps, triggers, rights.

If someone edits a `run:` line, this fails until the expected list (and the e2e harness
that executes the same steps) is updated with it: YAML and code cannot drift apart.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import yaml

from datawheel.sandbox.workflow import load_workflow, run_steps

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
RETRAIN_COMMANDS = [
    "python -m pip install -r requirements.txt",
    'git config user.name "github-actions[bot]"\n'
    'git config user.email "41898282+github-actions[bot]@users.noreply.github.com"',
    "dvc pull --allow-missing",
    "dvc repro",
    'datawheel record --outcome "$RUNNER_TEMP/record.json"',
    'datawheel promote --allow-hold --outcome "$RUNNER_TEMP/promotion.json"',
    'datawheel summary --promotion "$RUNNER_TEMP/promotion.json" >> "$GITHUB_STEP_SUMMARY"',
]
PR_REPORT_COMMANDS = [
    "python -m pip install -r requirements.txt",
    "dvc pull --allow-missing",
    "dvc repro",
    'datawheel report --base "$BASE_SHA" --head "$HEAD_SHA" --out report/',
    "printf '%s\\n' \"$PR_NUMBER\" > report/pr-number",
]
PINNED = re.compile(r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+$")


def _raw(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True)
    return data


def test_retrain_runs_exactly_the_expected_commands_in_order():
    job = load_workflow(WORKFLOWS / "retrain.yml").jobs["retrain"]
    assert job.commands == RETRAIN_COMMANDS
    conditions = {step.run.strip(): step.if_ for step in job.steps if step.run}
    assert conditions[RETRAIN_COMMANDS[-1]] == "always()"
    assert all(conditions[command] is None for command in RETRAIN_COMMANDS[:-1])
    assert [step.uses.split("@")[0] for step in job.steps if step.uses] == [
        "actions/checkout",
        "actions/setup-python",
    ]


def test_retrain_triggers_concurrency_and_rights():
    data = _raw("retrain.yml")
    assert data["on"]["push"] == {
        "branches": ["main"],
        "paths": [
            "**/*.dvc",
            "params.yaml",
            "dvc.yaml",
            "stages/**",
            "expectations/**",
            "src/**",
            ".datawheel/**",
        ],
    }
    assert data["on"]["schedule"] and "workflow_dispatch" in data["on"]
    assert data["concurrency"] == {"group": "datawheel-retrain", "cancel-in-progress": False}
    assert data["permissions"] == {}
    job = data["jobs"]["retrain"]
    assert job["permissions"] == {"contents": "write"}
    checkout = job["steps"][0]["with"]
    assert checkout["fetch-depth"] == 0 and checkout["persist-credentials"] is True
    setup = job["steps"][1]["with"]
    assert setup["cache"] == "pip"
    secrets = {
        key
        for step in job["steps"]
        for key, value in (step.get("env") or {}).items()
        if "secrets." in str(value)
    }
    assert secrets == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def test_pull_request_half_has_no_secrets_and_reads_only():
    text = (WORKFLOWS / "pr-report.yml").read_text()
    assert "secrets." not in text and "github.token" not in text
    data = _raw("pr-report.yml")
    assert list(data["on"]) == ["pull_request"]
    assert data["permissions"] == {}
    job = data["jobs"]["report"]
    assert job["permissions"] == {"contents": "read"}
    assert job["steps"][0]["with"]["persist-credentials"] is False
    assert load_workflow(WORKFLOWS / "pr-report.yml").jobs["report"].commands == (
        PR_REPORT_COMMANDS
    )
    upload = job["steps"][-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["name"] == "pr-report" and upload["with"]["path"] == "report/"


def test_comment_half_never_runs_pull_request_code():
    data = _raw("pr-comment.yml")
    report_name = _raw("pr-report.yml")["name"]
    assert data["on"] == {"workflow_run": {"workflows": [report_name], "types": ["completed"]}}
    assert data["permissions"] == {}
    job = data["jobs"]["comment"]
    assert job["permissions"] == {
        "actions": "read",
        "contents": "read",
        "pull-requests": "write",
    }
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"] == {"persist-credentials": False}  # the default branch, no ref
    download = next(s for s in job["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["path"] == "${{ runner.temp }}/pr-report"  # outside the workspace
    steps = [s.get("run", s.get("uses")) for s in job["steps"]]
    assert steps.index("python -m pip install -r requirements.txt") < steps.index(download["uses"])
    commands = load_workflow(WORKFLOWS / "pr-comment.yml").jobs["comment"].commands
    assert commands == [
        "python -m pip install -r requirements.txt",
        'datawheel comment --file "$RUNNER_TEMP/pr-report/report.md" '
        '--pr "$(cat "$RUNNER_TEMP/pr-report/pr-number")" --head-sha "$HEAD_SHA"',
    ]


def test_every_action_is_pinned_by_sha_and_no_expression_is_in_a_run_script():
    for path in WORKFLOWS.glob("*.yml"):
        lines = [line.strip().removeprefix("- ") for line in path.read_text().splitlines()]
        uses = [line for line in lines if line.startswith("uses:")]
        assert uses and all(PINNED.fullmatch(line) for line in uses), path.name
        for job in load_workflow(path).jobs.values():
            assert not any("${{" in command for command in job.commands), path.name


def test_retrain_steps_run_locally_and_the_summary_survives_a_failure(tmp_path):
    """The real retrain.yml in an empty folder: install fails, only the summary runs."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    used = []
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["HOME"] = str(tmp_path)
    results = run_steps(
        WORKFLOWS / "retrain.yml",
        "retrain",
        workspace,
        env,
        emulate_uses=lambda step, context: used.append(step.uses.split("@")[0]) or 0,
        context={"github": {"sha": "f" * 40, "ref": "refs/heads/main", "event_name": "push"}},
    )
    assert used == ["actions/checkout", "actions/setup-python"]
    outcomes = [(result.name, result.outcome) for result in results]
    assert outcomes == [
        ("Check out main with its full history and registry tags", "success"),
        ("Set up Python", "success"),
        ("Install datawheel", "failure"),
        ("Git identity for the record and promotion commits", "skipped"),
        ("Pull data and cached outputs from the DVC remote", "skipped"),
        ("Reproduce the pipeline", "skipped"),
        ("Record the reproduced state on main", "skipped"),
        ("Promote the candidate if the gate passed", "skipped"),
        ("Job summary", "success"),
    ]
    assert results[-1].summary.startswith("## The pipeline did not finish: no gate decision")
    assert "promotion.json`: not found" in results[-1].summary
