"""The engine's plain-JVM tests (``jvm/test``, ``make test-jvm``) run under pytest too."""

from __future__ import annotations

import shutil

import pytest

from devtools.build_engine_jar import test_classes as jvm_test_classes


def test_the_jvm_tests_pass() -> None:
    pytest.importorskip("pyspark")  # the Spark jars they compile against
    if shutil.which("javac") is None:
        pytest.skip("no JDK on PATH")
    from devtools.build_engine_jar import run_tests

    result = run_tests()
    assert result.returncode == 0, result.stdout
    assert f"{_count_tests()} JVM tests, 0 failed" in result.stdout, result.stdout


def test_every_test_class_is_found() -> None:
    assert set(jvm_test_classes()) >= {
        "io.sparkpg.engine.EngineOptionsTest",
        "io.sparkpg.engine.read.BinaryDecoderTest",
        "io.sparkpg.engine.read.FilterSqlTest",
        "io.sparkpg.engine.read.ReadSpecTest",
        "io.sparkpg.engine.write.RowEncoderTest",
    }


def _count_tests() -> int:
    """``public void test*()`` methods in the test classes' sources."""
    from devtools.build_engine_jar import JVM_DIR

    return sum(
        (JVM_DIR / "test" / (name.replace(".", "/") + ".java"))
        .read_text()
        .count("public void test")
        for name in jvm_test_classes()
    )
