"""Build ``dist/``: everything an EMR Serverless job needs, reproducibly, without Docker.

``./build.sh`` runs ``python -m devtools.build_bundle``. It writes:

- ``sparkpg-<version>-code.zip``: ``connectors``, ``spark_jobs`` and the job's entry-point modules
  (:data:`JOB_MODULES`; ``.py`` only, no tests, no ``__pycache__``) for ``--py-files`` (zipimport:
  pure Python only): what the job imports, not ``submission``, ``diagnostics`` or the CLI;
- ``sparkpg-<version>-env-py<X.Y>-<arch>.tar.gz``: a venv layout for ``spark.archives`` (unpacked
  as ``./environment``): ``bin/python`` is a link to the EMR image's ``/usr/bin/python<X.Y>`` (not
  to the build machine's Python: the venv-pack pitfall), ``pyvenv.cfg`` with ``home = /usr/bin``,
  and the runtime dependencies from ``pyproject.toml`` in ``lib/python<X.Y>/site-packages``,
  installed by pip from binary wheels for the target platform only;
- ``postgresql-<version>.jar``: the pinned JDBC driver, sha256 checked;
- the entry-point scripts (``read_tables.py``);
- ``sparkpg-engine.jar``: the COPY engine (``devtools.build_engine_jar``, reproducible), on
  ``--jars`` beside the driver;
- ``manifest.json``: every artifact with its sha256, the runtime, the ``sparkSubmitParameters``.

Same inputs (sources, lock file, JAR), same bytes: sorted entries, fixed timestamps and owners,
``gzip`` without name or time.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from devtools import build_engine_jar
from devtools.artifacts import (
    FIXED_EPOCH,
    JDBC_SHA256,
    JDBC_VERSION,
    REPO_ROOT,
    maven_cache_jar,
    write_zip,
)
from submission.bundle import Artifact, BundleManifest, Runtime

#: What the job imports, and nothing else: submission/, diagnostics/ and the operator CLI
#: (entrypoints/cli.py, cmd_*.py) never run on EMR.
CODE_PACKAGES = ("connectors", "spark_jobs")
JOB_MODULES = (
    "entrypoints/__init__.py",
    "entrypoints/errors.py",
    "entrypoints/probe.py",
    "entrypoints/read_tables.py",
)
DEFAULT_ENTRYPOINTS = ("entrypoints/read_tables.py", "entrypoints/probe.py")
LOCK_DIR = REPO_ROOT / "devtools" / "locks"

JDBC_MAVEN_URL = "https://repo1.maven.org/maven2/org/postgresql/postgresql/{v}/postgresql-{v}.jar"

ARCHITECTURES = {"x86_64": ("X86_64", "x86_64"), "arm64": ("ARM64", "aarch64")}


class BuildError(RuntimeError):
    """The build cannot go on; the message says why and what to do."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact(path: Path, dist: Path, version: Optional[str] = None) -> Artifact:
    """An :class:`Artifact` for a built file."""
    return Artifact(
        file=path.relative_to(dist).as_posix(),
        sha256=sha256_file(path),
        size=path.stat().st_size,
        version=version,
    )


# --- project metadata ----------------------------------------------------------------------


def project_metadata(root: Path = REPO_ROOT) -> Tuple[str, List[str]]:
    """``(version, runtime dependencies)``: ``connectors.__version__`` and ``pyproject.toml``."""
    init = (root / "connectors" / "__init__.py").read_text(encoding="utf-8")
    version = re.search(r'^__version__\s*=\s*"([^"]+)"', init, re.M)
    if not version:
        raise BuildError(f"no __version__ in {root / 'connectors' / '__init__.py'}")
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+

        project = tomllib.loads(text)["project"]
        return version.group(1), [str(d) for d in project.get("dependencies", [])]
    except ModuleNotFoundError:  # pragma: no cover - the build runs on the dev venv (3.11+)
        deps = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.M | re.S)
        if not deps:
            raise BuildError("cannot read the dependencies from pyproject.toml") from None
        return version.group(1), re.findall(r'"([^"]+)"', deps.group(1))


# --- code zip ------------------------------------------------------------------------------


def code_files(root: Path = REPO_ROOT) -> List[Tuple[str, Path]]:
    """``(archive name, path)`` of every ``.py`` file of the shipped packages, sorted."""
    found: List[Tuple[str, Path]] = []
    for package in CODE_PACKAGES:
        base = root / package
        if not (base / "__init__.py").is_file():
            raise BuildError(f"{base}/__init__.py is missing: {package} is not a package")
        for path in base.rglob("*.py"):
            rel = path.relative_to(root)
            if "__pycache__" in rel.parts or any(p.startswith("test") for p in rel.parts):
                continue
            found.append((rel.as_posix(), path))
    for module in JOB_MODULES:
        path = root / module
        if not path.is_file():
            raise BuildError(f"{path} is missing")
        found.append((module, path))
    return sorted(found)


# --- environment archive -------------------------------------------------------------------


def lock_path(python_version: str, lock_dir: Path = LOCK_DIR) -> Path:
    """The lock file of the runtime dependencies for a target Python: ``emr-py<X.Y>.txt``."""
    return lock_dir / f"emr-py{python_version}.txt"


def find_python(version: str) -> Optional[str]:
    """A local CPython ``version`` (``$PYTHON39``, ``python3.9`` on PATH, pyenv), or None."""
    candidates = [os.environ.get("PYTHON" + version.replace(".", ""), ""), f"python{version}"]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [
        str(p / "bin" / f"python{version}") for p in sorted(pyenv_root.glob(f"versions/{version}*"))
    ]
    for candidate in candidates:
        path = shutil.which(candidate) if candidate else None
        if not path:
            continue
        probe = subprocess.run(
            [path, "-c", "import sys, pip; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return path
    return None


def pip_install_target(
    target: Path,
    requirements: Sequence[str],
    *,
    python_version: str,
    platform: str,
    locked: bool,
    pip_python: str = sys.executable,
) -> None:
    """``pip install`` binary wheels for the target runtime into ``target`` (no Docker).

    ``locked``: ``requirements`` is ``["-r", lock file]`` with every distribution pinned and is
    installed with ``--no-deps`` (no resolution, so the interpreter running pip does not matter).
    Otherwise pip resolves, which is only right when ``pip_python`` *is* the target version: pip
    evaluates environment markers (``python_version < "3.10"``) and, with some indexes,
    Requires-Python against the interpreter it runs on, not against ``--python-version``.
    """
    command = [
        pip_python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--platform",
        platform,
        "--target",
        str(target),
    ]
    if locked:
        command.append("--no-deps")
    command += list(requirements)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(
            f"pip could not install {' '.join(requirements)} as binary wheels for CPython "
            f"{python_version} on {platform}:\n{result.stderr.strip()[-3000:]}\n"
            "Every runtime dependency needs a wheel for that platform (no compiler, no Docker)."
        )


def update_lock(python_version: str, requirements: Sequence[str], lock: Path) -> List[str]:
    """Resolve ``requirements`` with a local Python ``python_version`` and write the lock file."""
    python = find_python(python_version)
    if python is None:
        raise BuildError(
            f"--update-lock needs a local Python {python_version} with pip to resolve for it "
            f"(markers and Requires-Python are judged by the interpreter running pip); install "
            f"one (pyenv install {python_version}) or set PYTHON{python_version.replace('.', '')}"
        )
    with tempfile.TemporaryDirectory(prefix="sparkpg-lock-") as work:
        target = Path(work) / "site-packages"
        pip_install_target(
            target,
            requirements,
            python_version=python_version,
            platform="manylinux2014_x86_64",
            locked=False,
            pip_python=python,
        )
        pins = installed_requirements(target)
    lock.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Runtime dependencies of the EMR environment archive for CPython {python_version}.\n"
        f"# Resolved from pyproject.toml by ./build.sh --python {python_version} --update-lock\n"
        f"# (pip running on Python {python_version}); installed with --no-deps by ./build.sh.\n"
    )
    lock.write_text(header + "".join(f"{pin}\n" for pin in pins), encoding="utf-8")
    return pins


def read_lock(lock: Path, requirements: Sequence[str]) -> List[str]:
    """The pins of a lock file; every direct dependency of pyproject.toml must be among them."""
    pins = [
        line.strip()
        for line in lock.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    names = {_normalise(pin.split("==", 1)[0]) for pin in pins}
    missing = [
        r
        for r in requirements
        if _normalise(re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0]) not in names
    ]
    if missing:
        raise BuildError(
            f"{lock} does not pin {', '.join(missing)} from pyproject.toml; run ./build.sh --update-lock"
        )
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_tags(site_packages: Path) -> Dict[str, List[str]]:
    """``{dist-info name: [Tag lines of its WHEEL file]}``."""
    tags: Dict[str, List[str]] = {}
    for wheel in sorted(site_packages.glob("*.dist-info/WHEEL")):
        lines = wheel.read_text(encoding="utf-8").splitlines()
        tags[wheel.parent.name] = [
            ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Tag:")
        ]
    return tags


def check_wheel_tags(tags: Dict[str, List[str]], python_version: str, machine: str) -> None:
    """Every installed wheel is pure Python or built for this CPython and machine."""
    abi = "cp" + python_version.replace(".", "")
    bad: List[str] = []
    for dist, dist_tags in tags.items():
        for tag in dist_tags:
            interpreter, abi_tag, platform = tag.split("-")
            if platform == "any":
                continue
            ok_abi = abi_tag in (abi, "abi3") and interpreter.startswith("cp")
            if not ok_abi or not platform.endswith(machine) or "linux" not in platform:
                bad.append(f"{dist}: {tag}")
    if bad:
        raise BuildError(
            f"wheels not built for CPython {python_version} on linux {machine}: {'; '.join(bad)}"
        )


def installed_requirements(site_packages: Path) -> List[str]:
    """``name==version`` of every installed distribution, sorted."""
    found = []
    for meta in sorted(site_packages.glob("*.dist-info/METADATA")):
        fields = dict(
            line.split(": ", 1)
            for line in meta.read_text("utf-8").splitlines()[:10]
            if ": " in line
        )
        found.append(f"{fields['Name']}=={fields['Version']}")
    return sorted(found, key=str.lower)


def clean_site_packages(site_packages: Path) -> None:
    """Drop what must not ship: console scripts (their shebang is the build machine's), caches."""
    scripts = site_packages / "bin"
    if scripts.exists():
        shutil.rmtree(scripts)
    for cache in sorted(site_packages.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    for compiled in site_packages.rglob("*.py[co]"):
        compiled.unlink()


def pyvenv_cfg(interpreter: str, python_version: str) -> str:
    """A venv config that makes ``bin/python`` (a link to ``interpreter``) use our site-packages."""
    home = interpreter.rsplit("/", 1)[0]
    return (
        f"home = {home}\ninclude-system-site-packages = false\nversion = {python_version}\n"
        "# sparkpg environment archive: bin/python links to the EMR image's interpreter\n"
    )


def write_environment_tar(
    target: Path, site_packages: Path, *, python_version: str, interpreter: str
) -> None:
    """A reproducible ``.tar.gz`` in venv layout; members sorted, owners and times fixed."""
    lib = f"lib/python{python_version}/site-packages"
    members: List[Tuple[str, Optional[Path], Optional[str], Optional[bytes]]] = [
        ("bin", None, None, None),
        ("bin/python", None, interpreter, None),
        ("bin/python3", None, "python", None),
        (f"bin/python{python_version}", None, "python", None),
        ("lib", None, None, None),
        (f"lib/python{python_version}", None, None, None),
        (lib, None, None, None),
        ("pyvenv.cfg", None, None, pyvenv_cfg(interpreter, python_version).encode()),
    ]
    for found in site_packages.rglob("*"):
        name = f"{lib}/{found.relative_to(site_packages).as_posix()}"
        if found.is_symlink():
            members.append((name, None, os.readlink(found), None))
        elif found.is_dir():
            members.append((name, None, None, None))
        else:
            members.append((name, found, None, None))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, path, link, data in sorted(members, key=lambda m: m[0]):
            info = tarfile.TarInfo(name)
            info.mtime = FIXED_EPOCH
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if link is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = link
                info.mode = 0o777
                archive.addfile(info)
            elif data is not None:
                info.size = len(data)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(data))
            elif path is not None:
                info.size = path.stat().st_size
                info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
    with (
        target.open("wb") as out,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as zipped,
    ):
        zipped.write(raw.getvalue())


# --- JDBC JAR ------------------------------------------------------------------------------


def fetch_jdbc_jar(
    target: Path, *, jar: Optional[Path], version: str, sha256: str, timeout: float = 20.0
) -> str:
    """Copy the pinned JAR to ``target`` from ``jar``, ``~/.m2`` or Maven Central; check it.

    Returns where it came from.
    """
    candidates: List[Tuple[str, Path]] = []
    if jar is not None:
        if not jar.is_file():
            raise BuildError(f"--jar {jar}: no such file")
        candidates.append((str(jar), jar))
    else:
        cached = maven_cache_jar(version)
        if cached.is_file():
            candidates.append((str(cached), cached))
    for source, path in candidates:
        actual = sha256_file(path)
        if actual != sha256:
            raise BuildError(
                f"{source}: sha256 {actual} is not the pinned {sha256} of PostgreSQL JDBC "
                f"{version}; the file is corrupt or another version (delete it, or pass the "
                "right one with --jar)"
            )
        shutil.copyfile(path, target)
        return source
    url = JDBC_MAVEN_URL.format(v=version)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise BuildError(
            f"PostgreSQL JDBC {version} is not in {maven_cache_jar(version)} and Maven Central "
            f"is not reachable ({url}: {exc}). Pass the JAR with --jar PATH, or fetch it once "
            f"with: mvn dependency:get -Dartifact=org.postgresql:postgresql:{version}"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise BuildError(f"{url}: sha256 {actual} is not the pinned {sha256}; refusing to use it")
    target.write_bytes(data)
    return url


# --- the whole build -----------------------------------------------------------------------


def build(
    out: Path,
    *,
    python_version: str = "3.9",
    arch: str = "x86_64",
    release_label: str = "emr-7.0.0",
    jar: Optional[Path] = None,
    entrypoints: Sequence[Path] = (),
    lock: Optional[Path] = None,
    root: Path = REPO_ROOT,
    log: bool = True,
) -> BundleManifest:
    """Build every artifact into ``out`` (emptied first) and write ``out/manifest.json``."""
    if arch not in ARCHITECTURES:
        raise BuildError(f"--arch {arch!r}: expected one of {', '.join(ARCHITECTURES)}")
    if not re.match(r"^3\.\d+$", python_version):
        raise BuildError(f"--python {python_version!r}: expected a version like 3.9")
    architecture, machine = ARCHITECTURES[arch]
    platform = f"manylinux2014_{machine}"
    interpreter = f"/usr/bin/python{python_version}"
    version, requirements = project_metadata(root)
    scripts = [Path(p) for p in entrypoints] or [root / p for p in DEFAULT_ENTRYPOINTS]
    for script in scripts:
        if not script.is_file():
            raise BuildError(f"entry point {script} does not exist (pass --entrypoint PATH)")
    lock = lock or lock_path(python_version)
    if not lock.is_file():
        raise BuildError(
            f"no lock file {lock} for Python {python_version}; create it with "
            f"./build.sh --python {python_version} --update-lock (needs a local Python {python_version})"
        )
    pins = read_lock(lock, requirements)

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    code_zip = out / f"sparkpg-{version}-code.zip"
    write_zip(code_zip, [(name, path.read_bytes()) for name, path in code_files(root)])

    env_tar = out / f"sparkpg-{version}-env-py{python_version}-{arch}.tar.gz"
    with tempfile.TemporaryDirectory(prefix="sparkpg-env-") as work:
        site_packages = Path(work) / "site-packages"
        pip_install_target(
            site_packages,
            ["-r", str(lock)],
            python_version=python_version,
            platform=platform,
            locked=True,
        )
        clean_site_packages(site_packages)
        check_wheel_tags(wheel_tags(site_packages), python_version, machine)
        installed = installed_requirements(site_packages)
        if {_normalise(p) for p in installed} != {_normalise(p) for p in pins}:
            raise BuildError(f"pip installed {installed}, not the pins of {lock}: {pins}")
        write_environment_tar(
            env_tar, site_packages, python_version=python_version, interpreter=interpreter
        )

    jar_path = out / f"postgresql-{JDBC_VERSION}.jar"
    jar_source = fetch_jdbc_jar(jar_path, jar=jar, version=JDBC_VERSION, sha256=JDBC_SHA256)
    engine_path = out / build_engine_jar.DEFAULT_JAR.name
    build_engine_jar.build(engine_path)

    entry_artifacts: Dict[str, Artifact] = {}
    for script in scripts:
        copied = out / script.name
        shutil.copyfile(script, copied)
        entry_artifacts[script.stem] = artifact(copied, out)

    manifest = BundleManifest(
        version=version,
        runtime=Runtime(
            release_label=release_label,
            python=python_version,
            architecture=architecture,
            platform=platform,
            interpreter=interpreter,
        ),
        code=artifact(code_zip, out),
        environment=artifact(env_tar, out),
        jdbc_driver=artifact(jar_path, out, version=JDBC_VERSION),
        engine=artifact(engine_path, out),
        entrypoints=entry_artifacts,
        requirements=installed,
    )
    manifest = manifest.model_copy(
        update={"spark_submit_parameters": manifest.spark_params().emr_serverless()}
    )
    (out / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    if log:
        print(f"built {out}/ for {release_label}, Python {python_version}, {architecture}:")
        for name, item in manifest.artifacts.items():
            print(f"  {item.file:<48} {item.size:>10} bytes  sha256 {item.sha256[:16]}  ({name})")
        print(f"  {'manifest.json':<48} JDBC JAR from {jar_source}")
        print(f"  runtime packages: {', '.join(installed)}")
    return manifest


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``./build.sh``."""
    parser = argparse.ArgumentParser(
        prog="build.sh", description="Build dist/ for EMR Serverless (no Docker)."
    )
    parser.add_argument("--python", default="3.9", help="target Python (default 3.9, emr-7.0.0)")
    parser.add_argument("--arch", default="x86_64", choices=sorted(ARCHITECTURES))
    parser.add_argument("--release-label", default="emr-7.0.0")
    parser.add_argument("--jar", type=Path, help=f"PostgreSQL JDBC {JDBC_VERSION} JAR to use")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist")
    parser.add_argument(
        "--entrypoint",
        type=Path,
        action="append",
        default=[],
        help="entry-point script (repeatable; default entrypoints/read_tables.py and entrypoints/probe.py)",
    )
    parser.add_argument(
        "--lock",
        type=Path,
        help="pinned runtime dependencies (default devtools/locks/emr-pyX.Y.txt)",
    )
    parser.add_argument(
        "--update-lock",
        action="store_true",
        help="resolve pyproject's dependencies with a local Python X.Y and rewrite the lock first",
    )
    parser.add_argument("--upload", metavar="S3_URI", help="then upload (see sparkpg deploy)")
    parser.add_argument("--region", help="AWS region for --upload")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Command line of ``./build.sh``."""
    args = build_parser().parse_args(argv)
    try:
        if args.update_lock:
            lock = args.lock or lock_path(args.python)
            pins = update_lock(args.python, project_metadata()[1], lock)
            print(f"wrote {lock}: {', '.join(pins)}")
        build(
            args.out,
            python_version=args.python,
            arch=args.arch,
            release_label=args.release_label,
            jar=args.jar,
            entrypoints=args.entrypoint,
            lock=args.lock,
        )
    except BuildError as exc:
        print(f"build.sh: error: {exc}", file=sys.stderr)
        return 1
    if args.upload:
        from entrypoints.cli import main as cli_main

        deploy_args = ["deploy", "--dist", str(args.out), "--to", args.upload]
        if args.region:
            deploy_args += ["--region", args.region]
        return cli_main(deploy_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
