"""Fixtures of the main job's tests: the read tests' database and reader role (the job reads
them), and fresh credentials per test."""

from __future__ import annotations

from tests.integration.read.conftest import (  # noqa: F401  (fixtures and names the tests use)
    PASSWORD,
    ROLE,
    ReadDb,
    _fresh_credentials,
    read_db,
)
