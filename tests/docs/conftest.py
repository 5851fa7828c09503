"""Fixtures of the docs' examples: the session's local Spark."""

from tests.integration.conftest import spark, utc_process  # noqa: F401  (the session's Spark)
