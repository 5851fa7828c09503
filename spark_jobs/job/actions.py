"""The main job's Spark actions: :func:`materialize` writes a DataFrame to its output (or Spark's
``noop`` sink) counting its rows on the way; :func:`guard` turns pgjdbc and output failures into
sparkpg errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from connectors.errors import OutputError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from spark_jobs.job.options import JobOptions
    from spark_jobs.job.output import OutputRun
    from spark_jobs.read.loading import LoadedTable

_MICROS = {  # Spark's default text pattern keeps milliseconds only: microseconds would be lost
    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "timestampNTZFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
}
WRITE_OPTIONS: Dict[str, Dict[str, str]] = {"csv": {"header": "true", **_MICROS}, "json": _MICROS}
"""Writer options per output format (read the files back with the same timestamp patterns)."""


def materialize(
    df: DataFrame,
    options: JobOptions,
    output: Optional[OutputRun],
    label: str,
    tables: List[LoadedTable],
) -> int:
    """Write ``df`` to its output's write path (or the noop sink) in one pass, counting rows as
    they go by."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    observation = Observation("sparkpg_rows")
    observed = df.observe(observation, F.count(F.lit(1)).alias("rows"))
    if output is None:
        writer = observed.write.format("noop").mode("overwrite")
        guard(tables, lambda: writer.save(), "reading")
    else:
        path = output.write_path(label)
        writer = observed.write.format(options.format).mode(output.spark_mode)
        writer = writer.options(**WRITE_OPTIONS.get(options.format, {}))
        target = output.targets[label].path
        guard(tables, lambda: writer.save(path), f"writing {target}", output=target)
        output.mark_written(label)
    return int(observation.get["rows"])


def guard(
    tables: List[LoadedTable], action: Callable[[], Any], what: str, output: Optional[str] = None
) -> Any:
    """Run a Spark action; turn pgjdbc and output failures into sparkpg errors."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import AnalysisException

    from spark_jobs.read.loading import read_error_of

    try:
        return action()
    except AnalysisException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if output is not None:
            raise OutputError(f"cannot write {output}: {first}") from None
        raise OutputError(f"{what} failed: {first}") from None
    except Py4JJavaError as exc:
        for table in tables:
            error = read_error_of(exc, table.read)
            if error is not None:
                raise error from None
        if output is not None:
            raise OutputError(f"{what} failed: {_java_message(exc)}") from None
        raise


def _java_message(exc: Any) -> str:
    java = getattr(exc, "java_exception", None)
    return str(java.toString()) if java is not None else str(exc).splitlines()[0]
