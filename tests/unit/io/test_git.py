"""datawheel.io.git and datawheel.io.process.capture: the one git runner, against real git."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from datawheel.io.git import GitFailed, git, git_succeeds
from datawheel.io.process import CommandFailed, capture


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git("init", "--quiet", "--initial-branch=main", str(tmp_path), cwd=tmp_path)
    git("config", "user.name", "Test", cwd=tmp_path)
    git("config", "user.email", "test@localhost", cwd=tmp_path)
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt", cwd=tmp_path)
    git("commit", "--quiet", "-m", "one", cwd=tmp_path)
    return tmp_path


def test_git_returns_stdout_without_final_newlines(repo: Path) -> None:
    head = git("rev-parse", "HEAD", cwd=repo)
    assert len(head) == 40 and "\n" not in head
    assert git("show", "HEAD:a.txt", cwd=repo) == "one"


def test_git_keeps_leading_spaces(repo: Path) -> None:
    (repo / "a.txt").write_text("two\n")
    assert git("status", "--porcelain", cwd=repo) == " M a.txt"


def test_git_failure_names_the_command_and_gits_error(repo: Path) -> None:
    with pytest.raises(GitFailed) as failed:
        git("rev-parse", "--verify", "no-such-branch", cwd=repo)
    assert failed.value.command == ["git", "rev-parse", "--verify", "no-such-branch"]
    assert failed.value.returncode != 0
    assert str(failed.value).startswith("`git rev-parse --verify no-such-branch` failed: ")
    assert "fatal" in failed.value.output


def test_git_check_false_returns_what_git_wrote(repo: Path) -> None:
    assert git("show", "HEAD:missing.txt", cwd=repo, check=False) == ""


def test_git_passes_env_and_input(repo: Path) -> None:
    git(
        "commit",
        "--quiet",
        "--allow-empty",
        "--file=-",
        cwd=repo,
        input="from stdin\n",
        env={"GIT_COMMITTER_DATE": "1700000000 +0000"},
    )
    assert git("log", "-1", "--format=%s %ct", cwd=repo) == "from stdin 1700000000"
    blob = git("hash-object", "--stdin", cwd=repo, input="one\n")
    assert blob == git("rev-parse", "HEAD~1:a.txt", cwd=repo)


def test_git_succeeds_is_the_exit_code(repo: Path) -> None:
    first = git("rev-parse", "HEAD", cwd=repo)
    git("commit", "--quiet", "--allow-empty", "-m", "two", cwd=repo)
    assert git_succeeds("merge-base", "--is-ancestor", first, "HEAD", cwd=repo)
    assert not git_succeeds("merge-base", "--is-ancestor", "HEAD", first, cwd=repo)
    assert git_succeeds("diff", "--quiet", first, "HEAD", cwd=repo)
    assert not git_succeeds("rev-parse", "--verify", "no-such-branch", cwd=repo)


def test_git_outside_a_repository_fails_readably(tmp_path: Path) -> None:
    with pytest.raises(GitFailed, match="not a git repository"):
        git("rev-parse", "HEAD", cwd=tmp_path, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})


def test_capture_keeps_stdout_and_stderr_apart(tmp_path: Path) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    result = capture([sys.executable, "-c", code], cwd=tmp_path, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    with pytest.raises(CommandFailed) as failed:
        capture([sys.executable, "-c", code], cwd=tmp_path)
    assert failed.value.returncode == 3 and failed.value.output == "err\n"


def test_capture_has_no_stdin_unless_given(tmp_path: Path) -> None:
    code = "import sys; print(repr(sys.stdin.read()))"
    assert capture([sys.executable, "-c", code], cwd=tmp_path).stdout == "''\n"
    assert capture([sys.executable, "-c", code], cwd=tmp_path, input="x").stdout == "'x'\n"
