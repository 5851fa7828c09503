"""Faults against a real PostgreSQL: each case ends within its configured bound, with its own
message, and leaves no backend of ours on a surviving server (issue 10, item 5 and the suite)."""

from __future__ import annotations

import signal
import socket
import threading
import time
from typing import Any

import pytest

from connectors.errors import (
    DatabaseConnectionError,
    DatabaseConnectionLostError,
    DatabaseUnresponsiveError,
    LockTimeoutError,
    StatementTimeoutError,
)
from devtools.faults import (
    Background,
    backends,
    frozen,
    lock_held,
    silent_listener,
    stop_immediately,
    wait_for,
)
from spark_jobs import load_read, plan_table, read_query, read_table
from spark_jobs.read.loading import read_error_of

from .conftest import FaultDb

pytestmark = [pytest.mark.integration, pytest.mark.spark]

MARGIN = 20.0
"""Seconds allowed beyond a configured bound (task start, py4j, a loaded 2-core machine): far
below what an unbounded wait takes (the query's 60 s, or forever), far above the bound's own
jitter."""


def _streaming(spark: Any, db: FaultDb) -> tuple[Any, Background, int]:
    """The slow view being read (planned, loaded, the action started) and its backend's pid."""
    read = plan_table(spark, db.settings(), "f.slow")
    loaded = load_read(spark, read)
    action = Background(lambda: loaded.dataframe.write.format("noop").mode("overwrite").save())
    pids = wait_for(
        lambda: backends(db.server, db.application_name, state="active"),
        timeout=60,
        what="the partition's query to start",
    )
    return read, action, pids[0]


def test_server_killed_mid_read(spark: Any, doomed_db: FaultDb) -> None:
    read, action, _pid = _streaming(spark, doomed_db)
    started = time.monotonic()
    stop_immediately(doomed_db.server)
    raised = action.error(timeout=30)
    elapsed = time.monotonic() - started
    error = read_error_of(raised, read)
    assert isinstance(error, DatabaseConnectionLostError), error
    text = str(error)
    assert text.startswith(f"connection 'f' (127.0.0.1:{doomed_db.server.port}) was lost while")
    assert "reading f.public.slow" in text and "retry the job" in text
    assert "security group" not in text
    assert "\tat " not in text and "Exception:" not in text  # no Java stack trace
    assert elapsed < MARGIN


def test_frozen_backend_trips_the_socket_timeout(spark: Any, fault_db: FaultDb) -> None:
    read, action, pid = _streaming(spark, fault_db)
    with frozen(pid):
        started = time.monotonic()
        raised = action.error(timeout=30)
        elapsed = time.monotonic() - started
    error = read_error_of(raised, read)
    assert isinstance(error, DatabaseUnresponsiveError), error
    text = str(error)
    assert f"127.0.0.1:{fault_db.server.port} stopped answering" in text
    assert "socket_timeout_seconds=3" in text and "f.public.slow" in text
    assert error.setting == "socket_timeout_seconds"
    assert 3 - 0.5 < elapsed < 3 + MARGIN
    fault_db.assert_none_left()  # resumed, the backend finds its client gone


def test_a_slow_healthy_stream_outlives_the_socket_timeout(spark: Any, fault_db: FaultDb) -> None:
    settings = fault_db.settings(socket_timeout_seconds=1)
    started = time.monotonic()
    df = read_query(
        spark,
        settings,
        "f",
        # Rows of 16 KiB: PostgreSQL flushes its 8 KiB send buffer with every row, so the
        # stream never pauses for as long as the socket timeout (small rows would sit in it).
        "SELECT g AS id, pg_sleep(0.01)::text || repeat('x', 16384) AS pause "
        "FROM generate_series(1, 250) g",
    )
    assert len(df.collect()) == 250  # every column: count() would prune the padded one
    assert time.monotonic() - started > 2.5  # the read lasted well past socket_timeout_seconds
    fault_db.assert_none_left()


def test_locked_table_during_planning(spark: Any, fault_db: FaultDb) -> None:
    with lock_held(fault_db.server, "public.small"):
        started = time.monotonic()
        with pytest.raises(LockTimeoutError) as caught:
            read_table(spark, fault_db.settings(), "f.small")
        elapsed = time.monotonic() - started
        fault_db.assert_none_left(within=5)  # the planning connection is closed
    text = str(caught.value)
    assert text.startswith("f.public.small is locked by another session")
    assert "lock_timeout_seconds=1" in text and "while planning f.public.small" in text
    assert caught.value.sqlstate == "55P03" and caught.value.setting == "lock_timeout_seconds"
    assert elapsed < 1 + MARGIN


def test_locked_table_during_the_read(spark: Any, fault_db: FaultDb) -> None:
    read = plan_table(spark, fault_db.settings(), "f.small")
    loaded = load_read(spark, read)
    with lock_held(fault_db.server, "public.small"):
        started = time.monotonic()
        with pytest.raises(Exception) as caught:
            loaded.dataframe.collect()
        elapsed = time.monotonic() - started
        fault_db.assert_none_left(within=5)
    error = read_error_of(caught.value, read)
    assert isinstance(error, LockTimeoutError), error
    text = str(error)
    assert text.startswith("f.public.small is locked by another session")
    assert "while reading f.public.small" in text and "lock_timeout_seconds=1" in text
    assert elapsed < 1 + MARGIN


def test_slow_planning_query_trips_the_statement_timeout(spark: Any, fault_db: FaultDb) -> None:
    started = time.monotonic()
    with pytest.raises(StatementTimeoutError) as caught:
        read_query(
            spark,
            fault_db.settings(),
            "f",
            "SELECT g AS k FROM generate_series(1, 10) g, pg_sleep(4) s",
            partitioning={"key_column": "k", "num_partitions": 2},
        )
    elapsed = time.monotonic() - started
    text = str(caught.value)
    assert "statement_timeout_seconds=2" in text and "planning query on connection 'f'" in text
    assert "min(" in text  # names the query: the key's bounds
    assert elapsed < 2 + MARGIN
    fault_db.assert_none_left(within=5)


def test_silent_listener_in_place_of_postgres(spark: Any, fault_db: FaultDb) -> None:
    with silent_listener() as listener:
        settings = fault_db.settings(port=listener.port, login_timeout_seconds=2)
        started = time.monotonic()
        with pytest.raises(DatabaseUnresponsiveError) as caught:
            read_table(spark, settings, "f.small")
        elapsed = time.monotonic() - started
    text = str(caught.value)
    assert f"127.0.0.1:{listener.port} accepted the TCP connection" in text
    assert "login_timeout_seconds=2" in text and "security group" not in text
    assert elapsed < 2 + MARGIN


def test_refused_port_says_nothing_listens(spark: Any, fault_db: FaultDb) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DatabaseConnectionError) as caught:
        read_table(spark, fault_db.settings(port=port), "f.small")
    text = str(caught.value)
    assert "refused the connection" in text and f"port {port} of 127.0.0.1" in text
    assert "security group" not in text
    assert type(caught.value) is DatabaseConnectionError


def test_ctrl_c_during_planning_cancels_the_query(spark: Any, fault_db: FaultDb) -> None:
    """Python's own SIGINT handler (PySpark's calls the JVM from the signal handler, which
    waits for the interrupted call: the main job installs the default one while it plans)."""
    settings = fault_db.settings(statement_timeout_seconds=120, socket_timeout_seconds=120)
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread().ident == main

    def interrupt_when_running() -> None:
        wait_for(
            lambda: backends(fault_db.server, fault_db.application_name, state="active"),
            timeout=60,
            what="the planning query to start",
        )
        signal.pthread_kill(main, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        interrupter = threading.Thread(target=interrupt_when_running, daemon=True)
        interrupter.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            read_query(
                spark,
                settings,
                "f",
                "SELECT g AS k FROM generate_series(1, 10) g, pg_sleep(60) s",
                partitioning={"key_column": "k", "num_partitions": 2},
            )
        elapsed = time.monotonic() - started
        interrupter.join(5)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert elapsed < 30  # not the query's 60 s
    fault_db.assert_none_left(within=5)  # cancelled on the server, connection closed
    assert spark.range(3).count() == 3  # the main thread's py4j connection works again
