"""The main job's --write: the --sql result upserted into a table, with exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from entrypoints import read_tables
from entrypoints.errors import EXIT_OK

from .conftest import CONNECTION, SCHEMA, WriteDb

pytestmark = [pytest.mark.spark]


def test_the_sql_result_is_upserted(
    spark: Any, write_db: WriteDb, tmp_path: Path, capsys: Any
) -> None:
    write_db.table("job_src", "id int PRIMARY KEY, v text")
    write_db.execute(
        f"INSERT INTO {SCHEMA}.job_src SELECT g, 'v' || g FROM generate_series(1, 20) g"
    )
    target = write_db.table("job_dst", "id int PRIMARY KEY, v text")
    write_db.execute(f"INSERT INTO {SCHEMA}.job_dst VALUES (1, 'old'), (100, 'kept')")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(write_db.settings_data()))
    code = read_tables.main(
        [
            "--settings",
            str(settings),
            "--table",
            f"{CONNECTION}.{SCHEMA}.job_src",
            "--sql",
            "SELECT id, upper(v) AS v FROM job_src WHERE id <= 10",
            "--write",
            target,
            "--write-mode",
            "upsert",
            "--key",
            "id",
        ]
    )
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert write_db.rows(
        f"SELECT count(*), min(v), max(v) FROM {SCHEMA}.job_dst WHERE id <= 10"
    ) == [(10, "V1", "V9")]
    assert write_db.rows(f"SELECT v FROM {SCHEMA}.job_dst WHERE id = 100") == [("kept",)]
    assert target in captured.out
    code = read_tables.main(
        [
            "--settings",
            str(settings),
            "--table",
            f"{CONNECTION}.{SCHEMA}.job_src",
            "--write",
            target,
            "--write-mode",
            "upsert",
        ]
    )
    assert code != EXIT_OK
    assert "needs key=" in capsys.readouterr().err
