"""The main job's options: :class:`JobOptions`, the command line's arguments typed and checked
before Spark starts (formats and modes, the output folders, the write target, and what
``--incremental`` combines with)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple, Union

from connectors.errors import SettingsError
from connectors.jdbc import TableRef
from spark_jobs.job.output import check_output_base, table_targets
from spark_jobs.read.options import ReadOptions

FORMATS = ("parquet", "csv", "json")
MODES = ("errorifexists", "error", "overwrite", "append", "ignore")


@dataclass(frozen=True)
class JobOptions:
    """What the main job does (the command line's arguments, typed).

    ``read`` applies to every table (partitioning, fetch size, binary transfer, type policy);
    ``sql`` runs over the tables' temp views; ``output`` receives one folder per table (or the
    ``sql`` result); ``show`` prints the first rows; ``snapshot`` reads everything in one
    snapshot per connection; ``strict`` fails on values read as NULL.
    """

    tables: Tuple[TableRef, ...]
    read: ReadOptions = field(default_factory=ReadOptions)
    sql: Optional[str] = None
    output: Optional[str] = None
    format: str = "parquet"
    mode: str = "errorifexists"
    show: int = 0
    snapshot: bool = False
    strict: bool = False
    write: Optional[str] = None  # connection.schema.table: write_table's target (docs/writing.md)
    write_mode: str = "append"
    write_key: Tuple[str, ...] = ()
    incremental: bool = False  # docs/incremental.md: the changed rows since the last run
    incremental_reset: bool = False
    cursor: Optional[str] = None  # --incremental's cursor method on this column
    delete_missing: bool = False  # --incremental --write: delete keys gone from the source

    def __post_init__(self) -> None:
        refs: Sequence[Union[str, TableRef]] = self.tables
        if not refs:
            raise SettingsError("no table to read: give at least one --table")
        parsed = tuple(r if isinstance(r, TableRef) else TableRef.parse(r) for r in refs)
        object.__setattr__(self, "tables", parsed)
        if self.format not in FORMATS:
            raise SettingsError(f"format {self.format!r}: use one of {', '.join(FORMATS)}")
        if self.mode not in MODES:
            raise SettingsError(f"mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.show < 0:
            raise SettingsError(f"--show must be >= 0, got {self.show}")
        if self.output is not None:
            object.__setattr__(self, "output", check_output_base(self.output))
            if not self.sql:  # two refs to one folder: refused before Spark starts
                table_targets(self.output, [(str(r), r.table) for r in parsed])
        self.read.only_source_wide("the main job")
        if self.write and not self.sql and len(parsed) != 1:
            raise SettingsError("--write writes the --sql result or the one --table: add --sql")
        if self.write and self.output:
            raise SettingsError("--write and --output: choose one destination")
        if self.incremental or self.incremental_reset or self.cursor or self.delete_missing:
            check_incremental_options(self)

    @property
    def counts_unrepresentable(self) -> bool:
        """Whether the tables' reads count values read as NULL: always without ``sql``; with it
        only under ``strict`` (observing a table stops Spark pushing the query's filters into
        PostgreSQL, as for the row counts, which ``sql`` skips too)."""
        return not self.sql or self.strict


def check_incremental_options(options: JobOptions) -> None:
    """Refuse what ``--incremental`` cannot combine with, naming the option."""
    if not options.incremental:
        raise SettingsError(
            "--incremental-reset, --cursor and --delete-missing go with --incremental"
        )
    if options.sql:
        raise SettingsError(
            "--incremental reads each table's changed rows: it cannot run --sql over them "
            "(read the batches afterwards)"
        )
    if options.delete_missing and not options.write:
        raise SettingsError("--delete-missing deletes from a --write target: add --write")
    if not options.output and not options.write:
        raise SettingsError("--incremental needs --output or --write: the state lives with them")
    if options.output and options.mode not in ("errorifexists", "error"):
        raise SettingsError(
            f"--mode {options.mode} with --incremental: each run adds a batch folder per table "
            "(docs/incremental.md); leave --mode out"
        )
    if options.snapshot:
        raise SettingsError("--incremental reads each table in its own snapshot: drop --snapshot")
