"""The layers' import hygiene and the public facade: what imports what, and what users import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import connectors
from tests import REPO


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
        "connectors.hosts",
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


# --- the layers of spark_jobs -------------------------------------------------------------------

#: Each subpackage of spark_jobs and its layer: a module imports only from lower layers (and its
#: own package); ``read`` and ``write`` share a layer and never import each other.
LAYERS = {"engine": 0, "db": 1, "read": 2, "write": 2, "job": 3}
#: The read engines: only the registry (read/engines.py) picks one, so that what both engines use
#: lives outside them.
ENGINE_MODULES = {"spark_jobs.read.copy_engine", "spark_jobs.read.spark_jdbc"}


def _spark_jobs_imports() -> dict[str, set[str]]:
    """``{module: modules of spark_jobs it imports}``, every import statement (at the top, inside
    functions and under TYPE_CHECKING alike)."""
    import ast

    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "spark_jobs").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        found[module] = {n for n in names if n.startswith("spark_jobs.") and _is_module(n)}
    return found


def _is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_spark_jobs_module_lives_in_a_layer() -> None:
    modules = _spark_jobs_imports()
    loose = sorted(m for m in modules if m != "spark_jobs" and _layer(m) not in LAYERS)
    assert loose == [], f"modules outside the layers {sorted(LAYERS)}: {loose}"


def _upward(imports: dict[str, set[str]]) -> list[str]:
    """The imports of ``imports`` that go up a layer or sideways (read <-> write)."""
    wrong = []
    for module, imported in imports.items():
        if module == "spark_jobs":  # the facade names everything (lazily)
            continue
        for target in imported:
            mine, theirs = _layer(module), _layer(target)
            if mine != theirs and LAYERS[theirs] >= LAYERS[mine]:
                wrong.append(f"{module} -> {target}")
    return sorted(wrong)


def test_layers_import_only_downward_and_read_and_write_stay_apart() -> None:
    assert _upward(_spark_jobs_imports()) == []


def test_the_layer_rule_reports_upward_and_sideways_imports() -> None:
    imports = {
        "spark_jobs.engine.session": {"spark_jobs.job.main"},
        "spark_jobs.read.plan": {"spark_jobs.write.staging", "spark_jobs.db.target"},
        "spark_jobs.job.main": {"spark_jobs.read.api", "spark_jobs.job.output"},
    }
    assert _upward(imports) == [
        "spark_jobs.engine.session -> spark_jobs.job.main",
        "spark_jobs.read.plan -> spark_jobs.write.staging",
    ]


def test_only_the_engine_registry_picks_a_read_engine() -> None:
    users = {
        module
        for module, imported in _spark_jobs_imports().items()
        if imported & ENGINE_MODULES and module not in ENGINE_MODULES
    }
    assert users == {"spark_jobs.read.engines"}


def test_shipped_modules_stay_within_450_lines() -> None:
    """The size a newcomer can read in one sitting; split a module that grows past it."""
    shipped = [*(REPO / "connectors").glob("*.py"), *(REPO / "spark_jobs").rglob("*.py")]
    long = {
        str(p.relative_to(REPO)): n
        for p in shipped
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert long == {}
