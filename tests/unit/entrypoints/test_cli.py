"""The operator CLI, called with explicit argv: exit codes and output."""

from __future__ import annotations

import doctest
import json
import re
from pathlib import Path

import pytest

import connectors.aws
import connectors.endpoints
import connectors.jdbc
from entrypoints.cli import main
from entrypoints.errors import EXIT_OK, EXIT_SETTINGS
from tests import REPO

SEED = REPO / "examples" / "settings.json"


def test_settings_check_accepts_the_seed_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "check", str(SEED)]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"{SEED}: valid" in out
    assert "emr_postgres_application_id: 00g0oddl52n83r09" in out
    assert (
        "connection aurora (enabled): pg-database.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com"
        ":5432/postgres sslmode=require auth_method=user_password "
        "credentials=secretsmanager:arn:aws:secretsmanager:us-east-1:"
        "260005718447:secret:spark/postgres/aurora-e9d9d867-9Bxwrf"
    ) in out


def test_settings_check_json_applies_environment_overrides(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKPG__POSTGRES__CONNECTIONS__AURORA__PORT", "6432")
    assert main(["settings", "check", "--json", str(SEED)]) == EXIT_OK
    dumped = json.loads(capsys.readouterr().out)
    assert dumped["postgres"]["connections"][0]["port"] == 6432
    assert "source" not in dumped


def test_settings_check_rejects_invalid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "settings.json"
    bad.write_text(json.dumps({"postgres": {"connections": [{"name": "x", "port": 0}]}}))
    assert main(["settings", "check", str(bad)]) == EXIT_SETTINGS
    err = capsys.readouterr().err
    assert f"sparkpg: error: {bad}: 1 invalid setting(s):" in err
    assert "postgres.connections[0].port: Input should be greater than or equal to 1 (got 0)" in err
    assert "Traceback" not in err


def test_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["settings"])
    assert info.value.code == 2


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"sparkpg {connectors.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", connectors.__version__)
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'path = "connectors/__init__.py"' in pyproject  # hatch reads the version from there


@pytest.mark.parametrize("module", [connectors.aws, connectors.endpoints, connectors.jdbc])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


def test_settings_check_shows_the_url_and_options_a_read_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads(SEED.read_text())
    data["postgres"]["connections"][0].update(
        ssl_mode="verify-full",
        ssl_root_cert="/etc/rds-ca.pem",
        jdbc_properties={"logUnclosedConnections": "true"},
    )
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))
    assert main(["settings", "check", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    url = re.search(r"^    url: +(\S+)$", out, re.M)
    assert url is not None
    assert url.group(1).startswith(
        "jdbc:postgresql://pg-database.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com:5432/"
        "postgres?sslmode=verify-full&sslrootcert=%2Fetc%2Frds-ca.pem&"
    )
    assert url.group(1).endswith("&logUnclosedConnections=true")
    options = re.search(r"^    options: (.+)$", out, re.M)
    assert options is not None
    assert "fetchsize=10000" in options.group(1)
    assert "password=******** prepareThreshold=-1" in options.group(1)
    assert "user=<from secretsmanager:arn:aws:secretsmanager:us-east-1:" in options.group(1)


def test_settings_check_refuses_a_property_that_would_turn_tls_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(SEED.read_text())
    data["postgres"]["connections"][0].update(
        ssl_mode="verify-full", jdbc_properties={"sslmode": "disable"}
    )
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))
    assert main(["settings", "check", str(path)]) == EXIT_SETTINGS
    captured = capsys.readouterr()
    assert "jdbc_properties: Value error, may not set 'sslmode': sparkpg sets it itself " in (
        captured.err
    )
    assert "(sslmode from ssl_mode)" in captured.err
    assert "valid" not in captured.out
