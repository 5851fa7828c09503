"""The layers' import hygiene and the public facade: what imports what, and what users import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import connectors

REPO = Path(__file__).resolve().parents[2]


def _imports_after(statement: str) -> set[str]:
    """The top-level modules loaded by ``statement`` in a fresh interpreter."""
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in done.stdout.split()}


@pytest.mark.parametrize(
    "module",
    [
        "connectors",
        "connectors.settings",
        "connectors.endpoints",
        "connectors.errors",
        "connectors.jdbc",
        "connectors.secrets",
        "spark_jobs.read.partitioning",
    ],
)
def test_pure_modules_import_without_boto3(module: str) -> None:
    loaded = _imports_after(f"import {module}")
    assert "boto3" not in loaded and "botocore" not in loaded, module
    assert "pyspark" not in loaded, module


def test_import_connectors_is_light() -> None:
    loaded = _imports_after("import connectors; connectors.__version__")
    assert "pydantic" not in loaded


def test_facade_exports_resolve_lazily() -> None:
    loaded = _imports_after("from connectors import load_settings, SparkPgError, TableRef")
    assert "boto3" not in loaded
    for name in connectors.__all__:
        assert getattr(connectors, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        connectors.nope  # noqa: B018


def test_facade_names_are_the_modules_objects() -> None:
    from connectors.errors import SparkPgError
    from connectors.settings import load_settings

    assert connectors.load_settings is load_settings
    assert connectors.SparkPgError is SparkPgError
    assert "load_settings" in dir(connectors)


def test_shipped_code_does_not_import_the_operator_packages() -> None:
    """connectors/ and spark_jobs/ ship to EMR; submission/ and diagnostics/ do not."""
    for package in ("connectors", "spark_jobs"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for operator in ("submission", "diagnostics", "entrypoints.cli", "entrypoints.cmd_"):
                assert f"from {operator}" not in text and f"import {operator}" not in text, (
                    f"{path.relative_to(REPO)} imports {operator}"
                )


def test_importing_secrets_changes_no_logging_configuration() -> None:
    code = (
        "import logging, connectors.secrets as s; "
        "before = len(logging.getLogger('botocore.parsers').filters); "
        "s.install_secret_redaction(); s.install_secret_redaction(); "
        "print(before, len(logging.getLogger('botocore.parsers').filters))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["0", "1"], done.stderr
