"""SparkSession helpers: a local session with the PostgreSQL JDBC JAR, or the session a cluster gives.

Local runs (``python -m entrypoints.read_tables``, tests, notebooks) need the JAR on the classpath;
it is looked up, in order:

1. ``postgres.jdbc_driver_path`` from the settings, when it is a local path (an ``s3://`` path is
   for EMR, which gets it through ``--jars``);
2. the environment variable ``SPARKPG_JDBC_JAR``;
3. the newest ``~/.m2/repository/org/postgresql/postgresql/<version>/postgresql-<version>.jar``.

A missing JAR is reported before any Spark work, with the troubleshooting advice (docs/troubleshooting.md) for
``ClassNotFoundException: org.postgresql.Driver``.

Cluster runs (``spark-submit``, EMR Serverless) keep the master, JARs and resources that
spark-submit was given. Both set the session time zone to UTC; local sessions also start the JVMs
with ``-Duser.timezone=UTC`` (for a cluster, pass it in the submit parameters). Both (and the main
job, on whatever session it is given) apply :data:`JOB_SQL_CONF`: dates and timestamps are
written to and read from Parquet and Avro as they are (proleptic Gregorian, like PostgreSQL and
Spark 3+), so a ``date '1000-01-01'`` no longer fails the write (Spark 3.5's default,
``EXCEPTION``, refuses dates before 1582-10-15 and INT96 timestamps before 1900).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Tuple

from connectors.errors import JdbcDriverNotFoundError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from connectors.settings import Settings

logger = logging.getLogger(__name__)

JAR_ENV = "SPARKPG_JDBC_JAR"
UTC_JAVA_OPTION = "-Duser.timezone=UTC"
MAVEN_JAR_DIR = Path("~/.m2/repository/org/postgresql/postgresql")
# The COPY engine's JAR as `make jvm` builds it in a checkout; local sessions add it when present.
ENGINE_JAR = Path(__file__).resolve().parents[2] / "build" / "jvm" / "sparkpg-engine.jar"
_VERSION_PART = re.compile(r"\d+")

JOB_SQL_CONF: Dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    "spark.sql.avro.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.avro.datetimeRebaseModeInRead": "CORRECTED",
}
"""Runtime SQL settings every sparkpg session gets (a session spark-submit created accepts them
too): UTC, and dates/timestamps written and read without calendar rebasing."""


def apply_job_conf(spark: SparkSession) -> None:
    """Set :data:`JOB_SQL_CONF` on ``spark`` (runtime settings: works on any running session)."""
    for key, value in JOB_SQL_CONF.items():
        spark.conf.set(key, value)


DRIVER_NOT_FOUND_ADVICE = (
    "ClassNotFoundException: org.postgresql.Driver would follow (docs/troubleshooting.md#jdbc-driver-not-found). "
    "Locally: set postgres.jdbc_driver_path in the settings to a local JAR, or the environment "
    f"variable {JAR_ENV}, or put the JAR in the Maven cache (~/.m2/repository/org/postgresql/"
    "postgresql/<version>/). On EMR: set postgres.jdbc_driver_path to the JAR's s3:// path, check "
    "that the JAR exists there, and pass it to spark-submit with --jars"
)


def find_jdbc_jar(
    settings: Optional[Settings] = None,
    *,
    environ: Optional[Mapping[str, str]] = None,
    maven_dir: Optional[Path] = None,
) -> Path:
    """The PostgreSQL JDBC JAR for a local session (see the module docstring for the order).

    >>> find_jdbc_jar()  # doctest: +SKIP
    PosixPath('/root/.m2/repository/org/postgresql/postgresql/42.7.13/postgresql-42.7.13.jar')
    """
    env = os.environ if environ is None else environ
    tried: List[str] = []
    configured = settings.postgres.jdbc_driver_path if settings is not None else None
    if configured and "://" not in configured:
        path = Path(configured).expanduser()
        if path.is_file():
            return path
        raise JdbcDriverNotFoundError(
            f"postgres.jdbc_driver_path {configured} in {settings.source if settings else '?'} "
            f"does not exist or is not a file. {DRIVER_NOT_FOUND_ADVICE}"
        )
    if configured:
        tried.append(f"postgres.jdbc_driver_path={configured} (remote: not usable locally)")
    from_env = env.get(JAR_ENV)
    if from_env:
        path = Path(from_env).expanduser()
        if path.is_file():
            return path
        raise JdbcDriverNotFoundError(
            f"{JAR_ENV}={from_env} does not exist or is not a file. {DRIVER_NOT_FOUND_ADVICE}"
        )
    tried.append(f"{JAR_ENV} (not set)")
    root = (maven_dir or MAVEN_JAR_DIR).expanduser()
    jars = sorted(root.glob("*/postgresql-*.jar"), key=_version_key)
    jars = [jar for jar in jars if not jar.name.endswith(("-sources.jar", "-javadoc.jar"))]
    if jars:
        return jars[-1]
    tried.append(f"{root}/*/postgresql-*.jar (none)")
    raise JdbcDriverNotFoundError(
        f"no PostgreSQL JDBC JAR found; tried: {'; '.join(tried)}. {DRIVER_NOT_FOUND_ADVICE}"
    )


def _version_key(jar: Path) -> Tuple[int, ...]:
    return tuple(int(part) for part in _VERSION_PART.findall(jar.parent.name))


def local_session(
    settings: Optional[Settings] = None,
    *,
    master: str = "local[*]",
    app_name: str = "sparkpg",
    jar: Optional[Path] = None,
    conf: Optional[Mapping[str, str]] = None,
) -> SparkSession:
    """A local SparkSession with the JDBC JAR on the driver and executor classpath, in UTC.

    ``conf`` adds or replaces Spark settings (``{"spark.driver.memory": "512m"}``). If a session
    is already running in this process it is returned as it is (Spark cannot restart the JVM).
    """
    from pyspark.sql import SparkSession

    jar_path = jar or find_jdbc_jar(settings)
    jars = [str(jar_path)] + ([str(ENGINE_JAR)] if ENGINE_JAR.is_file() else [])
    options: Dict[str, str] = {
        **JOB_SQL_CONF,
        "spark.jars": ",".join(jars),
        "spark.driver.extraClassPath": os.pathsep.join(jars),
        "spark.driver.extraJavaOptions": UTC_JAVA_OPTION,
        "spark.executor.extraJavaOptions": UTC_JAVA_OPTION,
        "spark.ui.showConsoleProgress": "false",
    }
    for key, value in (conf or {}).items():
        if key.endswith("extraJavaOptions") and UTC_JAVA_OPTION not in value:
            value = f"{value} {UTC_JAVA_OPTION}".strip()
        options[key] = value
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in options.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    apply_job_conf(spark)
    logger.info("local Spark %s (%s) with JDBC JAR %s", spark.version, master, jar_path)
    return spark


def cluster_session(app_name: str = "sparkpg") -> SparkSession:
    """The session spark-submit / EMR Serverless set up (master, --jars, resources untouched).

    Executors started from here on get ``-Duser.timezone=UTC``; the driver JVM already runs, so
    give it ``--conf spark.driver.extraJavaOptions=-Duser.timezone=UTC`` at submit time.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None:
        builder = SparkSession.builder.appName(app_name)
        existing = _submitted_conf("spark.executor.extraJavaOptions")
        if UTC_JAVA_OPTION not in existing:
            builder = builder.config(
                "spark.executor.extraJavaOptions", f"{existing} {UTC_JAVA_OPTION}".strip()
            )
        for key, value in JOB_SQL_CONF.items():
            builder = builder.config(key, value)
        active = builder.getOrCreate()
    apply_job_conf(active)
    jvm = active.sparkContext._jvm
    assert jvm is not None
    jvm_zone = jvm.java.util.TimeZone.getDefault().getID()
    if jvm_zone not in ("UTC", "Etc/UTC", "GMT"):
        logger.warning(
            "the driver JVM's time zone is %s, not UTC: pass --conf "
            "spark.driver.extraJavaOptions=%s to spark-submit",
            jvm_zone,
            UTC_JAVA_OPTION,
        )
    return active


def get_session(
    settings: Optional[Settings] = None,
    *,
    master: Optional[str] = None,
    app_name: str = "sparkpg",
    conf: Optional[Mapping[str, str]] = None,
) -> SparkSession:
    """The right session for how this process was started.

    Under spark-submit (``PYSPARK_GATEWAY_PORT`` is set, the JVM is already running) or with an
    active session: :func:`cluster_session`. Otherwise (plain ``python``): :func:`local_session`.
    """
    from pyspark.sql import SparkSession

    if master is None and (
        SparkSession.getActiveSession() is not None or "PYSPARK_GATEWAY_PORT" in os.environ
    ):
        return cluster_session(app_name)
    return local_session(settings, master=master or "local[*]", app_name=app_name, conf=conf)


def _submitted_conf(key: str) -> str:
    """A setting spark-submit passed to this Python process (before any SparkContext exists)."""
    from pyspark import SparkConf

    return str(SparkConf().get(key, "") or "")
