"""Failure isolation: dead workers, BaseException from jobs, backends."""

import os
import signal

import pytest

from .conftest import (
    N_FILES, assert_no_orphans, assert_outputs_complete, job_pid, job_started, main_log, outputs,
    read_json, run, run_dirs, start, wait_for, write_config,
)

ALL = [f'fault_out_{n}.txt' for n in range(1, N_FILES + 1)]


def test_a_worker_that_dies_fails_only_its_own_job(fault_env):
    """SIGKILL of a loky worker (as the OOM killer does): only its job fails;
    the jobs in flight with it and the queued ones run; finished ones stay ok."""
    tmp, env = fault_env
    write_config(tmp, fault='kill', fault_number='_3')
    result = run(['-c', 'config.ini'], tmp, env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Traceback' not in result.stderr
    run_dir = run_dirs(tmp / 'out')[-1]
    assert assert_outputs_complete(run_dir) == [n for n in ALL if n != 'fault_out_3.txt']
    log = main_log(run_dir)
    assert 'ERROR fault_runner job _3: its worker process died of SIGKILL' in log
    assert log.count('ERROR fault_runner job') == 1
    status = read_json(os.path.join(run_dir, 'fault_runner', 'status'))
    assert (status['state'], status['ok'], status['failed']) == ('complete', 5, 1)
    assert_no_orphans(env)


def test_jobs_in_flight_with_a_dead_worker_are_rerun(fault_env):
    """A worker killed once (a transient OOM kill) while another job is busy:
    both jobs in flight are rerun, one at a time, and every job ends ok."""
    tmp, env = fault_env
    write_config(tmp, extra='FAULTS = _1:hold, _2:kill_during_hold')
    result = run(['-c', 'config.ini'], tmp, env)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = run_dirs(tmp / 'out')[-1]
    assert assert_outputs_complete(run_dir) == ALL
    assert os.path.exists(os.path.join(run_dir, 'fault_runner', 'killed_2'))


def test_external_kill_of_a_busy_worker(fault_env):
    """The worker running job _2 is killed from outside while it sleeps: that
    job alone fails, no process is left, and --resume then runs just that job."""
    tmp, env = fault_env
    write_config(tmp, fault='sleep', fault_number='_2', extra=f'FAULT_ONCE = {tmp}/slept')
    proc = start(['-c', 'config.ini'], tmp, env)
    worker = wait_for(lambda: job_started(tmp / 'out', 'fault_runner', '_2'), what='job _2')
    ledger = os.path.join(run_dirs(tmp / 'out')[-1], 'fault_runner', 'jobs.txt')
    wait_for(lambda: os.path.exists(ledger) and len(open(ledger).readlines()) == 5,
             what='the other jobs to finish')
    os.kill(worker, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stdout + stderr
    run_dir = run_dirs(tmp / 'out')[-1]
    assert assert_outputs_complete(run_dir) == [n for n in ALL if n != 'fault_out_2.txt']
    assert 'ERROR fault_runner job _2: its worker process died of SIGKILL' in main_log(run_dir)
    assert_no_orphans(env)
    result = run(['-c', 'config.ini', '--resume'], tmp, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert assert_outputs_complete(run_dir) == ALL
    assert '6 job(s): 5 done before (skipped), 1 to run' in main_log(run_dir)


@pytest.mark.parametrize('batch', [1, 2])
def test_base_exceptions_from_jobs(fault_env, batch):
    """SystemExit and KeyboardInterrupt raised by jobs (in the driver with
    batch 1, in workers with 2): sys.exit(3) fails its job, sys.exit(0) after
    the work is ok, a KeyboardInterrupt without a signal to the run leaves its
    job interrupted; the other jobs run, the summary is written, every process
    log tells the truth, and the exit status is 1."""
    tmp, env = fault_env
    write_config(tmp, batch=batch, extra='FAULTS = _2:exit, _3:exit0, _4:keyboard')
    result = run(['-c', 'config.ini'], tmp, env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == ''
    run_dir = run_dirs(tmp / 'out')[-1]
    assert assert_outputs_complete(run_dir) == [ALL[0], ALL[2], ALL[4], ALL[5]]
    log = main_log(run_dir)
    assert 'ERROR fault_runner job _2: the runner called sys.exit(3)' in log
    assert 'job _4: interrupted by SIGINT' in log
    assert 'error(s); logs in' in log   # the summary was written

    def process_log(number):
        return open(os.path.join(run_dir, 'fault_runner', 'logs', f'process{number}.log')).read()
    assert 'end of job: failed' in process_log('_2')
    assert 'sys.exit(0)' in process_log('_3') and 'end of job: ok' in process_log('_3')
    assert 'end of job: interrupted' in process_log('_4')
    status = read_json(os.path.join(run_dir, 'fault_runner', 'status'))
    assert (status['ok'], status['failed'], status['unfinished']) == (4, 1, 1)


def test_multiprocessing_backend_with_batches(fault_env):
    """SMP_BACKEND = multiprocessing with SMP_BATCH_SIZE > 1 runs every job."""
    tmp, env = fault_env
    write_config(tmp, backend='multiprocessing', batch=3, modules='fault_runner, copy_runner')
    result = run(['-c', 'config.ini'], tmp, env)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = run_dirs(tmp / 'out')[-1]
    assert assert_outputs_complete(run_dir) == ALL
    assert len(outputs(run_dir, 'copy_runner')) == N_FILES
    pids = {job_pid(run_dir, 'fault_runner', f'_{n}') for n in range(1, N_FILES + 1)}
    # Every job ran in a worker process, not in the driver (how the jobs are
    # spread over the workers is up to the scheduler).
    driver = read_json(os.path.join(run_dir, 'status'))['pid']
    assert driver not in pids


def test_threading_timeout_kills_the_executable(fault_env):
    """With the threading backend, a job whose executable outlives TIMEOUT is
    abandoned and the executable (and its own child) is killed."""
    tmp, env = fault_env
    write_config(tmp, backend='threading', batch=2, timeout='2', fault='execute',
                 fault_number='_1')
    result = run(['-c', 'config.ini'], tmp, env, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    run_dir = run_dirs(tmp / 'out')[-1]
    assert assert_outputs_complete(run_dir) == ALL[1:]
    assert 'job _1: ' in main_log(run_dir) and 'TIMEOUT' in main_log(run_dir)
    assert_no_orphans(env, timeout=3)


def test_mpi_rank_failure_is_reported_by_rank_0(fault_env):
    """A rank stopped alone (SIGTERM to its pid): rank 0 says so in one line,
    writes the summary and aborts the run (exit 3); no rank is left."""
    tmp, env = fault_env
    write_config(tmp, mode='MPI', fault='sleep', fault_number='_2')
    proc = start(['-c', 'config.ini'], tmp, env, mpi=2)
    rank_1 = wait_for(lambda: job_started(tmp / 'out', 'fault_runner', '_2'), what='job _2')
    os.kill(rank_1, signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stdout + stderr
    ours = [line for line in stderr.splitlines() if line.startswith('shapepipe_run')]
    assert ours == ['shapepipe_run: error: MPI rank 1 failed: interrupted by SIGTERM '
                    f'(host {os.uname().nodename}); the run is aborted']
    assert 'Traceback' not in stderr
    run_dir = run_dirs(tmp / 'out')[-1]
    assert 'fault_out_2.txt' not in assert_outputs_complete(run_dir)
    log = main_log(run_dir)
    assert 'ERROR MPI rank 1 failed' in log and 'error(s); logs in' in log
    assert read_json(os.path.join(run_dir, 'status'))['state'] == 'interrupted'
    assert_no_orphans(env)
