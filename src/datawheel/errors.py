"""One exception type per kind of user error, each with its documented exit code."""

from __future__ import annotations


class DatawheelError(Exception):
    """Base of every error datawheel reports as one readable line."""

    exit_code = 1


class ParamsError(DatawheelError):
    """params.yaml is missing, malformed or has a wrong key or value."""

    exit_code = 2


class CodeRecordMismatch(DatawheelError):
    """The installed datawheel is not the code the project records in .datawheel/code.json."""

    exit_code = 2


class DataContractError(DatawheelError):
    """An input file cannot be read or breaks the data contract."""

    exit_code = 3


class ValidationFailed(DatawheelError):
    """A critical data test failed on a batch nobody has acknowledged."""

    exit_code = 4


class LeakageError(DatawheelError):
    """Rows or entities are shared between the training and hold-out sets."""

    exit_code = 5


class IntegrityError(DatawheelError):
    """A file's hash differs from the one recorded for it."""

    exit_code = 6


class MissingObjectError(DatawheelError):
    """A DVC-tracked file is neither in the local DVC cache nor on the DVC remote."""

    exit_code = 1


EXIT_CODES = {
    0: "success",
    1: "unexpected error (rerun with --debug for the traceback)",
    2: "bad parameters or usage (params.yaml, an expectation suite, command-line arguments, "
    ".datawheel/code.json)",
    3: "an input file breaks the data contract",
    4: "a critical data test failed (see reports/validation.md)",
    5: "leakage between training and hold-out data",
    6: "a file does not match its recorded hash",
    7: "datawheel drift: a column shifted",
    8: "datawheel trace --verify: the rebuild differs from the record (MISMATCH) or failed",
    10: "datawheel promote: the gate held (0 with --allow-hold)",
    11: "datawheel promote/rollback: refused (origin moved, stale lock, validation, lost race)",
}
