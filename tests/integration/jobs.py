"""Jobs the tests start in a process of their own, to signal or kill them as a terminal or a
scheduler would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from tests import REPO

#: Runs a module as ``python -m`` would, after setting SIGINT's handler itself: a child started
#: from a background job of a non-interactive shell (CI) inherits an ignored SIGINT, and Ctrl-C
#: would then do nothing.
_WITH_SIGINT = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv = sys.argv[1:]; runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


def start_job(module: str, args: Sequence[str], jdbc_jar: Path) -> subprocess.Popen[str]:
    """``python -m module args`` in the repository, UTC, with the JDBC JAR, in a process group of
    its own (like a terminal's foreground job), SIGINT raising KeyboardInterrupt. The caller
    reaps it (``communicate``, or kill and ``wait`` in a ``finally``)."""
    env = dict(os.environ, TZ="UTC", SPARKPG_JDBC_JAR=str(jdbc_jar))
    env.pop("PYSPARK_GATEWAY_PORT", None)
    env["PYSPARK_PYTHON"] = env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    return subprocess.Popen(
        [sys.executable, "-c", _WITH_SIGINT, module, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
