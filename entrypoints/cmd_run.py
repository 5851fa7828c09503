"""``sparkpg run ...``: the main job (``entrypoints/read_tables.py``) from the CLI, locally."""

from __future__ import annotations

from typing import Any

from entrypoints import emr_local, read_tables


def register(subcommands: Any) -> None:
    """Add the ``run`` command, with the main job's arguments."""
    parser = subcommands.add_parser(
        "run",
        help="read PostgreSQL tables into local Spark (the main job)",
        description=(read_tables.__doc__ or "").split("\n\n")[0],
    )
    read_tables.add_arguments(parser)
    emr_local.add_options(parser)  # --emr-like [DIST]: the built bundle, run as EMR would
    parser.set_defaults(handler=emr_local.with_emr_like(read_tables.run, parser))
