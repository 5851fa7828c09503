"""``sparkpg run --emr-like`` turns the parsed job options back into the job's command line."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any, List

import pytest

from entrypoints import emr_local
from entrypoints.cli import main
from entrypoints.emr_local import add_options, job_argv


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", required=True)
    parser.add_argument("--table", action="append", required=True)
    parser.add_argument("--format", choices=("parquet", "json"), default="parquet")
    parser.add_argument("--show", type=int, default=0)
    parser.add_argument("--snapshot", action="store_true")
    parser.add_argument("--conf", action="append", default=[])
    add_options(parser)
    return parser


def test_job_argv_round_trips_and_drops_our_own_options() -> None:
    parser = _parser()
    argv = ["--settings", "s.json", "--table", "a.b.c", "--table", "a.d", "--format", "json"]
    argv += [
        "--snapshot",
        "--show",
        "5",
        "--conf",
        "k=v",
        "--emr-like",
        "--python-for-bundle",
        "/p",
    ]
    args = parser.parse_args(argv)
    assert args.emr_like == "dist"
    rebuilt = job_argv(parser, args)
    assert "--emr-like" not in rebuilt and "/p" not in rebuilt
    again = parser.parse_args(rebuilt)
    for name in ("settings", "table", "format", "snapshot", "show", "conf"):
        assert getattr(again, name) == getattr(args, name)


def test_defaults_are_not_repeated() -> None:
    parser = _parser()
    args = parser.parse_args(["--settings", "s.json", "--table", "a.b"])
    assert job_argv(parser, args) == ["--settings", "s.json", "--table", "a.b"]


def test_sparkpg_run_emr_like_runs_the_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[Any] = []

    def fake(dist: Path, entry: str, argv: List[str], **kwargs: Any) -> Any:
        calls.append((dist, entry, argv, kwargs))
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(emr_local, "run_emr_like", fake)
    code = main(["run", "--emr-like", "--settings", "s.json", "--table", "it.public.t"])
    assert code == 0
    ((dist, entry, argv, kwargs),) = calls
    assert (dist, entry) == (Path("dist"), "read_tables")
    assert argv[:4] == ["--settings", "s.json", "--table", "it.public.t"]
    assert kwargs["master"] == "local[2]"
