"""The read engines by name (``ReadOptions.engine``): each renders its own SQL from a finished
:class:`~spark_jobs.read.plan.TableRead` and loads it.

An engine is a module with ``probe_sql(read) -> str`` (the SQL it will run, returning no rows:
the planner runs it so that permissions and bad filters fail before Spark starts) and
``load(spark, read) -> (DataFrame, UnrepresentableReport)`` (lazy: no Spark action) and
``action_error(exc) -> DatabaseError | None`` (the engine's own failures of an action, read from
the Java chain).
"""

from __future__ import annotations

from types import ModuleType
from typing import Dict

from spark_jobs.read import copy_engine, spark_jdbc

ENGINES: Dict[str, ModuleType] = {"copy": copy_engine, "jdbc": spark_jdbc}
"""``copy`` (default): sparkpg's COPY engine; ``jdbc``: Spark's JDBC source."""


def engine_of(name: str) -> ModuleType:
    """The engine module called ``name`` (one of :data:`ENGINES`)."""
    return ENGINES[name]
