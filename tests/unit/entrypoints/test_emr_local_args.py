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
from tests import REPO


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
    argv = ["--settings", "/cfg/s.json", "--table", "a.b.c", "--table", "a.d", "--format", "json"]
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
    args = parser.parse_args(["--settings", "/cfg/s.json", "--table", "a.b"])
    assert job_argv(parser, args) == ["--settings", "/cfg/s.json", "--table", "a.b"]


def test_sparkpg_run_emr_like_runs_the_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[Any] = []

    def fake(dist: Path, entry: str, argv: List[str], **kwargs: Any) -> Any:
        calls.append((dist, entry, argv, kwargs))
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(emr_local, "run_emr_like", fake)
    code = main(["run", "--emr-like", "--settings", "/cfg/s.json", "--table", "it.public.t"])
    assert code == 0
    ((dist, entry, argv, kwargs),) = calls
    assert (dist, entry) == (Path("dist"), "read_tables")
    assert argv[:4] == ["--settings", "/cfg/s.json", "--table", "it.public.t"]
    assert kwargs["master"] == "local[2]"


# --- issue 20, item 11: what a new user meets without AWS -----------------------------------


def test_relative_paths_are_the_callers_not_the_temporary_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job runs in a temporary folder: a relative --settings or --output would be looked up
    (or written, then deleted) there."""
    parser = _parser()
    parser.add_argument("--output")
    monkeypatch.chdir(tmp_path)
    args = parser.parse_args(
        ["--settings", "settings.json", "--table", "a.b", "--output", "rel_out", "--emr-like"]
    )
    rebuilt = parser.parse_args(job_argv(parser, args))
    for given, expected in ((rebuilt.settings, "settings.json"), (rebuilt.output, "rel_out")):
        assert Path(given).is_absolute(), given  # the job's own folder is another one
        assert Path(given).resolve() == (tmp_path / expected).resolve()
    remote = parser.parse_args(
        ["--settings", "s3://b/settings.json", "--table", "a.b", "--output", "s3://b/out/"]
    )
    again = parser.parse_args(job_argv(parser, remote))
    assert (again.settings, again.output) == ("s3://b/settings.json", "s3://b/out/")


def test_credentials_env_of_the_settings_reach_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's local recipe: SPARKPG__...__CREDENTIALS_ENV=LOCALPG and LOCALPG_USERNAME/_PASSWORD."""
    example = REPO / "examples" / "settings.json"
    settings = tmp_path / "settings.json"
    settings.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    environ = {
        "SPARKPG__POSTGRES__CONNECTIONS__AURORA__SECRET_ARN": "null",
        "SPARKPG__POSTGRES__CONNECTIONS__AURORA__CREDENTIALS_ENV": "LOCALPG",
        "LOCALPG_USERNAME": "spark",
        "LOCALPG_PASSWORD": "not-a-real-password",
        "OTHER_PASSWORD": "not-for-the-job",
        "HOME": "/root",
    }
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    passed = emr_local.credential_variables(str(settings), environ)
    assert passed == {"LOCALPG_USERNAME": "spark", "LOCALPG_PASSWORD": "not-a-real-password"}
