"""Ctrl-C for Spark work on the driver: run it in a worker thread, cancel from the caller's.

A SIGINT that lands while the main thread waits inside a py4j call breaks that call (and
pyspark's own SIGINT handler then calls into the JVM on the same connection: py4j's "reentrant
call" tracebacks). :func:`run_cancellable` keeps the main thread out of py4j: the work runs in a
``pyspark.InheritableThread`` (its own py4j connection, the caller's Spark local properties), the
main thread only waits; on ``KeyboardInterrupt`` it cancels every Spark job, runs ``cancel`` (the
job's database clean-up), waits a bounded time for the worker and re-raises.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, TypeVar

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

T = TypeVar("T")

GRACE_SECONDS = 20.0
"""How long an interrupted run waits for its worker to wind down after cancelling."""


def run_cancellable(
    spark: SparkSession,
    work: Callable[[], T],
    cancel: Callable[[], None],
    *,
    grace_seconds: float = GRACE_SECONDS,
) -> T:
    """``work()``, run in a worker thread; on Ctrl-C: cancel Spark's jobs, call ``cancel``, wait
    up to ``grace_seconds`` for the worker, raise ``KeyboardInterrupt``."""
    if threading.current_thread() is not threading.main_thread():
        return work()  # only the main thread receives SIGINT: nothing to keep it out of
    from pyspark import InheritableThread

    outcome: Dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = InheritableThread(target=target, name="sparkpg-job", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        logger.info("interrupted: cancelling Spark jobs and database queries")
        _quietly(spark.sparkContext.cancelAllJobs, "cancelling Spark jobs")
        _quietly(cancel, "cancelling database queries")
        worker.join(grace_seconds)
        if worker.is_alive():
            logger.warning("the job thread did not stop within %.0f s", grace_seconds)
        raise KeyboardInterrupt from None
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def _quietly(action: Callable[[], Any], what: str) -> None:
    try:
        action()
    except Exception as exc:  # the run is being interrupted: log and go on cancelling
        logger.warning("%s failed: %s", what, exc)
