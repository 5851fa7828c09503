"""SignalGuard: Ctrl-C and SIGTERM as Interrupted, held while StartJobRun is under way."""

from __future__ import annotations

import signal
from typing import Iterator, List

import pytest

from submission.interrupts import Interrupted, SignalGuard


@pytest.fixture(autouse=True)
def default_handlers() -> Iterator[None]:
    """Python's own handlers (a terminal's), whatever the test runner inherited; restored after."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _guarded(signum: int) -> None:
    """Refuse to send ``signum`` unless a SignalGuard handles it (SIGTERM would end pytest)."""
    assert signal.getsignal(signum) not in (signal.SIG_DFL, signal.SIG_IGN)
    signal.raise_signal(signum)


def test_sigterm_is_an_interrupt_and_handlers_come_back() -> None:
    with pytest.raises(Interrupted) as raised, SignalGuard():
        _guarded(signal.SIGTERM)
    assert raised.value.terminated and isinstance(raised.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_held_until_the_block_ends() -> None:
    reached: List[str] = []
    with pytest.raises(Interrupted) as raised, SignalGuard() as guard, guard.holding():
        _guarded(signal.SIGINT)
        reached.append("after the signal")
    assert reached == ["after the signal"]
    assert raised.value.signum == signal.SIGINT and not raised.value.terminated


def test_checkpoint_raises_the_held_signal_and_a_second_one_is_not_held() -> None:
    with SignalGuard() as guard, guard.holding():
        guard.checkpoint()  # nothing held: nothing raised
        _guarded(signal.SIGTERM)
        with pytest.raises(Interrupted):
            guard.checkpoint()
        _guarded(signal.SIGINT)  # held again, raised at the end of the block
        with pytest.raises(Interrupted) as second:
            _guarded(signal.SIGTERM)  # one already held: the user insists
        assert second.value.terminated
        with pytest.raises(Interrupted):
            guard.checkpoint()


def test_an_ignored_sigint_stays_ignored() -> None:
    """A background job of a non-interactive shell starts with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with SignalGuard():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.raise_signal(signal.SIGINT)  # ignored: nothing raised
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
