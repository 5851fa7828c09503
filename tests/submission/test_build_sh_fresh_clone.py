"""``./build.sh`` in a fresh clone: without the dev dependencies it says in one line what to run.

The README's deploy section starts with ``./build.sh``. A Python that has pydantic and boto3 but
not pyspark (the engine JAR compiles against pyspark's jars) used to pass build.sh's own check and
end in a ``ModuleNotFoundError`` traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from devtools.artifacts import REPO_ROOT


def test_missing_dependencies_are_one_line_with_the_command(tmp_path: Path) -> None:
    bare = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(bare)
    stubs = tmp_path / "stubs"  # what a user may have installed system-wide: only these two
    for name in ("pydantic", "boto3"):
        (stubs / name).mkdir(parents=True)
        (stubs / name / "__init__.py").write_text("", encoding="utf-8")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHON": str(bare / "bin" / "python"),
        "PYTHONPATH": str(stubs),
    }
    result = subprocess.run(
        [str(REPO_ROOT / "build.sh"), "--out", str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "pyspark" in lines[0] and "make .venv/.installed" in lines[0], lines[0]
    assert not (tmp_path / "dist").exists()
    assert sys.executable  # the test's own interpreter is untouched
