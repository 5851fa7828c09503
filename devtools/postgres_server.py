"""A real, throwaway PostgreSQL server for the test suite and the local demo.

Where the server comes from, first match wins:

1. ``SPARKPG_TEST_POSTGRES_URL`` (a ``postgresql://`` URL) is used as given; set
   ``SPARKPG_TEST_POSTGRES_CA`` to the CA file that signed its certificate to get
   ``sslmode=verify-full``.
2. A Docker engine that answers within a few seconds: testcontainers' ``postgres:16``.
3. The local server binaries (``initdb``, ``pg_ctl``, ``postgres``): a fresh cluster in a
   temporary directory, TLS with a throwaway CA, run as an unprivileged account when we are root.

``SPARKPG_TEST_POSTGRES_BACKEND`` (``url``, ``docker`` or ``local``) forces one source.

Example::

    with postgres_server() as pg:
        with psycopg.connect(pg.conninfo()) as conn:
            conn.execute("select 1")

Run ``python -m devtools.postgres_server`` to start one in the foreground.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import glob
import hashlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Protocol, Sequence, Tuple, Union
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = [
    "DEFAULT_PASSWORD",
    "PostgresServer",
    "PostgresServerError",
    "postgres_server",
    "start_again",
]

ENV_URL = "SPARKPG_TEST_POSTGRES_URL"
ENV_CA = "SPARKPG_TEST_POSTGRES_CA"
ENV_BACKEND = "SPARKPG_TEST_POSTGRES_BACKEND"
ENV_CACHE = "SPARKPG_TEST_POSTGRES_CACHE"
_TEMPLATE_FORMAT = "1"

#: Every character that breaks naive URL or conninfo building, plus a non-ASCII one.
DEFAULT_PASSWORD = "p@ss/w?rd&'\"é:%#\\ x"
DEFAULT_USER = "postgres"
DEFAULT_DATABASE = "postgres"
DOCKER_IMAGE = "postgres:16"

_SERVER_SETTINGS: Dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "128MB",
    "TimeZone": "UTC",
    "log_timezone": "UTC",
}
_UNPRIVILEGED_ACCOUNTS = ("postgres", "nobody")
_LOG_NAME = "server.log"  # beside the data directory
_CREATED_ACCOUNT = "sparkpg-pg"

ConninfoValue = Union[str, int, Path, None]


class _Run(Protocol):
    """Runs a server command (``_runner``)."""

    def __call__(self, args: List[str], timeout: float) -> subprocess.CompletedProcess[str]: ...


class PostgresServerError(RuntimeError):
    """The test PostgreSQL server could not be found, started or reached."""


@dataclass(frozen=True)
class PostgresServer:
    """How to reach a running PostgreSQL server as its superuser.

    ``ca_cert_path`` is the CA that signed the server certificate (``None`` without TLS or
    when unknown); ``data_dir`` is the cluster directory when this process started the server.
    """

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    ca_cert_path: Optional[Path]
    server_version_num: int
    source: str = "local"
    data_dir: Optional[Path] = None
    listens_on_ipv6: bool = False
    extra_params: Tuple[Tuple[str, str], ...] = ()

    def conninfo(self, **overrides: ConninfoValue) -> str:
        """Return a libpq conninfo string; an override of ``None`` drops that key.

        >>> server.conninfo(host="127.0.0.1", connect_timeout=5)  # doctest: +SKIP
        "host='127.0.0.1' port='54321' user='postgres' password='...' ..."
        """
        params: Dict[str, ConninfoValue] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.database,
        }
        params.update(self.extra_params)
        if self.ca_cert_path is not None:
            params.setdefault("sslmode", "verify-full")
            params["sslrootcert"] = self.ca_cert_path
        params.update(overrides)
        return " ".join(
            f"{key}={_quote_conninfo(str(value))}"
            for key, value in params.items()
            if value is not None
        )

    def url(self) -> str:
        """Return a percent-encoded ``postgresql://`` URL (for ``SPARKPG_TEST_POSTGRES_URL``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        userinfo = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        url = f"postgresql://{userinfo}@{host}:{self.port}/{quote(self.database, safe='')}"
        query = list(self.extra_params)
        if self.ca_cert_path is not None and "sslmode" not in dict(query):
            query.append(("sslmode", "verify-full"))
        if query:
            url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
        return url


def _quote_conninfo(value: str) -> str:
    """Quote one conninfo value: single quotes, with ``\\`` and ``'`` backslash-escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@contextmanager
def postgres_server(
    *,
    tls: bool = True,
    password: str = DEFAULT_PASSWORD,
    backend: Optional[str] = None,
    hba_lines: Sequence[str] = (),
) -> Iterator[PostgresServer]:
    """Start (or locate) a PostgreSQL server, yield how to reach it, then stop it.

    ``backend`` is ``"url"``, ``"docker"``, ``"local"`` or ``None`` (the environment
    variable ``SPARKPG_TEST_POSTGRES_BACKEND``, else the first source available).
    ``hba_lines`` go first in ``pg_hba.conf`` (first match wins), e.g. an ``ldap`` line of
    :mod:`devtools.ldap_verifier`; they need the local binaries (other sources are refused).
    Raises :class:`PostgresServerError` naming what is missing when no source works.
    """
    if "\n" in password or "\0" in password or not password:
        raise ValueError("password must be non-empty and contain no newline or NUL")
    chosen: Optional[str] = backend or os.environ.get(ENV_BACKEND) or None
    if chosen not in (None, "url", "docker", "local"):
        raise ValueError(f"backend must be 'url', 'docker' or 'local', not {chosen!r}")

    if hba_lines:
        if chosen not in (None, "local"):
            raise PostgresServerError(f"hba_lines need the local backend, not {chosen!r}")
        chosen = "local"
    url = os.environ.get(ENV_URL)
    if chosen == "url" or (chosen is None and url):
        if not url:
            raise PostgresServerError(f"backend 'url' chosen but {ENV_URL} is not set")
        yield _server_from_url(url, os.environ.get(ENV_CA))
        return

    docker_problem: Optional[str] = "not tried (backend 'local' chosen)"
    if chosen in (None, "docker"):
        docker_problem = _docker_problem()
        if docker_problem is None:
            with _docker_server(tls=tls, password=password) as server:
                yield server
            return
        if chosen == "docker":
            raise PostgresServerError(f"backend 'docker' chosen but {docker_problem}")

    binaries = _find_binaries()
    if isinstance(binaries, str):
        raise PostgresServerError(
            "No PostgreSQL server available for the tests:\n"
            f"  - {ENV_URL} is not set;\n"
            f"  - Docker: {docker_problem};\n"
            f"  - local binaries: {binaries}.\n"
            "Install the PostgreSQL server binaries (e.g. `apt-get install postgresql`, "
            "which puts initdb in /usr/lib/postgresql/<version>/bin), start a Docker engine, "
            f"or set {ENV_URL}=postgresql://user:password@host:port/dbname."
        )
    with _local_server(binaries, tls=tls, password=password, hba_lines=hba_lines) as server:
        yield server


# --- source (a): a given URL -------------------------------------------------------------


def _server_from_url(url: str, ca: Optional[str]) -> PostgresServer:
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise PostgresServerError(
            f"{ENV_URL} must be a postgresql:// URL, got scheme {parts.scheme!r}"
        )
    if not parts.hostname:
        raise PostgresServerError(f"{ENV_URL} has no host name")
    extra = tuple(parse_qsl(parts.query, keep_blank_values=True))
    ca_path = Path(ca) if ca else None
    if ca_path is not None and not ca_path.is_file():
        raise PostgresServerError(f"{ENV_CA}={ca!r} is not a file")
    server = PostgresServer(
        host=parts.hostname,
        port=parts.port or 5432,
        user=unquote(parts.username or DEFAULT_USER),
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE,
        ca_cert_path=ca_path,
        server_version_num=0,
        source="url",
        extra_params=extra,
    )
    return _with_version(server)


def _with_version(server: PostgresServer) -> PostgresServer:
    """Connect once (proves the credentials and TLS work) and record the server version."""
    import psycopg

    try:
        with psycopg.connect(server.conninfo(connect_timeout=10)) as conn:
            version = conn.info.server_version
    except psycopg.Error as exc:
        raise PostgresServerError(
            f"cannot connect to the {server.source} PostgreSQL server at "
            f"{server.host}:{server.port} as {server.user!r}: {exc}"
        ) from exc
    return dataclasses.replace(server, server_version_num=version)


# --- source (b): Docker via testcontainers -----------------------------------------------


def _docker_problem() -> Optional[str]:
    """Return why Docker cannot be used, or ``None`` when an engine answers a ping."""
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return "no engine (DOCKER_HOST is unset and /var/run/docker.sock does not exist)"
    try:
        import docker
        import testcontainers  # noqa: F401
    except ImportError as exc:
        return f"the Python package {exc.name!r} is not installed (pip install testcontainers)"
    try:
        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # the SDK raises DockerException, requests and OS errors alike
        return f"the engine did not answer a ping ({type(exc).__name__}: {exc})"
    return None


@contextmanager
def _docker_server(*, tls: bool, password: str) -> Iterator[PostgresServer]:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers < 4.14 (the last ones for Python 3.9)
        from testcontainers.postgres import PostgresContainer

    settings = " ".join(f"-c {k}={v}" for k, v in _SERVER_SETTINGS.items())
    container = PostgresContainer(
        DOCKER_IMAGE, username=DEFAULT_USER, password=password, dbname=DEFAULT_DATABASE, driver=None
    )
    workdir = Path(tempfile.mkdtemp(prefix="sparkpg-pg-"))
    try:
        ca_path: Optional[Path] = None
        if tls:
            ca_path = workdir / "ca.crt"
            ca_pem, cert_pem, key_pem = _make_certificates()
            ca_path.write_bytes(ca_pem)
            tls_dir = "/var/lib/postgresql/tls"
            script = (
                f"set -e; mkdir -p {tls_dir}; "
                f'printf "%s" "$SPARKPG_SERVER_CRT" > {tls_dir}/server.crt; '
                f'printf "%s" "$SPARKPG_SERVER_KEY" > {tls_dir}/server.key; '
                f"chown -R postgres:postgres {tls_dir}; chmod 600 {tls_dir}/server.key; "
                f"exec docker-entrypoint.sh postgres {settings} -c ssl=on "
                f"-c ssl_cert_file={tls_dir}/server.crt -c ssl_key_file={tls_dir}/server.key"
            )
            container.with_env("SPARKPG_SERVER_CRT", cert_pem.decode())
            container.with_env("SPARKPG_SERVER_KEY", key_pem.decode())
            container.with_kwargs(entrypoint=["sh", "-c", script])
        else:
            container.with_command(f"postgres {settings}")
        with container:
            host = container.get_container_host_ip()
            if host in ("127.0.0.1", "::1", "localhost"):
                host = "localhost"  # the only name in the server certificate
            server = PostgresServer(
                host=host,
                port=int(container.get_exposed_port(5432)),
                user=DEFAULT_USER,
                password=password,
                database=DEFAULT_DATABASE,
                ca_cert_path=ca_path,
                server_version_num=0,
                source="docker",
            )
            yield _with_version(server)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- source (c): the local server binaries -----------------------------------------------


@dataclass(frozen=True)
class _Binaries:
    initdb: str
    pg_ctl: str
    postgres: str


def _find_binaries() -> Union[_Binaries, str]:
    """Find initdb, pg_ctl and postgres in one directory, or say what is missing."""
    names = ("initdb", "pg_ctl", "postgres")
    found = {name: shutil.which(name) for name in names}
    if all(found.values()):
        return _Binaries(*(str(found[name]) for name in names))
    candidates: List[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
        )
        candidates.append(result.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for bindir in candidates:
        paths = [os.path.join(bindir, name) for name in names]
        if all(os.access(path, os.X_OK) for path in paths):
            return _Binaries(*paths)
    missing = ", ".join(name for name, path in found.items() if path is None)
    return f"{missing} not found on PATH, via pg_config or in /usr/lib/postgresql/*/bin"


def _version_key(path: str) -> Tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path))


@dataclass(frozen=True)
class _RunAs:
    """The account the server runs as (``None`` ids: the current user)."""

    uid: Optional[int]
    gid: Optional[int]
    name: str


def _run_as() -> _RunAs:
    """Pick an unprivileged account when root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return _RunAs(None, None, pwd.getpwuid(os.geteuid()).pw_name)
    for name in (*_UNPRIVILEGED_ACCOUNTS, _CREATED_ACCOUNT):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return _RunAs(entry.pw_uid, entry.pw_gid, name)
    useradd = shutil.which("useradd")
    if useradd is None:
        raise PostgresServerError(
            "running as root, PostgreSQL refuses root, and there is no unprivileged account "
            f"({', '.join(_UNPRIVILEGED_ACCOUNTS)}) and no useradd to create one"
        )
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _CREATED_ACCOUNT],
        check=True,
        capture_output=True,
    )
    entry = pwd.getpwnam(_CREATED_ACCOUNT)
    return _RunAs(entry.pw_uid, entry.pw_gid, _CREATED_ACCOUNT)


def _base_dir(run_as: _RunAs) -> Optional[str]:
    """A parent for the temp dir: /dev/shm when roomy (a RAM disk is much faster), else the
    default temp dir if the server account can traverse it, else /tmp."""
    shm = "/dev/shm"
    try:
        stats = os.statvfs(shm)
        if stats.f_bavail * stats.f_frsize >= 1 << 30 and os.access(shm, os.W_OK | os.X_OK):
            return shm
    except OSError:
        pass
    if run_as.uid is None:
        return None
    parent = Path(tempfile.gettempdir()).resolve()
    for directory in (parent, *parent.parents):
        if not directory.stat().st_mode & 0o001:
            return "/tmp"
    return None


def _free_port(ipv6: bool) -> int:
    """A TCP port free on 127.0.0.1 (and on ::1 when ``ipv6``)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not ipv6 or _can_bind(socket.AF_INET6, "::1", port):
            return port
    raise PostgresServerError("found no TCP port free on both 127.0.0.1 and ::1")


def _can_bind(family: socket.AddressFamily, address: str, port: int) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((address, port))
    except OSError:
        return False
    return True


def _make_certificates() -> Tuple[bytes, bytes, bytes]:
    """Return PEMs of a throwaway CA and a server certificate + key for ``DNS:localhost`` only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sparkpg throwaway test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem = serialization.Encoding.PEM
    return ca_cert.public_bytes(pem), cert.public_bytes(pem), key_pem


def _cache_root() -> Optional[Path]:
    """Where initialised clusters are kept for reuse (``None`` when disabled or unusable)."""
    if os.environ.get(ENV_CACHE, "1").lower() in ("0", "false", "no", "off"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = Path(base) / "sparkpg" / "postgres-templates"
    try:
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)  # the templates hold the test password's SCRAM verifier
    except OSError:
        return None
    return root


def _init_cluster(
    binaries: _Binaries,
    run: Any,
    chown: Any,
    workdir: Path,
    data_dir: Path,
    password: str,
    account: str,
) -> None:
    """Create ``data_dir``: a copy of a cached cluster when there is one, else ``initdb``."""
    version = subprocess.run(
        [binaries.initdb, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    key_material = "\0".join((_TEMPLATE_FORMAT, binaries.initdb, version, password))
    key = hashlib.sha256(key_material.encode()).hexdigest()[:24]
    cache = _cache_root()
    template = cache / key if cache is not None else None
    if template is not None and template.is_dir():
        shutil.copytree(template, data_dir, symlinks=True)
        for directory, _dirs, files in os.walk(data_dir):
            chown(Path(directory))
            for name in files:
                chown(Path(directory) / name)
        os.chmod(data_dir, 0o700)
        return

    pwfile = workdir / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    os.chmod(pwfile, 0o600)
    chown(pwfile)
    result = run(
        [
            binaries.initdb,
            "--pgdata",
            str(data_dir),
            "--username",
            DEFAULT_USER,
            "--pwfile",
            str(pwfile),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
        timeout=120,
    )
    pwfile.unlink()
    if result.returncode != 0:
        raise PostgresServerError(
            f"initdb failed (exit {result.returncode}) running as {account!r}:\n"
            f"{result.stdout}{result.stderr}"
        )
    if template is not None and cache is not None:
        building = Path(tempfile.mkdtemp(prefix=".building-", dir=cache))
        try:
            shutil.copytree(data_dir, building / "data", symlinks=True)
            os.rename(building / "data", template)  # atomic; loses harmlessly to a racing copy
        except OSError:
            pass
        finally:
            shutil.rmtree(building, ignore_errors=True)


def _clean_env() -> Dict[str, str]:
    """The environment for server commands: no PG* variables, C locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    return env


def _runner(workdir: Path, run_as: _RunAs) -> _Run:
    """``run(args, timeout)``: a server command in ``workdir`` as ``run_as``, output captured."""
    env = _clean_env()

    def run(args: List[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            cwd=workdir,
            env=env,
            user=run_as.uid,
            group=run_as.gid,
            extra_groups=[] if run_as.uid is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


def _start_command(binaries: _Binaries, data_dir: Path) -> List[str]:
    """``pg_ctl start``, waiting up to 60 s; the log beside the data directory."""
    log = data_dir.parent / _LOG_NAME
    return [binaries.pg_ctl, "start", "-w", "-t", "60", "-s", "-D", str(data_dir), "-l", str(log)]


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


@contextmanager
def _local_server(
    binaries: _Binaries, *, tls: bool, password: str, hba_lines: Sequence[str] = ()
) -> Iterator[PostgresServer]:
    run_as = _run_as()
    workdir = Path(tempfile.mkdtemp(prefix="sparkpg-pg-", dir=_base_dir(run_as)))
    data_dir = workdir / "data"
    log = workdir / _LOG_NAME
    run = _runner(workdir, run_as)

    def chown(path: Path) -> None:
        if run_as.uid is not None and run_as.gid is not None:
            os.chown(path, run_as.uid, run_as.gid)

    try:
        os.chmod(workdir, 0o700)
        chown(workdir)
        _init_cluster(binaries, run, chown, workdir, data_dir, password, run_as.name)

        ipv6 = _can_bind(socket.AF_INET6, "::1", 0)
        settings = dict(_SERVER_SETTINGS)
        settings.update(
            listen_addresses="127.0.0.1,::1" if ipv6 else "127.0.0.1",
            unix_socket_directories=str(workdir),
            ssl="off",
        )
        ca_path: Optional[Path] = None
        if tls:
            ca_pem, cert_pem, key_pem = _make_certificates()
            ca_path = workdir / "ca.crt"
            ca_path.write_bytes(ca_pem)
            for name, content, mode in (
                ("server.crt", cert_pem, 0o644),
                ("server.key", key_pem, 0o600),
            ):
                path = workdir / name
                path.write_bytes(content)
                os.chmod(path, mode)
                chown(path)
            settings.update(
                ssl="on",
                ssl_cert_file=str(workdir / "server.crt"),
                ssl_key_file=str(workdir / "server.key"),
            )
        (data_dir / "pg_hba.conf").write_text(
            "".join(f"{line}\n" for line in hba_lines)
            + "# sparkpg test harness: password (SCRAM) for every other connection\n"
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"
        )

        last_error = ""
        for _attempt in range(3):  # another process may take the port between pick and bind
            settings["port"] = str(_free_port(ipv6))
            conf = "".join(f"{key} = {_quote_setting(value)}\n" for key, value in settings.items())
            (data_dir / "postgresql.auto.conf").write_text(conf)
            result = run(_start_command(binaries, data_dir), timeout=90)
            if result.returncode == 0:
                break
            last_error = (
                f"pg_ctl start failed (exit {result.returncode}) running as {run_as.name!r}: "
                f"{result.stdout}{result.stderr}\n--- last lines of {log} ---\n{_log_tail(log)}"
            )
            if "Address already in use" not in _log_tail(log):
                raise PostgresServerError(last_error)
        else:
            raise PostgresServerError(last_error)

        server = PostgresServer(
            host="localhost",
            port=int(settings["port"]),
            user=DEFAULT_USER,
            password=password,
            database=DEFAULT_DATABASE,
            ca_cert_path=ca_path,
            server_version_num=0,
            source="local",
            data_dir=data_dir,
            listens_on_ipv6=ipv6,
            extra_params=() if tls else (("sslmode", "disable"),),
        )
        try:
            server = _with_version(server)
        except PostgresServerError as exc:
            raise PostgresServerError(
                f"{exc}\n--- last lines of {log} ---\n{_log_tail(log)}"
            ) from exc
        yield server
    finally:
        try:
            _stop(binaries, data_dir, run)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def start_again(server: PostgresServer) -> None:
    """Start a local server that was stopped (for example killed by
    ``devtools.faults.stop_immediately``) again, on its port, settings and data directory;
    returns once it accepts connections, crash recovery done. The context manager of
    :func:`postgres_server` still stops and removes it.

    >>> stop_immediately(pg); start_again(pg)  # doctest: +SKIP
    """
    if server.source != "local" or server.data_dir is None:
        raise PostgresServerError(
            f"the {server.source} server was not started here from the local binaries: "
            "cannot start it again"
        )
    binaries = _find_binaries()
    if isinstance(binaries, str):
        raise PostgresServerError(binaries)
    log = server.data_dir.parent / _LOG_NAME
    run = _runner(server.data_dir.parent, _run_as())
    result = run(_start_command(binaries, server.data_dir), timeout=90)
    if result.returncode != 0:
        raise PostgresServerError(
            f"pg_ctl start of {server.data_dir} failed (exit {result.returncode}): "
            f"{result.stdout}{result.stderr}\n--- last lines of {log} ---\n{_log_tail(log)}"
        )
    _with_version(server)


def _quote_setting(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _stop(binaries: _Binaries, data_dir: Path, run: Any) -> None:
    """Stop the server if it runs: ``pg_ctl stop -m fast``, then SIGKILL as a last resort."""
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return
    result = run(
        [binaries.pg_ctl, "stop", "-w", "-t", "30", "-s", "-m", "fast", "-D", str(data_dir)], 40
    )
    if result.returncode == 0 or not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError, IndexError):
        pass


# --- python -m devtools.postgres_server --------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    """Start a server in the foreground, print how to reach it, stop on Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.postgres_server", description=main.__doc__
    )
    parser.add_argument("--no-tls", action="store_true", help="start without TLS")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="superuser password")
    parser.add_argument("--backend", choices=("url", "docker", "local"), default=None)
    args = parser.parse_args(argv)

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)  # also when started in the background (SIG_IGN)
    started = time.monotonic()
    try:
        with postgres_server(
            tls=not args.no_tls, password=args.password, backend=args.backend
        ) as pg:
            elapsed = time.monotonic() - started
            print(f"PostgreSQL {pg.server_version_num} ({pg.source}) ready in {elapsed:.2f} s")
            print(f"  host      {pg.host}")
            print(f"  port      {pg.port}")
            print(f"  user      {pg.user}")
            print(f"  password  {pg.password}")
            print(f"  database  {pg.database}")
            print(f"  CA        {pg.ca_cert_path or '-'}")
            print(f"  data dir  {pg.data_dir or '-'}")
            print(f"  psql      psql {shlex.quote(pg.conninfo())}")
            print(f"  export {ENV_URL}={shlex.quote(pg.url())}")
            if pg.ca_cert_path:
                print(f"  export {ENV_CA}={shlex.quote(str(pg.ca_cert_path))}")
            print("Press Ctrl-C to stop.", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0
    except PostgresServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
