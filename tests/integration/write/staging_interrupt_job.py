"""The main job (``entrypoints.read_tables --write``) with a statement-level hook: the creation of
the write's staging objects ends with ``TRUNCATE <gate>``, after every
staging object's CREATE, so that it waits on a lock the test holds. Run by
test_write_staging_safety.py::

    python -m tests.integration.write.staging_interrupt_job GATE ARGV...

SIGINT raises KeyboardInterrupt (the handler is set here, not inherited).
"""

from __future__ import annotations

import signal
import sys
from typing import List, Sequence

from entrypoints.read_tables import main
from spark_jobs.write.columns import ColumnPair
from spark_jobs.write.staging import Staging


def gated(gate: str) -> None:
    """Make each staging creation's last statement wait for ``gate``'s lock."""
    create_sql = Staging.create_sql

    def create_then_wait(
        self: Staging, pairs: Sequence[ColumnPair], *, streaming: bool
    ) -> List[str]:
        return [
            *create_sql(self, pairs, streaming=streaming),
            f"TRUNCATE {gate}",
        ]

    Staging.create_sql = create_then_wait  # type: ignore[method-assign]


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    gated(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
