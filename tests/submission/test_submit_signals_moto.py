"""Ctrl-C and SIGTERM around ``sparkpg submit``, against the moto server (docs/deploy.md, section 5).

The narrow window right after StartJobRun is made observable in process: a botocore ``after-call``
hook on sparkpg's own (cached) client sends the process a real SIGINT as a call returns. The signal
path of a whole process is tested in a child: it sets its own SIGINT/SIGTERM handlers (a
background job of a non-interactive shell inherits an ignored SIGINT), is signalled only once it
printed that it follows the run, and is always reaped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from connectors.aws import emr_serverless_client
from devtools.artifacts import REPO_ROOT
from entrypoints.cli import main
from entrypoints.errors import (
    EXIT_INTERRUPTED,
    EXIT_JOB_CANCELLED,
    EXIT_JOB_DETACHED,
)

from .conftest import ARTIFACT_BUCKET, client

pytestmark = pytest.mark.slow
JOB = ["--job-settings", f"s3://{ARTIFACT_BUCKET}/settings.json", "--table", "aurora.public.orders"]
FAST = ["--poll-interval", "0.05", "--max-poll-interval", "0.1"]
#: The child's own handlers: Ctrl-C raises KeyboardInterrupt and SIGTERM kills, as in a terminal.
CHILD = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "signal.signal(signal.SIGTERM, signal.SIG_DFL); "
    "runpy.run_module('entrypoints.cli', run_name='__main__')"
)
BOUND = 120.0  # seconds: generous, CI is a loaded 2-core machine


def _submit(settings: Path, *extra: str) -> List[str]:
    return ["submit", "--settings", str(settings), *JOB, *FAST, *extra]


def _states(application_id: str) -> List[str]:
    runs = client("emr-serverless").list_job_runs(applicationId=application_id)["jobRuns"]
    return [str(run["state"]) for run in runs]


@pytest.fixture()
def signal_after(aws_env: str) -> Iterator[Any]:
    """``signal_after(operation, signum)``: ``signum`` to this process once ``operation`` returned.

    The hook is on sparkpg's cached EMR Serverless client and fires once. SIGINT raises
    KeyboardInterrupt meanwhile, as in a terminal, even when pytest runs as a background job.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    events = emr_serverless_client().meta.events
    registered: List[Any] = []

    def arm(operation: str, signum: int = signal.SIGINT) -> None:
        fired: List[int] = []

        def hook(**_: Any) -> None:
            if not fired:
                fired.append(signum)
                os.kill(os.getpid(), signum)

        name = f"after-call.emr-serverless.{operation}"
        events.register(name, hook)
        registered.append((name, hook))

    yield arm
    for name, hook in registered:
        events.unregister(name, hook)
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize(
    ("operation", "wait", "code", "said", "states"),
    [
        # StartJobRun answered: the signal is held until the run is known, then cancels it.
        ("StartJobRun", ["--wait"], EXIT_JOB_CANCELLED, ["interrupted: cancelling"], ["CANCELLED"]),
        # The links, before the wait loop: raised at once, and the run is known.
        (
            "GetDashboardForJobRun",
            ["--wait"],
            EXIT_JOB_CANCELLED,
            ["interrupted: cancelling"],
            ["CANCELLED"],
        ),
        # Without --wait the run was to go on anyway.
        (
            "StartJobRun",
            [],
            EXIT_JOB_DETACHED,
            ["interrupted after the run started (no --wait); job run", "left RUNNING", "arn:aws:"],
            ["RUNNING"],
        ),
        # Held during the look-up of earlier runs, raised before StartJobRun: nothing started.
        ("ListJobRuns", ["--wait"], EXIT_INTERRUPTED, ["sparkpg: interrupted"], []),
    ],
)
def test_ctrl_c_around_start_with_yes(
    settings_file: Path,
    emr_setup: Dict[str, str],
    signal_after: Any,
    capsys: pytest.CaptureFixture[str],
    operation: str,
    wait: List[str],
    code: int,
    said: List[str],
    states: List[str],
) -> None:
    """A real SIGINT to this process as ``operation`` returns, in ``submit --yes``."""
    signal_after(operation)
    exit_code = main(_submit(settings_file, *wait, "--yes", "--tag", "moto:states=RUNNING"))
    captured = capsys.readouterr()
    assert exit_code == code, captured
    assert all(text in captured.out + captured.err for text in said), captured
    assert _states(emr_setup["postgres"]) == states


class Child:
    """``sparkpg ARGS`` in a child process with its own signal handlers; stdout+stderr collected."""

    def __init__(self, args: List[str], aws_env: str) -> None:
        env = {**os.environ, "AWS_ENDPOINT_URL": aws_env, "PYTHONPATH": str(REPO_ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: List[str] = []
        self.closed = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.closed = True  # the child closed its output: wait_for stops waiting
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, text: str) -> None:
        """Until the child printed ``text`` (fails after :data:`BOUND` seconds or at its exit)."""
        with self._changed:
            self._changed.wait_for(
                lambda: text in "".join(self.lines) or self.closed, timeout=BOUND
            )
        if text not in self.output:
            pytest.fail(f"no {text!r} from the child (exit {self.process.poll()}): {self.output}")

    def exit_code(self) -> int:
        code = self.process.wait(timeout=BOUND)
        self._reader.join(timeout=BOUND)
        return code

    def reap(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=BOUND)
        self._reader.join(timeout=BOUND)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture()
def child(aws_env: str) -> Iterator[Any]:
    """``child(args)`` starts a :class:`Child`; every child is killed and reaped at the end."""
    started: List[Child] = []

    def start(args: List[str]) -> Child:
        started.append(Child(args, aws_env))
        return started[-1]

    yield start
    for each in started:
        each.reap()


@pytest.mark.parametrize(
    ("signum", "why"),
    [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated (SIGTERM)")],
)
def test_signal_during_the_wait_cancels_with_yes(
    settings_file: Path, emr_setup: Dict[str, str], child: Any, signum: int, why: str
) -> None:
    """A real Ctrl-C, or a scheduler's SIGTERM, to ``sparkpg submit --wait --yes``."""
    run = child(_submit(settings_file, "--wait", "--yes", "--tag", "moto:states=SUBMITTED/RUNNING"))
    run.wait_for(": RUNNING\n")  # printed by the wait loop (submit saw SUBMITTED)
    run.process.send_signal(signum)
    assert run.exit_code() == EXIT_JOB_CANCELLED, run.output
    assert f"{why}: cancelling job run" in run.output
    assert run.output.index("CANCELLING") < run.output.index("CANCELLED")
    assert _states(emr_setup["postgres"]) == ["CANCELLED"]


def test_sigterm_without_yes_asks_nobody_and_leaves_the_run(
    settings_file: Path, emr_setup: Dict[str, str], child: Any
) -> None:
    run = child(_submit(settings_file, "--wait", "--tag", "moto:states=SUBMITTED/RUNNING"))
    run.wait_for(": RUNNING\n")
    run.process.send_signal(signal.SIGTERM)
    assert run.exit_code() == EXIT_JOB_DETACHED, run.output
    assert "terminated (SIGTERM) without --yes; job run" in run.output
    assert "cancel job run" not in run.output  # no question
    assert _states(emr_setup["postgres"]) == ["RUNNING"]
