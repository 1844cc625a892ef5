"""Running one job: its process log, time limit and outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING
import logging
import os
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass

from shapepipe.errors import JobSkipped, JobTimeoutError
from shapepipe.pipeline.execute import kill_running_executables, set_job_deadline
from shapepipe.pipeline.log_handlers import OneLineFileHandler
from shapepipe.pipeline.module_registry import load_runner
from shapepipe.pipeline.signals import JobStopSignals, received_signal

if TYPE_CHECKING:
    from shapepipe.pipeline.config import ShapePipeConfig
    from shapepipe.pipeline.plan import Job

OK, FAILED, SKIPPED, INTERRUPTED = 'ok', 'failed', 'skipped', 'interrupted'


def job_label(number: str) -> str:
    """How a job is named in logs and in the job ledger: its number or ``(serial)``."""
    return number or '(serial)'


@dataclass
class JobResult:
    """What the driver learns about a finished job."""

    module_run: str
    number: str
    status: str
    message: str
    log_path: str
    seconds: float
    host: str


def process_log_path(job: Job) -> str:
    """``<module>/logs/process<num>.log`` (``process_serial.log`` for serial jobs)."""
    name = f'process{job.number}.log' if job.number else 'process_serial.log'
    return os.path.join(job.run_dirs['logs'], name)


def _make_logger(job, path):
    logger = logging.Logger(f'shapepipe.{job.module_run}{job.number}')
    handler = OneLineFileHandler(path, mode='w')
    handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(message)s'))
    logger.addHandler(handler)
    return logger, handler


def _alarm(signum, frame):
    raise JobTimeoutError('job TIMEOUT reached')


def _call(func, args, timeout):
    """Call ``func(*args)`` within ``timeout`` seconds (None: no limit).

    In a main thread (SMP processes, MPI ranks, serial runs) a timer signal
    interrupts the job. In a thread (threading backend) the job runs in a
    helper thread and is abandoned when the time is up: a Python thread cannot
    be stopped, but the run goes on and the executables it started are killed.
    """
    if timeout is None:
        return func(*args)
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return func(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    outcome = {}

    def target():
        set_job_deadline(time.monotonic() + timeout)
        try:
            outcome['value'] = func(*args)
        except BaseException as error:  # re-raised in the calling thread
            outcome['error'] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        kill_running_executables(thread.ident)
        raise JobTimeoutError('job TIMEOUT reached (the thread was abandoned)')
    if 'error' in outcome:
        raise outcome['error']
    return outcome.get('value')


def _log_output(logger, output):
    """Log a runner's returned ``(stdout, stderr)``."""
    if not output:
        return
    if not isinstance(output, (tuple, list)):
        output = (output, '')
    for label, text in zip(('stdout', 'stderr'), output):
        if text:
            logger.info('%s of the module:\n%s', label, str(text).rstrip())


def run_job(job: Job, config: ShapePipeConfig) -> JobResult:
    """Run one job and return its :class:`JobResult`; never raises for job errors."""
    start = time.monotonic()
    log_path = process_log_path(job)
    host = socket.gethostname()
    logger, handler = _make_logger(job, log_path)
    logger.info('module %s, job %s, host %s, pid %d', job.module_run,
                job.number or '(serial)', host, os.getpid())
    if job.files and isinstance(job.files[0], list):
        logger.info('input: %d files in %d patterns', sum(map(len, job.files)), len(job.files))
    else:
        logger.info('input: %s', ', '.join(map(str, job.files)))
    status, message = OK, ''
    set_job_deadline(None if job.timeout is None else start + job.timeout)
    stop_signals = JobStopSignals().__enter__()
    try:
        runner = load_runner(job.runner)
        output = _call(runner, (job.files, job.run_dirs, job.number, config, job.section, logger),
                       job.timeout)
        _log_output(logger, output)
    except JobSkipped as skip:
        status, message = SKIPPED, str(skip)
        logger.info('skipped: %s', message)
    except JobTimeoutError as error:
        status, message = FAILED, f'{error} ({job.timeout:g} s)'
        logger.error('%s', message)
    except KeyboardInterrupt as error:  # Ctrl-C/SIGTERM reached the job (also inside numba)
        status = INTERRUPTED
        signum = getattr(error, 'signum', signal.SIGINT)
        message = f'interrupted by {signal.Signals(signum).name}'
        logger.error('job %s', message)
    except SystemExit as error:  # a runner called sys.exit(): its code says ok or failed
        if error.code in (None, 0):
            logger.info('the runner called sys.exit(0)')
        else:
            status, message = FAILED, f'the runner called sys.exit({error.code!r})'
            logger.error('%s', message)
    except Exception as error:  # one job's failure must not stop the run
        message = f'{type(error).__name__}: {error}'.splitlines()[0]
        signum = received_signal()   # a stop signal reached this process during the job
        if signum:   # e.g. numba turned the KeyboardInterrupt into another error
            status = INTERRUPTED
            message = f'interrupted by {signal.Signals(signum).name} ({message})'
            logger.error('job %s', message)
        else:
            status = FAILED
            logger.error('job failed:\n%s', traceback.format_exc())
    except BaseException as error:  # e.g. GeneratorExit, MemoryError subclasses
        status = FAILED
        message = f'{type(error).__name__}: {error}'.splitlines()[0]
        logger.error('job failed:\n%s', traceback.format_exc())
    finally:
        stop_signals.__exit__()
        set_job_deadline(None)
        seconds = time.monotonic() - start
        logger.info('end of job: %s after %.2f s', status, seconds)
        handler.close()
    return JobResult(job.module_run, job.number, status, message, log_path, seconds, host)
