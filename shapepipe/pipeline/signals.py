"""Signals that stop a run: SIGINT (Ctrl-C), SIGTERM (a batch system's wall
time) and SIGHUP (a closed terminal) all behave like Ctrl-C.

While a :class:`StopSignals` block is active, the first of these signals
raises :class:`RunInterrupted` in the main thread and is remembered; later
ones are ignored so the clean-up (stopping workers, writing the summary and
the status files) is not cut short. A signal ignored when the run starts
(SIGHUP under ``nohup``) stays ignored. The exit status is
``128 + signal number``: 130, 143, 129. Worker processes get their own
handlers (:func:`init_worker`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGINT, SIGTERM or SIGHUP).

    A KeyboardInterrupt, so every ``except KeyboardInterrupt`` handles it;
    ``signum`` gives the exit status ``128 + signum``.
    """

    def __init__(self, signum=2):
        super().__init__(signum)
        self.signum = signum

    def __reduce__(self):
        return (RunInterrupted, (self.signum,))


_received = []


def received_signal() -> int | None:
    """The first stop signal received by this process in the block, or None."""
    return _received[0] if _received else None


def exit_status(signum: int) -> int:
    """Shell convention for a run stopped by ``signum``."""
    return 128 + int(signum)


def _handler(signum, frame):
    if _received:
        return
    _received.append(signum)
    raise RunInterrupted(signum)


class StopSignals:
    """Context manager installing the stop-signal handlers of the driver
    (main thread only), restored at its end."""

    def __init__(self):
        self._previous = {}

    def __enter__(self):
        _received.clear()
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                if signal.getsignal(signum) != signal.SIG_IGN:   # e.g. SIGHUP under nohup
                    self._previous[signum] = signal.signal(signum, _handler)
        return self

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        return False

    @staticmethod
    def ignore_more() -> None:
        """Ignore further stop signals (during the clean-up after the first)."""
        if not _received:
            _received.append(signal.SIGINT)


_worker = []   # set in worker processes by init_worker
_in_job = []   # a job is running in this worker


@contextlib.contextmanager
def sigint_ignored_while_spawning() -> Iterator[None]:
    """Ignore SIGINT in the driver while worker processes are started: they
    inherit the ignored SIGINT, so a Ctrl-C that arrives while a worker is still
    importing cannot print a traceback from the middle of an import;
    :func:`init_worker` then sets the worker's own handler. (A Ctrl-C in the
    few milliseconds of the spawn itself is lost; press it again.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def init_worker(sigint_ignored_by_us: bool = False, driver_pid: int | None = None) -> None:
    """Initializer of worker processes (loky, multiprocessing).

    During a job, SIGINT, SIGTERM and SIGHUP raise :class:`RunInterrupted`
    and are remembered, so the job's executables are killed with it and its
    process log says it was interrupted (even when the job turns the interrupt
    into another error, as numba does). Between jobs SIGINT is ignored (the
    driver decides what a Ctrl-C does) and SIGTERM or SIGHUP end the worker
    quietly. Signals ignored when the worker started stay ignored, except
    SIGINT when ``sigint_ignored_by_us``: the driver ignores it only while it
    starts workers (:func:`sigint_ignored_while_spawning`).

    ``driver_pid`` is the driver's process id: a worker whose driver is gone
    (even before this worker got to run its initializer) stops.
    """
    _worker.append(True)
    for signum in STOP_SIGNALS:
        ignored_by_us = sigint_ignored_by_us and signum == signal.SIGINT
        if ignored_by_us or signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, _worker_handler)
    threading.Thread(target=_watch_parent, args=(os.getppid(), driver_pid), daemon=True).start()


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        with open(f'/proc/{pid}/stat') as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] not in ('Z', 'X')
    except FileNotFoundError:
        return False
    except OSError:   # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


def _watch_parent(parent, driver=None, interval=0.5):
    """Stop this worker (as SIGTERM does) when its parent or the driver is gone,
    even if it was killed outright (SIGKILL), so no worker goes on writing alone.
    The driver may have died before this worker started (its parent is then
    already another process): ``driver`` is checked directly."""
    while os.getppid() == parent and (driver is None or process_alive(driver)):
        time.sleep(interval)
    os.kill(os.getpid(), signal.SIGTERM)   # the job, if any, is interrupted
    time.sleep(2)
    os._exit(exit_status(signal.SIGTERM))  # and the worker ends, whatever it waits for


def _worker_handler(signum, frame):
    if not _in_job:
        if signum != signal.SIGINT:
            os._exit(exit_status(signum))
        return
    if _received:   # once: the clean-up must not be cut short
        return
    _received.append(signum)
    raise RunInterrupted(signum)


class JobStopSignals:
    """Marks the time of a job in a worker process (see :func:`init_worker`)."""

    def __enter__(self):
        if _worker:
            _received.clear()   # forget a signal seen by an earlier job
            _in_job.append(True)
        return self

    def __exit__(self, *exc):
        _in_job.clear()
        return False
