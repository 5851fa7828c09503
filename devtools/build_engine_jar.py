"""Build the COPY engine's JAR (``jvm/``) reproducibly: ``python -m devtools.build_engine_jar``.

``javac --release 8`` against the Spark jars of the installed pyspark and the pinned pgjdbc JAR
(Maven cache), then a zip with sorted entries, fixed dates and permissions
(:func:`devtools.build_bundle.write_zip`): the same sources and compiler give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

from devtools.build_bundle import JDBC_VERSION, REPO_ROOT, maven_cache_jar, write_zip

JVM_DIR = REPO_ROOT / "jvm"
DEFAULT_JAR = REPO_ROOT / "build" / "jvm" / "sparkpg-engine.jar"
JAVA_RELEASE = "8"  # the oldest Java EMR 7.x can run Spark on
MANIFEST = b"Manifest-Version: 1.0\r\nCreated-By: sparkpg devtools.build_engine_jar\r\n\r\n"


def spark_jars_dir() -> Path:
    """The ``jars/`` directory of the pyspark this Python imports."""
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def sources(jvm_dir: Path = JVM_DIR) -> List[Path]:
    """The Java sources, sorted."""
    return sorted((jvm_dir / "src").rglob("*.java"))


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
    classpath = f"{spark_jars_dir()}/*:{maven_cache_jar(JDBC_VERSION)}"
    with tempfile.TemporaryDirectory(prefix="sparkpg-jvm-") as tmp:
        classes = Path(tmp)
        subprocess.run(
            ["javac", "--release", JAVA_RELEASE, "-Xlint:all,-path,-options", "-Werror"]
            + ["-encoding", "UTF-8", "-cp", classpath, "-d", str(classes)]
            + [str(p) for p in sources(jvm_dir)],
            check=True,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        write_zip(target, jar_entries(classes, jvm_dir))
    return hashlib.sha256(target.read_bytes()).hexdigest()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_JAR, help="the JAR to write")
    args = parser.parse_args(argv)
    print(f"{args.out} sha256 {build(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
