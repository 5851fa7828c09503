"""Run a job from ``dist/`` the way EMR Serverless does, on a laptop (``sparkpg run --emr-like``).

What EMR does with a sparkpg job, and what this does instead:

- ``spark.archives=...env.tar.gz#environment`` unpacks the environment archive as
  ``./environment`` in the job's working directory: here it is unpacked into a fresh temporary
  working directory. Its ``bin/python`` links to the EMR image's ``/usr/bin/python3.9``; when that
  does not exist here the link is re-pointed at a local CPython of the same version (the archive's
  own files are untouched).
- ``--py-files`` code zip, ``--jars`` JDBC JAR and the entry-point script: the same files from
  ``dist/``, copied into the working directory (the script must not find the repository next to
  itself).
- ``PYSPARK_PYTHON`` / ``PYSPARK_DRIVER_PYTHON`` = ``./environment/bin/python``: the same, through
  :meth:`submission.bundle.SparkParams.local_spark_submit` (one place for the flags).
- The image's Spark: the dev environment's pyspark (``SPARK_HOME``; its ``pyspark`` and ``py4j``
  packages, and nothing else of the dev environment, on ``PYTHONPATH``).

The process gets a clean environment: no ``PYTHONPATH`` or virtualenv of ours; ``AWS_*``,
``SPARKPG_*``, ``JAVA_HOME`` and locale variables pass through, and for ``sparkpg run
--emr-like`` the ``<PREFIX>_USERNAME`` / ``_PASSWORD`` variables of the settings'
``credentials_env`` (:func:`credential_variables`). Relative ``--settings`` and ``--output``
paths are made absolute against the caller's working directory first (the job runs in a
temporary folder, deleted afterwards).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from connectors.errors import BundleError
from submission.bundle import ENVIRONMENT_ALIAS, read_built_manifest

_PASS_THROUGH = ("PATH", "HOME", "JAVA_HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER")
_PASS_PREFIXES = ("AWS_", "SPARKPG_", "SPARKPG__")


def find_interpreter(version: str) -> Optional[str]:
    """A local CPython ``version``: ``$PYTHON39``, ``python3.9`` on PATH, or pyenv's."""
    candidates = [os.environ.get("PYTHON" + version.replace(".", ""), ""), f"python{version}"]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")))
    candidates += [
        str(p / "bin" / f"python{version}") for p in sorted(pyenv_root.glob(f"versions/{version}*"))
    ]
    probe = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"
    for candidate in candidates:
        path = shutil.which(candidate) if candidate else None
        if not path:
            continue
        # Ask the interpreter itself: a pyenv shim named python3.9 may run another version.
        result = subprocess.run([path, "-c", probe], capture_output=True, text=True, check=False)
        lines = result.stdout.split()
        if result.returncode == 0 and len(lines) == 2 and lines[0] == version:
            return lines[1]
    return None


@dataclass(frozen=True)
class EmrLikeRun:
    """A prepared working directory and the spark-submit command that runs the job in it."""

    workdir: Path
    command: List[str]
    env: Dict[str, str]


def _unpack(archive: Path, target: Path) -> None:
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "tar_filter"):  # 3.9.17+: keep absolute symlinks, refuse escapes
            tar.extractall(target, filter="tar")
        else:  # pragma: no cover
            tar.extractall(target)  # our own archive, just built


def _spark_home() -> Path:
    import pyspark  # the dev environment's Spark stands in for the EMR image's

    return Path(pyspark.__file__).resolve().parent


def _py4j_next_to(spark_home: Path) -> Path:
    """The py4j package installed with that pyspark (its site-packages), else ours."""
    sibling = spark_home.parent / "py4j"
    if sibling.is_dir():
        return sibling
    import py4j

    return Path(py4j.__file__).resolve().parent


def prepare(
    dist: Path,
    entry_point: str,
    arguments: Sequence[str],
    *,
    workdir: Path,
    python: Optional[str] = None,
    master: str = "local[2]",
    environ: Optional[Mapping[str, str]] = None,
    spark_home: Optional[Path] = None,
    extra_env: Optional[Mapping[str, str]] = None,
) -> EmrLikeRun:
    """Lay out ``workdir`` like an EMR Serverless job's and build the spark-submit command.

    ``spark_home`` is the installed ``pyspark`` package to run with (default: this
    environment's), e.g. pyspark 3.5.0 from ``.venv39-spark350`` for emr-7.0.0's exact Spark.
    """
    manifest = read_built_manifest(dist)
    script = manifest.entry_point(entry_point)
    environment = workdir / ENVIRONMENT_ALIAS
    environment.mkdir(parents=True)
    _unpack(dist / manifest.environment.file, environment)
    link = environment / "bin" / "python"
    if not Path(os.readlink(link)).exists():
        interpreter = python or find_interpreter(manifest.runtime.python)
        if interpreter is None:
            raise BundleError(
                f"the bundle is for Python {manifest.runtime.python} ({manifest.runtime.interpreter} "
                f"on EMR), which this machine lacks; install it (pyenv install "
                f"{manifest.runtime.python}) or pass its path"
            )
        link.unlink()
        link.symlink_to(interpreter)
    local_files = {}
    for name, item in manifest.artifacts.items():
        target = workdir / Path(item.file).name
        shutil.copyfile(dist / item.file, target)
        local_files[name] = item.model_copy(update={"uri": str(target)})
    local = manifest.model_copy(
        update={
            "code": local_files["code"],
            "environment": local_files["environment"],
            "jdbc_driver": local_files["jdbc_driver"],
            "engine": local_files.get("engine"),
        }
    )
    args, env = local.spark_params().local_spark_submit(master=master)
    prefix = f"./{ENVIRONMENT_ALIAS}/"
    absolute = f"{environment}/"
    args = [a.replace(prefix, absolute) for a in args]
    env = {k: v.replace(prefix, absolute) for k, v in env.items()}

    spark_home = spark_home or _spark_home()
    spark_python = workdir / "spark-python"  # the image's $SPARK_HOME/python stand-in
    spark_python.mkdir()
    (spark_python / "pyspark").symlink_to(spark_home)
    (spark_python / "py4j").symlink_to(_py4j_next_to(spark_home))

    source = os.environ if environ is None else environ
    clean = {k: v for k, v in source.items() if k in _PASS_THROUGH or k.startswith(_PASS_PREFIXES)}
    clean.update(extra_env or {})  # e.g. the credentials of credentials_env (credential_variables)
    clean.update(env)
    clean.update({"SPARK_HOME": str(spark_home), "PYTHONPATH": str(spark_python)})
    command = [
        str(spark_home / "bin" / "spark-submit"),
        *args,
        str(workdir / Path(script.file).name),
        *arguments,
    ]
    return EmrLikeRun(workdir=workdir, command=command, env=clean)


def run_emr_like(
    dist: Path,
    entry_point: str,
    arguments: Sequence[str],
    *,
    python: Optional[str] = None,
    master: str = "local[2]",
    environ: Optional[Mapping[str, str]] = None,
    capture: bool = False,
    timeout: Optional[float] = None,
    spark_home: Optional[Path] = None,
    extra_env: Optional[Mapping[str, str]] = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``entry_point`` of the bundle in ``dist`` with ``arguments``, like EMR would."""
    with tempfile.TemporaryDirectory(prefix="sparkpg-emr-like-") as tmp:
        run = prepare(
            dist,
            entry_point,
            arguments,
            workdir=Path(tmp),
            python=python,
            master=master,
            environ=environ,
            spark_home=spark_home,
            extra_env=extra_env,
        )
        return subprocess.run(
            run.command,
            cwd=run.workdir,
            env=run.env,
            capture_output=capture,
            text=True,
            timeout=timeout,
            check=False,
        )


def add_options(parser: argparse.ArgumentParser) -> None:
    """``--emr-like [DIST]`` and ``--python-for-bundle`` for ``sparkpg run``."""
    group = parser.add_argument_group("EMR-like run (the bundle from dist/, like EMR Serverless)")
    group.add_argument(
        "--emr-like",
        nargs="?",
        const="dist",
        metavar="DIST",
        help="run the built bundle (default dist/) with spark-submit, Python and jars as on EMR",
    )
    group.add_argument(
        "--python-for-bundle", metavar="PATH", help="local interpreter of the bundle's version"
    )


_OWN_OPTIONS = {"emr_like", "python_for_bundle", "handler", "command", "verbose"}
#: Options that name a local file or folder: the job runs in a temporary folder, so a relative
#: path is made absolute against the caller's working directory (an output written inside the
#: temporary folder would be deleted with it).
_PATH_OPTIONS = {"settings", "output"}


def _callers_path(value: str) -> str:
    """``value`` as the caller meant it: URIs (``s3://...``) as they are, local paths absolute."""
    if "://" in value or os.path.isabs(value):
        return value
    return os.path.abspath(value)


def credential_variables(settings: str, environ: Mapping[str, str]) -> Dict[str, str]:
    """The ``<PREFIX>_USERNAME`` / ``_PASSWORD`` variables of the settings' ``credentials_env``.

    The job's environment is otherwise clean (only ``AWS_*``, ``SPARKPG_*`` and the basics pass),
    so the credentials of the README's local recipe would not reach it. The settings are read as
    the job reads them (environment overrides ``SPARKPG__...`` included); when they cannot be
    read, nothing is added and the job reports why.
    """
    from connectors.errors import SparkPgError
    from connectors.settings import load_settings

    try:
        loaded = load_settings(settings)
    except (SparkPgError, OSError, ValueError):
        return {}
    names = {
        f"{connection.credentials_env}_{suffix}"
        for connection in loaded.postgres.connections
        if connection.credentials_env
        for suffix in ("USERNAME", "PASSWORD")
    }
    return {name: environ[name] for name in sorted(names) if name in environ}


def job_argv(parser: argparse.ArgumentParser, args: argparse.Namespace) -> List[str]:
    """The job's command line back from parsed ``args`` (the options ``parser`` knows)."""
    argv: List[str] = []
    for action in parser._actions:
        if not action.option_strings or action.dest in _OWN_OPTIONS or action.dest == "help":
            continue
        value = getattr(args, action.dest, None)
        if value is None or value == action.default:
            continue
        option = action.option_strings[-1]
        if action.dest in _PATH_OPTIONS and isinstance(value, str):
            value = _callers_path(value)
        if isinstance(action, argparse._StoreTrueAction):
            argv.append(option)
        elif isinstance(value, list):
            for item in value:
                argv += [option, str(item)]
        else:
            argv += [option, str(value)]
    return argv


def with_emr_like(
    handler: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser
) -> Callable[[argparse.Namespace], int]:
    """``handler``, unless ``--emr-like`` was given: then the bundle runs through spark-submit."""

    def run(args: argparse.Namespace) -> int:
        if not getattr(args, "emr_like", None):
            return handler(args)
        result = run_emr_like(
            Path(args.emr_like),
            "read_tables",
            job_argv(parser, args),
            python=args.python_for_bundle,
            master=getattr(args, "master", None) or "local[2]",
            extra_env=credential_variables(_callers_path(args.settings), os.environ),
        )
        return int(result.returncode)

    return run


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m entrypoints.emr_local DIST ENTRY_POINT [ARGS...]``."""
    args: Any = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m entrypoints.emr_local DIST ENTRY_POINT [ARGS...]", file=sys.stderr)
        return 2
    return int(run_emr_like(Path(args[0]), args[1], args[2:]).returncode)


if __name__ == "__main__":
    sys.exit(main())
