"""A local moto server with the few corrections sparkpg's tests need, and a context manager for it.

moto stands in for AWS in the Terraform, submission and ``doctor`` tests. Where moto's EMR
Serverless model differs from the real service in a way that breaks a client we use, it is
corrected here, in this one file, never in production code:

1. ``CreateApplication`` leaves the application in state ``STARTED``; the real service creates it
   in ``CREATING`` -> ``CREATED`` (it starts only on job submission or ``StartApplication``). The
   Terraform AWS provider waits for ``CREATED`` and times out otherwise, and moto refuses to update
   or delete a ``STARTED`` application. Patched: new applications are ``CREATED``.
2. ``CreateApplication`` accepts only the upper-case types ``SPARK``/``HIVE``; the service accepts
   any case (the seed and the provider's docs write ``Spark``/``hive``). Patched: the type is
   upper-cased before moto's check (moto stores it capitalised, ``Spark``, as the service does).
3. moto drops ``architecture``, so ``GetApplication`` returns none and every second
   ``terraform plan`` shows a change. Patched: the requested architecture (service default
   ``X86_64``) is stored on create and update and returned by ``GetApplication``.

Run it::

    python -m devtools.moto_server --port 5000

or, from tests::

    with moto_server() as endpoint_url:   # "http://127.0.0.1:<free port>"
        boto3.client("s3", endpoint_url=endpoint_url, ...)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

DEFAULT_ARCHITECTURE = "X86_64"
_REPO_ROOT = Path(__file__).resolve().parent.parent


def apply_patches() -> None:
    """Correct moto's EMR Serverless model (see the module docstring). Idempotent."""
    from moto.emrserverless import models, responses

    backend_cls: Any = models.EMRServerlessBackend
    response_cls: Any = responses.EMRServerlessResponse
    if getattr(backend_cls, "_sparkpg_patched", False):
        return

    original_create: Callable[..., Any] = backend_cls.create_application

    def create_application(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Patch 2: any case for the engine type.
        if isinstance(kwargs.get("application_type"), str):
            kwargs["application_type"] = kwargs["application_type"].upper()
        application = original_create(self, *args, **kwargs)
        # Patch 1: the service's state after creation.
        application.state = "CREATED"
        application.architecture = DEFAULT_ARCHITECTURE
        return application

    original_create_response: Callable[..., Any] = response_cls.create_application
    original_update_response: Callable[..., Any] = response_cls.update_application

    def _store_architecture(handler: Any, application_id: Optional[str]) -> None:
        architecture = handler._get_param("architecture")
        if application_id and architecture:
            backend = handler.emrserverless_backend
            backend.get_application(application_id).architecture = architecture

    def create_application_response(self: Any) -> Any:
        # Patch 3: keep the requested architecture.
        result = original_create_response(self)
        application_ids = [
            app.id
            for app in self.emrserverless_backend.applications.values()
            if app.client_token == self._get_param("clientToken")
            and app.name == self._get_param("name")
        ]
        _store_architecture(self, application_ids[-1] if application_ids else None)
        return result

    def update_application_response(self: Any) -> Any:
        _store_architecture(self, self._get_param("applicationId"))
        return original_update_response(self)

    backend_cls.create_application = create_application
    response_cls.create_application = create_application_response
    response_cls.update_application = update_application_response
    backend_cls._sparkpg_patched = True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until_ready(endpoint_url: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    """Poll moto's own API until it answers; fail early if the process has died."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with code {process.returncode} during startup")
        try:
            with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"moto server at {endpoint_url} did not answer within {timeout:.0f} s"
                ) from None
            time.sleep(0.1)


@contextlib.contextmanager
def moto_server(
    *,
    host: str = "127.0.0.1",
    port: Optional[int] = None,
    startup_timeout: float = 30.0,
    python: Optional[str] = None,
) -> Iterator[str]:
    """Run the patched moto server in a subprocess; yield its endpoint URL; stop it afterwards.

    The server's output goes to a temporary log file whose tail is shown if startup fails.

    >>> with moto_server() as url:  # doctest: +SKIP
    ...     url
    'http://127.0.0.1:53117'
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    attempts = 1 if port is not None else 3
    last_error: Optional[Exception] = None
    for _ in range(attempts):
        chosen = port if port is not None else free_port(host)
        endpoint_url = f"http://{host}:{chosen}"
        with tempfile.TemporaryFile() as log:
            command: List[str] = [
                python or sys.executable,
                "-m",
                "devtools.moto_server",
                "--host",
                host,
                "--port",
                str(chosen),
            ]
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                try:
                    wait_until_ready(endpoint_url, startup_timeout, process)
                except (RuntimeError, TimeoutError) as exc:
                    log.seek(0)
                    tail = log.read().decode("utf-8", "replace")[-2000:]
                    last_error = RuntimeError(f"{exc}; server output:\n{tail}")
                    continue
                yield endpoint_url
                return
            finally:
                _stop(process)
    raise RuntimeError(f"could not start the moto server: {last_error}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def main(argv: Optional[List[str]] = None) -> None:
    """Command line: ``python -m devtools.moto_server [--host H] [--port N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (default 5000)")
    args = parser.parse_args(argv)
    apply_patches()
    from moto.server import main as moto_main

    moto_args: Dict[str, str] = {"--host": args.host, "--port": str(args.port)}
    moto_main([item for pair in moto_args.items() for item in pair])


if __name__ == "__main__":
    main()
