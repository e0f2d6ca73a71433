"""actionlint and zizmor (offline) find nothing in .github/workflows, and would find a flaw."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
# Every inline `# zizmor: ignore[...]` in the workflows, so none is added unnoticed.
EXPECTED_IGNORES = {("dangerous-triggers", "pr-comment.yml")}


def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[dev]'"
    return found


def _actionlint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_tool("actionlint"), "-no-color", *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def _zizmor(target: Path, *options: str) -> list[dict]:
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--format", "json", *options, str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def _findings(findings: list[dict]) -> set[tuple[str, str]]:
    return {
        (finding["ident"], Path(location["symbolic"]["key"]["Local"]["verbatim_path"]).name)
        for finding in findings
        for location in finding["locations"][:1]
    }


def test_the_workflows_exist():
    names = sorted(path.name for path in WORKFLOWS.glob("*.yml"))
    assert names == ["pr-comment.yml", "pr-report.yml", "retrain.yml"]


def test_actionlint_finds_nothing():
    result = _actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert (result.returncode, result.stdout) == (0, "")


def test_zizmor_finds_nothing_and_ignores_only_what_is_explained():
    assert _zizmor(WORKFLOWS) == []
    assert _findings(_zizmor(WORKFLOWS, "--no-ignores")) == EXPECTED_IGNORES
    for ident, name in EXPECTED_IGNORES:
        line = next(
            line for line in (WORKFLOWS / name).read_text().splitlines() if "zizmor:" in line
        )
        reason = line.split(f"# zizmor: ignore[{ident}]", 1)[1].strip()
        assert len(reason) > 20, f"{name}: the ignore of {ident} needs a reason"


@pytest.fixture
def flawed_workflow(tmp_path) -> Path:
    """retrain.yml with a tag-pinned, node20 checkout and an expression inside run:."""
    text = (WORKFLOWS / "retrain.yml").read_text()
    pinned = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
    assert pinned in text
    text = text.replace(pinned, "actions/checkout@v4")
    text = text.replace("run: dvc repro", 'run: echo "${{ github.event.head_commit.message }}"')
    path = tmp_path / ".github" / "workflows" / "retrain.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def test_the_linters_catch_a_flawed_copy(flawed_workflow):
    result = _actionlint(flawed_workflow)
    assert result.returncode != 0
    assert 'runtime "node20" is deprecated' in result.stdout
    found = {ident for ident, _ in _findings(_zizmor(flawed_workflow))}
    assert {"unpinned-uses", "template-injection"} <= found
