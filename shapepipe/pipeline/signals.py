"""Signals that stop a run: SIGINT (Ctrl-C), SIGTERM (a batch system's wall
time) and SIGHUP (a closed terminal) all behave like Ctrl-C.

While a :class:`StopSignals` block is active, the first of these signals
raises :class:`RunInterrupted` in the main thread and
is remembered; later ones are ignored so the clean-up (stopping workers,
writing the summary and the status files) is not cut short. The exit status
is ``128 + signal number``: 130, 143, 129.
"""

import signal
import threading

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


def received_signal():
    """The first stop signal received by this process in the block, or None."""
    return _received[0] if _received else None


def exit_status(signum):
    """Shell convention for a run stopped by ``signum``."""
    return 128 + int(signum)


def _handler(signum, frame):
    if _received:
        return
    _received.append(signum)
    raise RunInterrupted(signum)


class _SignalBlock:
    """Handlers installed for a block (main thread only), restored at its end."""

    def __init__(self):
        self._previous = {}

    def _install(self, signums, handler, only_default=False):
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in signums:
            if not only_default or signal.getsignal(signum) == signal.SIG_DFL:
                self._previous[signum] = signal.signal(signum, handler)

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        return False


class StopSignals(_SignalBlock):
    """Context manager installing the stop-signal handlers of the driver."""

    def __enter__(self):
        _received.clear()
        self._install(STOP_SIGNALS, _handler)
        return self

    @staticmethod
    def ignore_more():
        """Ignore further stop signals (during the clean-up after the first)."""
        if not _received:
            _received.append(signal.SIGINT)


class JobStopSignals(_SignalBlock):
    """In a worker process, for the time of a job: SIGTERM and SIGHUP raise
    :class:`RunInterrupted` (as SIGINT raises KeyboardInterrupt) instead of
    killing the process at once, so the job's executables are killed with it
    and its process log says it was interrupted. Does nothing where handlers
    are already set (the driver, MPI ranks) or outside the main thread."""

    def __enter__(self):
        self._install((signal.SIGTERM, signal.SIGHUP), _job_handler, only_default=True)
        return self


def _job_handler(signum, frame):
    signal.signal(signum, signal.SIG_IGN)   # once: the clean-up must not be cut short
    raise RunInterrupted(signum)
