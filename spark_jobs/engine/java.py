"""The py4j side of every call into the JVM: keeping secrets out of py4j's log, and reading a
failed call's Java exceptions structurally (class names, SQLSTATEs, the engine's own failure
objects), never by searching their text.

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import functools
import logging
import struct
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, List, Mapping, Optional, Tuple

_PY4J_LOGGERS = ("py4j", "py4j.clientserver", "py4j.java_gateway", "py4j.protocol")


@contextmanager
def py4j_quiet() -> Iterator[None]:
    """Silence py4j's DEBUG logging (it logs every command sent to the JVM, arguments included)
    while a password crosses the bridge; levels are restored afterwards."""
    saved = []
    for name in _PY4J_LOGGERS:
        log = logging.getLogger(name)
        saved.append((log, log.level))
        if log.getEffectiveLevel() < logging.INFO:
            log.setLevel(logging.INFO)
    try:
        yield
    finally:
        for log, level in saved:
            log.setLevel(level)


@functools.cache
def jvm_class(jvm: Any, name: str) -> Any:
    """The JVM's class ``name`` (one py4j call, once per JVM: a name that is no class is looked
    for in every jar of the class path), or None when it is not on the driver's class path."""
    from py4j.java_gateway import JavaClass

    found = getattr(jvm, name)
    return found if isinstance(found, JavaClass) else None


@functools.cache
def jvm_static(jvm: Any, class_name: str, method: str) -> Any:
    """The static ``method`` of the JVM's class ``class_name``, looked up once per JVM (naming
    a method is a py4j call of its own), or None when the class is not on the class path."""
    found = jvm_class(jvm, class_name)
    return None if found is None else getattr(found, method)


def encode_pairs(pairs: Mapping[str, str]) -> bytes:
    """Name/value pairs (connection properties, a data source's options) as the engine JAR's
    ``io.sparkpg.engine.DriverQueries.pairs`` reads them: one py4j argument."""
    items = [struct.pack(">i", 2 * len(pairs))]
    for name, value in pairs.items():
        items.append(tagged(b"s", name.encode("utf-8")))
        items.append(tagged(b"s", value.encode("utf-8")))
    return b"".join(items)


def tagged(tag: bytes, payload: bytes) -> bytes:
    """One item of the engine JAR's byte layout: tag, int32 length, payload."""
    return tag + struct.pack(">i", len(payload)) + payload


def missing_jar(what: str, doc: str) -> str:
    """How to add the engine JAR when ``what`` (a class of it) is not on the classpath."""
    return (
        f"{what} is not on the Spark classpath: run `make jvm` and add "
        f"build/jvm/sparkpg-engine.jar to spark.jars ({doc})"
    )


@dataclass(frozen=True)
class JavaFailure:
    """What a py4j error says, read from its Java cause chain (never its stack trace): the
    first ``java.sql.SQLException``'s SQLSTATE and message, and ``(class name, message)`` of
    every exception in the chain (``java.net.SocketTimeoutException``, SSL errors, ...)."""

    sqlstate: Optional[str]
    message: str
    chain: Tuple[Tuple[str, str], ...] = ()

    def has(self, *class_names: str) -> bool:
        """True when an exception in the chain is one of ``class_names`` (simple names)."""
        return any(name.rsplit(".", 1)[-1] in class_names for name, _ in self.chain)

    def says(self, *needles: str) -> bool:
        """True when a message in the chain contains one of ``needles`` (case-insensitive)."""
        text = " ".join([self.message, *(m for _, m in self.chain)]).lower()
        return any(needle.lower() in text for needle in needles)

    def message_of(self, *class_names: str) -> str:
        """The message of the first exception in the chain that is one of ``class_names``."""
        for name, message in self.chain:
            if name.rsplit(".", 1)[-1] in class_names:
                return message
        return ""


def failure_of(exc: BaseException) -> JavaFailure:
    """The :class:`JavaFailure` of a py4j error (Py4JJavaError, or a SparkException from an
    executor with the pgjdbc error as a cause); a Python exception gives its first line."""
    chain: List[Tuple[str, str]] = []
    sql: Optional[Tuple[Optional[str], str]] = None
    for java in java_chain(exc):
        try:
            name = str(java.getClass().getName())
            message = " ".join(str(java.getMessage() or "").split())
            if sql is None and _is_sql_exception(java):
                state = java.getSQLState()
                sql = (str(state) if state else None), message
        except Exception:  # pragma: no cover - a broken py4j object
            break
        chain.append((name, message))
    if sql is not None:
        return JavaFailure(sql[0], sql[1], tuple(chain))
    if chain:
        name, message = chain[0]
        return JavaFailure(None, f"{name}: {message}", tuple(chain))
    lines = str(exc).strip().splitlines()
    return JavaFailure(None, lines[0] if lines else type(exc).__name__)


def _is_sql_exception(java: Any) -> bool:
    return _is_instance(java, "java.sql.SQLException")


def _is_instance(java: Any, class_name: str) -> bool:
    cls = java.getClass()
    while cls is not None:
        if str(cls.getName()) == class_name:
            return True
        cls = cls.getSuperclass()
    return False


def java_chain(exc: BaseException, limit: int = 20) -> List[Any]:
    """The Java exceptions of a failed py4j call, outermost first (empty for a Python error)."""
    java = getattr(exc, "java_exception", None)
    chain: List[Any] = []
    while java is not None and len(chain) < limit:
        chain.append(java)
        try:
            java = java.getCause()
        except Exception:  # pragma: no cover - a broken py4j object
            break
    return chain


def find_java(exc: BaseException, class_name: str) -> Optional[Any]:
    """The first exception of ``exc``'s Java chain that is (a subclass of) ``class_name``."""
    for java in java_chain(exc):
        try:
            if _is_instance(java, class_name):
                return java
        except Exception:  # pragma: no cover - a broken py4j object
            return None
    return None


def engine_missing(exc: BaseException, what: str, doc: str) -> Optional[str]:
    """When ``exc`` says Spark could not load the engine's data source (``what``): how to add its
    JAR. Read from the error class Spark gives (``DATA_SOURCE_NOT_FOUND``) or a
    ``ClassNotFoundException`` in the Java chain."""
    error_class = getattr(exc, "getErrorClass", None)
    not_found = callable(error_class) and error_class() == "DATA_SOURCE_NOT_FOUND"
    if not_found or failure_of(exc).has("ClassNotFoundException"):
        return missing_jar(what, doc)
    return None
