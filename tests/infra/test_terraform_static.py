"""Offline checks of infra/terraform: formatting, validation, the module's own tests, checkov."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.infra.conftest import (
    EXAMPLE_DIR,
    MODULE_DIR,
    TERRAFORM_ROOT,
    Terraform,
    skip_or_fail,
)

pytestmark = pytest.mark.infra

MODULE_TESTS_DIR = TERRAFORM_ROOT / MODULE_DIR / "tests"
MODULE_TEST_FILES = sorted(p.name for p in MODULE_TESTS_DIR.glob("*.tftest.hcl"))


def test_module_has_test_files() -> None:
    assert {"defaults.tftest.hcl", "switches.tftest.hcl", "validation.tftest.hcl"} <= set(
        MODULE_TEST_FILES
    )


def test_fmt(terraform: Terraform) -> None:
    result = terraform.run(
        ["fmt", "-check", "-recursive", "-diff", "-no-color"], TERRAFORM_ROOT, ok_codes=(0, 3)
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}"


@pytest.mark.parametrize("directory", [MODULE_DIR, EXAMPLE_DIR], ids=str)
def test_validate(terraform: Terraform, terraform_tree: Path, directory: Path) -> None:
    workdir = terraform_tree / directory
    terraform.init(workdir)
    result = terraform.run(["validate", "-json", "-no-color"], workdir)
    report = json.loads(result.stdout)
    assert report["valid"], report["diagnostics"]
    assert report["warning_count"] == 0, report["diagnostics"]


@pytest.mark.parametrize("test_file", MODULE_TEST_FILES)
def test_module_terraform_test(terraform: Terraform, terraform_tree: Path, test_file: str) -> None:
    """`terraform test` with `mock_provider "aws"`: validations, policy scope, switches."""
    workdir = terraform_tree / MODULE_DIR
    if not (workdir / ".terraform").is_dir():
        terraform.init(workdir)
    result = terraform.run(
        ["test", "-no-color", f"-filter=tests/{test_file}"], workdir, ok_codes=(0, 1)
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "0 failed" in result.stdout and "skipped" not in result.stdout, result.stdout


def _checkov_command() -> List[str]:
    # checkov pins old boto3 releases, so `make` installs it in a venv of its own (.venv-checkov).
    configured = os.environ.get("SPARKPG_CHECKOV")
    if configured:
        return [configured]
    sibling = Path(sys.executable).with_name("checkov")
    if sibling.exists():
        return [str(sibling)]
    found = shutil.which("checkov")
    if found is None:
        skip_or_fail(
            "checkov is not installed (make .venv-checkov/.installed, or set SPARKPG_CHECKOV)"
        )
        raise AssertionError("unreachable")
    return [found]


def test_checkov_has_no_failed_checks() -> None:
    """checkov, offline: no failed check; every skipped check says why, in the code."""
    result = subprocess.run(
        [
            *_checkov_command(),
            "-d",
            str(TERRAFORM_ROOT),
            "--skip-download",
            "--framework",
            "terraform",
            "--output",
            "json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.stdout.strip(), f"checkov printed nothing:\n{result.stderr[-4000:]}"
    report: Any = json.loads(result.stdout)
    reports: List[Dict[str, Any]] = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']})"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    parsing_errors = [e for r in reports for e in r.get("results", {}).get("parsing_errors", [])]
    assert not parsing_errors, f"checkov could not parse: {parsing_errors}"
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert passed > 0, "checkov checked nothing"
    for r in reports:
        for skipped in r.get("results", {}).get("skipped_checks", []):
            reason = (skipped.get("check_result") or {}).get("suppress_comment") or ""
            assert len(reason) > 20, f"{skipped['check_id']} is skipped without a reason"


def _declared(kind: str) -> List[str]:
    """Names of the module's `variable` or `output` blocks, from its .tf files."""
    pattern = re.compile(rf'^{kind} "([A-Za-z0-9_]+)"', re.MULTILINE)
    return sorted(
        name
        for path in (TERRAFORM_ROOT / MODULE_DIR).glob("*.tf")
        for name in pattern.findall(path.read_text(encoding="utf-8"))
    )


@pytest.mark.parametrize("kind", ["variable", "output"])
def test_module_readme_lists_every_input_and_output(kind: str) -> None:
    readme = (TERRAFORM_ROOT / MODULE_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Inputs" if kind == "variable" else "## Outputs", 1)[1]
    documented = set(re.findall(r"^\| `([A-Za-z0-9_]+)` \|", section, re.MULTILINE))
    declared = _declared(kind)
    assert declared, f"no {kind} blocks found"
    missing = [name for name in declared if name not in documented]
    assert not missing, f"module README does not document these {kind}s: {missing}"
