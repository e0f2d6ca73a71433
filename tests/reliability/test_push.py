"""A failed `dvc push` during promote reports DVC's own error, not only its support footer."""

from __future__ import annotations

from pathlib import Path

import pytest

from datawheel.io.process import DVC_FOOTER, CommandFailed, dvc_error_text
from datawheel.registry.promote import _dvc_push
from tests.reliability.conftest import dvc, git


def test_dvc_push_failure_names_dvcs_error(tmp_path: Path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "--quiet")
    assert dvc(root, "init", "--quiet").returncode == 0
    (root / "model.bin").write_bytes(b"a model")
    assert dvc(root, "add", "--quiet", "model.bin").returncode == 0
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the remote's folder should be\n")
    assert (
        dvc(root, "remote", "add", "--default", "storage", str(blocker / "store")).returncode == 0
    )

    with pytest.raises(CommandFailed) as failure:
        _dvc_push(root)

    assert failure.value.exit_code == 1  # README: a failed push during promote
    message = str(failure.value)
    assert message.startswith("`dvc push` exited with")
    assert "ERROR" in message and "Not a directory" in message
    assert DVC_FOOTER not in message


def test_dvc_error_text_keeps_the_error_lines_and_drops_the_footer():
    output = (
        "Collecting\n"
        "ERROR: failed to push data to the cloud - 1 files failed to upload\n"
        "  details on the next line\n"
        "\n"
        "Having any troubles? Hit us up at https://dvc.org/support, we are always happy to help!\n"
    )
    assert dvc_error_text(output) == (
        "ERROR: failed to push data to the cloud - 1 files failed to upload\n"
        "  details on the next line"
    )
    assert dvc_error_text(DVC_FOOTER + " Hit us up\n") == "DVC gave no error message"
