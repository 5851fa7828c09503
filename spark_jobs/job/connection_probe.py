"""The ``sparkpg doctor --probe`` job (job side): connect to each enabled connection and report.

On EMR, ``entrypoints/probe.py`` calls :func:`probe_connections`: for every enabled connection it
reads the credentials (Secrets Manager through the VPC endpoint, as a real job does) and runs
``SELECT 1`` through Spark's JDBC source with the product's own options
(:func:`connectors.jdbc.jdbc_options`: the JAR from ``--jars``, the executors' network path),
printing one ``SPARKPG-PROBE {json}`` line per connection to the driver's stdout. The doctor
(:mod:`diagnostics.probe_run`) parses those lines.

The job's settings travel as base64 JSON in its arguments: the settings the doctor checked
(environment overrides applied), which hold secret *ids* only, never secret values.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, List, Sequence

from connectors.errors import SparkPgError
from connectors.settings import ConnectionSettings, Settings, settings_from_dict
from spark_jobs.engine.java import py4j_quiet

PROBE_MARKER = "SPARKPG-PROBE "

PROBE_ENTRY_POINT = "probe"

PROBE_QUERY = "SELECT 1 AS sparkpg_probe"


@dataclass(frozen=True)
class ConnectionProbe:
    """One connection's probe outcome: ``stage`` is ``credentials`` or ``connect``."""

    connection: str
    ok: bool
    stage: str
    detail: str

    def to_line(self) -> str:
        """The driver-stdout line the doctor parses."""
        return PROBE_MARKER + json.dumps(asdict(self), sort_keys=True)


Connector = Callable[[ConnectionSettings, Any], str]


def _first_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    # py4j wraps the Java exception; its first "Caused by"/exception line is the useful one.
    match = re.search(r"((?:[a-z]+\.)+[A-Za-z]*(?:Exception|Error)\b[^\n]*)", str(error))
    if match:
        text = match.group(1)
    return text.strip()[:1000]


def _login_refused(exc: BaseException) -> bool:
    """True when the server refused the login (SQLSTATE class 28, anywhere in the cause chain)."""
    from spark_jobs.engine.java import failure_of

    state = failure_of(exc).sqlstate
    return state is not None and state.startswith("28")


def probe_connections(
    settings: Settings, connect: Connector, names: Sequence[str] = ()
) -> List[ConnectionProbe]:
    """Read credentials and connect for every enabled connection (or those in ``names``).

    ``connect(connection, credentials)`` returns a description of the session or raises; on EMR
    it runs a query through Spark's JDBC source.
    """
    from connectors.secrets import resolve_credentials

    wanted = {n.lower() for n in names}
    results: List[ConnectionProbe] = []
    for connection in settings.enabled_connections:
        if wanted and connection.name.lower() not in wanted:
            continue
        try:
            credentials = resolve_credentials(connection, refresh=True)
        except SparkPgError as exc:
            results.append(ConnectionProbe(connection.name, False, "credentials", _first_line(exc)))
            continue
        try:
            detail = connect(connection, credentials)
        except Exception as exc:
            results.append(ConnectionProbe(connection.name, False, "connect", _first_line(exc)))
            continue
        results.append(ConnectionProbe(connection.name, True, "connect", detail))
    return results


def spark_connector(spark: Any) -> Connector:
    """A connector that runs :data:`PROBE_QUERY` through Spark's JDBC source (on an executor)."""

    def connect(connection: ConnectionSettings, credentials: Any) -> str:
        from connectors.endpoints import resolve_endpoint
        from connectors.jdbc import jdbc_options

        endpoint = resolve_endpoint(connection, credentials)
        started = time.monotonic()
        options = dict(jdbc_options(connection, credentials, endpoint=endpoint), query=PROBE_QUERY)
        with py4j_quiet():  # the options carry the password
            reader = spark.read.format("jdbc").options(**options)
        try:
            rows = reader.load().collect()
        except Exception as exc:
            if connection.auth_method == "iam" and _login_refused(exc):
                from connectors.errors import DatabaseAuthenticationError
                from connectors.iam import iam_login_advice

                # RDS says only "PAM authentication failed": add what the token was signed for
                advice = iam_login_advice(connection, endpoint)
                raise DatabaseAuthenticationError(_first_line(exc) + "." + advice) from None
            raise
        elapsed = time.monotonic() - started
        return (
            f"connected to {endpoint.host}:{endpoint.port}/{endpoint.database} as "
            f"{credentials.username}; {PROBE_QUERY} returned {len(rows)} row(s) in {elapsed:.1f} s"
        )

    return connect


def encode_settings(settings: Settings) -> str:
    """The settings as compact base64 JSON for the job's arguments (secret ids only)."""
    data = settings.model_dump(mode="json", exclude_none=True)
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def decode_settings(payload: str) -> Settings:
    """The inverse of :func:`encode_settings`."""
    data = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")).decode("utf-8"))
    return settings_from_dict(data, source="sparkpg doctor --probe")
