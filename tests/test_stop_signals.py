"""`StopSignals` in this process: a signal interrupts a wait for results at once, is held
back (and raised at the next wait) elsewhere, and a second one hurries the shutdown."""

from __future__ import annotations

import os
import signal
import time

import pytest

from nasforge.run.signals import SearchInterrupted, stop_signals


def test_sigterm_while_waiting_raises_search_interrupted_with_exit_143() -> None:
    with stop_signals() as stop, pytest.raises(SearchInterrupted) as raised, stop.waiting():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted at once
    assert raised.value.signum == signal.SIGTERM
    assert raised.value.exit_code == 143


def test_a_signal_outside_a_wait_is_raised_at_the_next_wait() -> None:
    with stop_signals() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # the handler runs here, and only notes the signal
        assert stop.signum == signal.SIGINT
        with pytest.raises(SearchInterrupted) as raised, stop.waiting():
            pass
    assert raised.value.exit_code == 130


def test_a_second_signal_hurries_and_the_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    hurried: list[bool] = []
    with stop_signals() as stop:
        stop.hurry = lambda: hurried.append(True)
        with pytest.raises(SearchInterrupted), stop.waiting():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        os.kill(os.getpid(), signal.SIGTERM)  # while shutting down
        time.sleep(0.1)
    assert hurried == [True]
    assert signal.getsignal(signal.SIGTERM) == before


def test_resume_hint_names_store_and_experiment() -> None:
    stopped = SearchInterrupted(signal.SIGTERM, "runs/s.sqlite", "night")
    assert stopped.resume_hint() == "nasforge resume --store runs/s.sqlite --name night"
    spaced = SearchInterrupted(signal.SIGINT, "my runs/s.sqlite", "a b")
    assert spaced.resume_hint() == "nasforge resume --store 'my runs/s.sqlite' --name 'a b'"
