"""Fault injection for the test suite: a PostgreSQL killed, frozen or locked, and a port that
accepts TCP connections and never answers (``tests/faults/``).

Each helper acts on a server started by :func:`devtools.postgres_server.postgres_server` (the
local-binaries kind: it needs the data directory and the server's processes on this machine).

>>> with postgres_server(tls=False) as pg, silent_listener() as listener:  # doctest: +SKIP
...     backends(pg, "sparkpg-test")
[]
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, List, Optional

import psycopg

from devtools.postgres_server import PostgresServer

__all__ = [
    "Background",
    "backends",
    "frozen",
    "lock_held",
    "silent_listener",
    "stop_immediately",
    "wait_for",
]


def _pg_ctl() -> str:
    found = shutil.which("pg_ctl") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError("pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin")
    return found


def stop_immediately(server: PostgresServer) -> None:
    """``pg_ctl stop -m immediate``: every backend dies at once, as in a crash or a power cut
    (run as the data directory's owner: PostgreSQL refuses root)."""
    if server.data_dir is None:
        raise RuntimeError(f"the {server.source} server was not started here: cannot stop it")
    owner = os.stat(server.data_dir)
    as_owner = owner.st_uid != os.geteuid()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    subprocess.run(
        [_pg_ctl(), "stop", "-m", "immediate", "-w", "-t", "30", "-s", "-D", str(server.data_dir)],
        env=env,
        cwd=server.data_dir.parent,
        user=owner.st_uid if as_owner else None,
        group=owner.st_gid if as_owner else None,
        extra_groups=[] if as_owner else None,
        capture_output=True,
        timeout=40,
        check=True,
    )


def backends(
    server: PostgresServer, application_name: str, *, state: Optional[str] = None
) -> List[int]:
    """The pids of the server's backends with ``application_name`` (and ``state``, e.g.
    ``"active"``), from ``pg_stat_activity``."""
    with psycopg.connect(server.conninfo(connect_timeout=5), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
            "AND (%s::text IS NULL OR state = %s::text) AND pid <> pg_backend_pid() ORDER BY pid",
            (application_name, state, state),
        ).fetchall()
    return [int(row[0]) for row in rows]


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll ``condition`` every 50 ms until it returns something truthy; return it, or raise
    ``TimeoutError`` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    """SIGSTOP the process ``pid`` (a backend: a frozen server or a network partition as the
    client sees it) for the block; SIGCONT on the way out, whatever happens."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


@contextmanager
def lock_held(
    server: PostgresServer, table: str, *, mode: str = "ACCESS EXCLUSIVE"
) -> Iterator[int]:
    """Another session holds ``LOCK TABLE table IN mode MODE`` for the block (``table`` is SQL:
    quote it yourself); yields that session's pid. Rolled back on the way out."""
    with psycopg.connect(server.conninfo(connect_timeout=5)) as conn:
        conn.execute(f"LOCK TABLE {table} IN {mode} MODE")
        pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        try:
            yield pid
        finally:
            conn.rollback()


@dataclass
class SilentListener:
    """A port on 127.0.0.1 that accepts TCP connections and never answers, and what it accepted."""

    port: int
    accepted: List[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The listener as an HTTP endpoint URL (in place of an AWS service)."""
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def silent_listener() -> Iterator[SilentListener]:
    """A port on 127.0.0.1 that accepts TCP connections and never answers (a black hole in
    place of PostgreSQL or an AWS endpoint: a load balancer without a backend, a wrong service)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    listener = SilentListener(int(server.getsockname()[1]))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                listener.accepted.append(server.accept()[0])
            except OSError:  # the poll timeout, or the socket closed
                continue

    thread = threading.Thread(target=accept, name="silent-listener", daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in listener.accepted:
            conn.close()
        server.close()


class Background:
    """An action (a Spark job, a write) running in a daemon thread; :meth:`error` waits for what
    it raised."""

    def __init__(self, action: Callable[[], Any]) -> None:
        self.errors: List[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(action,), daemon=True)
        self.thread.start()

    def _run(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except BaseException as exc:  # handed to the test thread
            self.errors.append(exc)

    def error(self, timeout: float) -> BaseException:
        """What the action raised, waiting at most ``timeout`` seconds for it to end."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the action still runs after {timeout} s"
        assert len(self.errors) == 1, f"the action succeeded or failed twice: {self.errors}"
        return self.errors[0]
