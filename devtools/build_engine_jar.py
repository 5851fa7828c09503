"""Build the COPY engine's JAR (``jvm/``) reproducibly: ``python -m devtools.build_engine_jar``.

``javac --release 8`` against the Spark jars of the installed pyspark and the pinned pgjdbc JAR
(Maven cache), then a zip with sorted entries, fixed dates and permissions
(:func:`devtools.artifacts.write_zip`): the same sources and compiler give the same bytes.

``--test`` (``make test-jvm``) compiles ``jvm/src`` with ``jvm/test`` instead and runs the JVM
tests (every ``*Test`` class, by ``io.sparkpg.engine.testing.RunTests``) on that class path; the
JAR is not touched. ``--main CLASS ARGS...`` runs another class of that build (a JVM bench).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

from devtools.artifacts import JDBC_VERSION, REPO_ROOT, maven_cache_jar, write_zip

JVM_DIR = REPO_ROOT / "jvm"
DEFAULT_JAR = REPO_ROOT / "build" / "jvm" / "sparkpg-engine.jar"
JAVA_RELEASE = "8"  # the oldest Java EMR 7.x can run Spark on
MANIFEST = b"Manifest-Version: 1.0\r\nCreated-By: sparkpg devtools.build_engine_jar\r\n\r\n"
TEST_RUNNER = "io.sparkpg.engine.testing.RunTests"
# What Spark's launcher opens on Java 17 for its unsafe memory access (UTF8String, Platform).
JAVA_OPENS = [
    "-XX:+IgnoreUnrecognizedVMOptions",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
]


def spark_jars_dir() -> Path:
    """The ``jars/`` directory of the pyspark this Python imports."""
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def sources(jvm_dir: Path = JVM_DIR, tree: str = "src") -> List[Path]:
    """The Java sources of ``jvm/<tree>`` (``src``, or ``test`` for the JVM tests), sorted."""
    return sorted((jvm_dir / tree).rglob("*.java"))


def _classpath() -> str:
    return f"{spark_jars_dir()}/*:{maven_cache_jar(JDBC_VERSION)}"


def _compile(paths: List[Path], classes: Path) -> None:
    subprocess.run(
        ["javac", "--release", JAVA_RELEASE, "-Xlint:all,-path,-options", "-Werror"]
        + ["-encoding", "UTF-8", "-cp", _classpath(), "-d", str(classes)]
        + [str(p) for p in paths],
        check=True,
    )


def jar_entries(classes: Path, jvm_dir: Path = JVM_DIR) -> List[Tuple[str, bytes]]:
    """Compiled classes, resources and the manifest as (name, bytes)."""
    entries = [("META-INF/MANIFEST.MF", MANIFEST)]
    for root in (classes, jvm_dir / "resources"):
        entries += [
            (path.relative_to(root).as_posix(), path.read_bytes())
            for path in root.rglob("*")
            if path.is_file()
        ]
    return entries


def build(target: Path = DEFAULT_JAR, *, jvm_dir: Path = JVM_DIR) -> str:
    """Compile and pack the engine JAR to ``target``; returns its sha256."""
    with tempfile.TemporaryDirectory(prefix="sparkpg-jvm-") as tmp:
        classes = Path(tmp)
        _compile(sources(jvm_dir), classes)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_zip(target, jar_entries(classes, jvm_dir))
    return hashlib.sha256(target.read_bytes()).hexdigest()


def test_classes(jvm_dir: Path = JVM_DIR) -> List[str]:
    """The JVM test classes: ``jvm/test/**/*Test.java`` as class names."""
    root = jvm_dir / "test"
    return [
        ".".join(path.relative_to(root).with_suffix("").parts)
        for path in sources(jvm_dir, "test")
        if path.name.endswith("Test.java")
    ]


def run_tests(*, jvm_dir: Path = JVM_DIR) -> subprocess.CompletedProcess[str]:
    """Compile the engine with its JVM tests and run them; the runner's output and exit code
    (0: all passed)."""
    return run_main(TEST_RUNNER, test_classes(jvm_dir), jvm_dir=jvm_dir)


def run_main(
    main_class: str, args: List[str], *, jvm_dir: Path = JVM_DIR
) -> subprocess.CompletedProcess[str]:
    """Compile ``jvm/src`` with ``jvm/test`` and run ``main_class`` (the test runner, or a bench
    such as ``io.sparkpg.engine.read.DecodeBench``) with ``args``; its output and exit code."""
    with tempfile.TemporaryDirectory(prefix="sparkpg-jvm-test-") as tmp:
        classes = Path(tmp)
        _compile(sources(jvm_dir) + sources(jvm_dir, "test"), classes)
        return subprocess.run(
            ["java", *JAVA_OPENS, "-cp", f"{classes}:{_classpath()}", main_class, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_JAR, help="the JAR to write")
    parser.add_argument("--test", action="store_true", help="run the JVM tests instead")
    parser.add_argument(
        "--main",
        metavar="CLASS",
        help="run this class of the test build instead (a JVM bench), with the remaining arguments",
    )
    args, rest = parser.parse_known_args(argv)
    if args.main:
        result = run_main(args.main, rest)
        print(result.stdout, end="")
        return result.returncode
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.test:
        result = run_tests()
        print(result.stdout, end="")
        return result.returncode
    print(f"{args.out} sha256 {build(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
