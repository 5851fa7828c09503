"""The exit-code table: one definition (entrypoints/errors.py), the README's copy checked against
it, and every sparkpg error mapped to a code of its own (1 is for bugs)."""

from __future__ import annotations

import inspect
import re

import pytest

import connectors.errors
from connectors.errors import SparkPgError, WriteRefusedError
from entrypoints.errors import EXIT_CODES, EXIT_UNEXPECTED, exit_code_for, run_main
from spark_jobs.read.copy_columns import CopyEngineError
from tests import REPO

README = REPO / "README.md"


def _readme_table() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return [(int(c), m) for c, m in re.findall(r"^\| (\d+) \| (.+) \|$", section, re.M)]


def test_the_readme_table_is_the_code_table() -> None:
    assert _readme_table() == [(code, meaning) for code, meaning, _ in EXIT_CODES]


def test_codes_are_unique_and_each_error_class_has_one_code() -> None:
    codes = [code for code, _, _ in EXIT_CODES]
    assert len(codes) == len(set(codes))
    classes = [error for _, _, errors in EXIT_CODES for error in errors]
    assert len(classes) == len(set(classes))


#: Base classes that are never raised themselves, only their subclasses.
BASES = {SparkPgError, connectors.errors.JobRunError}
ERRORS = sorted(
    (
        cls
        for _, cls in inspect.getmembers(connectors.errors, inspect.isclass)
        if issubclass(cls, SparkPgError) and cls not in BASES
    ),
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("error", [*ERRORS, CopyEngineError], ids=lambda cls: cls.__name__)
def test_every_sparkpg_error_has_an_exit_code_other_than_a_bugs(error: type) -> None:
    instance = error.__new__(error)
    assert exit_code_for(instance) != EXIT_UNEXPECTED


def test_a_refused_write_and_a_missing_engine_exit_with_their_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def refused() -> int:
        raise WriteRefusedError("connection 'aurora' is read-only")

    def engine() -> int:
        raise CopyEngineError("the COPY engine is not on the Spark classpath")

    assert run_main(refused) == 3
    assert run_main(engine) == 13
    err = capsys.readouterr().err
    assert "sparkpg: error: connection 'aurora' is read-only" in err
    assert "Traceback" not in err
