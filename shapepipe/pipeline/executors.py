"""Where jobs run: joblib on one machine (SMP) or MPI ranks (mpi4py).

Both executors have one method, ``map(jobs, config)``, yielding a
:class:`~shapepipe.pipeline.job.JobResult` per job as jobs finish, so the
driver loop is the same in both modes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING
import collections
import concurrent.futures
import os
import signal
import socket
import sys

from shapepipe.errors import DependencyError, ExecutorError
from shapepipe.pipeline.execute import kill_running_executables
from shapepipe.pipeline.job import FAILED, JobResult, process_log_path, run_job
from shapepipe.pipeline.signals import (
    RunInterrupted, StopSignals, init_worker, received_signal, sigint_ignored_while_spawning,
)

if TYPE_CHECKING:
    from mpi4py import MPI

    from shapepipe.pipeline.config import ShapePipeConfig
    from shapepipe.pipeline.plan import Job


class RankFailed(ExecutorError):
    """An MPI rank failed outside its jobs or was stopped: the run is aborted."""


STOP_GRACE = 2.0
"""Seconds the jobs in flight get to end after a stop signal before their workers are killed."""


def _dead_worker_message(error):
    """One line for a job whose worker process died, with the exit code when known."""
    text = str(error)
    for name in ('SIGKILL', 'SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGTERM'):
        if name in text:
            hint = ' (killed: out of memory?)' if name == 'SIGKILL' else ''
            return f'its worker process died of {name}{hint}'
    return 'its worker process died'


def _descendants(pid):
    """Pids of the processes descended from ``pid`` (read from /proc)."""
    children = collections.defaultdict(list)
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as handle:
                    ppid = int(handle.read().rsplit(')', 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children[ppid].append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(pid):
    """SIGKILL a worker, then what it started: the worker first, so that a job
    cannot go on (and write its output) once its executables are killed."""
    tree = _descendants(pid) if os.path.isdir('/proc') else []
    for target in [pid] + tree:
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for target in tree:   # executables lead their own group: get what they started since
        try:
            os.killpg(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _failed(job, message):
    return JobResult(job.module_run, job.number, FAILED, message, process_log_path(job), 0.0, '')


class SMPExecutor:
    """Run jobs on one machine: ``SMP_BATCH_SIZE`` at once.

    With ``loky`` (joblib's process pool) or ``multiprocessing`` each job runs
    in a worker process; with ``threading`` in a thread of the driver. At most
    ``SMP_BATCH_SIZE`` jobs are handed to the pool at a time, so when a worker
    dies (a segfault, the OOM killer) the jobs then in flight are known: the
    pool is replaced, a lone job in flight is the one that died and fails,
    several are rerun one at a time to find it, and the queued jobs go on in
    the new pool. Jobs already finished keep their result.
    """

    mode = 'smp'

    def __init__(self, n_jobs: int = 1, backend: str = 'loky') -> None:
        self.n_jobs = n_jobs
        self.backend = backend
        self.ranks = 1
        self._pool = None
        self._running = {}
        # Whether workers set their own SIGINT handler: they start with SIGINT
        # ignored (sigint_ignored_while_spawning) unless it was ignored from the start.
        self._sigint_handled = signal.getsignal(signal.SIGINT) != signal.SIG_IGN

    # Pools ------------------------------------------------------------------
    def _new_pool(self):
        if self.backend == 'threading':
            return concurrent.futures.ThreadPoolExecutor(self.n_jobs)
        if self.backend == 'multiprocessing':
            import multiprocessing
            return concurrent.futures.ProcessPoolExecutor(
                self.n_jobs, mp_context=multiprocessing.get_context('forkserver'),
                initializer=init_worker, initargs=(self._sigint_handled, os.getpid()))
        from joblib.externals.loky import get_reusable_executor
        return get_reusable_executor(self.n_jobs, reuse=True, initializer=init_worker,
                                     initargs=(self._sigint_handled, os.getpid()))


    def _pool_ready(self):
        if self._pool is None:
            self._pool = self._new_pool()
        return self._pool

    def _submit(self, job, config):
        """Submit a job; worker processes started now begin with the stop signals blocked."""
        if self.backend == 'threading':
            return self._pool_ready().submit(run_job, job, config)
        with sigint_ignored_while_spawning():
            return self._pool_ready().submit(run_job, job, config)

    def _drop_pool(self, kill):
        """Shut the pool down; ``kill``: stop its workers (and their children) now."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            for process in list(getattr(pool, '_processes', {}).values()):
                _kill_tree(process.pid)
            kill_running_executables()
        # Wait for killed processes (quick); never for threads, which cannot be stopped.
        wait = kill and self.backend != 'threading'
        try:
            if self.backend == 'loky':
                pool.shutdown(wait=wait, kill_workers=kill)
            else:
                pool.shutdown(wait=wait, cancel_futures=True)
        except Exception:  # a broken pool may fail to shut down cleanly: it is dropped anyway
            pass

    # Running ----------------------------------------------------------------
    def map(self, jobs: Sequence[Job], config: ShapePipeConfig) -> Iterator[JobResult]:
        """Yield a :class:`JobResult` per job, as jobs finish."""
        if self.n_jobs == 1 or len(jobs) == 1:
            for job in jobs:
                yield run_job(job, config)
                if received_signal():
                    return
            return
        queue = collections.deque((job, False) for job in jobs)   # (job, run alone)
        running = self._running = {}
        while queue or running:
            while queue and not (running and (queue[0][1] or len(running) >= self.n_jobs
                                              or any(alone for _, alone in running.values()))):
                job, alone = queue.popleft()
                running[self._submit(job, config)] = (job, alone)
            done, _ = concurrent.futures.wait(
                running, timeout=1.0, return_when=concurrent.futures.FIRST_COMPLETED)
            died = []
            for future in done:
                job, alone = running.pop(future)
                try:
                    yield future.result()
                except concurrent.futures.BrokenExecutor as error:
                    died.append((job, error))
                except Exception as error:  # e.g. a result that cannot be sent back
                    yield _failed(job, f'{type(error).__name__}: {error}'.splitlines()[0])
            if not died:
                continue
            if received_signal():   # workers killed by the signal that stops the run
                return
            # The pool is broken: every job in flight ends the same way.
            for future in list(running):
                job, _ = running.pop(future)
                try:
                    yield future.result()
                except Exception as error:
                    died.append((job, error))
            self._drop_pool(kill=True)
            if len(died) == 1:
                job, error = died[0]
                yield _failed(job, _dead_worker_message(error))
            else:
                queue.extendleft((job, True) for job, _ in reversed(died))

    def stop(self) -> None:
        """Stop the workers (the run is interrupted).

        Jobs in flight get :data:`STOP_GRACE` seconds to end: a worker that
        received the signal too ends its job as interrupted and says so in its
        process log. Whatever is still running then is killed.
        """
        if self._running and self.backend != 'threading':
            concurrent.futures.wait(list(self._running), timeout=STOP_GRACE)
        self._running = {}
        self._drop_pool(kill=True)
        kill_running_executables()

    def close(self) -> None:
        """Release the workers."""
        self._drop_pool(kill=False)


def _mpi_comm():
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise DependencyError(
            f'MODE = MPI needs mpi4py and an MPI library ({error}): run '
            f'`.venv/bin/pip install mpi4py mpich` (or `make install`)'
        ) from None
    return MPI.COMM_WORLD


_RESULTS = 17   # MPI tag of the messages that ranks send to rank 0


class MPIExecutor:
    """Run jobs over MPI ranks; rank 0 drives and works too.

    Rank 0 broadcasts each module's job list; every rank runs the jobs
    ``jobs[rank::size]`` and sends its results to rank 0. The other ranks wait
    in :meth:`serve` until rank 0 says stop. A rank that fails outside its
    jobs (or is stopped by a signal) tells rank 0, which reports it in one line
    and aborts the run.
    """

    mode = 'mpi'

    def __init__(self, comm: MPI.Intracomm | None = None) -> None:
        self.comm = comm or _mpi_comm()
        self.rank = self.comm.Get_rank()
        self.ranks = self.comm.Get_size()

    def map(self, jobs: Sequence[Job], config: ShapePipeConfig) -> Iterator[JobResult]:
        self.comm.bcast(('jobs', jobs, config), root=0)
        for job in jobs[0::self.ranks]:
            yield run_job(job, config)
            if received_signal():
                return
        for _ in range(self.ranks - 1):
            kind, rank, payload = self.comm.recv(source=_any_source(), tag=_RESULTS)
            if kind == 'failed':
                raise RankFailed(f'MPI rank {rank} failed: {payload}', rank=rank)
            yield from payload

    def stop(self) -> None:
        """Nothing to do here: :meth:`close` aborts the other ranks."""

    def close(self, abort: int | None = None) -> None:
        """Release the other ranks from :meth:`serve`, or abort every rank with
        the exit status ``abort`` (a rank failed, or a signal stopped the run)."""
        if self.rank != 0:
            return
        if abort:
            sys.stdout.flush()
            sys.stderr.flush()
            self.comm.Abort(abort)
        self.comm.bcast(('stop', None, None), root=0)

    def serve(self) -> int:
        """Loop of ranks > 0: run the share of each broadcast job list.

        Returns the process exit status.
        """
        with StopSignals():
            while True:
                kind, jobs, config = self.comm.bcast(None, root=0)
                if kind == 'stop':
                    return 0
                try:
                    mine = []
                    for job in jobs[self.rank::self.ranks]:
                        mine.append(run_job(job, config))
                        if received_signal():
                            raise RunInterrupted(received_signal())
                    self.comm.send(('results', self.rank, mine), dest=0, tag=_RESULTS)
                except BaseException as error:  # noqa: B036 - report, then let rank 0 abort
                    what = (f'interrupted by {signal.Signals(error.signum).name}'
                            if isinstance(error, RunInterrupted)
                            else f'{type(error).__name__}: {error}'.splitlines()[0])
                    self.comm.send(('failed', self.rank, f'{what} (host {socket.gethostname()})'),
                                   dest=0, tag=_RESULTS)
                    return 3


def _any_source():
    from mpi4py import MPI
    return MPI.ANY_SOURCE


def mpi_world_size_from_env() -> int:
    """Number of processes mpiexec started, read from its environment (1 if none)."""
    for key in ('PMI_SIZE', 'OMPI_COMM_WORLD_SIZE', 'MPI_LOCALNRANKS'):
        if os.environ.get(key, '').isdigit():
            return int(os.environ[key])
    return 1


def mpi_rank_from_env() -> int:
    """This process's rank as mpiexec's environment says (0 if none)."""
    for key in ('PMI_RANK', 'OMPI_COMM_WORLD_RANK'):
        if os.environ.get(key, '').isdigit():
            return int(os.environ[key])
    return 0
