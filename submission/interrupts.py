"""Ctrl-C and SIGTERM while ``sparkpg submit`` may own a job run.

Inside a :class:`SignalGuard`, SIGINT and SIGTERM both raise :class:`Interrupted`, a
``KeyboardInterrupt``, so every ``except KeyboardInterrupt`` treats a scheduler's SIGTERM like a
Ctrl-C. While StartJobRun is under way they are held (:meth:`SignalGuard.holding`): raised at the
next :meth:`SignalGuard.checkpoint` (before a run exists) or when the block ends (the caller then
knows the run it may cancel). A second signal while one is held is raised at once: the user
insists. A signal the process was started with ignored (SIGINT of a background job in a
non-interactive shell) stays ignored.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Any, Dict, Iterator, Optional


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM arrived; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def terminated(self) -> bool:
        """Whether it was SIGTERM (what schedulers and ``kill`` send), not a Ctrl-C."""
        return self.signum == signal.SIGTERM


class SignalGuard:
    """Context manager: SIGINT and SIGTERM raise :class:`Interrupted` (main thread only)."""

    def __init__(self) -> None:
        self._previous: Dict[int, Any] = {}
        self._held = False
        self._pending: Optional[int] = None

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may set handlers (and receives the signals)
        for signum, default in (
            (signal.SIGINT, signal.default_int_handler),
            (signal.SIGTERM, signal.SIG_DFL),
        ):
            if signal.getsignal(signum) is default:  # an ignored signal stays ignored
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        if self._held and self._pending is None:
            self._pending = signum
            return
        raise Interrupted(signum)

    def checkpoint(self) -> None:
        """Raise the held signal now, if one arrived (call it where nothing needs cleaning up)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            raise Interrupted(pending)

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Hold signals during the block; raise a held one when it ends."""
        self._held = True
        try:
            yield
        finally:
            self._held = False
            self.checkpoint()
