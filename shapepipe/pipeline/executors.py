"""Where jobs run: joblib on one machine (SMP) or MPI ranks (mpi4py).

Both executors have one method, ``map(jobs, config)``, yielding a
:class:`~shapepipe.pipeline.job.JobResult` per job as jobs finish, so the
driver loop is the same in both modes.
"""

import os

from shapepipe.errors import DependencyError
from shapepipe.pipeline.job import FAILED, JobResult, process_log_path, run_job


class SMPExecutor:
    """Run jobs with joblib: ``SMP_BATCH_SIZE`` at once on one machine."""

    mode = 'smp'

    def __init__(self, n_jobs=1, backend='loky'):
        self.n_jobs = n_jobs
        self.backend = backend
        self.ranks = 1

    def map(self, jobs, config):
        if self.n_jobs == 1 or len(jobs) == 1:
            for job in jobs:
                yield run_job(job, config)
            return
        from joblib import Parallel, delayed

        done = set()
        try:
            for result in Parallel(
                n_jobs=min(self.n_jobs, len(jobs)), backend=self.backend,
                return_as='generator_unordered', batch_size='auto',
            )(delayed(run_job)(job, config) for job in jobs):
                done.add(result.number)
                yield result
        except KeyboardInterrupt:
            raise
        except Exception as error:  # a worker process died (e.g. a segfault)
            message = f'worker process died: {type(error).__name__}: {error}'.splitlines()[0]
            for job in jobs:
                if job.number not in done:
                    yield JobResult(job.module_run, job.number, FAILED, message,
                                    process_log_path(job), 0.0, '')

    def close(self):
        """Nothing to release."""


def _mpi_comm():
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise DependencyError(
            f'MODE = MPI needs mpi4py and an MPI library ({error}): run '
            f'`.venv/bin/pip install mpi4py mpich` (or `make install`)'
        ) from None
    return MPI.COMM_WORLD


class MPIExecutor:
    """Run jobs over MPI ranks; rank 0 drives and works too.

    Rank 0 broadcasts each module's job list; every rank runs the jobs
    ``jobs[rank::size]`` and rank 0 gathers the results. The other ranks wait
    in :meth:`serve` until rank 0 says stop.
    """

    mode = 'mpi'

    def __init__(self, comm=None):
        self.comm = comm or _mpi_comm()
        self.rank = self.comm.Get_rank()
        self.ranks = self.comm.Get_size()

    def map(self, jobs, config):
        self.comm.bcast(('jobs', jobs, config), root=0)
        mine = [run_job(job, config) for job in jobs[0::self.ranks]]
        for results in self.comm.gather(mine, root=0):
            yield from results

    def close(self):
        """Release the other ranks from :meth:`serve`."""
        if self.rank == 0:
            self.comm.bcast(('stop', None, None), root=0)

    def serve(self):
        """Loop of ranks > 0: run the share of each broadcast job list."""
        while True:
            kind, jobs, config = self.comm.bcast(None, root=0)
            if kind == 'stop':
                return
            mine = [run_job(job, config) for job in jobs[self.rank::self.ranks]]
            self.comm.gather(mine, root=0)


def mpi_world_size_from_env():
    """Number of processes mpiexec started, read from its environment (1 if none)."""
    for key in ('PMI_SIZE', 'OMPI_COMM_WORLD_SIZE', 'MPI_LOCALNRANKS'):
        if os.environ.get(key, '').isdigit():
            return int(os.environ[key])
    return 1


def mpi_rank_from_env():
    """This process's rank as mpiexec's environment says (0 if none)."""
    for key in ('PMI_RANK', 'OMPI_COMM_WORLD_RANK'):
        if os.environ.get(key, '').isdigit():
            return int(os.environ[key])
    return 0
