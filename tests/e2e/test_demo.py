"""The README's main job from the command line (the scenario itself: test_flywheel.py)."""

import subprocess
import sys

from datawheel.io.process import command_env


def test_demo_refuses_a_workspace_that_is_not_empty(tmp_path):
    (tmp_path / "something.txt").write_text("keep me")
    result = subprocess.run(
        [sys.executable, "-m", "datawheel", "demo", "--workspace", str(tmp_path)],
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )
    assert result.returncode == 1
    assert "exists and is not empty" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "something.txt").read_text() == "keep me"


def test_demo_help_names_the_story():
    result = subprocess.run(
        [sys.executable, "-m", "datawheel", "demo", "--help"],
        capture_output=True,
        text=True,
        env=command_env(),
        check=True,
    )
    assert "--workspace" in result.stdout and "--rows-per-day" in result.stdout
