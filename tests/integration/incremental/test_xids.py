"""The widening of a row's 32-bit ``xmin`` to 64 bits, evaluated by the real server on both
sides of an epoch boundary."""

from __future__ import annotations

from typing import Any

import pytest

from spark_jobs.read.incremental_state import XidSnapshot, full_xid_sql

EPOCH = 2**32


@pytest.mark.parametrize(
    ("current_xmax", "raw", "full"),
    [
        (EPOCH + 10, 5, EPOCH + 5),  # this epoch
        (EPOCH + 10, EPOCH - 6, EPOCH - 6),  # the previous epoch, just before the boundary
        (EPOCH + 10, EPOCH + 10 - 2**31 + 1, 10 + 2**31 + 1),  # 2**31 - 1 back
        (EPOCH + 10, 2, 0),  # frozen before PostgreSQL 9.4: always visible
        (EPOCH + 10, 1, 0),  # bootstrap
        (725, 700, 700),  # epoch 0
        (3 * EPOCH + 4, EPOCH - 1, 3 * EPOCH - 1),
    ],
)
def test_widening_across_an_epoch(pg_admin: Any, current_xmax: int, raw: int, full: int) -> None:
    sql = full_xid_sql(XidSnapshot(current_xmax, current_xmax), column=f"'{raw}'::xid")
    assert pg_admin.execute(f"SELECT {sql}").fetchone()[0] == full
