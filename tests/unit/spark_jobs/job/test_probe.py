"""The job side of ``sparkpg doctor --probe`` (spark_jobs/job/connection_probe.py), without Spark."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.settings import settings_from_dict
from spark_jobs.job.connection_probe import (
    ConnectionProbe,
    decode_settings,
    encode_settings,
    probe_connections,
)
from tests.unit.diagnostics.doctor_data import SETTINGS


def test_probe_connections_reports_stage_and_exact_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.secrets import clear_credentials_cache

    clear_credentials_cache()
    monkeypatch.setenv("AURORA_USERNAME", "spark")
    monkeypatch.setenv("AURORA_PASSWORD", "pw")
    settings = settings_from_dict(SETTINGS)

    def connect(connection: Any, credentials: Any) -> str:
        raise RuntimeError(
            "An error occurred while calling o42.load.\n: org.postgresql.util.PSQLException: "
            "The connection attempt failed.\n\tat org.postgresql.core..."
        )

    results = probe_connections(settings, connect)
    assert [r.connection for r in results] == ["aurora", "reporting"]
    assert results[0] == ConnectionProbe(
        "aurora",
        False,
        "connect",
        "org.postgresql.util.PSQLException: The connection attempt failed.",
    )
    assert results[1].stage == "credentials" and "REPORTING_USERNAME" in results[1].detail
    ok = probe_connections(settings, lambda c, cr: f"connected as {cr.username}", ["AURORA"])
    assert ok == [ConnectionProbe("aurora", True, "connect", "connected as spark")]


def test_settings_travel_to_the_job_without_secret_values() -> None:
    settings = settings_from_dict(SETTINGS, source="s.json")
    payload = encode_settings(settings)
    assert decode_settings(payload).model_dump() == settings.model_dump()
